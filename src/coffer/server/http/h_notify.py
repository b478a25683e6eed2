"""Bucket notification endpoints and the front's write hooks (issue 6).

Owns Get/PutBucketNotificationConfiguration and `around`, which `app.Front` runs every handler
through:
- a write to an object of a frozen snapshot bucket is refused (AccessDenied);
- a successful object write or delete becomes S3 events, queued durably (SQLite) before the
  response goes out when the bucket has a notification configuration that matches. Requests that
  are not object writes pay nothing; writes pay a bucket lookup (a primary-key read), and writes
  to a bucket with notifications one more commit (the intent) before the handler runs.

Event names per endpoint: PutObject -> ObjectCreated:Put (ObjectCreated:Copy with
x-amz-copy-source), CompleteMultipartUpload -> ObjectCreated:CompleteMultipartUpload, FlushAppend ->
ObjectCreated:Put, DeleteObject and each key DeleteObjects removed -> ObjectRemoved:Delete.
"""

from __future__ import annotations

from aiohttp import web

from ..service.guards import check_writable
from ..service.notifications import PROPS_KEY, ObjectEvent
from .body import read_small_body
from .context import Ctx, Handler, handles

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


def _event_for(ctx: Ctx) -> str | None:
    name = ctx.route.endpoint.name
    if name == "PutObject" and ctx.header("x-amz-copy-source"):
        return "s3:ObjectCreated:Copy"
    if name in _CREATED:
        return _CREATED[name]
    return "s3:ObjectRemoved:Delete" if name in ("DeleteObject", "DeleteObjects") else None


async def around(ctx: Ctx, handler: Handler) -> web.StreamResponse:
    """Run `handler` for the front: refuse writes to frozen buckets; turn a successful write into
    events. When the bucket has notifications, an intent row is committed first and replaced by the
    events (or dropped) afterwards, so a crash between the object's commit and the events' leaves an
    intent that the next start resolves (`notifications.recover_held`)."""
    name = ctx.route.endpoint.name
    if name not in _WRITES or ctx.route.bucket is None:
        return await handler(ctx)
    bucket = await ctx.svc.core.meta.get_bucket(ctx.route.bucket)
    if bucket is None:
        return await handler(ctx)
    check_writable(bucket)
    event = _event_for(ctx)
    if event is None or not bucket.props.get(PROPS_KEY):
        return await handler(ctx)
    notifier = ctx.svc.notifier
    peer = ctx.request.remote or ""
    # DeleteObjects names its keys only in its body: no intent (its events are queued after it).
    hold = None if name == "DeleteObjects" else \
        await notifier.intend(bucket, event, ctx.key, ctx.who.user_id, ctx.request_id, peer)
    try:
        resp = await handler(ctx)
    except BaseException:
        if hold is not None:
            await notifier.cancel(hold)
        raise
    events: list[ObjectEvent] = []
    if resp.status < 300:
        if name == "DeleteObjects":
            # the handler leaves the keys it actually removed (Quiet or not) in the request
            events = [ObjectEvent(event, k) for k in ctx.request.get("coffer.deleted", [])]
        elif event.startswith("s3:ObjectCreated:"):
            rec = await ctx.svc.core.meta.get_object(bucket.name, ctx.key)
            if rec is not None:
                events.append(ObjectEvent(event, ctx.key, rec.size, rec.etag, rec.version_id))
        else:
            events.append(ObjectEvent(event, ctx.key))
    if events or hold is not None:
        await notifier.emit(bucket, events, ctx.who.user_id, ctx.request_id, peer, replaces=hold)
    return resp
