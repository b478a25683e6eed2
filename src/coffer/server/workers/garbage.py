"""Garbage collection of object data: the GC queue, dead writers' pending refs, the cluster sweep.

What is garbage (docs/cluster.md, "Garbage collection"):
- a ref in the metadata's GC queue: a commit dropped its last reference and queued it in the same
  transaction. The writing process deletes the data right after the commit and removes the row
  (`Core.free`); a row still there means that process failed or died in between.
- a pending ref not refreshed for `Limits.pending_ref_age` seconds: its writer died between making the
  data durable and the metadata commit (live writers refresh their mark every quarter of that age).
- on a cluster gateway, any ref found on the nodes that is neither referenced nor freshly pending (the
  sweep, every `Limits.gc_interval` seconds): data of a write whose mark was lost, of a node that was
  offline when its fragments were freed, of an older Coffer.

Several collectors (the gateways of a cluster, the processes of a single server) may run at once:
queue rows are leased (`MetaStore.claim_garbage`: PostgreSQL claims with FOR UPDATE SKIP LOCKED,
SQLite in its single writer), so each row has one deleter at a time, and every decision the sweep
makes is taken against the metadata, in one snapshot per batch, after the data was listed; deleting
data twice is harmless. No collector can delete an upload in flight anywhere: its ref is pending (the
mark commits before any of its data is durable) until the commit that references it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import threading

from coffer.server.config import Limits
from coffer.server.data import DataStore
from coffer.server.meta.coordination import Coordination
from coffer.server.meta.interface import MetaStore

log = logging.getLogger("coffer.server")

BATCH = 500
LEASE_SECONDS = 300.0  # a collector that dies holding rows lets another take them after this
SWEEP_LOCK = "gc-sweep"  # the cluster lock: one gateway sweeps at a time


class GarbageCollector:
    def __init__(self, meta: MetaStore, data: DataStore, limits: Limits) -> None:
        self.meta, self.data, self.limits = meta, data, limits
        self._coord: Coordination | None = None
        # Cluster locks are re-entrant per thread: taken and released on this one thread.
        self._lock_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="coffer-gc-lock")

    async def collect_queue(self) -> int:
        """Delete the data of every GC queue row and of dead writers' pending refs; returns how many refs."""
        done = 0
        while True:
            refs = await self.meta.claim_garbage(BATCH, LEASE_SECONDS, self.limits.pending_ref_age)
            if not refs:
                return done
            await asyncio.to_thread(self.data.delete, refs)
            await self.meta.forget_refs(refs)
            done += len(refs)

    async def sweep(self, before: float = float("inf")) -> int:
        """Delete data (written before `before`) of refs neither referenced nor freshly pending."""
        removed = 0
        refs = self.data.iter_refs(before=before)
        while True:
            batch = await asyncio.to_thread(lambda: list(itertools.islice(refs, BATCH)))
            if not batch:
                return removed
            # Listed before asking: a ref whose data was listed is pending (its mark committed before
            # the data was durable), referenced, or garbage by the time the metadata answers.
            live = await self.meta.live_refs(batch, self.limits.pending_ref_age)
            dead = [r for r in batch if r not in live]
            if dead:
                await asyncio.to_thread(self.data.delete, dead)
            removed += len(dead)

    async def sweep_alone(self) -> int:
        """The cluster sweep by one gateway at a time (the `gc-sweep` cluster lock: a PostgreSQL
        advisory lock, freed if its holder dies); 0 when another gateway is sweeping."""
        loop = asyncio.get_running_loop()
        if self._coord is None:
            self._coord = await loop.run_in_executor(self._lock_thread, self.meta.coordination)
        held = await loop.run_in_executor(self._lock_thread, self._coord.try_lock, SWEEP_LOCK)
        if held is None:
            return 0
        try:
            return await self.sweep()
        finally:
            await loop.run_in_executor(self._lock_thread, held.release)

    async def orphans_before(self, started: float) -> int:
        """The single server's start-up sweep: data written before this start that no metadata
        refers to (a write in flight before the start died with the process)."""
        removed = 0
        refs = await asyncio.to_thread(lambda: list(self.data.iter_refs(before=started)))
        for i in range(0, len(refs), BATCH):
            batch = refs[i : i + BATCH]
            known = await self.meta.referenced(batch)
            dead = [r for r in batch if r not in known]
            if dead:
                await asyncio.to_thread(self.data.delete, dead)
                await self.meta.forget_refs(dead)
            removed += len(dead)
        return removed

    async def run(self, stop: threading.Event, *, started: float, cluster: bool) -> None:
        """The collector's life: the queue at once, the start-up sweep (single server) or the periodic
        sweep (cluster gateway), then the queue every few seconds until `stop`."""
        poll = max(0.5, min(self.limits.gc_poll, self.limits.pending_ref_age / 2))
        await self._step("garbage collection", self.collect_queue)
        if not cluster:
            await self._step("orphan sweep", lambda: self.orphans_before(started))
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + self.limits.gc_interval
        while not stop.is_set():
            await asyncio.sleep(poll)
            await self._step("garbage collection", self.collect_queue)
            if cluster and self.limits.gc_interval > 0 and loop.time() >= next_sweep:
                await self._step("cluster sweep", self.sweep_alone)
                next_sweep = loop.time() + self.limits.gc_interval

    async def _step(self, what: str, fn) -> None:
        try:
            n = await fn()
        except Exception:
            log.exception("%s failed", what)
            return
        if n:
            log.info("%s removed the data of %d unreferenced segments", what, n)
