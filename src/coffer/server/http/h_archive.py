"""S3 GetObject/HeadObject with `?archpath=MEMBER`: one member of a tar or zip object (a Coffer
extension of S3, used by Coffer's SDK: `obj.get_reader(archpath=...)`).

The member is located by `service.archive` without reading the archive's data; a member stored
uncompressed is sent as a byte range of the object (sendfile), a deflated zip member or a member of
a compressed tar is decompressed on the fly. Range applies to the member. The answer carries the
member's size and `x-coffer-archpath`; the archive's ETag is kept (the member is part of that
version) so a client resuming a read can still pin it with If-Match.
"""

from __future__ import annotations

from aiohttp import web

from ..meta.model import ObjectRecord
from .context import Ctx
from .ids import stamp
from .respond import object_headers, parse_range, send_spans


async def get_archived(ctx: Ctx, rec: ObjectRecord, archpath: str) -> web.StreamResponse:
    head = ctx.request.method == "HEAD"
    member = await ctx.svc.archives.locate(rec, archpath)
    headers = object_headers(rec, checksum_mode=False)
    headers.pop("x-amz-mp-parts-count", None)
    headers["Content-Type"] = "application/octet-stream"
    headers["x-coffer-archpath"] = member.name
    status, start, length = 200, 0, member.size
    if ctx.header("Range"):
        rng = parse_range(ctx.header("Range") or "", member.size)
        if rng is not None:
            start, length = rng
            status = 206
            headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{member.size}"
    headers["Content-Length"] = str(length)
    if head:
        return web.Response(status=status, headers=headers)
    if member.offset is not None:
        at = member.offset + start
        if rec.inline is not None:
            return web.Response(status=status, headers=headers, body=rec.inline[at : at + length])
        resp = web.StreamResponse(status=status, headers=headers)
        resp.content_length = length
        await send_spans(ctx.request, resp, ctx.svc.objects.spans(rec, at, length))
        return resp
    resp = web.StreamResponse(status=status, headers=headers)
    resp.content_length = length
    stamp(ctx.request, resp)
    await resp.prepare(ctx.request)
    async for data in ctx.svc.archives.read(rec, member, start, length):
        await resp.write(data)
    await resp.write_eof()
    return resp
