"""Bucket lifecycle: configuration rules and the background worker that enforces them.

Owns the lifecycle model (bucket props["lifecycle"] = list of rules, as validated here) and its
enforcement. A rule: {"id", "status": "Enabled"|"Disabled", "filter": {"prefix", "tags", "gt", "lt"},
"expiration": {"days"} | {"date"} | {"expired_marker": True}, "noncurrent": {"days", "newer"},
"abort_mpu": days}.

The worker runs in the server process. Only one process runs it at a time: each worker tries the
metadata's ``lifecycle`` lock (meta/coordination.py: a session advisory lock on PostgreSQL, so one
gateway of the whole cluster; an flock on DATA/meta/lifecycle.lock on SQLite) and the holder runs the
passes (if it dies, its session or file descriptor goes with it and another takes over). A pass
walks every bucket with rules in small batches (cursor per bucket, short sleeps between batches) so
it never hogs the event loop or the metadata writer. After each batch the pass's position (bucket,
phase, last key) is saved in the metadata's ``upkeep_state`` row ``lifecycle`` (meta/coordination.py),
so a pass cut short by a stop, a crash or a lost lock resumes where it was, on whichever process of
the cluster holds the lock next, instead of starting over ({} there: no pass unfinished). The cursor
an older Coffer kept in DATA/meta/lifecycle.json is moved there when the worker starts (`adopt_file`).
Every action is idempotent, so redoing part of a pass is harmless.
It deletes only through the service's guarded paths: a locked version is never touched (the guard
refuses and the worker moves on). `day_seconds` is the length of a lifecycle "day" (86400 in
production; tests shrink it with `coffer serve --lifecycle-day-seconds`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from coffer.protocol.errors import MALFORMED_XML, S3Error
from coffer.server.meta.coordination import LIFECYCLE, Coordination, HeldLock
from coffer.server.meta.model import Bucket
from coffer.server.service.core import Core, Principal
from coffer.server.service.events.announce import Announce
from coffer.server.service.events.notifications import Notifier, ObjectEvent, marker_event
from coffer.server.service.objects.versioning import Versioning, mode

log = logging.getLogger("coffer.lifecycle")
MAX_RULES = 1000
BATCH = 200
S3_DAY = 86400.0


def due_time(start: float, days: int, day: float) -> float:
    """When an action `days` lifecycle days after `start` falls due.

    S3 adds the days and rounds the result up to the next midnight UTC (an object written at
    10:30 with Days=3 expires at 00:00 of the fourth day after). With a test day length other than
    86400 s (`--lifecycle-day-seconds`) there is no calendar to round to: the plain multiple is used.
    """
    t = start + days * day
    if day == S3_DAY:
        t = math.ceil(t / S3_DAY) * S3_DAY
    return t


def check_rules(rules: list[dict[str, Any]]) -> None:
    """S3's validation of a lifecycle configuration (shape errors are caught by the parser)."""
    if not rules or len(rules) > MAX_RULES:
        raise S3Error("MalformedXML", MALFORMED_XML)
    ids = [r.get("id") for r in rules if r.get("id")]
    if any(len(i) > 255 for i in ids):
        raise S3Error("InvalidArgument", "ID length should not exceed allowed limit of 255", ArgumentName="ID")
    if len(ids) != len(set(ids)):
        raise S3Error("InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule",
                      ArgumentName="ID")
    for r in rules:
        if r.get("status") not in ("Enabled", "Disabled"):
            raise S3Error("MalformedXML", MALFORMED_XML)
        if not (r.get("expiration") or r.get("noncurrent") or r.get("abort_mpu") is not None):
            raise S3Error("InvalidRequest", "At least one action needs to be specified in a rule")
        exp = r.get("expiration") or {}
        if len([k for k in ("days", "date", "expired_marker") if k in exp]) > 1:
            raise S3Error("MalformedXML", MALFORMED_XML)
        if "days" in exp and exp["days"] <= 0:
            raise S3Error("InvalidArgument", "'Days' for Expiration action must be a positive integer",
                          ArgumentName="Days")
        if "date" in exp and exp["date"] % 86400 != 0:
            raise S3Error("InvalidArgument", "'Date' must be at midnight GMT", ArgumentName="Date")
        nc = r.get("noncurrent")
        if nc is not None and (nc.get("days", 0) <= 0 or (nc.get("newer") is not None and not 0 < nc["newer"] <= 100)):
            raise S3Error("InvalidArgument", "'NoncurrentDays' in NoncurrentVersionExpiration action must be "
                          "positive integer", ArgumentName="NoncurrentDays")
        if r.get("abort_mpu") is not None and r["abort_mpu"] <= 0:
            raise S3Error("InvalidArgument", "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must "
                          "be a positive integer", ArgumentName="DaysAfterInitiation")
        f = r.get("filter") or {}
        if (f.get("tags") or f.get("gt") is not None or f.get("lt") is not None) and r.get("abort_mpu") is not None:
            raise S3Error("InvalidRequest", "AbortIncompleteMultipartUpload cannot be specified with Tags.")
        if exp.get("expired_marker") and f.get("tags"):
            raise S3Error("InvalidRequest", "ExpiredObjectDeleteMarker cannot be specified with tags.")


def matches(f: dict[str, Any], key: str, size: int | None, tags: dict[str, str]) -> bool:
    if not key.startswith(f.get("prefix") or ""):
        return False
    for k, v in (f.get("tags") or {}).items():
        if tags.get(k) != v:
            return False
    if size is not None:
        if f.get("gt") is not None and not size > f["gt"]:
            return False
        if f.get("lt") is not None and not size < f["lt"]:
            return False
    return True


def expiration_header(bucket: Bucket, key: str, size: int, tags: dict[str, str], last_modified: float,
                      day: float = S3_DAY) -> str | None:
    """S3's `x-amz-expiration` for the current version of an object: when the earliest enabled expiration
    rule that matches it (Days or Date) deletes it, and that rule's ID; None when no rule does."""
    from coffer.protocol.timeutil import http_date

    best: tuple[float, str] | None = None
    for r in bucket.props.get("lifecycle") or []:
        exp = r.get("expiration") or {}
        if r.get("status") != "Enabled" or not ("days" in exp or "date" in exp):
            continue
        if not matches(r.get("filter") or {}, key, size, tags):
            continue
        when = due_time(last_modified, exp["days"], day) if "days" in exp else float(exp["date"])
        if best is None or when < best[0]:
            best = (when, r.get("id") or "")
    if best is None:
        return None
    return f'expiry-date="{http_date(best[0])}", rule-id="{best[1]}"'


def _is_position(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("bucket"), str)


class Lifecycle:
    def __init__(self, core: Core, versioning: Versioning, notifier: Notifier | None) -> None:
        self.notifier = notifier  # bucket notifications of expirations
        self.core = core
        self.versioning = versioning
        self.passes = 0
        self.coordination: Coordination | None = None  # where a pass saves its position (None: nowhere)

    # -- progress of a pass (resume after a stop, a crash or a takeover) --------------------------
    async def _load_progress(self) -> dict | None:
        if self.coordination is None:
            return None
        try:
            state = await asyncio.to_thread(self.coordination.load_state, LIFECYCLE)
        except Exception:  # the metadata is down for a moment: the pass starts over, harmless
            log.warning("cannot read the lifecycle position", exc_info=True)
            return None
        return state if _is_position(state) else None

    async def _save_progress(self, state: dict | None) -> None:
        if self.coordination is None:
            return
        try:
            await asyncio.to_thread(self.coordination.save_state, LIFECYCLE, state or {})
        except Exception:
            log.warning("cannot save the lifecycle position", exc_info=True)

    async def pass_pending(self) -> bool:
        """Whether a pass is unfinished (a position is saved): /metrics' coffer_lifecycle_pass_pending."""
        return await self._load_progress() is not None

    async def adopt_file(self, path: Path) -> bool:
        """Move the position an older Coffer saved in ``path`` (DATA/meta/lifecycle.json) into the
        metadata, unless the metadata has one already (a newer state: the file is stale), then remove
        the file. Returns whether a position was imported."""
        if self.coordination is None:
            return False
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            return False
        except (OSError, ValueError):
            doc = None
        coordination = self.coordination
        imported = _is_position(doc) and await asyncio.to_thread(coordination.load_state, LIFECYCLE) is None
        if imported:
            await asyncio.to_thread(coordination.save_state, LIFECYCLE, doc)
        path.unlink(missing_ok=True)
        return imported

    # -- configuration ---------------------------------------------------------------------------
    async def put(self, who: Principal, name: str, rules: list[dict[str, Any]]) -> None:
        await self.core.bucket_for(who, name)
        check_rules(rules)
        await self.core.meta.modify_bucket_props(name, lambda props: {**props, "lifecycle": rules})

    async def get(self, who: Principal, name: str) -> list[dict[str, Any]]:
        b = await self.core.bucket_for(who, name)
        rules = b.props.get("lifecycle")
        if not rules:
            raise S3Error("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist",
                          BucketName=name)
        return rules

    async def delete(self, who: Principal, name: str) -> None:
        await self.core.bucket_for(who, name)
        await self.core.meta.modify_bucket_props(
            name, lambda props: {k: v for k, v in props.items() if k != "lifecycle"})

    # -- enforcement -----------------------------------------------------------------------------
    async def worker(self, coordination: Coordination, old_progress_file: Path, day_seconds: float,
                     stop: asyncio.Event) -> None:
        """Run passes while this process holds the metadata's lifecycle lock; until `stop` is set.
        ``old_progress_file``: where an older Coffer kept the position (moved into the metadata)."""
        interval = max(0.2, min(60.0, day_seconds / 4))
        self.coordination = coordination
        try:
            await self.adopt_file(old_progress_file)
        except Exception:  # the metadata cannot take it now: the file stays for the next start
            log.warning("could not move %s into the metadata", old_progress_file, exc_info=True)
        held: HeldLock | None = None
        try:
            while not stop.is_set():
                try:
                    if held is not None and not held.alive():
                        log.warning("lifecycle lock lost (its database session ended)")
                        held.release()
                        held = None
                    if held is None:
                        held = coordination.try_lock(LIFECYCLE)  # this thread (the event loop's) holds it
                except Exception:
                    log.warning("lifecycle lock: metadata unreachable", exc_info=True)
                if held is not None:
                    try:
                        await self.run_pass(day_seconds)
                    except Exception:
                        log.exception("lifecycle pass failed")
                try:
                    await asyncio.wait_for(stop.wait(), interval)
                except TimeoutError:
                    pass
        finally:
            if held is not None:
                held.release()

    async def run_pass(self, day_seconds: float, now: float | None = None) -> int:
        """One pass over every bucket with rules (in name order, resuming a saved position);
        returns the number of actions taken."""
        actions = 0
        resume = await self._load_progress()
        for b in await self.core.meta.list_buckets():  # ordered by name
            if resume is not None and b.name < resume["bucket"]:
                continue
            start = resume if resume is not None and b.name == resume["bucket"] else None
            resume = None
            rules = [r for r in b.props.get("lifecycle") or [] if r.get("status") == "Enabled"]
            if rules:
                actions += await self._bucket(b, rules, day_seconds, time.time() if now is None else now, start)
        await self._save_progress(None)
        self.passes += 1
        return actions

    async def _bucket(self, b: Bucket, rules: list[dict], day: float, now: float, start: dict | None = None) -> int:
        who = Principal(user_id=b.owner, display_name="lifecycle", admin=True)
        n = 0
        exp_rules = [r for r in rules if "days" in (r.get("expiration") or {}) or "date" in (r.get("expiration") or {})]
        after: str | None = start.get("after") if start and start.get("phase") == "current" else None
        if start and start.get("phase") == "versions":
            exp_rules = []  # that phase was finished before the stop
        while exp_rules:
            rows = await self.core.meta.scan_current(b.name, after, BATCH)
            for key, size, mtime, _vid, props in rows:
                for r in exp_rules:
                    exp = r["expiration"]
                    due = now >= exp["date"] if "date" in exp else now >= due_time(mtime, exp["days"], day)
                    if due and matches(r.get("filter") or {}, key, size, props.get("tags") or {}):
                        n += await self._act(self._expire(b, who, key, None))
                        break
            if len(rows) < BATCH:
                break
            after = rows[-1][0]
            await self._save_progress({"bucket": b.name, "phase": "current", "after": after})
            await asyncio.sleep(0.01)  # throttle: let requests in between batches
        if mode(b) is not None:
            v_after = start.get("after") if start and start.get("phase") == "versions" else None
            n += await self._versions(b, who, rules, day, now, v_after)
        mpu = [r for r in rules if r.get("abort_mpu") is not None]
        if mpu:
            n += await self._uploads(b, who, mpu, day, now)
        return n

    async def _versions(
        self, b: Bucket, who: Principal, rules: list[dict], day: float, now: float, after: str | None = None
    ) -> int:
        n = 0
        while True:
            keys = await self.core.meta.scan_versioned_keys(b.name, after, BATCH)
            for key in keys:
                entries = await self.core.meta.key_versions(b.name, key)
                done: set[str] = set()  # versions a rule already removed (several rules may match)
                for r in rules:
                    if not matches(r.get("filter") or {}, key, None, {}):
                        continue
                    nc, exp = r.get("noncurrent"), r.get("expiration") or {}
                    if nc:
                        older = [e for e in entries if not e.is_latest][nc.get("newer") or 0:]
                        for e in older:
                            vid = e.record.version_id or "null"
                            tags = e.record.props.get("tags") or {}
                            since = e.noncurrent_since
                            if vid not in done and since and now >= due_time(since, nc["days"], day) \
                                    and matches(r.get("filter") or {}, key, e.record.size, tags):
                                done.add(vid)
                                n += await self._act(self._expire(b, who, key, vid))
                    lone_marker = len(entries) == 1 and entries[0].record.delete_marker
                    vid = entries[0].record.version_id or "null" if entries else "null"
                    if lone_marker and vid not in done and (exp.get("expired_marker") or "days" in exp):
                        done.add(vid)
                        n += await self._act(self._expire(b, who, key, vid))
            if len(keys) < BATCH:
                return n
            after = keys[-1]
            await self._save_progress({"bucket": b.name, "phase": "versions", "after": after})
            await asyncio.sleep(0.01)

    async def _uploads(self, b: Bucket, who: Principal, rules: list[dict], day: float, now: float) -> int:
        n = 0
        key_marker = id_marker = None
        while True:
            page = await self.core.meta.list_uploads(b.name, key_marker=key_marker, upload_id_marker=id_marker,
                                                     limit=BATCH)
            n += await self._abort_stale(page.uploads, rules, day, now)
            if not page.truncated:
                return n
            key_marker, id_marker = page.next_key_marker, page.next_upload_id_marker
            await asyncio.sleep(0.01)

    async def _abort_stale(self, uploads: list, rules: list[dict], day: float, now: float) -> int:
        n = 0
        for up in uploads:
            for r in rules:
                if up.key.startswith((r.get("filter") or {}).get("prefix") or "") and \
                        now >= due_time(up.initiated, r["abort_mpu"], day):
                    try:
                        await self.core.free(await self.core.meta.abort_upload(up.upload_id))
                        n += 1
                    except Exception:  # completed or aborted meanwhile
                        pass
                    break
        return n

    async def _expire(self, b: Bucket, who: Principal, key: str, version: str | None) -> None:
        """One expiry: S3's lifecycle events (LifecycleExpiration:Delete, or :DeleteMarkerCreated when
        a versioned bucket's current object gets a marker), announced like any write (intent first)."""
        event = "s3:LifecycleExpiration:Delete"
        async with Announce(self.notifier, b, event, b.owner, "lifecycle", key=key, version=version) as note:
            out = await self.versioning.delete(b, who, key, version)
            note.events.append(ObjectEvent(marker_event(event) if out.delete_marker and version is None else event,
                                           key, version_id=out.version_id))

    @staticmethod
    async def _act(coro) -> int:
        try:
            await coro
            return 1
        except S3Error as e:
            if e.code != "AccessDenied":  # AccessDenied: a locked version, left alone by design
                log.warning("lifecycle action failed: %s", e)
            return 0
