"""Building responses: XML documents, S3 error bodies, object headers, and zero-copy object bodies.

Object bytes leave through `loop.sendfile` (the kernel copies file pages straight to the socket),
one span per segment file; transports without sendfile (TLS, uvloop) fall back to bounded reads.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.protocol.timeutil import http_date, iso8601
from coffer.protocol.xmlutil import to_xml
from coffer.server.data import ReadSpan
from coffer.server.http.common.ids import stamp
from coffer.server.meta.model import ObjectRecord

if TYPE_CHECKING:
    from coffer.server.service import Service
    from coffer.server.service.objects.archive import Member

XML_TYPE = "application/xml"
_FALLBACK_PIECE = 1 << 20


def xml_response(root: str, body: dict, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(body=to_xml(root, body), status=status, content_type=XML_TYPE, headers=headers)


def error_response(err: S3Error, request_id: str, host_id: str, resource: str, head: bool) -> web.Response:
    if err.extra.get("Resource") is None and resource:
        err.resource = err.resource or resource
    headers = dict(getattr(err, "headers", None) or {})  # e.g. x-amz-delete-marker (versioning)
    if err.code == "InvalidRange" and "ActualObjectSize" in err.extra:
        headers["Content-Range"] = f"bytes */{err.extra['ActualObjectSize']}"
    if err.code == "MethodNotAllowed":
        headers["Allow"] = "GET, PUT, HEAD, DELETE, POST"
    if head:  # HEAD answers carry no body; the code travels in a header for debugging
        headers["x-amz-error-code"] = err.code
        return web.Response(status=err.status, headers=headers)
    return web.Response(body=err.to_xml(request_id, host_id), status=err.status, content_type=XML_TYPE,
                        headers=headers)


def quoted(etag: str) -> str:
    return f'"{etag}"'


def object_headers(rec: ObjectRecord, *, checksum_mode: bool) -> dict[str, str]:
    """The headers GET and HEAD answer for an object (not the range/length ones)."""
    h = {
        "ETag": quoted(rec.etag),
        "Last-Modified": http_date(rec.last_modified),
        "Accept-Ranges": "bytes",
        "Content-Type": rec.content_type or "binary/octet-stream",
    }
    h.update(rec.headers)
    for k, v in rec.user_meta.items():
        h["x-amz-meta-" + k] = v
    if rec.storage_class != "STANDARD":
        h["x-amz-storage-class"] = rec.storage_class
    if rec.parts:
        h["x-amz-mp-parts-count"] = str(len(rec.parts))
    if checksum_mode and rec.checksums:
        for algo, value in rec.checksums.items():
            h["x-amz-checksum-" + algo.lower()] = value
        if rec.checksum_type:
            h["x-amz-checksum-type"] = rec.checksum_type
    return h


def iso(ts: float) -> str:
    return iso8601(ts)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """An HTTP Range header -> (start, length); None means "ignore it, send everything".

    S3 serves a single range; several ranges, or a malformed one, are ignored (whole object).
    """
    spec = header.strip()
    if not spec.startswith("bytes=") or "," in spec:
        return None
    first, sep, last = spec[6:].strip().partition("-")
    if not sep:
        return None
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                raise _unsatisfiable(size)
            n = min(n, size)
            if size == 0:
                raise _unsatisfiable(size)
            return size - n, n
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start < 0 or (last and end < start):
        return None
    if start >= size:
        raise _unsatisfiable(size)
    end = min(end, size - 1)
    return start, end - start + 1


def apply_range(header: str | None, size: int, headers: dict[str, str]) -> tuple[int, int, int]:
    """(status, start, length) for serving `size` bytes under an optional Range header; sets the
    Content-Range (206 only) and Content-Length response headers. Callers that ignore Range (e.g.
    a HEAD of the AIStore API) pass None."""
    status, start, length = 200, 0, size
    if header:
        rng = parse_range(header, size)
        if rng is not None:
            start, length = rng
            status = 206
            headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
    headers["Content-Length"] = str(length)
    return status, start, length


def _unsatisfiable(size: int) -> S3Error:
    return S3Error("InvalidRange", "The requested range is not satisfiable", ActualObjectSize=str(size),
                   RangeRequested="")


async def send_spans(request: web.BaseRequest, resp: web.StreamResponse, spans: list[ReadSpan]) -> None:
    """Send file spans after the headers: sendfile where the transport allows it."""
    if len(spans) == 1 and getattr(spans[0], "stream", None) is not None:
        return await send_stream(request, resp, spans[0].stream())  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    files = []
    try:
        for span in spans:
            files.append(await loop.run_in_executor(None, open, span.path, "rb"))
    except FileNotFoundError:
        for f in files:
            f.close()
        raise S3Error("InternalError", "Object data went missing; please retry.") from None
    try:
        stamp(request, resp)
        await resp.prepare(request)
        for f, span in zip(files, spans, strict=True):
            if span.length == 0:
                continue
            transport = request.transport
            if transport is None or transport.is_closing():
                raise ConnectionResetError("client went away")
            try:
                await loop.sendfile(transport, f, span.offset, span.length)
            except NotImplementedError:
                await _copy_fallback(resp, f.fileno(), span)
        await resp.write_eof()
    finally:
        for f in files:
            f.close()


async def _copy_fallback(resp: web.StreamResponse, fd: int, span: ReadSpan) -> None:
    loop = asyncio.get_running_loop()
    pos, end = span.offset, span.offset + span.length
    while pos < end:
        data = await loop.run_in_executor(None, os.pread, fd, min(_FALLBACK_PIECE, end - pos), pos)
        if not data:
            raise ConnectionResetError("short read")
        await resp.write(data)
        pos += len(data)


async def send_stream(request: web.BaseRequest, resp: web.StreamResponse, chunks: AsyncIterable[bytes]) -> None:
    it = aiter(chunks)
    first = await anext(it, None)  # an error before any byte (e.g. data lost) is still a clean S3 error
    stamp(request, resp)
    await resp.prepare(request)
    try:
        if first is not None:
            await resp.write(first)
        async for c in it:
            await resp.write(c)
    except S3Error as e:
        # The status line is gone: the only honest signal left is a body cut short (the client sees
        # fewer bytes than Content-Length), never wrong bytes and never an error document as data.
        if request.transport is not None:
            request.transport.abort()
        raise ConnectionResetError(f"response aborted after the headers: {e.code}: {e.message}") from e
    await resp.write_eof()


async def send_range(request: web.BaseRequest, svc: Service, rec: ObjectRecord, status: int,
                     headers: dict[str, str], start: int, length: int) -> web.StreamResponse:
    """Bytes [start, start+length) of a plaintext object: from its inline bytes, else its spans
    (sendfile on the single-folder store, verified streams over volumes)."""
    if rec.inline is not None:
        return web.Response(status=status, headers=headers, body=rec.inline[start : start + length])
    resp = web.StreamResponse(status=status, headers=headers)
    resp.content_length = length
    await send_spans(request, resp, svc.objects.spans(rec, start, length))
    return resp


async def send_member(request: web.BaseRequest, svc: Service, rec: ObjectRecord, member: Member, status: int,
                      headers: dict[str, str], start: int, length: int) -> web.StreamResponse:
    """Bytes [start, start+length) of one archive member (S3 `?archpath=` and the AIStore API).

    A member stored uncompressed is a byte range of the object (inline, or sendfile of its spans);
    any other is decompressed on the fly by `service.archives`."""
    if member.offset is not None:
        return await send_range(request, svc, rec, status, headers, member.offset + start, length)
    resp = web.StreamResponse(status=status, headers=headers)
    resp.content_length = length
    stamp(request, resp)
    await resp.prepare(request)
    async for data in svc.archives.read(rec, member, start, length):
        await resp.write(data)
    await resp.write_eof()
    return resp
