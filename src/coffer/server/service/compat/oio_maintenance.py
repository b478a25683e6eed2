"""The rest of OpenIO's ObjectStorageApi semantics: touch, purge, refresh, account delete, policy change.

Owns the operations `service/compat/oio.py` did not cover, written as functions over its `Oio` service so
the two stay independent:

- `object_touch`: an event "as if the object had just been created" (`s3:ObjectCreated:Touch`,
  which a `s3:ObjectCreated:*` configuration receives); nothing is written.
- `container_refresh` / `container_touch(recompute=True)`: recount the container's usage (and,
  for touch with recompute, its damaged objects and missing chunks) and keep the figures in
  `bucket.props["oio_stats"]`, which `container_show` reports.
- `container_purge(maxvers)`: OpenIO's rule: per key keep the newest `maxvers` versions that are not
  delete markers, delete the older ones (delete markers are neither counted nor deleted).
  Deletes go through the WORM guard: a protected version stays and is counted in `protected`.
- `account_delete`: deletes the caller's user, refused while it owns a container, as OpenIO
  refuses a non-empty account.
- `object_change_policy`: rewrites the object's data under another storage policy (the erasure-coded
  engine), keeping its metadata.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from coffer.protocol.errors import S3Error
from coffer.server.data import DataStore
from coffer.server.meta import interface as mi
from coffer.server.meta.model import Expect, ObjectRecord, Segment
from coffer.server.service.compat.oio import Oio
from coffer.server.service.core import Integrity, Principal
from coffer.server.service.events.announce import Announce
from coffer.server.service.events.notifications import ObjectEvent
from coffer.server.service.objects.frozen import check_readable, check_writable
from coffer.server.service.storage import policies as storage
from coffer.server.service.worm import rule as worm

STATS = "oio_stats"
TOUCH_EVENT = "s3:ObjectCreated:Touch"
DEFAULT_MAX_VERSIONS = 1  # OpenIO's namespace default (meta2.max_versions) when none is given
_PAGE = 500


def missing_chunks(oio: Oio, rec: ObjectRecord) -> int:
    """Chunks of `rec` missing (worker thread): fragments short of each segment's policy width (one
    folder: a segment whose file is absent or shorter than the object uses counts one)."""
    if rec.inline is not None or rec.props.get("drained"):
        return 0
    missing = 0
    for seg in rec.segments:
        c = oio.core.data.fragments(seg, trust=1)
        missing += c["width"] - c["good"] if c["policy"] else 1
    return missing


async def object_touch(oio: Oio, who: Principal, bucket: str, key: str, version: str | None,
                       request_id: str) -> int:
    """Queue the created-event of an existing object (version); returns how many were queued."""
    b = await oio.core.bucket_for(who, bucket)
    rec = await oio.get(who, bucket, key, version)
    ev = ObjectEvent(TOUCH_EVENT, rec.key, rec.size, rec.etag, rec.version_id)
    return await oio.notifier.emit(b, [ev], who.user_id, request_id)


async def container_refresh(oio: Oio, who: Principal, name: str, recompute: bool = False) -> dict[str, Any]:
    """Recount objects and bytes (and with `recompute`, damaged objects and missing chunks); the
    figures are stored in the bucket's props so `container_show` reports them."""
    await oio.core.bucket_for(who, name)
    objects, size = await oio.core.meta.count_objects(name)
    stats: dict[str, Any] = {"objects": objects, "bytes": size, "time": time.time()}
    if recompute:
        damaged = missing = 0
        after: str | None = None
        while True:
            rows = await oio.core.meta.scan_current(name, after, _PAGE)
            if not rows:
                break
            after = rows[-1][0]
            for row in rows:
                rec = await oio.core.meta.get_object(name, row[0])
                if rec is None:
                    continue
                n = await oio.core.run(missing_chunks, oio, rec)
                damaged += n > 0
                missing += n
        stats.update(damaged_objects=damaged, missing_chunks=missing)

    def change(props: dict) -> dict:
        return {**props, STATS: {**props.get(STATS, {}), **stats}}

    await oio.core.meta.modify_bucket_props(name, change)
    return stats


async def container_purge(oio: Oio, who: Principal, name: str, maxvers: int | None,
                          request_id: str) -> dict[str, int]:
    """Keep the newest `maxvers` (None: 1; 0 counts as 1; < 0: keep all) versions of every key."""
    b = await oio.core.bucket_for(who, name)
    check_writable(b)
    keep = DEFAULT_MAX_VERSIONS if maxvers is None else max(1, maxvers) if maxvers >= 0 else -1
    deleted = protected = 0
    if keep < 0:
        return {"deleted": 0, "protected": 0}
    after: str | None = None
    while True:
        keys = await oio.core.meta.scan_versioned_keys(name, after, _PAGE)
        if not keys:
            break
        after = keys[-1]
        for key in keys:
            versions = [v.record for v in await oio.core.meta.key_versions(name, key) if not v.record.delete_marker]
            for rec in versions[keep:]:
                vid = rec.version_id or "null"
                event = "s3:ObjectRemoved:Delete"
                try:
                    async with Announce(oio.notifier, b, event, who.user_id, request_id, key=key, version=vid) as note:
                        await oio.versioning.delete(b, who, key, vid)
                        note.events.append(ObjectEvent(event, key, version_id=vid))
                except S3Error as e:
                    if e.code != "AccessDenied":
                        raise
                    protected += 1  # under retention or legal hold: OpenIO has no such rule, S3's wins
                    continue
                deleted += 1
    return {"deleted": deleted, "protected": protected}


def segment_policies(data: DataStore, rec: ObjectRecord) -> list[str | None]:
    """The policy each segment of `rec` is stored under (worker thread): read from the fragments'
    headers on the multi-volume store; always SINGLE on the single-folder store."""
    return [data.fragments(seg, trust=1)["policy"] for seg in rec.segments]


async def object_change_policy(oio: Oio, who: Principal, bucket: str, key: str, policy_name: str,
                               version: str | None) -> dict[str, Any]:
    """Rewrite the object's data under another storage policy, keeping its metadata (version id,
    ETag, checksums, properties, encryption: the stored bytes are copied as they are, ciphertext
    included). Only segments stored under another policy are rewritten; the new record replaces the
    old one in place, guarded by the ETag and by the WORM rules, and the old data is freed."""
    core = oio.core
    b = await core.bucket_for(who, bucket)
    check_writable(b)
    rec = await oio.get(who, bucket, key, version, current_only=True)
    check_readable(rec)
    policy = storage.parse(policy_name, "policy")
    storage.check(core.data, policy)
    if rec.inline is not None or not rec.segments:
        raise S3Error("InvalidRequest", "The object is small enough to be stored inline in the metadata, whose "
                      "durability is its rule: it has no storage policy to change.")
    current = await core.run(segment_policies, core.data, rec)
    if all(p == policy.name for p in current):
        raise S3Error("Conflict", f"The object already uses the storage policy {policy.name}.", status=409)
    segments: list[Segment] = []
    new_refs: list[str] = []
    try:
        for seg, now in zip(rec.segments, current, strict=True):
            if now == policy.name:
                segments.append(seg)
                continue
            piece = replace(rec, segments=[seg], size=seg.size, inline=None, props={})
            got = await core.receive(oio.objects.read_range(piece, 0, seg.size), Integrity(), allow_inline=False,
                                     max_size=seg.size, policy=policy)
            assert got.segment is not None and got.size == seg.size
            new_refs.append(got.segment.ref)
            segments.append(Segment(got.segment.ref, seg.size))
        new = replace(rec, segments=segments)
        freed = await core.meta.put_object(new, Expect(if_match=rec.etag), versioning=None, guard=worm.guard())
    except (mi.PreconditionFailed, mi.ConditionalConflict):
        await core.free(new_refs)
        raise S3Error("ConditionalRequestConflict", "The object changed meanwhile; retry.") from None
    except BaseException:
        await core.free(new_refs)
        raise
    await core.free(freed)
    return oio.describe(new, policy.name)


async def account_delete(oio: Oio, who: Principal, admin: Any) -> None:
    """Delete the caller's account (its user and keys) when it owns no container. The `account`
    argument of OpenIO's call is ignored as everywhere (accounts are the credentials' user); an
    administrator deletes other users through the admin API, never its own account from here."""
    if not who.user_id:
        raise S3Error("AccessDenied", "Access Denied")
    if who.admin:
        raise S3Error("DeleteConflict", "An administrator cannot delete its own account.", status=409)
    owned = await oio.core.meta.list_buckets(who.user_id)
    if owned:
        raise S3Error("DeleteConflict", f"The account {who.user_id} is not empty: it still owns {len(owned)} "
                      "container(s).", status=409)
    await admin.remove_user(who.user_id)
