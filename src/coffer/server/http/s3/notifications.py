"""Bucket notification endpoints and the front's write hooks (issue 6).

Owns Get/PutBucketNotificationConfiguration and `around`, which `app.Front` runs every handler
through:
- a write to an object of a frozen snapshot bucket is refused (AccessDenied);
- a successful object write or delete becomes S3 events, queued durably (SQLite) before the
  response goes out when the bucket has a notification configuration that matches. Requests that
  are not object writes pay nothing; writes reuse the bucket row access control read (a lookup
  only where no gate ran, e.g. the AIStore front), and writes
  to a bucket with notifications one more commit (the intent) before the handler runs.

Event names per endpoint: PutObject -> ObjectCreated:Put (ObjectCreated:Copy with
x-amz-copy-source), CompleteMultipartUpload -> ObjectCreated:CompleteMultipartUpload, FlushAppend ->
ObjectCreated:Put, DeleteObject and each key DeleteObjects deleted -> ObjectRemoved:Delete (or
ObjectRemoved:DeleteMarkerCreated when a versioned bucket made a delete marker).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from coffer.server.http.common.body import read_small_body
from coffer.server.http.common.context import Ctx, Handler, handles
from coffer.server.service import Service
from coffer.server.service.events.notifications import PROPS_KEY, ObjectEvent
from coffer.server.service.objects.frozen import check_writable

_CREATED = {"PutObject": "s3:ObjectCreated:Put", "CompleteMultipartUpload": "s3:ObjectCreated:CompleteMultipartUpload",
            "FlushAppend": "s3:ObjectCreated:Put"}
_MARKER = "s3:ObjectRemoved:DeleteMarkerCreated"
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
    """Run an S3 `handler` for the front: refuse writes to frozen buckets; turn a successful write
    into events. When the bucket has notifications, an intent row is committed first and replaced by
    the events (or dropped) afterwards, so a crash between the object's commit and the events' leaves
    an intent that the next start resolves (`notifications.recover_held`)."""
    name = ctx.route.endpoint.name
    if name not in _WRITES or ctx.route.bucket is None:
        return await handler(ctx)
    # DeleteObjects names its keys only in its body: it writes its intent through
    # request["coffer.intend"] once parsed, and leaves the keys it actually removed (Quiet or not)
    # in the request; they become events after it.
    key = None if name == "DeleteObjects" else ctx.key
    return await guarded(ctx.svc, ctx.route.bucket, key, _event_for(ctx), ctx.who.user_id, ctx.request_id,
                         ctx.request, lambda: handler(ctx))


async def around_ais(ctx: Any, handler: Callable[[Any], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """The same for the AIStore API's object writes: PUT (a plain put or an append flush:
    ObjectCreated:Put; an append piece: no event) and DELETE (ObjectRemoved:Delete). Server-side
    copies (`object_to`) are guarded by their handler on the destination; bucket-level multi-object
    operations by `service.multiobj` (through `service.announce`)."""
    method = ctx.request.method
    if ctx.key is None or method not in ("PUT", "DELETE") or "object_to" in ctx.query:
        return await handler(ctx)
    if method == "DELETE":
        event: str | None = "s3:ObjectRemoved:Delete"
    else:
        event = None if ctx.query.get("append_type") == "append" else "s3:ObjectCreated:Put"
    return await guarded(ctx.svc, ctx.bucket, ctx.key, event, ctx.who.user_id, ctx.rid, ctx.request,
                         lambda: handler(ctx))


async def guarded(svc: Service, bucket_name: str, key: str | None, event: str | None, principal: str,
                  request_id: str, request: web.BaseRequest,
                  call: Callable[[], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Frozen check, intent, the write itself (`call`), then its events. key=None: the (key,
    became-a-delete-marker) pairs come from request["coffer.deleted"] after the call (DeleteObjects)."""
    bucket = await svc.core.bucket_row(bucket_name)
    if bucket is None:
        return await call()
    check_writable(bucket)
    if event is None or not bucket.props.get(PROPS_KEY):
        return await call()
    notifier = svc.notifier
    peer = request.remote or ""
    hold = None if key is None else await notifier.intend(bucket, event, key, principal, request_id, peer)
    holds: list[int] = []
    if key is None:
        async def intend_keys(keys: list[str]) -> None:
            """DeleteObjects calls this once it knows its keys, before deleting (the crash window)."""
            h = await notifier.intend(bucket, event, "", principal, request_id, peer, keys=keys)
            if h is not None:
                holds.append(h)
        request["coffer.intend"] = intend_keys
    try:
        resp = await call()
    except BaseException:
        for h in [hold, *holds]:
            if h is not None:
                await notifier.cancel(h)
        raise
    if holds:
        hold = holds[0]
    events: list[ObjectEvent] = []
    if resp.status < 300:
        if key is None:
            events = [ObjectEvent(_MARKER if marker else event, k) for k, marker in request.get("coffer.deleted", [])]
        elif event.startswith("s3:ObjectCreated:"):
            rec = await svc.core.meta.get_object(bucket.name, key)
            if rec is not None:
                events.append(ObjectEvent(event, key, rec.size, rec.etag, rec.version_id))
        else:  # a versioned bucket's delete makes a marker: S3 names that event differently
            marker = resp.headers.get("x-amz-delete-marker") == "true"
            events.append(ObjectEvent(_MARKER if marker else event, key,
                                      version_id=resp.headers.get("x-amz-version-id")))
    if events or hold is not None:
        await notifier.emit(bucket, events, principal, request_id, peer, replaces=hold)
    return resp
