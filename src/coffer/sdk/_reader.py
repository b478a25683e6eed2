"""Reading objects: whole, chunked, or as a seekable file, surviving dropped connections.

Every read is a streamed GET. If the connection drops mid-body the reader asks again for the bytes
it has not yet seen (``Range: bytes=<pos>-<end>``) with ``If-Match`` on the ETag of the first answer,
so a resumed read never splices two versions of an object together: a changed object fails loudly
with PreconditionFailed instead.
"""

from __future__ import annotations

import io
import random
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from urllib3.exceptions import HTTPError as _Urllib3Error

from coffer.sdk._errors import ConnectionFailed, IntegrityError, NoSuchKey
from coffer.sdk._types import ObjectProps, props_from_headers, unquote_etag

if TYPE_CHECKING:
    from coffer.sdk._object import Object
    from coffer.sdk._transport import Transport

ByteRange = str | tuple[int, int | None] | None

_RANGE_RE = re.compile(r"^\s*(?:bytes\s*=\s*)?(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
_CONTENT_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


def parse_byte_range(spec: ByteRange) -> tuple[int | None, int | None]:
    """Normalise a range to (first, last) inclusive, HTTP style.

    Accepts ``"bytes=0-99"``, ``"0-99"``, ``"100-"`` (to the end), ``"-100"`` (the last 100 bytes,
    returned as (None, 100)) and tuples ``(first, last)`` / ``(first, None)``. Raises ValueError for
    anything else, including a multi-range (S3 serves one range per request).
    """
    if spec is None:
        return None, None
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise ValueError("a byte range tuple is (first, last)")
        first, last = spec
        if not isinstance(first, int) or first < 0 or (last is not None and (not isinstance(last, int)
                                                                             or last < first)):
            raise ValueError(f"invalid byte range {spec!r}")
        return first, last
    m = _RANGE_RE.match(spec)
    if not m or (not m.group(1) and not m.group(2)):
        raise ValueError(f"invalid byte range {spec!r}")
    a, b = m.group(1), m.group(2)
    if not a:
        if int(b) == 0:
            raise ValueError("a suffix range must ask for at least one byte")
        return None, int(b)
    first, last = int(a), (int(b) if b else None)
    if last is not None and last < first:
        raise ValueError(f"invalid byte range {spec!r}: last before first")
    return first, last


def range_header(first: int | None, last: int | None) -> str | None:
    if first is None and last is None:
        return None
    if first is None:
        return f"bytes=-{last}"
    return f"bytes={first}-" + ("" if last is None else str(last))


def parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """``bytes 0-99/1000`` -> (0, 99, 1000); None when absent or malformed."""
    m = _CONTENT_RANGE_RE.match((value or "").strip())
    if not m:
        return None
    first, last = int(m.group(1)), int(m.group(2))
    if last < first:
        return None
    return first, last, (None if m.group(3) == "*" else int(m.group(3)))


def body_span(status: int, headers: Any, first: int | None, last: int | None) -> tuple[int, int, int]:
    """Where the body of a GET for [first, last] sits in the object: (pos, end) with ``end``
    exclusive, and how many leading bytes to skip first (a server that ignored the Range and sent
    the whole object from byte 0). Shared by the sync and async readers."""
    cr = parse_content_range(headers.get("content-range"))
    if cr is not None:
        return cr[0], cr[1] + 1, 0
    # A 200 is the whole object (servers may ignore Range); a 206 without Content-Range can only
    # have started where we asked.
    pos = (first or 0) if status == 206 else 0
    end = pos + int(headers.get("content-length") or 0)
    if status == 200 and first:
        return first, (end if last is None else min(end, last + 1)), first
    return pos, end, 0


class ObjectReader:
    """Reads one object (or one byte range of it). Each read method makes fresh requests."""

    def __init__(self, obj: Object, byte_range: ByteRange = None, *, version_id: str | None = None,
                 chunk_size: int = 1 << 20, archpath: str | None = None) -> None:
        self.object = obj
        self.archpath = archpath  # read this member of a tar/zip object instead of the object
        self.first, self.last = parse_byte_range(byte_range)
        self.version_id = version_id
        self.chunk_size = chunk_size
        self.props: ObjectProps | None = None  # filled by the first answer

    @property
    def _t(self) -> Transport:
        return self.object.bucket.client._transport

    def head(self) -> ObjectProps:
        if self.archpath:  # the member's size and headers, not the archive's
            query = {"archpath": self.archpath, **({"versionId": self.version_id} if self.version_id else {})}
            resp = self._t.request("HEAD", self.object.bucket.name, self.object.key, query=query,
                                   not_found=NoSuchKey)
            self.props = props_from_headers(resp.headers)
            return self.props
        self.props = self.object.head(self.version_id)
        return self.props

    # --- public reads -------------------------------------------------------------------------------

    def read_all(self) -> bytes:
        """The whole object (or range) in memory."""
        buf = bytearray()
        for chunk in self.iter_content():
            buf += chunk
        return bytes(buf)

    def iter_content(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Yield the bytes in chunks of ``chunk_size`` (the last may be shorter)."""
        return self._stream(self.first, self.last, None, chunk_size or self.chunk_size)

    def as_file(self, buffer_size: int | None = None) -> io.BufferedReader:
        """A read-only, seekable binary file over the object (or range), fetched lazily by range."""
        raw = _RawObjectFile(self)
        return io.BufferedReader(raw, buffer_size=buffer_size or self.chunk_size)

    def read_into_file(self, fileobj: Any) -> int:
        """Stream the object into an open binary file; returns the number of bytes written."""
        n = 0
        for chunk in self.iter_content():
            fileobj.write(chunk)
            n += len(chunk)
        return n

    # --- the resuming stream ------------------------------------------------------------------------

    def _open(self, first: int | None, last: int | None, etag: str | None) -> Any:
        # Ask for the stored checksums: whole-object answers then carry them (downloads check them).
        headers: dict[str, str] = {"x-amz-checksum-mode": "ENABLED"}
        rng = range_header(first, last)
        if rng:
            headers["Range"] = rng
        if etag:
            headers["If-Match"] = f'"{etag}"'
        query = {"versionId": self.version_id} if self.version_id else {}
        if self.archpath:
            query["archpath"] = self.archpath
        return self._t.request("GET", self.object.bucket.name, self.object.key, headers=headers,
                               query=query or None, stream=True, not_found=NoSuchKey)

    def _stream(self, first: int | None, last: int | None, etag: str | None, chunk: int,
                into: bytearray | None = None) -> Iterator[bytes]:
        """The bytes of [first, last], resuming after drops. With ``into``, chunks are memoryviews of
        that one reused buffer (valid until the next chunk is asked for): no allocation per chunk."""
        resp = self._open(first, last, etag)
        props = props_from_headers(resp.headers)
        if self.props is None or first == self.first:
            self.props = props
        etag = etag or unquote_etag(resp.headers.get("etag")) or None
        pos, end, skip = body_span(resp.status, resp.headers, first, last)
        if skip:  # Range ignored: drop what was not asked for
            _skip(resp, skip)
        failures = 0
        max_attempts = self._t.config.max_attempts
        while True:
            try:
                for data in (resp.iter_raw(chunk) if into is None else resp.iter_into(into)):
                    pos += len(data)
                    yield data
                resp.release()
                check_body_end(pos, end, f"GET {self.object.bucket.name}/{self.object.key}")
                return
            except (_Urllib3Error, OSError, DroppedBody) as exc:
                resp.discard()
                failures += 1
                if failures >= max_attempts:
                    raise ConnectionFailed(f"GET {self.object.bucket.name}/{self.object.key}: {exc}") from exc
                time.sleep(resume_delay(failures))
                # Ask for the rest of the same version only (If-Match), never a different object.
                resp = self._open(pos, end - 1, etag)
                if resp.status == 200:
                    _skip(resp, pos)
            except GeneratorExit:
                resp.discard()
                raise


class DroppedBody(Exception):
    """A body that ended before the byte count its answer announced (the connection dropped)."""


def check_body_end(pos: int, end: int, where: str) -> None:
    """Once a body has ended at ``pos``: short of ``end`` is a drop (asked again from ``pos``), past
    it an integrity error. Shared by the sync and async readers."""
    if pos < end:
        raise DroppedBody(f"body ended at {pos}, expected {end}")
    if pos > end:
        raise IntegrityError(f"{where}: server sent {pos - end} bytes more than announced")


def resume_delay(failures: int) -> float:
    """Seconds to wait before asking again for the rest of a body after ``failures`` drops."""
    return random.uniform(0, min(2.0, 0.05 * 2**failures))


def _skip(resp: Any, n: int) -> None:
    while n > 0:
        data = resp.raw.read(min(n, 1 << 20))
        if not data:
            raise DroppedBody("body ended while skipping to the resume point")
        n -= len(data)


class _RawObjectFile(io.RawIOBase):
    """Raw random access over an object: a stream is kept open while reads stay sequential."""

    def __init__(self, reader: ObjectReader) -> None:
        super().__init__()
        self._reader = reader
        props = reader.head()
        self._etag = props.etag or None
        size = props.size
        first, last = reader.first, reader.last
        if first is None and last is not None:  # suffix range: the last N bytes
            first, last = max(0, size - last), size - 1
        first = first or 0
        last = size - 1 if last is None else min(last, size - 1)
        self._base, self._size = first, max(0, last - first + 1)
        self._pos = 0
        self._stream: Iterator[bytes] | None = None
        self._stream_pos = -1
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise OSError("negative seek position")
        self._pos = pos
        return pos

    def readinto(self, b: Any) -> int:
        if self._pos >= self._size:
            return 0
        if self._stream is None or self._stream_pos != self._pos:
            self._drop_stream()
            start = self._base + self._pos
            self._stream = self._reader._stream(start, self._base + self._size - 1, self._etag,
                                                self._reader.chunk_size)
            self._stream_pos = self._pos
            self._pending = memoryview(b"")
        if not self._pending:
            self._pending = memoryview(next(self._stream, b""))
            if not self._pending:
                raise IntegrityError("object ended before its announced size")
        n = min(len(b), len(self._pending))
        b[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self._pos += n
        self._stream_pos += n
        return n

    def _drop_stream(self) -> None:
        if self._stream is not None:
            close = getattr(self._stream, "close", None)
            if close:
                close()
        self._stream = None

    def close(self) -> None:
        self._drop_stream()
        super().close()
