"""Bucket notification endpoints, and which S3 endpoints are writes for the write hook.

Owns Get/PutBucketNotificationConfiguration and `around`, which the S3 front runs every handler
through: an object write goes through the one write hook of every front (`http/common/hooks.py`:
frozen-bucket refusal, then notification events); requests that are not object writes pay nothing.

Event names per endpoint: PutObject -> ObjectCreated:Put (ObjectCreated:Copy with
x-amz-copy-source), CompleteMultipartUpload -> ObjectCreated:CompleteMultipartUpload, FlushAppend ->
ObjectCreated:Put, DeleteObject and each key DeleteObjects deleted -> ObjectRemoved:Delete (or
ObjectRemoved:DeleteMarkerCreated when a versioned bucket made a delete marker).
"""

from __future__ import annotations

from aiohttp import web

from coffer.server.http.common.body import read_small_body
from coffer.server.http.common.context import Ctx, Handler, handles
from coffer.server.http.common.hooks import around_write
from coffer.server.http.s3.snowball import is_snowball

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
    """Run an S3 `handler`, through the write hook when it is an object write."""
    name = ctx.route.endpoint.name
    if name not in _WRITES or ctx.route.bucket is None:
        return await handler(ctx)
    # DeleteObjects names its keys only in its body: it writes its intent through
    # request["coffer.intend"] once parsed, and leaves the keys it actually removed (Quiet or not)
    # in the request; they become events after it.
    # A snowball PUT queues the events of the objects it extracts itself (http/s3/snowball.py).
    key = None if name == "DeleteObjects" or is_snowball(ctx) else ctx.key
    return await around_write(ctx.svc, ctx.route.bucket, key, _event_for(ctx), ctx.who.user_id, ctx.request_id,
                              ctx.request, lambda: handler(ctx))
