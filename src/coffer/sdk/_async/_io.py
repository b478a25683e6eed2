"""Async readers and writers: streaming GETs and whole-object / multipart PUTs on aiohttp.

Reads stream the body chunk by chunk (``async for``) and check it ends where Content-Length said.
Writes send bytes in one PutObject with a CRC32C; files and streams bigger than one part go as a
multipart upload with up to ``max_concurrency`` parts in flight (memory: that many parts), and a
failed upload is aborted so nothing half-written stays behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

import aiohttp

from coffer.protocol import checksums, xmlutil
from coffer.sdk import _multipart as mp
from coffer.sdk._body import with_crc32c
from coffer.sdk._config import MiB
from coffer.sdk._errors import (
    ConnectionFailed,
    NoSuchKey,
    NoSuchUpload,
    TransferCancelled,
    error_from_response,
)
from coffer.sdk._reader import (
    ByteRange,
    DroppedBody,
    body_span,
    check_body_end,
    parse_byte_range,
    range_header,
    resume_delay,
)
from coffer.sdk._types import ObjectProps, PutResult, props_from_headers, put_result, unquote_etag
from coffer.sdk._writer import condition_headers, write_headers

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator

    from coffer.sdk._async._handles import AsyncObject
    from coffer.sdk._async._transport import AsyncResponse, AsyncTransport, Pace

PART_SIZE = 8 * MiB


class AsyncObjectReader:
    """Reads one object (or one byte range of it); each read makes a fresh request."""

    def __init__(self, obj: AsyncObject, byte_range: ByteRange = None, *, version_id: str | None = None,
                 chunk_size: int = 1 << 20) -> None:
        self.object = obj
        self.first, self.last = parse_byte_range(byte_range)
        self.version_id = version_id
        self.chunk_size = chunk_size
        self.props: ObjectProps | None = None

    @property
    def _t(self) -> AsyncTransport:
        return self.object.bucket.client._transport

    async def head(self) -> ObjectProps:
        self.props = await self.object.head(self.version_id)
        return self.props

    async def read_all(self) -> bytes:
        buf = bytearray()
        async for chunk in self.iter_content():
            buf += chunk
        return bytes(buf)

    async def iter_content(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """Yield the bytes as they arrive, in chunks of at most ``chunk_size``; a dropped body is
        asked again from where it stopped, pinned to the first answer's ETag (If-Match)."""
        async for chunk in self._stream(self.first, self.last, None, chunk_size or self.chunk_size):
            yield chunk

    async def _open(self, first: int | None, last: int | None, etag: str | None) -> AsyncResponse:
        headers = {"x-amz-checksum-mode": "ENABLED"}
        rng = range_header(first, last)
        if rng:
            headers["Range"] = rng
        if etag:
            headers["If-Match"] = f'"{etag}"'
        return await self._t.request("GET", self.object.bucket.name, self.object.key, headers=headers,
                                     query={"versionId": self.version_id} if self.version_id else None,
                                     stream=True, not_found=NoSuchKey)

    async def _stream(self, first: int | None, last: int | None, etag: str | None,
                      chunk: int) -> AsyncGenerator[bytes, None]:
        """The bytes of [first, last], resuming after drops (the sync reader's ``_stream``): up to
        ``max_attempts`` tries in all, each for the rest of the same version only."""
        resp = await self._open(first, last, etag)
        self.props = props_from_headers(resp.headers)
        etag = etag or unquote_etag(resp.headers.get("etag")) or None
        pos, end, skip = body_span(resp.status, resp.headers, first, last)
        failures = 0
        max_attempts = self._t.config.max_attempts
        where = f"GET {self.object.bucket.name}/{self.object.key}"
        try:
            if skip:
                await _skip(resp, skip)
            while True:
                try:
                    async for data in resp.iter_raw(chunk):
                        pos += len(data)
                        yield data
                    resp.release()
                    check_body_end(pos, end, where)
                    return
                except (aiohttp.ClientError, OSError, TimeoutError, DroppedBody) as exc:
                    resp.discard()
                    failures += 1
                    if failures >= max_attempts:
                        raise ConnectionFailed(f"{where}: {exc}") from exc
                    await asyncio.sleep(resume_delay(failures))
                    resp = await self._open(pos, end - 1, etag)
                    if resp.status == 200:
                        await _skip(resp, pos)
        except BaseException:
            resp.discard()
            raise

    async def read_into_file(self, fileobj: BinaryIO) -> int:
        """Stream into an open binary file; returns the number of bytes written."""
        n = 0
        async for chunk in self.iter_content():
            fileobj.write(chunk)
            n += len(chunk)
        return n


class AsyncObjectWriter:
    """Writes to one object; every coroutine is a complete operation."""

    def __init__(self, obj: AsyncObject) -> None:
        self.object = obj

    @property
    def _t(self) -> AsyncTransport:
        return self.object.bucket.client._transport

    async def put_content(
        self,
        content: bytes | bytearray | memoryview | str | BinaryIO | AsyncIterable[bytes],
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        content_length: int | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        headers: Mapping[str, str] | None = None,
        part_size: int = PART_SIZE,
        max_concurrency: int = 4,
    ) -> PutResult:
        """Store ``content`` (bytes/str, a binary file, or an async iterable of bytes) as the object.

        An async iterable with ``content_length`` is streamed in one PUT (not retried); without it,
        it is read part by part and becomes a multipart upload once it passes ``part_size``."""
        extra = {**condition_headers(if_match, if_none_match), **(headers or {})}
        hdrs = write_headers(content_type, metadata, extra)
        b, k = self.object.bucket.name, self.object.key
        if isinstance(content, bytes | bytearray | memoryview | str):
            resp = await self._t.request("PUT", b, k, body=content, headers=with_crc32c(content, hdrs))
            return put_result(resp.headers)
        if isinstance(content, AsyncIterable):
            if content_length is not None:
                resp = await self._t.request("PUT", b, k, body=content, content_length=content_length, headers=hdrs)
                return put_result(resp.headers)
            return await self._upload_parts(_aiter_parts(content, part_size), hdrs, 1)
        return await self._upload_parts(_file_parts(content, part_size), hdrs, max_concurrency)

    async def put_file(self, path: str | os.PathLike[str], *, content_type: str | None = None,
                       metadata: Mapping[str, str] | None = None, part_size: int = PART_SIZE,
                       max_concurrency: int = 4) -> PutResult:
        """Upload a local file; above ``part_size`` as a multipart upload, parts in parallel."""
        path = os.fspath(path)
        content_type = content_type or mimetypes.guess_type(path)[0] or "application/octet-stream"
        with open(path, "rb") as f:
            return await self.put_content(f, content_type=content_type, metadata=metadata, part_size=part_size,
                                          max_concurrency=max_concurrency)

    async def _upload_parts(self, parts: AsyncIterator[bytes], headers: dict[str, str],
                            concurrency: int) -> PutResult:
        b, k = self.object.bucket.name, self.object.key
        first = await anext(parts, b"")
        second = await anext(parts, None)
        if second is None:  # fits in one part: one PutObject
            resp = await self._t.request("PUT", b, k, body=first, headers=with_crc32c(first, headers))
            return put_result(resp.headers)
        ahead = [first, second]

        async def next_part() -> bytes | None:
            return ahead.pop(0) if ahead else await anext(parts, None)

        return await multipart_upload(self._t, b, k, headers, next_part, asyncio.Semaphore(max(1, concurrency)))


class Slots(Protocol):
    """Request slots: an ``asyncio.Semaphore``, or the transfer manager's pausable view of one."""

    async def acquire(self) -> Any: ...

    def release(self) -> None: ...


async def multipart_upload(
    t: AsyncTransport,
    bucket: str,
    key: str,
    headers: dict[str, str],
    next_part: Callable[[], Awaitable[bytes | None]],
    slots: Slots,
    on_sent: Callable[[int], None] | None = None,
    *,
    pace: Pace | None = None,
    upload_id: str | None = None,
    stored: Mapping[int, str] | None = None,
    on_reused: Callable[[int], None] | None = None,
    keep_on_failure: bool = False,
    algo: str | None = None,
) -> PutResult:
    """One multipart upload: parts from ``next_part`` (None at the end), each sent under a slot of
    ``slots`` taken *before* the part is read, so memory stays within the slots x the part size
    (the async transfer manager passes its shared semaphore); ``pace`` paces each part's bytes and
    ``on_sent`` hears of them as they are written (a failed attempt's are taken back).

    ``upload_id`` continues a pending upload: a part whose number is in ``stored`` (number -> MD5
    ETag) and whose bytes have that MD5 is not sent again (``on_reused`` gets its size). A failure
    aborts the upload, unless ``keep_on_failure`` (then only a cancellation does), so that a later
    call can resume it.

    ``algo`` (a CRC, the transfer configuration's ``checksum_algorithm``) asks for a FULL_OBJECT
    checksum and sends each part's CRC with it and in the Complete, as the sync transfer manager does
    (the helpers of sdk/_multipart.py); without it each part carries a CRC32C of its own."""
    b, k = bucket, key
    if upload_id is None:
        await slots.acquire()  # the create counts against the same limit as the parts
        try:
            resp = await t.request("POST", b, k, query={"uploads": ""}, headers=mp.full_object_headers(headers, algo),
                                   not_found=NoSuchKey)
        finally:
            slots.release()
        upload_id = xmlutil.child_text(xmlutil.parse(resp.data or b""), "UploadId") or ""
    parts: dict[int, mp.Part] = {}
    tasks: list[asyncio.Task[None]] = []
    stored = stored or {}

    async def send(number: int, data: bytes) -> None:
        try:
            crc = await asyncio.to_thread(mp.data_checksum, algo, data) if algo else None
            headers = {checksums.header_name(crc[0]): crc[1]} if crc else with_crc32c(data, {})
            r = await t.request("PUT", b, k, query={"partNumber": str(number), "uploadId": upload_id},
                                body=data, headers=headers, not_found=NoSuchUpload, pace=pace, progress=on_sent)
            parts[number] = mp.Part(number, unquote_etag(r.headers.get("etag")), len(data),
                                    crc[1] if crc else None, algo)
        finally:
            slots.release()

    try:
        number = 0
        while True:
            await slots.acquire()
            try:
                data = await next_part()
            except BaseException:
                slots.release()
                raise
            if data is None or any(x.done() and not x.cancelled() and x.exception() for x in tasks):
                slots.release()
                break
            number += 1
            etag = stored.get(number)
            if etag is not None and await asyncio.to_thread(_md5_hex, data) == etag:
                slots.release()
                crc = mp.data_checksum(algo, data)  # the data matched, so its CRC is the stored part's
                parts[number] = mp.Part(number, etag, len(data), crc[1] if crc else None, algo)
                if on_reused is not None:
                    on_reused(len(data))
                continue
            tasks.append(asyncio.create_task(send(number, data)))
        await asyncio.gather(*tasks)
        return await _complete(t, b, k, upload_id, list(parts.values()), slots)
    except BaseException as exc:
        if keep_on_failure and not isinstance(exc, asyncio.CancelledError | TransferCancelled):
            await _settle(tasks)
        else:
            await _abort(t, b, k, upload_id, tasks)
        raise


def _md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


async def find_upload(t: AsyncTransport, bucket: str, key: str) -> str | None:
    """The most recent pending multipart upload of exactly ``key`` (for resuming), or None."""
    uploads: list[mp.Upload] = []
    markers: tuple[str, str] | None = ("", "")
    while markers is not None:
        resp = await t.request("GET", bucket, query=mp.uploads_query(key, markers))
        page, markers = mp.parse_uploads_page(resp.data or b"", markers)
        uploads += page
    return mp.newest_upload(uploads, key)


async def list_parts(t: AsyncTransport, bucket: str, key: str, upload_id: str) -> list[mp.Part]:
    """Every part of a pending upload stored so far (follows pagination)."""
    out: list[mp.Part] = []
    marker: str | None = "0"
    while marker is not None:
        resp = await t.request("GET", bucket, key, query={"uploadId": upload_id, "part-number-marker": marker},
                               not_found=NoSuchUpload)
        parts, marker = mp.parse_parts_page(resp.data or b"", marker)
        out += parts
    return sorted(out, key=lambda p: p.number)


async def multipart_copy(
    t: AsyncTransport,
    bucket: str,
    key: str,
    headers: dict[str, str],
    source: str,
    size: int,
    part_size: int,
    etag: str | None,
    slots: Slots,
    on_sent: Callable[[int], None] | None = None,
) -> PutResult:
    """A server-side copy of ``source`` ("bucket/key[?versionId=...]", ``size`` bytes) into
    ``bucket/key`` by UploadPartCopy ranges, each pinned to ``etag``, under ``slots``; any failure
    aborts the upload."""
    resp = await t.request("POST", bucket, key, query={"uploads": ""}, headers=headers, not_found=NoSuchKey)
    upload_id = xmlutil.child_text(xmlutil.parse(resp.data or b""), "UploadId") or ""
    etags: dict[int, str] = {}

    async def copy_part(number: int, first: int, last: int) -> None:
        part_headers = {"x-amz-copy-source": source, "x-amz-copy-source-range": f"bytes={first}-{last}"}
        if etag:
            part_headers["x-amz-copy-source-if-match"] = f'"{etag}"'
        await slots.acquire()
        try:
            r = await t.request("PUT", bucket, key, query={"partNumber": str(number), "uploadId": upload_id},
                                headers=part_headers, not_found=NoSuchUpload)
        finally:
            slots.release()
        root = xmlutil.parse(r.data or b"<CopyPartResult/>")
        if xmlutil.local_name(root) == "Error":  # a 200 whose body is an error (S3 may do that)
            raise error_from_response(500, r.data or b"", r.headers)
        etags[number] = unquote_etag(xmlutil.child_text(root, "ETag"))
        if on_sent is not None:
            on_sent(last - first + 1)

    ranges = [(s, min(s + part_size, size) - 1) for s in range(0, size, part_size)]
    tasks = [asyncio.create_task(copy_part(i + 1, a, z)) for i, (a, z) in enumerate(ranges)]
    try:
        await asyncio.gather(*tasks)
        return await _complete(t, bucket, key, upload_id, [mp.Part(n, e) for n, e in etags.items()], slots)
    except BaseException:
        await _abort(t, bucket, key, upload_id, tasks)
        raise


async def _complete(t: AsyncTransport, b: str, k: str, upload_id: str, parts: list[mp.Part],
                    slots: Slots) -> PutResult:
    body = mp.complete_body(parts)
    await slots.acquire()  # under the same limit as the parts
    try:
        resp = await t.request("POST", b, k, query={"uploadId": upload_id}, body=body, not_found=NoSuchUpload)
    finally:
        slots.release()
    root = xmlutil.parse(resp.data or b"<CompleteMultipartUploadResult/>")
    if xmlutil.local_name(root) == "Error":
        raise error_from_response(500, resp.data or b"", resp.headers)
    return put_result(resp.headers, xmlutil.child_text(root, "ETag"))


async def _settle(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _abort(t: AsyncTransport, b: str, k: str, upload_id: str, tasks: list[asyncio.Task[None]]) -> None:
    await _settle(tasks)
    try:
        await asyncio.shield(t.request("DELETE", b, k, query={"uploadId": upload_id}, not_found=NoSuchUpload))
    except Exception:
        pass


async def _skip(resp: AsyncResponse, n: int) -> None:
    assert resp.raw is not None
    while n > 0:
        data = await resp.raw.content.read(min(n, 1 << 20))
        if not data:
            raise DroppedBody("body ended while skipping to the resume point")
        n -= len(data)


async def _aiter_parts(source: AsyncIterable[bytes], size: int) -> AsyncIterator[bytes]:
    buf = bytearray()
    async for chunk in source:
        buf += chunk
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


async def _file_parts(f: Any, size: int) -> AsyncIterator[bytes]:
    while True:
        data = await asyncio.to_thread(f.read, size)
        if not data:
            return
        yield bytes(data)
