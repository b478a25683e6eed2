"""Append sessions: Coffer's native append protocol, and the multipart fallback for other servers.

Native (Coffer): ``PUT ?append[&handle=H][&base=existing]`` stores a piece and answers the session
handle in ``x-coffer-append-handle``; ``POST ?append&handle=H&flush`` makes the object base + pieces
without copying what was stored; ``DELETE ?append&handle=H`` drops the session. The stored object is
unchanged until the flush.

Fallback (any S3): the session is a multipart upload. Its handle carries the upload id and the
parts so far, so it can be handed around. S3 parts other than the last must be at least 5 MiB, so
smaller pieces wait in a per-client buffer (at most 5 MiB plus the piece being added) until they add
up to a part; a handle with buffered bytes only works in the client that holds them. With
``base=existing`` the stored object becomes the first part(s) by UploadPartCopy (downloaded into the
buffer when it is under 5 MiB). Flushing completes the upload; until then the object is unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from coffer.sdk import _multipart as mp
from coffer.sdk._config import MAX_PART_SIZE, MIN_PART_SIZE
from coffer.sdk._errors import (
    ClientRequestError,
    CofferError,
    MethodNotAllowed,
    NoSuchKey,
    NotFound,
    NotImplementedByServer,
    ProtocolError,
)
from coffer.sdk._types import unquote_etag

if TYPE_CHECKING:
    from coffer.sdk._object import Object

NATIVE_PREFIX = "cn1."
MULTIPART_PREFIX = "cm1."
HANDLE_HEADER = "x-coffer-append-handle"
_UNSUPPORTED = ("NotImplemented", "MethodNotAllowed", "InvalidArgument", "InvalidRequest")
_LOCK = threading.Lock()


@dataclass
class MultipartState:
    """The fallback session a ``cm1.`` handle encodes."""

    upload_id: str
    parts: list[tuple[int, str, int]] = field(default_factory=list)  # (number, etag, size)
    buffered: int = 0

    def encode(self) -> str:
        raw = json.dumps({"u": self.upload_id, "p": self.parts, "b": self.buffered}, separators=(",", ":"))
        return MULTIPART_PREFIX + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_handle(handle: str) -> tuple[str, Any]:
    """("native", server_handle) or ("multipart", MultipartState); ValueError for a malformed handle."""
    if not isinstance(handle, str) or not handle:
        raise ValueError("empty append handle")
    if handle.startswith(MULTIPART_PREFIX):
        body = handle[len(MULTIPART_PREFIX):]
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            upload_id = data["u"]
            parts = [(int(n), str(e), int(s)) for n, e, s in data["p"]]
            buffered = int(data["b"])
        except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise ValueError(f"malformed append handle: {exc}") from None
        if not isinstance(upload_id, str) or not upload_id or buffered < 0:
            raise ValueError("malformed append handle")
        if any(n < 1 or n > 10_000 or s < 0 for n, _e, s in parts):
            raise ValueError("malformed append handle: bad part")
        return "multipart", MultipartState(upload_id, parts, buffered)
    server = handle[len(NATIVE_PREFIX):] if handle.startswith(NATIVE_PREFIX) else handle
    if not server or any(c in server for c in "\r\n\0"):
        raise ValueError("malformed append handle")
    return "native", server


class Appender:
    """Runs append calls for one object on behalf of an ObjectWriter."""

    def __init__(self, obj: Object) -> None:
        self.obj = obj
        self.client = obj.bucket.client
        self.t = self.client._transport

    # --- entry points -------------------------------------------------------------------------------

    def append(self, content: bytes, handle: str, flush: bool, to_existing: bool) -> str:
        if handle:
            kind, state = decode_handle(handle)
            if kind == "native":
                return self._native(content, state, flush, to_existing)
            return self._fallback(content, state, flush, to_existing)
        if self._use_native():
            try:
                return self._native(content, None, flush, to_existing)
            except (NotImplementedByServer, MethodNotAllowed, ClientRequestError) as exc:
                if exc.code not in _UNSUPPORTED or self.client.config.append_mode == "native":
                    raise
                self.client._native_append = False  # remember: this server has no native appends
        return self._fallback(content, None, flush, to_existing)

    def abort(self, handle: str) -> None:
        kind, state = decode_handle(handle)
        if kind == "native":
            self.t.request("DELETE", self.obj.bucket.name, self.obj.key,
                           query={"append": "", "handle": state}, not_found=NoSuchKey)
            return
        with _LOCK:
            self.client._append_buffers.pop(state.upload_id, None)
        mp.abort(self.t, self.obj.bucket.name, self.obj.key, state.upload_id)

    def _use_native(self) -> bool:
        mode = self.client.config.append_mode
        if mode != "auto":
            return mode == "native"
        if self.client._native_append is None:
            self.client._native_append = self.client.is_coffer()
        return self.client._native_append

    # --- native protocol ----------------------------------------------------------------------------

    def _native(self, content: bytes, handle: str | None, flush: bool, to_existing: bool) -> str:
        b, k = self.obj.bucket.name, self.obj.key
        if content or handle is None:
            query: dict[str, str] = {"append": ""}
            if handle is not None:
                query["handle"] = handle
            elif to_existing:
                query["base"] = "existing"
            resp = self.t.request("PUT", b, k, query=query, body=bytes(content), not_found=NoSuchKey)
            answered = resp.headers.get(HANDLE_HEADER)
            if not answered:
                raise ProtocolError(f"append answered without {HANDLE_HEADER}; is this really Coffer?")
            handle = answered
        if flush:
            self.t.request("POST", b, k, query={"append": "", "handle": handle, "flush": ""},
                           not_found=NoSuchKey)
            return ""
        return NATIVE_PREFIX + handle

    # --- multipart fallback -------------------------------------------------------------------------

    def _fallback(self, content: bytes, state: MultipartState | None, flush: bool, to_existing: bool) -> str:
        b, k = self.obj.bucket.name, self.obj.key
        if state is None:
            state = self._start(to_existing)
        with _LOCK:
            buf = self.client._append_buffers.setdefault(state.upload_id, bytearray())
        if len(buf) != state.buffered:
            raise CofferError(
                f"this append handle has {state.buffered} buffered bytes that live in another client "
                "(multipart fallback); flush from the client that appended them",
                code="AppendHandleNotHere",
            )
        buf += content
        if len(buf) >= MIN_PART_SIZE or (flush and (buf or not state.parts)):
            # The last part may be small (even empty when nothing was appended at all).
            self._upload_buffer(state, buf, allow_empty=flush)
        state.buffered = len(buf)
        if not flush:
            return state.encode()
        with _LOCK:
            self.client._append_buffers.pop(state.upload_id, None)
        parts = [mp.Part(n, e, s) for n, e, s in state.parts]
        mp.complete(self.t, b, k, state.upload_id, parts)
        return ""

    def _upload_buffer(self, state: MultipartState, buf: bytearray, allow_empty: bool = False) -> None:
        view = memoryview(buf)
        for start in range(0, max(len(buf), 1 if allow_empty else 0), MAX_PART_SIZE):
            number = (state.parts[-1][0] + 1) if state.parts else 1
            chunk = bytes(view[start:start + MAX_PART_SIZE])
            part = mp.upload_part(self.t, self.obj.bucket.name, self.obj.key, state.upload_id, number, chunk)
            state.parts.append((number, part.etag, len(chunk)))
        view.release()
        del buf[:]

    def _start(self, to_existing: bool) -> MultipartState:
        b, k = self.obj.bucket.name, self.obj.key
        base = None
        if to_existing:
            try:
                base = self.obj.head()
            except NotFound:
                base = None
        headers = self._headers_of_base(to_existing, base)
        state = MultipartState(mp.create(self.t, b, k, headers=headers))
        if base is None or base.size == 0:
            return state
        if base.size < MIN_PART_SIZE:
            data = self.obj.get_reader().read_all()
            with _LOCK:
                self.client._append_buffers[state.upload_id] = bytearray(data)
            state.buffered = len(data)
            return state
        for start in range(0, base.size, MAX_PART_SIZE):
            last = min(base.size, start + MAX_PART_SIZE) - 1
            number = len(state.parts) + 1
            part = mp.upload_part_copy(self.t, b, k, state.upload_id, number, b, k, (start, last),
                                       if_match=base.etag)
            state.parts.append((number, unquote_etag(part.etag), last - start + 1))
        return state

    def _headers_of_base(self, to_existing: bool, base: Any = None) -> dict[str, str]:
        from coffer.sdk._headers import KEPT_HEADERS, meta_headers

        if not to_existing or base is None:
            return {}
        headers = {name: base.headers[name] for name in KEPT_HEADERS if base.headers.get(name)}
        headers.update(meta_headers(base.custom))
        return headers
