"""`Announce`: the intent -> write -> events sequence, for service-level writes outside `h_notify`.

Owns the one pattern every write that raises bucket notifications follows when it is not an S3
request run through `http.h_notify.around` (lifecycle expiry, multi-object copy/delete, DS3 folder
deletes): an intent row is committed before the write when a webhook would care (a bucket
with only a live listen stream gets its events after the write, without an intent) (so a crash between
the write's commit and its events leaves an intent that `notifications.recover_held` resolves at the
next start), the write runs, then its events replace the intent in one commit; a failed write
cancels the intent.

    async with Announce(notifier, bucket, "s3:ObjectRemoved:Delete", who, request_id, keys=batch) as a:
        ...delete...
        a.events.append(ObjectEvent(...))
"""

from __future__ import annotations

from types import TracebackType

from coffer.server.meta.model import Bucket
from coffer.server.service.events.notifications import Notifier, ObjectEvent


class Announce:
    def __init__(self, notifier: Notifier | None, bucket: Bucket, event: str, principal: str, request_id: str,
                 key: str = "", keys: list[str] | None = None, version: str | None = None) -> None:
        self.notifier = notifier if notifier is not None and notifier.interested(bucket) else None
        self.bucket, self.event, self.principal, self.request_id = bucket, event, principal, request_id
        self.key, self.keys, self.version = key, keys, version
        self.hold: int | None = None
        self.events: list[ObjectEvent] = []

    async def __aenter__(self) -> Announce:
        if self.notifier is not None:
            self.hold = await self.notifier.intend(self.bucket, self.event, self.key, self.principal,
                                                   self.request_id, keys=self.keys, version=self.version)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self.notifier is None:
            return
        if exc is not None and not self.events:
            if self.hold is not None:
                await self.notifier.cancel(self.hold)
            return
        # events of what was done before a failure are owed too (a batch can fail half-way)
        await self.notifier.emit(self.bucket, self.events, self.principal, self.request_id, replaces=self.hold)
