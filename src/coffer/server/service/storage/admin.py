"""Data administration: the operations behind `coffer admin` (volumes, fragments, repairs).

Owns the metadata side of locate / check / repair / rebuild / drain / vacuum / volumes / scrub:
objects are named by bucket and key, resolved to their segments through the metadata store, and
the data-level work is done by the data store's volume-administration facet (`data.volume_admin()`,
data/volumes/heal.py on the multi-volume store) in the service's worker threads. Every answer is a
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
from coffer.server.data import NodeAdmin, VolumeAdmin
from coffer.server.meta.cluster import NodeState
from coffer.server.meta.model import ObjectRecord
from coffer.server.service.core import Core, Principal
from coffer.server.service.storage.policies import checked, set_bucket_storage_policy

VACUUM_GRACE = 3600.0  # a temporary or unreferenced file younger than this may belong to a write in progress


class DataAdmin:
    def __init__(self, core: Core) -> None:
        self.core = core

    def _store(self) -> VolumeAdmin:
        admin = self.core.data.volume_admin()
        if admin is None:
            raise S3Error("InvalidRequest", "This server keeps data in one folder: start it with --volume DIR "
                          "(one per disk) to use volume administration.")
        return admin

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
        return await self.core.run(self._store().report)

    async def locate(self, bucket: str, key: str) -> dict:
        rec = await self._record(bucket, key)
        out = {"bucket": bucket, "key": key, "size": rec.size, "etag": rec.etag,
               "inline": rec.inline is not None, "segments": []}
        if rec.inline is None:
            self._store()
            for seg in rec.segments:
                c = await self.core.run(self.core.data.fragments, seg, 2)
                out["segments"].append({"size": seg.size, **c})
        return out

    async def check(self, bucket: str, key: str | None, trust: int) -> dict:
        if trust not in (0, 1, 2):
            raise S3Error("InvalidArgument", "trust must be 0, 1 or 2", ArgumentName="trust")
        store = self.core.data.volume_admin()
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

    async def _check_one(self, store: VolumeAdmin | None, rec: ObjectRecord, trust: int) -> tuple[str, list]:
        if rec.inline is not None:
            ok = len(rec.inline) == rec.size
            return ("healthy" if ok else "lost"), ([] if ok else ["inline size mismatch"])
        if sum(s.size for s in rec.segments) != rec.size:
            return "lost", ["segment sizes do not add up to the object size"]
        if trust == 0 or store is None:
            return "healthy", []
        worst, detail = "healthy", []
        for seg in rec.segments:
            c = await self.core.run(self.core.data.fragments, seg, trust)
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
            out["segments"].append(await self.core.run(store.repair, seg.ref))
        return out

    async def rebuild(self, volume: str) -> dict:
        try:
            return await self.core.run(self._store().rebuild, volume)
        except (KeyError, ValueError) as exc:
            raise S3Error("InvalidArgument", str(exc).strip("'\""), ArgumentName="volume") from None

    async def drain(self, volume: str) -> dict:
        try:
            return await self.core.run(self._store().drain, volume)
        except KeyError as exc:
            raise S3Error("InvalidArgument", str(exc).strip("'\""), ArgumentName="volume") from None

    async def scrub(self) -> dict:
        return await self.core.run(self._store().scrub)

    async def rebalance(self) -> dict:
        return await self.core.run(self._store().rebalance)

    async def heal(self) -> dict:
        return {"healed": await self.core.run(self._store().heal)}

    async def vacuum(self, grace: float = VACUUM_GRACE) -> dict:
        """Temporary files and unreferenced data older than ``grace`` seconds."""
        data = self.core.data
        tmp = await self.core.run(data.sweep_tmp, grace)
        removed = 0
        refs = await self.core.run(lambda: list(data.iter_refs(before=time.time() - grace)))
        for i in range(0, len(refs), 500):
            batch = refs[i:i + 500]
            # a ref marked pending less than `grace` ago is an upload in flight (maybe another gateway's)
            known = await self.core.meta.live_refs(batch, grace)
            dead = [r for r in batch if r not in known]
            await self.core.run(data.delete, dead)
            removed += len(dead)
        admin = data.volume_admin()
        dropped = await self.core.run(admin.drop_stale_queue) if admin is not None else 0
        return {"temporary_files": tmp, "orphans": removed, "stale_queue_entries": dropped}

    # -- storage nodes -----------------------------------------------------------------------------
    def _nodes(self) -> NodeAdmin:
        admin = self.core.data.node_admin()
        if admin is None:
            raise S3Error("InvalidRequest", "This server has no storage nodes: start it with --cluster-secret "
                          "(and no --volume) to use node administration.")
        return admin

    async def nodes(self) -> dict:
        return await self.core.run(self._nodes().nodes)

    async def _set_node(self, node: str, state: str) -> int:
        try:
            return await self.core.run(self._nodes().set_state, node, NodeState(state))
        except KeyError:
            raise S3Error("InvalidArgument", f"no node {node!r} in the cluster map", ArgumentName="node") from None

    async def node_out(self, node: str) -> dict:
        """Declare a node gone for good: nothing is read from it; what it held is rebuilt elsewhere."""
        gen = await self._set_node(node, "out")
        queued = await self.core.run(self._nodes().queue_rebuild)
        return {"node": node, "state": "out", "generation": gen, **queued}

    async def node_drain(self, node: str) -> dict:
        """Stop writing to a node and move its fragments to the others (it keeps serving reads meanwhile)."""
        gen = await self._set_node(node, "draining")
        moved = await self.core.run(self._nodes().drain, node)
        return {"node": node, "state": "draining", "generation": gen, **moved}

    async def node_active(self, node: str) -> dict:
        return {"node": node, "state": "active", "generation": await self._set_node(node, "active")}

    async def bucket_storage_policy(self, bucket: str, policy: str | None) -> dict:
        """Set (or clear, with None) a bucket's default storage policy."""
        await set_bucket_storage_policy(self.core, bucket, checked(self.core.data, policy) if policy else None)
        return {"bucket": bucket, "storage_policy": policy.upper() if policy else None}
