"""Data administration (issue 5): the operations behind `coffer admin` (volumes, fragments, repairs).

Owns the metadata side of locate / check / repair / rebuild / drain / vacuum / volumes / scrub:
objects are named by bucket and key, resolved to their segments through the metadata store, and
the data-level work is done by data/volumes/heal.py in the service's worker threads. Every answer is a
plain dict (the HTTP layer sends it as JSON). Callers must be admins (the admin dispatcher checks, and
`DataAdmin.require` again in every handler of http/admin/data.py).

Trust levels of ``check`` (as the issue names them): 0 = metadata only (the record is consistent:
segment sizes add up to the object size); 1 = every fragment is present and its header valid;
2 = every block of every fragment is read and its CRC32C verified.
"""

from __future__ import annotations

import time
from pathlib import Path

from coffer.protocol.errors import S3Error
from coffer.server.data.volumes import heal
from coffer.server.data.volumes.store import VolumeDataStore
from coffer.server.meta.model import ObjectRecord
from coffer.server.service.core import Core, Principal
from coffer.server.service.storage.policies import checked, set_bucket_policy

VACUUM_GRACE = 3600.0  # a temporary or unreferenced file younger than this may belong to a write in progress


class DataAdmin:
    def __init__(self, core: Core) -> None:
        self.core = core

    def _store(self) -> VolumeDataStore:
        data = self.core.data
        if not isinstance(data, VolumeDataStore):
            raise S3Error("InvalidRequest", "This server keeps data in one folder: start it with --volume DIR "
                          "(one per disk) to use volume administration.")
        return data

    @staticmethod
    def require(who: Principal) -> None:
        if not who.admin:
            raise S3Error("AccessDenied", "Admin operations need an admin user (the root user, or one whose "
                          "props say admin).")

    async def _record(self, bucket: str, key: str) -> ObjectRecord:
        rec = await self.core.meta.get_object(bucket, key)
        if rec is None:
            if await self.core.meta.get_bucket(bucket) is None:
                raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=bucket)
            raise S3Error("NoSuchKey", "The specified key does not exist.", Key=key)
        return rec

    # -- read-only ---------------------------------------------------------------------------------
    async def backup(self, dest: Path) -> None:
        """A consistent online copy of the metadata database in `dest` (coffer admin backup)."""
        backup = getattr(self.core.meta, "backup", None)
        if backup is None:
            raise S3Error("NotImplemented", "This metadata store is backed up with its own tools "
                          "(PostgreSQL: pg_dump; see docs/operations.md).")
        await backup(dest)

    async def volumes(self) -> dict:
        store = self._store()
        vols = await self.core.run(heal.volumes_report, store)
        return {"volumes": vols, "default_policy": store.default_policy().name,
                "repair_queue": len(store.queued()), "scrub": heal.Scrubber(store, 0).state()}

    async def locate(self, bucket: str, key: str) -> dict:
        rec = await self._record(bucket, key)
        out = {"bucket": bucket, "key": key, "size": rec.size, "etag": rec.etag,
               "inline": rec.inline is not None, "segments": []}
        if rec.inline is None:
            store = self._store()
            for seg in rec.segments:
                c = await self.core.run(heal.census, store, seg.ref, 2)
                out["segments"].append({"size": seg.size, **c})
        return out

    async def check(self, bucket: str, key: str | None, trust: int) -> dict:
        if trust not in (0, 1, 2):
            raise S3Error("InvalidArgument", "trust must be 0, 1 or 2", ArgumentName="trust")
        store = self.core.data if isinstance(self.core.data, VolumeDataStore) else None
        if trust > 0 and store is None:
            self._store()
        if key is not None:
            records = [await self._record(bucket, key)]
        else:
            records = await self._all(bucket)
        summary = {"bucket": bucket, "trust": trust, "objects": 0, "healthy": 0, "degraded": 0, "lost": 0,
                   "problems": []}
        for rec in records:
            summary["objects"] += 1
            state, detail = await self._check_one(store, rec, trust)
            summary[state] += 1
            if state != "healthy":
                summary["problems"].append({"key": rec.key, "state": state, "detail": detail})
        return summary

    async def _all(self, bucket: str) -> list[ObjectRecord]:
        if await self.core.meta.get_bucket(bucket) is None:
            raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=bucket)
        out: list[ObjectRecord] = []
        after = None
        while True:
            page = await self.core.meta.list_objects(bucket, "", None, after, 1000)
            for e in page.entries:
                rec = await self.core.meta.get_object(bucket, e.key)
                if rec is not None:
                    out.append(rec)
            if not page.truncated or not page.entries:
                return out
            after = page.next_marker or page.entries[-1].key

    async def _check_one(self, store: VolumeDataStore | None, rec: ObjectRecord, trust: int) -> tuple[str, list]:
        if rec.inline is not None:
            ok = len(rec.inline) == rec.size
            return ("healthy" if ok else "lost"), ([] if ok else ["inline size mismatch"])
        if sum(s.size for s in rec.segments) != rec.size:
            return "lost", ["segment sizes do not add up to the object size"]
        if trust == 0 or store is None:
            return "healthy", []
        worst, detail = "healthy", []
        for seg in rec.segments:
            c = await self.core.run(heal.census, store, seg.ref, trust)
            state = {"missing": "lost"}.get(c["state"], c["state"])
            if state != "healthy":
                detail.append({"ref": seg.ref, "state": c["state"], "good": c["good"], "width": c.get("width")})
                if state == "lost" or worst == "healthy":
                    worst = state
                if state == "degraded":
                    store.enqueue(seg.ref)  # found it: let the healer fix it even if nobody asks
        return worst, detail

    # -- changes -----------------------------------------------------------------------------------
    async def repair(self, bucket: str, key: str) -> dict:
        rec = await self._record(bucket, key)
        store = self._store()
        out = {"bucket": bucket, "key": key, "segments": []}
        for seg in rec.segments:
            try:
                res = await self.core.run(heal.repair_ref, store, seg.ref)
                out["segments"].append({"ref": seg.ref, **heal.result_dict(res)})
                if res is not None and not res.unrepaired:
                    store.dequeue(seg.ref)
            except heal.NotEnoughFragments as exc:
                out["segments"].append({"ref": seg.ref, "status": "lost", "error": str(exc)})
        return out

    async def rebuild(self, volume: str) -> dict:
        try:
            return await self.core.run(heal.rebuild_volume, self._store(), volume)
        except (KeyError, ValueError) as exc:
            raise S3Error("InvalidArgument", str(exc).strip("'\""), ArgumentName="volume") from None

    async def drain(self, volume: str) -> dict:
        try:
            return await self.core.run(heal.drain_volume, self._store(), volume)
        except KeyError as exc:
            raise S3Error("InvalidArgument", str(exc).strip("'\""), ArgumentName="volume") from None

    async def scrub(self) -> dict:
        store = self._store()
        return await self.core.run(heal.Scrubber(store, 0).run)

    async def heal(self) -> dict:
        store = self._store()
        await self.core.run(lambda: store.refresh(force=True))
        return {"healed": await self.core.run(lambda: heal.heal_queue(store, force=True))}

    async def vacuum(self, grace: float = VACUUM_GRACE) -> dict:
        """Temporary files and unreferenced data older than ``grace`` seconds."""
        data = self.core.data
        tmp = await self.core.run(data.sweep_tmp, grace)
        removed = 0
        refs = await self.core.run(lambda: list(data.iter_refs(before=time.time() - grace)))
        for i in range(0, len(refs), 500):
            batch = refs[i:i + 500]
            known = await self.core.meta.referenced(batch)
            dead = [r for r in batch if r not in known]
            await self.core.run(data.delete, dead)
            removed += len(dead)
        dropped = await self.core.run(_drop_stale_queue, data) if isinstance(data, VolumeDataStore) else 0
        return {"temporary_files": tmp, "orphans": removed, "stale_queue_entries": dropped}

    async def bucket_policy(self, bucket: str, policy: str | None) -> dict:
        await set_bucket_policy(self.core, bucket, checked(self.core.data, policy) if policy else None)
        return {"bucket": bucket, "storage_policy": policy.upper() if policy else None}


def _drop_stale_queue(store: VolumeDataStore) -> int:
    """Forget queued repairs of refs with no fragment left (deleted since): disk work, so off the loop."""
    dropped = 0
    for ref in store.queued():
        if not store.volumes.find_fragments(ref):
            store.dequeue(ref)
            dropped += 1
    return dropped
