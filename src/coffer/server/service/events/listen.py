"""The listen API (MinIO's ListenBucketNotification): live S3 event streams across worker processes.

Owns `ListenHub`, one per worker process, and `ListenFilter`. A stream may be served by any worker
(or any gateway on a shared PostgreSQL) while the writes it reports are handled by others, so
everything goes through the metadata store (meta/sqlite/listen.py, meta/postgres/listen.py):

- A stream registers a lease (`listeners`: its bucket, renewed every `RENEW` s, deleted when it ends)
  and takes the log's end as its cursor.
- Every worker re-reads the set of listened buckets every `REFRESH` s. A write to a listened bucket
  logs its S3 event records (`listen_log`, one more non-fsynced commit after the write's own); a
  write to any other bucket pays one set lookup. A worker whose view is older than `STALE` s (its
  loop was busy, the database slow, or it has not read it yet) logs every event: it cannot know.
- A new stream waits `SETTLE` (> `STALE`) before it answers: by then every worker's view was read
  after the lease committed (or is stale, and logs everything), so every write a client makes after
  it got the response's headers is logged. Events from before the headers may be shown too.
- A stream polls the log every `POLL` s (no busy loop, bounded batches), sends a blank line every
  `KEEPALIVE` s when idle, and ends when the server stops (`close`). Rows older than `RETAIN` s are
  pruned by every worker's refresh loop; a stream further behind than that misses events, as MinIO's
  slow listeners do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from coffer.protocol.errors import S3Error
from coffer.server.meta.interface import MetaStore
from coffer.server.meta.model import Bucket
from coffer.server.service.events.notifications import EVENTS, ObjectEvent, event_record

log = logging.getLogger("coffer.listen")

REFRESH = 0.25
STALE = 0.6
SETTLE = STALE + 0.25
POLL = 0.25
KEEPALIVE = 5.0
LEASE = 30.0
RENEW = 10.0
RETAIN = 120.0
PRUNE_EVERY = 10.0
BATCH = 500
# What a listener may ask for beyond the notification events: MinIO's access events (Coffer emits none).
_LISTEN_ONLY = frozenset({"s3:ObjectAccessed:*", "s3:ObjectAccessed:Get", "s3:ObjectAccessed:Head"})


@dataclass(slots=True)
class ListenFilter:
    events: list[str] = field(default_factory=list)  # empty: every event
    prefix: str = ""
    suffix: str = ""

    @classmethod
    def parse(cls, events: list[str], prefix: str, suffix: str) -> ListenFilter:
        for ev in events:
            if ev not in EVENTS and ev not in _LISTEN_ONLY:
                raise S3Error("InvalidArgument", "The event is not supported for notifications",
                              ArgumentName="events", ArgumentValue=ev)
        return cls(list(events), prefix, suffix)

    def matches(self, record: dict) -> bool:
        name = "s3:" + record.get("eventName", "")
        if self.events and not any(e in (name, name.rsplit(":", 1)[0] + ":*") for e in self.events):
            return False
        key = unquote_plus(record.get("s3", {}).get("object", {}).get("key", ""))
        return key.startswith(self.prefix) and key.endswith(self.suffix)


class Listener:
    """One open stream: `next()` gives the next batch of matching records ([]: time for a keep-alive,
    None: the server is stopping); `close()` ends the lease."""

    def __init__(self, hub: ListenHub, lid: str, bucket: str | None, flt: ListenFilter, cursor: Any) -> None:
        self.hub, self.id, self.bucket, self.filter, self.cursor = hub, lid, bucket, flt, cursor
        self._renew_at = time.monotonic() + RENEW

    async def next(self) -> list[dict] | None:
        idle_until = time.monotonic() + KEEPALIVE
        while not self.hub.closing.is_set():
            records, self.cursor = await self.hub.meta.listen_read(self.cursor, self.bucket, BATCH)
            matched = [r for r in records if self.filter.matches(r)]
            now = time.monotonic()
            if now >= self._renew_at:
                self._renew_at = now + RENEW
                await self.hub.meta.listen_register(self.id, self.bucket or "", time.time() + LEASE)
            if matched:
                return matched
            if now >= idle_until:
                return []
            if len(records) < BATCH:
                await self.hub.sleep(POLL)
        return None

    async def close(self) -> None:
        try:
            await self.hub.meta.listen_unregister(self.id)
        except Exception as e:  # the lease expires by itself
            log.warning("listen: could not drop lease %s: %s", self.id, e)


class ListenHub:
    def __init__(self, meta: MetaStore, region: str) -> None:
        self.meta, self.region = meta, region
        self.buckets: set[str] = set()
        self.seen_at = -math.inf  # monotonic time the query behind `buckets` was issued
        self.closing = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._warned = False

    def wanted(self, bucket: str) -> bool:
        """Must a write to `bucket` log its events? (True when this worker's view is stale.)"""
        if time.monotonic() - self.seen_at > STALE:
            return True
        return bool(self.buckets) and ("" in self.buckets or bucket in self.buckets)

    async def record(self, bucket: Bucket, events: list[ObjectEvent], principal: str, request_id: str,
                     source_ip: str = "") -> None:
        """Log the records of `events` (a write that already committed) when someone may listen."""
        if not events or not self.wanted(bucket.name):
            return
        now = time.time()
        rows = [(bucket.name, event_record(self.region, bucket, "Config", ev, principal, request_id, source_ip,
                                           now, i)) for i, ev in enumerate(events)]
        try:
            await self.meta.listen_append(rows)
        except Exception as e:  # the write is done and acknowledged: a lost live event must not fail it
            log.warning("listen: events of %s not logged: %s", bucket.name, e)

    async def open(self, bucket: str | None, flt: ListenFilter) -> Listener:
        """Register a stream and wait until every worker logs for it (see the module notes)."""
        lid = uuid.uuid4().hex
        cursor = await self.meta.listen_register(lid, bucket or "", time.time() + LEASE)
        await self.sleep(SETTLE)
        return Listener(self, lid, bucket, flt, cursor)

    async def sleep(self, seconds: float) -> None:
        """Sleep, cut short when the server stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        """Server shutdown: streams end (their `next()` returns None) and the refresh loop stops."""
        self.closing.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        prune_at = 0.0
        while not self.closing.is_set():
            issued = time.monotonic()
            try:
                self.buckets = await self.meta.listen_buckets(time.time())
                self.seen_at = issued
                if issued >= prune_at:
                    prune_at = issued + PRUNE_EVERY
                    now = time.time()
                    await self.meta.listen_prune(now - RETAIN, now)
                self._warned = False
            except Exception as e:  # the view goes stale: every event is logged until it is read again
                if not self._warned:
                    log.warning("listen: cannot read the listened buckets: %s", e)
                    self._warned = True
            await self.sleep(REFRESH)
