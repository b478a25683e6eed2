"""The one write hook of every front: frozen-bucket refusal, then bucket notification events.

Every front runs its object writes through `around_write` (S3's `notifications.around` for its
write endpoints and POST Object, DS3's blob PUT, AIStore's object PUT/DELETE and copies) or, when
the write's result is not an HTTP response, `around_call` (the console's JSON API: uploads, folder
creation, deletes, version restores):
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
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from coffer.server.service import Service
from coffer.server.service.events.notifications import ObjectEvent
from coffer.server.service.objects.frozen import check_writable

_MARKER = "s3:ObjectRemoved:DeleteMarkerCreated"
T = TypeVar("T")


@dataclass(slots=True, frozen=True)
class Written:
    """What one write did, as its events need it: `ok` False means nothing was written (no event);
    for a delete, whether it made a delete marker and the version id it removed or created."""
    ok: bool = True
    delete_marker: bool = False
    version_id: str | None = None


def _response_written(resp: web.StreamResponse) -> Written:
    return Written(resp.status < 300, resp.headers.get("x-amz-delete-marker") == "true",
                   resp.headers.get("x-amz-version-id"))


async def around_call(svc: Service, bucket_name: str, key: str, event: str | None, principal: str,
                      request_id: str, peer: str, call: Callable[[], Awaitable[T]],
                      written: Callable[[T], Written] = lambda _r: Written()) -> T:
    """Frozen check, intent, the write of one key (`call`, whose result `written` describes; an
    exception is a failed write), then its events. Returns what `call` returned."""
    bucket = await svc.core.bucket_row(bucket_name)
    if bucket is None:
        return await call()
    check_writable(bucket)
    notifier = svc.notifier
    if event is None or not notifier.interested(bucket):
        return await call()
    hold = await notifier.intend(bucket, event, key, principal, request_id, peer)
    try:
        result = await call()
    except BaseException:
        if hold is not None:
            await notifier.cancel(hold)
        raise
    done = written(result)
    events: list[ObjectEvent] = []
    if done.ok:
        if event.startswith("s3:ObjectCreated:"):
            rec = await svc.core.meta.get_object(bucket.name, key)
            if rec is not None:
                events.append(ObjectEvent(event, key, rec.size, rec.etag, rec.version_id))
        else:  # a versioned bucket's delete makes a marker: S3 names that event differently
            events.append(ObjectEvent(_MARKER if done.delete_marker else event, key, version_id=done.version_id))
    if events or hold is not None:
        await notifier.emit(bucket, events, principal, request_id, peer, replaces=hold)
    return result


async def around_write(svc: Service, bucket_name: str, key: str | None, event: str | None, principal: str,
                       request_id: str, request: web.BaseRequest,
                       call: Callable[[], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Frozen check, intent, the write itself (`call`), then its events. key=None: the (key,
    became-a-delete-marker) pairs come from request["coffer.deleted"] after the call (DeleteObjects)."""
    if key is not None:
        return await around_call(svc, bucket_name, key, event, principal, request_id, request.remote or "", call,
                                 _response_written)
    bucket = await svc.core.bucket_row(bucket_name)
    if bucket is None:
        return await call()
    check_writable(bucket)
    notifier = svc.notifier
    if event is None or not notifier.interested(bucket):
        return await call()
    peer = request.remote or ""
    holds: list[int] = []

    async def intend_keys(keys: list[str]) -> None:
        """DeleteObjects calls this once it knows its keys, before deleting (the crash window)."""
        h = await notifier.intend(bucket, event, "", principal, request_id, peer, keys=keys)
        if h is not None:
            holds.append(h)
    request["coffer.intend"] = intend_keys
    try:
        resp = await call()
    except BaseException:
        for h in holds:
            await notifier.cancel(h)
        raise
    hold = holds[0] if holds else None
    events: list[ObjectEvent] = []
    if resp.status < 300:
        events = [ObjectEvent(_MARKER if marker else event, k) for k, marker in request.get("coffer.deleted", [])]
    if events or hold is not None:
        await notifier.emit(bucket, events, principal, request_id, peer, replaces=hold)
    return resp
