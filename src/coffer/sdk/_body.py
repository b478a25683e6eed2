"""Request bodies: what the transport can send, how it is hashed, re-sent on retry, paced and counted.

A :class:`Payload` gives the transport three things a plain ``bytes`` or file object cannot: its
length up front (S3 needs Content-Length), a way back to its first byte for a retry, and a stream of
chunks during which progress is reported and the shared bandwidth limit is applied. Integrity over
plain HTTP is decided here too (see :func:`payload_hash_headers`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from coffer.protocol import checksums, sigv4

Progress = Callable[[int], None]
CHUNK = 1024 * 1024


class TokenBucket:
    """The arithmetic of a bytes-per-second token bucket, with no clock, lock or sleep of its own.

    The sync :class:`Throttle` (threads) and the asyncio one (``sdk/_async/_transfer.py``) both
    drive it with ``time.monotonic()``. It starts empty, so a fresh limit never opens with a burst,
    and holds at most a quarter second of budget, so a paused or idle stream cannot burst far past
    the limit when it resumes. Callers ask for tokens before sending or after receiving a chunk.
    """

    def __init__(self, rate: int, now: float) -> None:
        self.rate = float(rate)
        self.tokens = 0.0
        self.stamp = now

    def take(self, n: int, now: float) -> float:
        """Spend ``n`` tokens at time ``now``; the seconds to wait before the bytes may move."""
        self.tokens = min(self.rate / 4, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = max(self.stamp, now)
        self.tokens -= n
        return -self.tokens / self.rate if self.tokens < 0 else 0.0


class Throttle:
    """A :class:`TokenBucket` shared by every thread of a transfer manager (bytes per second)."""

    def __init__(self, rate: int) -> None:
        self.rate = float(rate)
        self._bucket = TokenBucket(rate, time.monotonic())
        self._lock = threading.Lock()

    def consume(self, n: int) -> None:
        with self._lock:
            wait = self._bucket.take(n, time.monotonic())
        if wait > 0:
            time.sleep(wait)


class Payload:
    """Base class: a body of known ``length`` that can be streamed in chunks and, maybe, rewound."""

    length: int
    rewindable: bool = True

    def __init__(self) -> None:
        self.progress: Progress | None = None
        self.throttle: Throttle | None = None
        self._reported = 0

    def chunks(self) -> Iterator[bytes | memoryview]:  # pragma: no cover - abstract
        raise NotImplementedError

    def whole(self) -> bytes | memoryview | None:
        """The body as one buffer when it is already in memory (lets hashing skip a read pass)."""
        return None

    def rewind(self) -> None:
        """Go back to the first byte and take back the progress reported for the failed attempt."""
        if self._reported and self.progress is not None:
            self.progress(-self._reported)
        self._reported = 0

    def stream(self) -> Iterator[bytes | memoryview]:
        """The chunks, paced by the throttle, with progress reported as each one is handed over."""
        for chunk in self.chunks():
            n = len(chunk)
            if self.throttle is not None:
                self.throttle.consume(n)
            yield chunk
            # Reported after the yield: urllib3 asks for the next chunk only once this one is sent.
            self._reported += n
            if self.progress is not None:
                self.progress(n)

    def needs_stream(self) -> bool:
        return self.progress is not None or self.throttle is not None


class BytesPayload(Payload):
    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        super().__init__()
        self.data = memoryview(data).cast("B") if not isinstance(data, bytes) else data
        self.length = len(self.data)

    def whole(self) -> bytes | memoryview:
        return self.data

    def chunks(self) -> Iterator[bytes | memoryview]:
        view = memoryview(self.data)
        for start in range(0, self.length, CHUNK):
            yield view[start : start + CHUNK]


class FilePayload(Payload):
    """``length`` bytes of a binary file starting at ``offset`` (default: its current position).

    Real files are read with ``os.pread`` so that several parts can share one descriptor from many
    threads without seeking under each other; other file objects are read with seek + read.
    """

    def __init__(self, fileobj: BinaryIO, offset: int | None = None, length: int | None = None) -> None:
        super().__init__()
        self.fileobj = fileobj
        self.fd: int | None = None
        try:
            self.fd = fileobj.fileno()
            os.fstat(self.fd)
        except (OSError, AttributeError, io.UnsupportedOperation):
            self.fd = None
        self.seekable = _seekable(fileobj)
        if offset is None:
            offset = fileobj.tell() if self.seekable else 0
        self.offset = offset
        if length is None:
            if not self.seekable:
                raise ValueError("a non-seekable file needs an explicit length")
            end = fileobj.seek(0, io.SEEK_END)
            fileobj.seek(offset)
            length = max(0, end - offset)
        self.length = length
        self.rewindable = self.seekable

    def chunks(self) -> Iterator[bytes | memoryview]:
        remaining, pos = self.length, self.offset
        if self.fd is None and self.seekable:
            self.fileobj.seek(pos)
        while remaining > 0:
            want = min(CHUNK, remaining)
            data = os.pread(self.fd, want, pos) if self.fd is not None else self.fileobj.read(want)
            if not data:
                raise OSError(f"file shrank while uploading: {remaining} bytes missing")
            remaining -= len(data)
            pos += len(data)
            yield data


class IterPayload(Payload):
    """An iterable of byte chunks whose total ``length`` the caller declares; sent once, not retried."""

    rewindable = False

    def __init__(self, source: Iterable[bytes], length: int) -> None:
        super().__init__()
        self.source = source
        self.length = length
        self._used = False

    def chunks(self) -> Iterator[bytes | memoryview]:
        if self._used:
            raise ValueError("an iterator body cannot be sent twice")
        self._used = True
        sent = 0
        for chunk in self.source:
            if chunk:
                sent += len(chunk)
                if sent > self.length:
                    raise ValueError(f"iterator yielded more than the declared {self.length} bytes")
                yield chunk
        if sent != self.length:
            raise ValueError(f"iterator yielded {sent} bytes, {self.length} declared")


def _seekable(f: Any) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def to_payload(body: Any, length: int | None = None) -> Payload | None:
    """Wrap what a user handed us (bytes, str, file object, iterable, Payload) as a Payload."""
    if body is None:
        return None
    if isinstance(body, Payload):
        return body
    if isinstance(body, str):
        return BytesPayload(body.encode("utf-8"))
    if isinstance(body, bytes | bytearray | memoryview):
        return BytesPayload(body)
    if hasattr(body, "read"):
        return FilePayload(body, length=length)
    if isinstance(body, Iterable):
        if length is None:
            raise ValueError("an iterator body needs content_length (S3 requires Content-Length)")
        return IterPayload(body, length)
    raise TypeError(f"cannot send a body of type {type(body).__name__}")


def md5_b64(payload: Payload) -> str:
    """Content-MD5 of the payload: from memory when it is there, else by a read pass over the file."""
    h = hashlib.md5(usedforsecurity=False)
    data = payload.whole()
    if data is not None:
        h.update(data)
    else:
        for chunk in payload.chunks():
            h.update(chunk)
    return base64.b64encode(h.digest()).decode("ascii")


def _covered(headers: dict[str, str]) -> bool:
    """True when the request already carries an integrity header the server checks."""
    return any(k.lower() == "content-md5" or (k.lower().startswith("x-amz-checksum-") and
               k.lower() not in ("x-amz-checksum-algorithm", "x-amz-checksum-type")) for k in headers)


def with_crc32c(body: Any, headers: dict[str, str]) -> dict[str, str]:
    """Attach x-amz-checksum-crc32c to a whole-object PUT whose bytes we can read cheaply.

    Why: S3 refuses writes into Object Lock buckets without Content-MD5 or an x-amz-checksum-*,
    and a stored CRC lets every later download verify the object end to end (boto3 sends one by
    default too). CRC32C is hardware-accelerated, so for in-memory bodies and rewindable file
    payloads it costs far less than the request itself. One-shot streams are left alone.
    """
    if _covered(headers):
        return headers
    h = checksums.Hasher("CRC32C")
    if isinstance(body, str):
        h.update(body.encode())
    elif isinstance(body, bytes | bytearray | memoryview):
        h.update(memoryview(body))
    elif isinstance(body, FilePayload):
        for chunk in body.chunks():
            h.update(chunk)
    else:
        return headers
    return {**headers, "x-amz-checksum-crc32c": h.b64()}


def payload_hash_headers(
    payload: Payload | None, secure: bool, signed_limit: int, headers: dict[str, str]
) -> str:
    """Pick x-amz-content-sha256 for ``payload``, adding Content-MD5 to ``headers`` when we use it.

    * HTTPS: always UNSIGNED-PAYLOAD; TLS already protects the bytes in flight.
    * HTTP, in-memory body up to ``signed_limit``: its SHA-256 is signed, so neither a bit flip nor a
      tampering middlebox can change it unnoticed.
    * HTTP, bigger or streamed body: UNSIGNED-PAYLOAD plus Content-MD5, which the server checks
      before storing (unless the caller already attached an x-amz-checksum-* header, as the
      transfer manager does with a CRC). The signature cannot cover a body we have not read yet without reading it
      twice before sending, and MD5 can be computed in the same pass that fills a part buffer.
    * HTTP, one-shot iterator: UNSIGNED-PAYLOAD (nothing to pre-read); add a checksum header yourself.
    """
    if payload is None or payload.length == 0:
        return sigv4.EMPTY_SHA256
    if secure:
        return sigv4.UNSIGNED_PAYLOAD
    data = payload.whole()
    if data is not None and payload.length <= signed_limit:
        return hashlib.sha256(data).hexdigest()
    # A body that already carries a Content-MD5 or an x-amz-checksum-* value is covered: hashing
    # it again with MD5 would only burn CPU (MD5 is 20x slower than a hardware CRC).
    if payload.rewindable and not _covered(headers):
        headers["Content-MD5"] = md5_b64(payload)
    return sigv4.UNSIGNED_PAYLOAD
