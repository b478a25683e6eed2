"""Rebalance: move fragments to where placement wants them now (a node or volume joined).

Owns the background mover. Placement is rendezvous hashing over the volumes that exist *now*, so a
new node changes the wanted set of volumes of some refs (about its share of them) and no other.
Readers find a fragment on any volume, so nothing has to move for correctness; moving keeps the
load and the capacity even and keeps new nodes from staying empty.

For each ref, in sorted order (the scrubber's walk, ``iter_refs``):

* the wanted set is the first ``width`` writable volumes of the ref's placement order under the
  failure-domain cap (exactly where a new write would go);
* an index held twice (a node declared out came back, a crash between copy and delete) keeps the
  copy on a wanted volume (or the first) once it verifies in full; the others are deleted;
* each fragment on an unwanted volume is copied, verified, to a wanted volume that holds no fragment
  of the ref (the target writes tmp -> verify -> fsync -> rename), then deleted at its source. One
  move at a time per ref: a reader that listed the old copy and finds it gone decodes around it
  from the others (at most one fragment of a stripe is ever in flight), so reads stay exact;
* a ref below full width is left to repair (queued), never moved.

Throttled (bytes per second copied) and resumable: the cursor is saved in the store's upkeep state
(``rebalance``: a row of the metadata, so a pass cut short on one gateway resumes on whichever gateway
runs the next slice) at least once a second, with the layout generation the pass serves; a pass is due
when the cluster's generation differs from the last finished pass's. One pass at a time (the upkeep's
``rebalance`` lock: per cluster on PostgreSQL), never beside a repair (each ref under ``repair``).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from coffer.server.data.volumes.bitrot import FragmentFormatError, close_handle, read_header, verify_file
from coffer.server.data.volumes.heal import REPAIR, copy_fragment

if TYPE_CHECKING:
    from coffer.server.data.volumes.store import VolumeDataStore

REBALANCE = "rebalance"  # the upkeep's lock and state name


class Rebalancer:
    """A resumable, rate-limited pass moving fragments to their wanted volumes (module docstring)."""

    def __init__(self, store: VolumeDataStore, rate: float = 0.0) -> None:
        self.store = store
        self.rate = rate  # bytes per second copied; <= 0: unlimited

    def generation(self) -> int:
        return int(getattr(self.store, "generation", 0))

    def state(self) -> dict[str, Any]:
        return self.store.upkeep.load_state(REBALANCE) or {"cursor": "", "passes": 0, "finished": 0.0,
                                                           "generation": None}

    def _save(self, st: dict[str, Any]) -> None:
        self.store.upkeep.save_state(REBALANCE, st)

    def due(self) -> bool:
        """A pass is under way, or the layout changed since the last one finished."""
        st = self.state()
        return bool(st.get("cursor")) or st.get("generation") != self.generation()

    def run(self, stop: threading.Event | None = None, budget: float | None = None) -> dict[str, Any]:
        with self.store.upkeep.lock(REBALANCE, blocking=False) as got:
            if not got:
                return {**self.state(), "busy": True}
            self.store.refresh(force=True)
            st = self.state()
            if not st.get("cursor"):
                st["generation_started"] = self.generation()
            stats = st.setdefault("stats", {"checked": 0, "moved": 0, "duplicates": 0, "bytes": 0, "stuck": []})
            began = saved = time.monotonic()
            copied = 0
            for ref in self.store.iter_refs(after=st["cursor"]):
                if stop is not None and stop.is_set():
                    break
                with self.store.upkeep.lock(REPAIR):  # never beside a repair
                    copied += self._ref(ref, stats)
                stats["checked"] += 1
                st["cursor"] = ref
                if self.rate > 0:
                    ahead = copied / self.rate - (time.monotonic() - began)
                    if ahead > 0:
                        (stop.wait if stop is not None else time.sleep)(min(ahead, 5.0))
                if time.monotonic() - saved >= 1.0:
                    self._save(st)
                    saved = time.monotonic()
                if budget is not None and time.monotonic() - began >= budget:
                    break
            else:
                st.update(cursor="", passes=st.get("passes", 0) + 1, finished=time.time(),
                          generation=st.pop("generation_started", self.generation()), last_stats=st.pop("stats"))
                self._save(st)
                return {**st["last_stats"], "done": True, "generation": st["generation"]}
            self._save(st)
            return {**stats, "done": False, "cursor": st["cursor"]}

    # -- one ref -------------------------------------------------------------------------------------
    def _ref(self, ref: str, stats: dict[str, Any]) -> int:
        store = self.store
        found = store.volumes.find_fragments(ref)
        if not found:
            return 0
        header = None
        for vol, _, path in found:
            try:
                fh = vol.open_fragment(path)
                try:
                    header = read_header(fh)
                finally:
                    close_handle(fh)
                break
            except (OSError, FragmentFormatError):
                continue
        if header is None:
            store.enqueue(ref)
            return 0
        policy = header.policy
        cap = store.volumes.domain_cap(policy.m)
        wanted = [v.uuid for v in store.volumes.writable_ranked(ref, cap)[:policy.width]]
        copies: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
        for vol, index, path in found:
            copies[index].append((vol, path))
        if len(copies) < policy.width or len(wanted) < policy.width:
            store.enqueue(ref)  # below full width, or nowhere to go: repair's business first
            return 0
        kept: dict[int, tuple[Any, Any]] = {}
        for index, held in copies.items():
            held.sort(key=lambda vp: vp[0].uuid not in wanted)
            kept[index] = held[0]
            for vol, path in held[1:]:
                if self._verified(*held[0]) and _unlink(vol, path):
                    stats["duplicates"] += 1
        holders = {vol.uuid for vol, _ in kept.values()}
        free = [uid for uid in wanted if uid not in holders]
        copied = 0
        for index, (vol, path) in sorted(kept.items()):
            if vol.uuid in wanted or not free:
                continue
            target = store.volumes.get(free[0])
            if target is None or not target.writable:
                free.pop(0)
                continue
            try:
                fh = vol.open_fragment(path)
                try:
                    head, bad = verify_file(fh)
                    if bad or head.ref != ref or head.index != index:
                        store.enqueue(ref)
                        continue
                    copied += copy_fragment(fh, head, target, ref, index)
                finally:
                    close_handle(fh)
            except (OSError, FragmentFormatError) as exc:
                if len(stats["stuck"]) < 100:
                    stats["stuck"].append(f"{ref}.{index}: {exc}")
                continue
            free.pop(0)
            _unlink(vol, path)  # a crash before this leaves two good copies: the next pass drops one
            stats["moved"] += 1
        stats["bytes"] += copied
        return copied

    @staticmethod
    def _verified(vol: Any, path: Any) -> bool:
        try:
            fh = vol.open_fragment(path)
            try:
                _, bad = verify_file(fh)
                return not bad
            finally:
                close_handle(fh)
        except (OSError, FragmentFormatError):
            return False


def _unlink(vol: Any, path: Any) -> bool:
    try:
        return bool(vol.unlink_fragment(path))
    except OSError:
        return False
