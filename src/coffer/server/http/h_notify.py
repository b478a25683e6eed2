"""Bucket notification endpoints and the front's write hooks (issue 6).

Owns Get/PutBucketNotificationConfiguration and the two hooks `app.Front` runs around every
handler:
- `before`: a write to an object of a frozen snapshot bucket is refused (AccessDenied);
- `after`: a successful object write or delete becomes an S3 event, queued durably (SQLite) before
  the response goes out when the bucket has a notification configuration that matches. The hook
  only costs a bucket lookup (a primary-key read) on write requests.

Event names per endpoint: PutObject -> ObjectCreated:Put (ObjectCreated:Copy with
x-amz-copy-source), CompleteMultipartUpload -> ObjectCreated:CompleteMultipartUpload, FlushAppend ->
ObjectCreated:Put, DeleteObject and each key DeleteObjects removed -> ObjectRemoved:Delete.
"""

from __future__ import annotations

from aiohttp import web

from ..service.guards import check_writable
from ..service.notifications import PROPS_KEY, ObjectEvent
from .body import read_small_body
from .context import Ctx, handles

_CREATED = {"PutObject": "s3:ObjectCreated:Put", "CompleteMultipartUpload": "s3:ObjectCreated:CompleteMultipartUpload",
            "FlushAppend": "s3:ObjectCreated:Put"}
_WRITES = frozenset({*_CREATED, "DeleteObject", "DeleteObjects", "UploadPart", "CreateMultipartUpload",
                     "AppendObject"})


@handles("GetBucketNotificationConfiguration")
async def get_notification(ctx: Ctx) -> web.StreamResponse:
    bucket = await ctx.svc.core.bucket_for(ctx.who, ctx.bucket)
    body = ctx.svc.notifier.get_config(bucket)
    return web.Response(body=body, content_type="application/xml")


@handles("PutBucketNotificationConfiguration")
async def put_notification(ctx: Ctx) -> web.StreamResponse:
    bucket = await ctx.svc.core.bucket_for(ctx.who, ctx.bucket)
    body = await read_small_body(ctx.request, ctx.plan, ctx.cfg.limits.max_xml_body)
    await ctx.svc.notifier.set_config(bucket, body)
    return web.Response(status=200)


async def before(ctx: Ctx) -> None:
    if ctx.route.endpoint.name not in _WRITES or ctx.route.bucket is None:
        return
    bucket = await ctx.svc.core.meta.get_bucket(ctx.route.bucket)
    if bucket is not None:
        check_writable(bucket)
        ctx.request["coffer.bucket"] = bucket


async def after(ctx: Ctx, resp: web.StreamResponse) -> None:
    name = ctx.route.endpoint.name
    if resp.status >= 300 or name not in _WRITES:
        return
    bucket = ctx.request.get("coffer.bucket")
    if bucket is None or not bucket.props.get(PROPS_KEY):
        return
    events: list[ObjectEvent] = []
    if name in _CREATED:
        event = _CREATED[name]
        if name == "PutObject" and ctx.header("x-amz-copy-source"):
            event = "s3:ObjectCreated:Copy"
        rec = await ctx.svc.core.meta.get_object(bucket.name, ctx.key)
        if rec is not None:
            events.append(ObjectEvent(event, ctx.key, rec.size, rec.etag, rec.version_id))
    elif name == "DeleteObject":
        events.append(ObjectEvent("s3:ObjectRemoved:Delete", ctx.key))
    elif name == "DeleteObjects":
        # the handler leaves the keys it actually removed (Quiet or not) in the request
        events += [ObjectEvent("s3:ObjectRemoved:Delete", k) for k in ctx.request.get("coffer.deleted", [])]
    if events:
        peer = ctx.request.remote or ""
        await ctx.svc.notifier.emit(bucket, events, ctx.who.user_id, ctx.request_id, peer)

