"""The one write hook of every front: frozen-bucket refusal, then bucket notification events.

Every front runs its object writes through `around_write` (S3's `notifications.around` for its
write endpoints and POST Object, DS3's blob PUT, AIStore's object PUT/DELETE and copies):
- a write to an object of a frozen snapshot bucket is refused (AccessDenied);
- a successful object write or delete becomes S3 events, queued durably (SQLite) before the
  response goes out when the bucket has a notification configuration that matches, and logged
  for the listen API when a live stream may follow the bucket (`service/events/listen.py`). Writes reuse
  the bucket row access control read (a lookup only where no gate ran, e.g. the AIStore front), and
  writes to a bucket with notifications pay one more commit (the intent) before the handler runs.
  When the bucket has notifications, an intent row is committed first and replaced by the events
  (or dropped) afterwards, so a crash between the object's commit and the events' leaves an intent
  that the next start resolves (`notifications.recover_held`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from coffer.server.service import Service
from coffer.server.service.events.notifications import ObjectEvent
from coffer.server.service.objects.frozen import check_writable

_MARKER = "s3:ObjectRemoved:DeleteMarkerCreated"


async def around_write(svc: Service, bucket_name: str, key: str | None, event: str | None, principal: str,
                       request_id: str, request: web.BaseRequest,
                       call: Callable[[], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Frozen check, intent, the write itself (`call`), then its events. key=None: the (key,
    became-a-delete-marker) pairs come from request["coffer.deleted"] after the call (DeleteObjects)."""
    bucket = await svc.core.bucket_row(bucket_name)
    if bucket is None:
        return await call()
    check_writable(bucket)
    notifier = svc.notifier
    if event is None or not notifier.interested(bucket):
        return await call()
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
