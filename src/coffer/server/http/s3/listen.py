"""The listen API (MinIO's ListenBucketNotification): `GET /BUCKET?events=...` and `GET /?events=...`.

Owns the two streaming endpoints. The answer is a long-lived 200 whose body is one JSON document per
line, `{"Records": [...]}` in the S3 event format, with a blank line (`" \\n"`) every few seconds
while nothing happens (keep-alive; clients such as minio-py skip it). Query: `events` (repeatable:
`s3:ObjectCreated:*`, `s3:ObjectRemoved:Delete`, ...; none: every event), `prefix`, `suffix`.
The events come from every worker and gateway through the metadata store (service/events/listen.py);
the stream ends when the client goes away or the server stops.

Permissions: `s3:ListenBucketNotification` on the bucket (its owner, an admin, or a bucket policy);
the all-buckets form (`s3:ListenNotification`) is for admin users only, since it shows every
bucket's writes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.http.common.context import Ctx, handles
from coffer.server.http.common.ids import stamp
from coffer.server.service.events.listen import ListenFilter

log = logging.getLogger("coffer.listen")
_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _filter(ctx: Ctx) -> ListenFilter:
    q: Any = ctx.request.query  # a MultiDict: `events` repeats
    return ListenFilter.parse([e for e in q.getall("events", []) if e], q.get("prefix", ""), q.get("suffix", ""))


@handles("ListenBucketNotification")
async def listen_bucket(ctx: Ctx) -> web.StreamResponse:
    flt = _filter(ctx)
    bucket = await ctx.svc.core.bucket_for(ctx.who, ctx.bucket)
    return await _stream(ctx, bucket.name, flt)


@handles("ListenNotification")
async def listen_all(ctx: Ctx) -> web.StreamResponse:
    if not ctx.who.admin:
        raise S3Error("AccessDenied", "Listening to every bucket needs an admin user.")
    return await _stream(ctx, None, _filter(ctx))


async def _stream(ctx: Ctx, bucket: str | None, flt: ListenFilter) -> web.StreamResponse:
    hub = ctx.svc.listen
    if hub.closing.is_set():  # the server is stopping: a client retries elsewhere or later
        raise S3Error("ServiceUnavailable", "The server is shutting down.", status=503)
    listener = await hub.open(bucket, flt)
    resp = web.StreamResponse(status=200, headers=_HEADERS)
    try:
        stamp(ctx.request, resp)
        await resp.prepare(ctx.request)
        await resp.write(b" \n")  # the client knows it is connected; every later write is reported
        while True:
            batch = await listener.next()
            transport = ctx.request.transport
            if batch is None or transport is None or transport.is_closing():
                break
            if batch:
                await resp.write(b"".join(json.dumps({"Records": [r]}, separators=(",", ":")).encode() + b"\n"
                                          for r in batch))
            else:
                await resp.write(b" \n")
        await resp.write_eof()
    except ConnectionResetError:
        pass  # the client went away: its stream simply ends
    except Exception as e:
        if not resp.prepared:
            raise  # still an ordinary error answer
        # The status line is gone (e.g. the metadata database became unreachable): end the stream;
        # the client sees it end and reconnects.
        log.warning("listen stream on %s ended: %s", bucket or "every bucket", e)
        if ctx.request.transport is not None:
            ctx.request.transport.close()
    finally:
        await listener.close()
    return resp
