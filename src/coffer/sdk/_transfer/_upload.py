"""Upload coordinator: one PutObject for small sources, a parallel multipart upload for big ones.

Resuming: with ``TransferConfig.resume`` an upload first looks for a pending multipart upload of
the same key (ListMultipartUploads, then ListParts). A stored part is reused only if its size fits
the part layout and its ETag equals the MD5 of the local bytes at that position, so a changed file
or a stranger's upload is never stitched in; anything else is uploaded again. A failed upload is
left pending so the next attempt (in this process or another) can resume it; a cancelled one is
aborted so nothing is left behind.

Server-side copies live here too: they are multipart uploads whose parts come from the server
(UploadPartCopy in parallel), or one CopyObject; no object data passes through the client either
way. Up to ``copy_threshold`` (5 GiB, S3's limit for CopyObject) a single request does it; on Coffer
that copy shares the stored data instead of rewriting it. Larger objects are copied as ranges of
the source pinned to its ETag, so a source overwritten mid-copy fails the copy instead of producing
a mix of two versions.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from coffer.protocol import checksums
from coffer.sdk import _multipart as mp
from coffer.sdk._body import BytesPayload, FilePayload
from coffer.sdk._config import MIN_PART_SIZE, TransferConfig
from coffer.sdk._errors import CofferError, NoSuchUpload, TransferCancelled
from coffer.sdk._headers import KEPT_HEADERS, meta_headers
from coffer.sdk._transfer._future import Scheduler, TransferFuture, run_parts
from coffer.sdk._types import PutResult, put_result

if TYPE_CHECKING:
    from coffer.sdk._transport import Transport

_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")


class UploadJob:
    """Everything one upload needs; ``run()`` executes on a coordinator thread."""

    def __init__(
        self, t: Transport, sched: Scheduler, config: TransferConfig, future: TransferFuture,
        source: str | os.PathLike[str] | BinaryIO, bucket: str, key: str, headers: dict[str, str],
    ) -> None:
        self.t, self.sched, self.config, self.future = t, sched, config, future
        self.source, self.bucket, self.key, self.headers = source, bucket, key, headers
        self.upload_id: str | None = None
        # The CRC every part (and the whole object) carries; None leaves it to Content-MD5.
        self.algo = config.checksum_algorithm.upper() if config.checksum_algorithm else None

    def _crc(self, data: bytes | memoryview) -> tuple[str, str] | None:
        return mp.data_checksum(self.algo, data)

    # --- entry --------------------------------------------------------------------------------------

    def run(self) -> PutResult:
        if isinstance(self.source, str | os.PathLike):
            with open(self.source, "rb") as f:
                return self._run_file(f)
        return self._run_file(self.source)

    def _run_file(self, f: BinaryIO) -> PutResult:
        seekable = _seekable(f)
        if not seekable:
            return self._run_stream(f)
        start = f.tell()
        size = f.seek(0, io.SEEK_END) - start
        f.seek(start)
        self.future.total = size
        if size < self.config.multipart_threshold:
            return self._single(FilePayload(f, start, size))
        return self._multipart(f, start, size)

    def _single(self, payload: Any) -> PutResult:
        self.future.total = payload.length if self.future.total is None else self.future.total
        headers = dict(self.headers)
        if self.algo:
            h = checksums.Hasher(self.algo)
            for chunk in ([payload.whole()] if payload.whole() is not None else payload.chunks()):
                h.update(chunk)
            headers[checksums.header_name(self.algo)] = h.b64()
        payload.progress = self.future.add_progress
        payload.throttle = self.sched.throttle

        def put() -> PutResult:
            resp = self.t.request("PUT", self.bucket, self.key, body=payload, headers=headers)
            return put_result(resp.headers)

        try:
            return self.sched.inline(self.future, put)
        except BaseException:
            payload.rewind()  # take back the progress of the failed attempt
            raise

    # --- multipart ----------------------------------------------------------------------------------

    def _multipart(self, f: BinaryIO, start: int, size: int) -> PutResult:
        part_size = self.config.part_size_for(size)
        reusable: dict[int, mp.Part] = {}
        if self.config.resume:
            part_size, reusable = self._find_resumable(size, part_size)
        if self.upload_id is None:
            self.upload_id = mp.create(self.t, self.bucket, self.key, headers=self._create_headers())
        self.future.meta["upload_id"] = self.upload_id
        count = max(1, -(-size // part_size))
        fd = _fileno(f)

        def read(number: int) -> bytes:
            offset = (number - 1) * part_size
            length = min(part_size, size - offset)
            if fd is not None:
                return os.pread(fd, length, start + offset)
            # Seekable file objects without a descriptor (BytesIO...) are not thread-safe: read
            # under the future's lock so two workers do not interleave seek and read.
            with self.future._lock:
                f.seek(start + offset)
                return f.read(length)

        def task(number: int) -> Callable[[], mp.Part]:
            def go() -> mp.Part:
                data = read(number)
                stored = reusable.get(number)
                if stored is not None and stored.etag == hashlib.md5(data, usedforsecurity=False).hexdigest():
                    self.future.bytes_resumed += len(data)
                    self.future.add_progress(len(data))
                    crc = self._crc(data)  # the data matched, so its CRC is the stored part's
                    return mp.Part(number, stored.etag, len(data), crc[1] if crc else None, self.algo)
                return self._put_part(number, data)
            return go

        return self._finish(run_parts(self.future, self.sched, (task(n) for n in range(1, count + 1))))

    def _run_stream(self, f: BinaryIO) -> PutResult:
        """A non-seekable source: read part after part in order; size is learnt at the end."""
        first = _read_exactly(f, self.config.multipart_threshold)
        if len(first) < self.config.multipart_threshold:
            return self._single(BytesPayload(first))
        part_size = self.config.multipart_chunksize
        self.upload_id = mp.create(self.t, self.bucket, self.key, headers=self._create_headers())
        self.future.meta["upload_id"] = self.upload_id

        def chunks() -> Iterator[Callable[[], mp.Part]]:
            buf = bytearray(first)
            number = total = 0
            while True:
                # Hold one byte beyond a part to know whether this part is the last: only the last
                # part may be smaller than 5 MiB, so a part never leaves until we know.
                buf += _read_exactly(f, max(0, part_size + 1 - len(buf)))
                number += 1
                if len(buf) <= part_size:
                    self.future.total = total + len(buf)
                    yield _bind(self._put_part, number, bytes(buf))
                    break
                total += part_size
                yield _bind(self._put_part, number, bytes(buf[:part_size]))
                del buf[:part_size]

        parts = run_parts(self.future, self.sched, chunks())
        return self._finish(parts)

    def _put_part(self, number: int, data: bytes) -> mp.Part:
        payload = BytesPayload(data)
        payload.progress = self.future.add_progress
        payload.throttle = self.sched.throttle
        assert self.upload_id is not None
        try:
            return mp.upload_part(self.t, self.bucket, self.key, self.upload_id, number, payload,
                                  checksum=self._crc(data))
        except BaseException:
            payload.rewind()
            raise

    def _create_headers(self) -> dict[str, str]:
        return mp.full_object_headers(self.headers, self.algo)

    def _finish(self, parts: list[mp.Part]) -> PutResult:
        assert self.upload_id is not None
        self.future.checkpoint()
        return mp.complete(self.t, self.bucket, self.key, self.upload_id, parts)

    def _find_resumable(self, size: int, part_size: int) -> tuple[int, dict[int, mp.Part]]:
        upload_id = mp.find_upload(self.t, self.bucket, self.key)
        if upload_id is None:
            return part_size, {}
        try:
            stored = mp.list_parts(self.t, self.bucket, self.key, upload_id)
        except NoSuchUpload:
            return part_size, {}
        self.upload_id = upload_id
        if stored and stored[0].algo:
            # Continue with the CRC the interrupted upload used (servers that do not list part
            # checksums leave ours: the same configuration most likely started it).
            self.algo = stored[0].algo
        return reusable_parts(stored, size, part_size)

    def cleanup(self, exc: BaseException) -> None:
        """After a failure: abort when cancelled (or when resuming is off), else keep for resume."""
        if self.upload_id is None:
            return
        if isinstance(exc, TransferCancelled) or not self.config.resume:
            try:
                mp.abort(self.t, self.bucket, self.key, self.upload_id)
            except CofferError:
                pass


def reusable_parts(stored: list[mp.Part], size: int, part_size: int) -> tuple[int, dict[int, mp.Part]]:
    """The part size to go on with and the stored parts that may be reused for ``size`` bytes.

    The layout of the interrupted upload is adopted when it used another part size (from its part
    1); a part is a candidate only if its size fits that layout and its ETag is a plain MD5, which
    the caller still compares with the local bytes. Shared by the sync and async managers.
    """
    if stored and stored[0].algo:
        first = stored[0]
        if first.number == 1 and first.size != part_size and first.size >= MIN_PART_SIZE \
                and -(-size // first.size) <= 10_000:
            part_size = first.size
    reusable: dict[int, mp.Part] = {}
    for p in stored:
        offset = (p.number - 1) * part_size
        expected = min(part_size, size - offset) if offset < size else -1
        if p.size == expected and _MD5_HEX.match(p.etag):
            reusable[p.number] = p
    return part_size, reusable


def _bind(fn: Callable[[int, bytes], mp.Part], number: int, data: bytes) -> Callable[[], mp.Part]:
    return lambda: fn(number, data)


def _read_exactly(f: BinaryIO, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def _seekable(f: Any) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def _fileno(f: Any) -> int | None:
    try:
        fd = f.fileno()
        os.fstat(fd)
        return fd
    except (OSError, AttributeError, io.UnsupportedOperation, ValueError):
        return None


# --- server-side copies ----------------------------------------------------------------------------

if TYPE_CHECKING:
    from coffer.sdk._object import Object


class CopyJob:
    def __init__(self, src: Object, sched: Scheduler, config: TransferConfig, future: TransferFuture,
                 bucket: str, key: str, metadata: Mapping[str, str] | None, content_type: str | None,
                 version_id: str | None = None) -> None:
        self.src, self.sched, self.config, self.future = src, sched, config, future
        self.bucket, self.key = bucket, key
        self.version_id = version_id
        self.metadata, self.content_type = metadata, content_type
        self.upload_id: str | None = None

    def run(self) -> PutResult:
        props = self.src.head(self.version_id)
        self.future.total = props.size
        if props.size <= self.config.copy_threshold:
            replace = self.metadata is not None or self.content_type is not None
            result = self.sched.inline(self.future, lambda: self.src._copy_object(
                self.bucket, self.key, props if replace else None, self.metadata, self.content_type,
                props.etag or None, self.version_id))
            self.future.add_progress(props.size)
            return result
        t = self.src._t
        headers = {name: props.headers[name] for name in KEPT_HEADERS if props.headers.get(name)}
        if self.content_type:
            headers["content-type"] = self.content_type
        headers.update(meta_headers(self.metadata if self.metadata is not None else props.custom))
        self.upload_id = mp.create(t, self.bucket, self.key, headers=headers)
        self.future.meta["upload_id"] = self.upload_id
        part = self.config.part_size_for(props.size)
        src_bucket, src_key = self.src.bucket.name, self.src.key

        def task(number: int, first: int, last: int) -> Callable[[], mp.Part]:
            def go() -> mp.Part:
                assert self.upload_id is not None
                p = mp.upload_part_copy(t, self.bucket, self.key, self.upload_id, number, src_bucket,
                                        src_key, (first, last), if_match=props.etag or None,
                                        src_version_id=self.version_id)
                self.future.add_progress(last - first + 1)
                return p
            return go

        ranges = [(s, min(s + part, props.size) - 1) for s in range(0, props.size, part)]
        parts = run_parts(self.future, self.sched,
                          (task(i + 1, a, b) for i, (a, b) in enumerate(ranges)))
        self.future.checkpoint()
        return mp.complete(t, self.bucket, self.key, self.upload_id, parts)

    def cleanup(self, exc: BaseException) -> None:
        # A copy cannot be resumed from the client's side (nothing local to compare), so any
        # failure aborts; cancellation in particular must leave nothing behind.
        if self.upload_id is not None:
            try:
                mp.abort(self.src._t, self.bucket, self.key, self.upload_id)
            except CofferError:
                pass
        del exc
