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

from coffer.server.http.common.context import Ctx
from coffer.server.http.common.respond import apply_range, object_headers, send_member
from coffer.server.meta.model import ObjectRecord


async def get_archived(ctx: Ctx, rec: ObjectRecord, archpath: str) -> web.StreamResponse:
    head = ctx.request.method == "HEAD"
    member = await ctx.svc.archives.locate(rec, archpath)
    headers = object_headers(rec, checksum_mode=False)
    headers.pop("x-amz-mp-parts-count", None)
    headers["Content-Type"] = "application/octet-stream"
    headers["x-coffer-archpath"] = member.name
    status, start, length = apply_range(ctx.header("Range"), member.size, headers)
    if head:
        return web.Response(status=status, headers=headers)
    return await send_member(ctx.request, ctx.svc, rec, member, status, headers, start, length)
