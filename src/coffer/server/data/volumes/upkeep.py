"""The multi-volume store's upkeep: the background healer loop (repair queue, scrubber, rebalance) and
the volume-administration facet (`VolumeAdmin`) that `coffer admin` and the health endpoints use.

Kept apart from heal.py (repairs, census, rebuild, drain) and rebalance.py so that neither of those
imports the other through here.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from coffer.server.data.volumes.heal import (
    HEALER,
    REPAIR,
    SCRUB,
    NotEnoughFragments,
    Scrubber,
    drain_volume,
    heal_queue,
    rebuild_volume,
    repair_ref,
    result_dict,
    volumes_report,
)
from coffer.server.data.volumes.rebalance import Rebalancer
from coffer.server.data.volumes.volume import VolumeState

if TYPE_CHECKING:
    from coffer.server.data.volumes.store import VolumeDataStore


def background(store: VolumeDataStore, stop: threading.Event, *, scrub_rate: float, scrub_interval: float,
               heal_interval: float, log) -> None:
    """The healer and scrubber loop (one per server, in the supervisor process). It runs only while it
    holds the upkeep's ``healer`` lock (one holder per host on SQLite, per cluster on PostgreSQL; a
    killed holder's lock is free at once and another gateway's loop takes over within an interval):
    drain the repair queue every ``heal_interval`` seconds; scrub and rebalance in slices so queued
    repairs never wait long."""
    scrubber = Scrubber(store, scrub_rate)
    rebalancer = Rebalancer(store, scrub_rate)  # the same disk budget as the scrubber
    held = None
    try:
        while not stop.wait(heal_interval):
            try:
                if held is not None and not held.alive():
                    log.warning("healer lock lost (its database session ended); trying again")
                    held.release()
                    held = None
                if held is None:
                    held = store.upkeep.try_lock(HEALER)
                    if held is None:
                        continue  # another process (gateway) runs the healer
                    log.info("healer: this process runs repair, scrub and rebalance")
                    if store.upkeep.load_state(SCRUB) is None:
                        scrubber._save({"cursor": "", "passes": 0, "finished": time.time()})  # first pass later
                store.refresh()
                # One round holds the repair lock throughout: the per-ref locks inside re-enter it
                # (microseconds, not a database round trip each); an admin repair waits for the round.
                with store.upkeep.lock(REPAIR):
                    _round(store, scrubber, rebalancer, stop, scrub_interval, heal_interval, log)
            except Exception:
                log.exception("healer pass failed")
    finally:
        if held is not None:
            held.release()


def _round(store: VolumeDataStore, scrubber: Scrubber, rebalancer: Rebalancer, stop: threading.Event,
           scrub_interval: float, heal_interval: float, log) -> None:
    """One healer round: the due repairs, then a scrub slice and a rebalance slice if due."""
    for item in heal_queue(store):
        if item["status"] not in ("healthy", "gone"):
            log.warning("heal %s: %s", item["ref"], item["status"])
    st = scrubber.state()
    if st.get("cursor") or time.time() - float(st.get("finished", 0)) >= scrub_interval:
        scrubber.run(stop, budget=max(1.0, 4 * heal_interval))
    if getattr(store, "generation", None) is not None and rebalancer.due():
        st = rebalancer.run(stop, budget=max(1.0, 4 * heal_interval))  # a node joined: move its share
        if st.get("moved"):
            log.info("rebalance: %s", {k: st[k] for k in ("checked", "moved", "done") if k in st})


class VolumeAdmin:
    """The volume-administration facet of the multi-volume store (data/interface.py `VolumeAdmin`):
    what `coffer admin` and the data health endpoints ask, as plain dicts."""

    def __init__(self, store: VolumeDataStore) -> None:
        self.store = store

    def report(self) -> dict:
        vols = volumes_report(self.store)
        return {"volumes": vols, "default_policy": self.store.default_policy().name,
                "repair_queue": self.store.upkeep.queue_length(), "scrub": Scrubber(self.store, 0).state()}

    def health(self) -> dict:
        """status ok (every volume writable, nothing queued), degraded (writes still meet the default
        policy's quorum) or failed; the volumes, the repair queue's length, the scrubber's state."""
        store = self.store
        store.refresh()
        queue = store.upkeep.queue_length()
        scrub = store.upkeep.load_state(SCRUB) or {}
        vols: list[dict] = []
        for v in store.volumes:
            cap = v.capacity() if v.state is not VolumeState.OFFLINE else None
            vols.append({"uuid": v.uuid, "path": str(v.path), "state": v.state.value, "errors": dict(v.errors),
                         "capacity": cap.total if cap else 0, "free": cap.free if cap else 0})
        writable = sum(1 for v in store.volumes if v.writable)
        quorum = store.default_policy().write_quorum
        status = "ok" if writable == len(vols) and not queue else ("degraded" if writable >= quorum else "failed")
        return {"status": status, "volumes": vols, "repair_queue": queue, "scrub": scrub}

    def enqueue(self, ref: str) -> None:
        self.store.enqueue(ref)

    def repair(self, ref: str) -> dict:
        try:
            res = repair_ref(self.store, ref)
        except NotEnoughFragments as exc:
            return {"ref": ref, "status": "lost", "error": str(exc)}
        if res is not None and not res.unrepaired:
            self.store.dequeue(ref)
        return {"ref": ref, **result_dict(res)}

    def rebuild(self, volume: str) -> dict:
        return rebuild_volume(self.store, volume)

    def drain(self, volume: str) -> dict:
        return drain_volume(self.store, volume)

    def scrub(self) -> dict:
        return Scrubber(self.store, 0).run()

    def rebalance(self) -> dict:
        return Rebalancer(self.store).run()

    def heal(self) -> list[dict]:
        self.store.refresh(force=True)
        return heal_queue(self.store, force=True)

    def drop_stale_queue(self) -> int:
        dropped = 0
        for ref in self.store.queued():
            if not self.store.volumes.find_fragments(ref):
                self.store.dequeue(ref)
                dropped += 1
        return dropped


# -- storage nodes (the cluster's `coffer admin node out|drain`) ---------------------------------------
