"""Snowball PUT (MinIO's auto-extract): a tar body whose members become objects.

`put_object` hands a PUT carrying `X-Amz-Meta-Snowball-Auto-Extract: true` here. The request's
headers are read as for a plain PUT (less the snowball instructions, never stored) and apply to every
member; each member's key is authorized for s3:PutObject, and its events (one ObjectCreated:Put per
object) are queued as for a single PUT: an intent before each group of commits, the events after.
Docs: docs/s3-compatibility.md, "Snowball".
"""

from __future__ import annotations

from aiohttp import web

from coffer.protocol import snowball as sb
from coffer.protocol.errors import S3Error
from coffer.server.http.common.body import body_stream, integrity_for
from coffer.server.http.common.context import Ctx
from coffer.server.http.common.gate import request_context
from coffer.server.http.common.respond import quoted
from coffer.server.http.common.sse import request_sse
from coffer.server.http.common.write_headers import put_params
from coffer.server.http.s3.lock_integrity import require_for_put
from coffer.server.meta.model import ObjectRecord
from coffer.server.service.events.notifications import ObjectEvent
from coffer.server.service.objects.snowball import Options, extract

_EVENT = "s3:ObjectCreated:Put"


def is_snowball(ctx: Ctx) -> bool:
    return sb.truthy(ctx.request.headers.get(sb.AUTO_EXTRACT))


async def put_snowball(ctx: Ctx) -> web.StreamResponse:
    h = ctx.request.headers
    params = put_params(ctx)
    params.user_meta = {k: v for k, v in params.user_meta.items() if k not in sb.META_NAMES}
    params.expect = None  # conditions name the archive's key, which is never written
    opts = Options(prefix=h.get(sb.PREFIX, ""), ignore_dirs=sb.truthy(h.get(sb.IGNORE_DIRS)),
                   ignore_errors=sb.truthy(h.get(sb.IGNORE_ERRORS)))
    require_for_put(h, ctx.bucket_rec, params.lock, ctx.plan)
    params.owner, params.props = await ctx.svc.access.new_object(ctx.who, ctx.bucket_rec, h)
    params.sse = request_sse(ctx)
    integ = integrity_for(ctx.request, ctx.plan, require_length=True)
    if integ.content_length is not None and integ.content_length > ctx.cfg.limits.max_put_size:
        raise S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                      ProposedSize=str(integ.content_length), MaxSizeAllowed=str(ctx.cfg.limits.max_put_size))
    bucket = ctx.bucket_rec or await ctx.svc.core.meta.get_bucket(ctx.bucket)
    notifier = ctx.svc.notifier
    interested = bucket is not None and notifier.interested(bucket)
    peer = ctx.request.remote or ""

    async def authorize(key: str) -> None:
        if bucket is not None:
            await ctx.svc.access.check(ctx.who, "s3:PutObject", bucket, key, lambda: request_context(ctx))

    async def before(keys: list[str]) -> object:
        if not interested or bucket is None:
            return None
        return await notifier.intend(bucket, _EVENT, "", ctx.who.user_id, ctx.request_id, peer, keys=keys)

    async def after(hold: object, records: list[ObjectRecord]) -> None:
        if not interested or bucket is None:
            return
        events = [ObjectEvent(_EVENT, r.key, r.size, r.etag, r.version_id) for r in records]
        if events or hold is not None:
            await notifier.emit(bucket, events, ctx.who.user_id, ctx.request_id, peer,
                                replaces=hold if isinstance(hold, int) else None)

    got = await extract(ctx.svc.objects, ctx.who, ctx.bucket, body_stream(ctx.request, ctx.plan, integ), params,
                        integ, opts, authorize, before, after)
    headers = {"ETag": quoted(got.md5.hex()), sb.EXTRACTED: str(got.count)}
    if got.failed:
        headers["x-coffer-extract-failed"] = str(len(got.failed))
    return web.Response(status=200, headers=headers)
