"""Writing objects: whole puts, files, appends, streamed file-like writes and custom properties.

Small bodies go in one PutObject. Bodies of unknown length (iterators, pipes) and ``as_file("w")``
buffer one part at a time and switch to a multipart upload once a part fills up, so memory stays at
two parts (one filling, one in flight) whatever the size. ``as_file("a")`` rides on append sessions
and never downloads the stored object.
"""

from __future__ import annotations

import io
import mimetypes
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from coffer.sdk import _multipart as mp
from coffer.sdk._append import Appender
from coffer.sdk._body import FilePayload, with_crc32c
from coffer.sdk._config import MAX_SINGLE_COPY, MiB, TransferConfig
from coffer.sdk._errors import NoSuchKey
from coffer.sdk._headers import meta_headers
from coffer.sdk._types import PutResult, put_result

if TYPE_CHECKING:
    from coffer.sdk._object import Object
    from coffer.sdk._transport import Transport


def write_headers(
    content_type: str | None, metadata: Mapping[str, str] | None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    headers = meta_headers(metadata)
    if content_type:
        headers["Content-Type"] = content_type
    headers.update(extra or {})
    return headers


def condition_headers(if_match: str | None, if_none_match: str | None) -> dict[str, str]:
    out = {}
    if if_match:
        out["If-Match"] = if_match if if_match == "*" else f'"{if_match.strip(chr(34))}"'
    if if_none_match:
        out["If-None-Match"] = if_none_match if if_none_match == "*" else f'"{if_none_match.strip(chr(34))}"'
    return out


class ObjectWriter:
    """Writes to one object. Every method is a complete operation; nothing is cached between calls."""

    def __init__(self, obj: Object) -> None:
        self.object = obj

    @property
    def _t(self) -> Transport:
        return self.object.bucket.client._transport

    # --- whole-object writes ------------------------------------------------------------------------

    def put_content(
        self,
        content: bytes | bytearray | memoryview | str | Iterable[bytes] | Any,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        content_length: int | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> PutResult:
        """Store ``content`` as the whole object.

        ``content`` may be bytes/str, a binary file object, or an iterable of bytes. Without
        ``content_length`` a stream of unknown size is uploaded part by part as it is read.
        ``if_none_match="*"`` creates only if absent; ``if_match=etag`` replaces only that version.
        """
        extra = {**condition_headers(if_match, if_none_match), **(headers or {})}
        hdrs = write_headers(content_type, metadata, extra)
        sized = isinstance(content, bytes | bytearray | memoryview | str) or content_length is not None
        if not sized and hasattr(content, "read") and _seekable(content):
            sized = True
        if sized:
            resp = self._t.request("PUT", self.object.bucket.name, self.object.key, body=content,
                                   content_length=content_length, headers=with_crc32c(content, hdrs))
            return put_result(resp.headers)
        with self.as_file("w", content_type=content_type, metadata=metadata, headers=extra) as f:
            if hasattr(content, "read"):
                while chunk := content.read(MiB):
                    f.write(chunk)
            else:
                for chunk in content:
                    f.write(chunk)
        assert f.result is not None
        return f.result

    def put_file(
        self,
        path: str | os.PathLike[str],
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        config: TransferConfig | None = None,
        subscribers: list[Any] | None = None,
    ) -> PutResult:
        """Upload a local file; big files go as a parallel, resumable multipart upload."""
        path = os.fspath(path)
        config = config or TransferConfig()
        content_type = content_type or mimetypes.guess_type(path)[0] or "application/octet-stream"
        size = os.path.getsize(path)
        if size < config.multipart_threshold and not subscribers:
            with open(path, "rb") as f:
                payload = FilePayload(f, 0, size)
                resp = self._t.request("PUT", self.object.bucket.name, self.object.key, body=payload,
                                       headers=with_crc32c(payload, write_headers(content_type, metadata)))
            return put_result(resp.headers)
        with self.object.bucket.client.transfer(config) as tm:
            fut = tm.upload(path, self.object.bucket.name, self.object.key, subscribers=subscribers,
                            content_type=content_type, metadata=metadata)
            return fut.result()

    # --- appends ------------------------------------------------------------------------------------

    def append_content(
        self, content: bytes | str, handle: str = "", flush: bool = False, *, append_to_existing: bool = False
    ) -> str:
        """Append ``content`` to an append session and return its handle.

        No ``handle`` starts a session; pass the returned handle to the next call. ``flush=True``
        makes the object hold what the session gathered (returns ""). The stored object is not
        touched until then. ``append_to_existing`` (on the first call) keeps the stored object in
        front of the pieces instead of replacing it.
        """
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        return Appender(self.object).append(data, handle, flush, append_to_existing)

    def abort_append(self, handle: str) -> None:
        """Drop an append session; the stored object stays as it was."""
        Appender(self.object).abort(handle)

    # --- file-like writes ---------------------------------------------------------------------------

    def as_file(
        self,
        mode: str = "w",
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        part_size: int = 8 * MiB,
        headers: Mapping[str, str] | None = None,
    ) -> ObjectWriteFile:
        """A writable binary file. ``"w"`` replaces the object on close; ``"a"`` appends to it.

        Use it as a context manager: on a clean exit the object is committed, on an exception the
        upload or append session is dropped and the stored object stays untouched.
        """
        if mode not in ("w", "a", "wb", "ab"):
            raise ValueError("mode must be 'w' or 'a'")
        return ObjectWriteFile(self, mode[0], write_headers(content_type, metadata, headers), part_size)

    # --- metadata -----------------------------------------------------------------------------------

    def set_custom_props(self, props: Mapping[str, str], replace_existing: bool = False) -> PutResult:
        """Set user metadata: merged into what is there, or replacing it with ``replace_existing``.

        Done as CopyObject onto itself with MetadataDirective=REPLACE, guarded by If-Match so a
        concurrent write is not overwritten with stale data (on Coffer no data is copied).
        """
        head = self.object.head()
        merged = dict(props) if replace_existing else {**head.custom, **{k.lower(): v for k, v in props.items()}}
        if head.size > MAX_SINGLE_COPY:
            return self.object._copy_large(self.object.bucket.name, self.object.key, head, merged, None)
        return self.object._copy_object(self.object.bucket.name, self.object.key, head, merged, None,
                                        head.etag or None)


def _seekable(f: Any) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, ValueError, OSError):
        return False


class ObjectWriteFile(io.RawIOBase):
    """What :meth:`ObjectWriter.as_file` returns; ``result`` holds the PutResult after close."""

    def __init__(self, writer: ObjectWriter, mode: str, headers: dict[str, str], part_size: int) -> None:
        super().__init__()
        self._writer = writer
        self._obj = writer.object
        self._mode = mode
        self._headers = headers
        self._part_size = max(part_size, 5 * MiB)
        self._buf = bytearray()
        self._upload_id: str | None = None
        self._parts: list[mp.Part] = []
        self._handle = ""
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: Future[mp.Part] | None = None
        self._written = 0
        self.result: PutResult | None = None

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._written

    def write(self, b: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed object file")
        n = len(memoryview(b).cast("B"))
        self._buf += b
        self._written += n
        if len(self._buf) >= self._part_size:
            self._ship(final=False)
        return n

    def _ship(self, final: bool) -> None:
        data, self._buf = bytes(self._buf), bytearray()
        if self._mode == "a":
            if data or self._handle or final:
                if not self._handle and not data:
                    return  # nothing appended at all: leave the object alone
                self._handle = self._writer.append_content(data, self._handle, flush=final,
                                                           append_to_existing=not self._handle)
            return
        t, b, k = self._writer._t, self._obj.bucket.name, self._obj.key
        if final and self._upload_id is None:
            resp = t.request("PUT", b, k, body=data, headers=with_crc32c(data, self._headers))
            self.result = put_result(resp.headers)
            return
        if self._upload_id is None:
            self._upload_id = mp.create(t, b, k, headers=self._headers)
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="coffer-writer")
        # One part uploads in the background while the next fills: wait for the previous first.
        self._collect()
        assert self._pool is not None
        number = len(self._parts) + 1
        self._inflight = self._pool.submit(mp.upload_part, t, b, k, self._upload_id, number, data)
        if final:
            self._collect()
            self.result = mp.complete(t, b, k, self._upload_id, self._parts)

    def _collect(self) -> None:
        if self._inflight is not None:
            fut, self._inflight = self._inflight, None
            self._parts.append(fut.result())

    def abort(self) -> None:
        """Drop everything written so far; the stored object is left untouched."""
        if self.closed:
            return
        try:
            if self._inflight is not None:
                self._inflight.cancel()
                try:
                    self._inflight.result()
                except Exception:
                    pass
            if self._upload_id is not None:
                mp.abort(self._writer._t, self._obj.bucket.name, self._obj.key, self._upload_id)
            if self._handle:
                try:
                    self._writer.abort_append(self._handle)
                except NoSuchKey:
                    pass
        finally:
            self._shutdown()
            super().close()

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._ship(final=True)
        except BaseException:
            self.abort()
            raise
        self._shutdown()
        super().close()

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()
