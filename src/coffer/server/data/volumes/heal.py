"""Self-healing over the multi-volume store: census, repair queue, scrubber, rebuild and drain.

Owns the background work that keeps every segment at full redundancy, and the data-level halves of
the `coffer admin` operations (the metadata-level halves are in service/storage/admin.py):

* ``census(ref, trust)``: where a segment's fragments are and in what state (trust 1: present and
  their headers valid; trust 2: every block read and its CRC32C checked).
* ``heal_queue``: repairs every ref in the repair queue (reads and degraded writes fill it; the queue
  is the store's ``upkeep``, a table of the metadata shared by every gateway). Refs are claimed in
  batches: a claimed ref is due again only after ``retry_after`` seconds, so one that cannot be
  repaired now (or whose claimer died) comes back by itself.
* ``Scrubber``: walks every ref in sorted order, verifying and repairing, at a byte-rate limit; its
  cursor is saved in the upkeep's state (``scrub``) at least once a second, so a restart resumes the
  pass where it stopped instead of starting over.
* ``rebuild_volume``: a lost disk replaced by an empty directory gets a new identity and every
  fragment that lived on the lost one is recreated (on it, or elsewhere if it is not back).
* ``drain_volume``: moves every fragment off a volume (no decoding: fragment files are copied as they
  are, after verification), then forgets the volume.

Repairs never run concurrently (the upkeep's ``repair`` lock: across every process of a host on
SQLite, of the whole cluster on PostgreSQL): two repairs of one ref would each be correct, but racing
renames and unlinks make the result hard to reason about, and repair is disk-bound anyway.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from coffer.server.data.durable import write_json
from coffer.server.data.volumes.bitrot import (
    HEADER_SIZE,
    FragmentFormatError,
    close_handle,
    handle_size,
    pread,
    read_header,
    verify_file,
)
from coffer.server.data.volumes.stripes import NotEnoughFragments, ObjectNotFound, RepairResult, repair
from coffer.server.data.volumes.volume import IDENTITY_FILE, Volume, VolumeState, format_volume

if TYPE_CHECKING:
    from coffer.server.data.volumes.store import VolumeDataStore

# The upkeep's lock names (data/interface.py `Upkeep`): one holder each, per host or per cluster.
HEALER = "healer"  # the background loop: repair queue, scrub and rebalance slices
REPAIR = "repair"  # one repair or fragment move at a time
SCRUB = "scrub"  # one scrub pass at a time


def repair_ref(store: VolumeDataStore, ref: str) -> RepairResult | None:
    """Repair one ref under the repair lock; None if it has no fragment left (deleted)."""
    with store.upkeep.lock(REPAIR):
        try:
            return repair(store.volumes, ref)
        except ObjectNotFound:
            return None


def result_dict(res: RepairResult | None) -> dict:
    if res is None:
        return {"status": "gone"}
    return {"status": "unrepaired" if res.unrepaired else ("repaired" if res.rebuilt else "healthy"),
            "rebuilt": [asdict(f) for f in res.rebuilt], "removed": res.removed, "unrepaired": res.unrepaired,
            "damage": [asdict(d) for d in res.damage]}


def census(store: VolumeDataStore, ref: str, trust: int = 2) -> dict:
    """The fragments of a ref and its redundancy: ``healthy`` (all k+m good), ``degraded`` (>= k good,
    readable), ``lost`` (< k good) or ``missing`` (no fragment at all)."""
    frags: list[dict] = []
    good: set[int] = set()
    policy = None
    for vol, index, path in store.volumes.find_fragments(ref):
        entry = {"index": index, "volume": vol.uuid, "volume_path": str(vol.path), "path": str(path),
                 "size": None, "status": "ok", "bad_stripes": []}
        try:
            fh = vol.open_fragment(path)
            try:
                entry["size"] = handle_size(fh)
                if trust >= 2:
                    header, bad = verify_file(fh)
                else:
                    header, bad = read_header(fh), []
            finally:
                close_handle(fh)
            entry["checksum"] = "crc32c per block" + (", verified" if trust >= 2 else "")
            policy = policy or header.policy
            if bad:
                entry["status"], entry["bad_stripes"] = "damaged", bad
            elif header.ref != ref or header.index != index:
                entry["status"] = "misplaced"
            else:
                good.add(index)
        except FragmentFormatError as exc:
            entry["status"] = f"bad header: {exc}"
        except OSError as exc:
            vol.fail(exc)
            entry["status"] = f"unreadable: {exc}"
        frags.append(entry)
    if policy is None:
        return {"ref": ref, "policy": None, "state": "missing", "fragments": frags, "good": 0}
    state = "healthy" if len(good) >= policy.width else ("degraded" if len(good) >= policy.k else "lost")
    return {"ref": ref, "policy": policy.name, "state": state, "good": len(good), "width": policy.width,
            "fragments": frags}


def heal_queue(store: VolumeDataStore, retry_after: float = 30.0, *, force: bool = False,
               batch: int = 100) -> list[dict]:
    """Repair every due ref of the repair queue (``force``: every queued ref, due or not). Each is
    claimed for ``retry_after`` seconds first: one that cannot be fully repaired now (no spare
    volume, too few fragments) stays queued and is due again then; a repaired or gone one leaves."""
    out: list[dict] = []
    seen: set[str] = set()
    while True:
        refs = store.upkeep.queue_claim(1 << 30 if force else batch, retry_after, force=force)
        if seen.issuperset(refs):
            return out  # nothing new (a zero retry_after hands back what just failed)
        seen.update(refs)
        for ref in refs:
            try:
                res = repair_ref(store, ref)
            except NotEnoughFragments as exc:
                out.append({"ref": ref, "status": "lost", "error": str(exc)})
                continue
            if res is None or not res.unrepaired:
                store.dequeue(ref)
            out.append({"ref": ref, **result_dict(res)})
        if force or len(refs) < batch:
            return out


class Scrubber:
    """A resumable, rate-limited pass over every ref (see module docstring)."""

    def __init__(self, store: VolumeDataStore, rate: float) -> None:
        self.store = store
        self.rate = rate  # bytes per second read from disks; <= 0: unlimited

    def state(self) -> dict:
        return self.store.upkeep.load_state(SCRUB) or {"cursor": "", "passes": 0, "finished": 0.0}

    def _save(self, st: dict) -> None:
        self.store.upkeep.save_state(SCRUB, st)

    def run(self, stop: threading.Event | None = None, budget: float | None = None) -> dict:
        """Scrub from the saved cursor until the pass ends, ``stop`` is set or ``budget`` seconds
        pass. Returns the state (with ``busy`` if another process is scrubbing)."""
        with self.store.upkeep.lock(SCRUB, blocking=False) as got:
            if not got:
                return {**self.state(), "busy": True}
            st = self.state()
            st.setdefault("stats", {"checked": 0, "repaired": 0, "lost": 0, "bytes": 0})
            began = time.monotonic()
            saved = began
            read = 0
            for ref in self.store.iter_refs(after=st["cursor"]):
                if stop is not None and stop.is_set():
                    self._save(st)
                    return st
                size = sum(v.fragment_size(p) for v, _, p in self.store.volumes.find_fragments(ref))
                try:
                    res = repair_ref(self.store, ref)
                    if res is not None and (res.rebuilt or res.unrepaired):
                        st["stats"]["repaired"] += 1
                    if res is None or not res.unrepaired:
                        self.store.dequeue(ref)
                except NotEnoughFragments:
                    st["stats"]["lost"] += 1
                st["stats"]["checked"] += 1
                st["stats"]["bytes"] += size
                st["cursor"] = ref
                read += size
                if self.rate > 0:  # sleep off what we read ahead of the allowed rate
                    ahead = read / self.rate - (time.monotonic() - began)
                    if ahead > 0:
                        (stop.wait if stop is not None else time.sleep)(min(ahead, 5.0))
                if time.monotonic() - saved >= 1.0:
                    self._save(st)
                    saved = time.monotonic()
                if budget is not None and time.monotonic() - began >= budget:
                    self._save(st)  # at least one ref per call: a tiny budget still makes progress
                    return st
            st.update(cursor="", passes=st["passes"] + 1, finished=time.time(), last_stats=st.pop("stats"))
            self._save(st)
            return st


def _volume(store: VolumeDataStore, which: str) -> tuple[str, str]:
    """A volume named by uuid or path -> (uuid, path) from the registry."""
    reg = store.read_registry()
    for uid, path in reg.items():
        if which in (uid, path) or os.path.abspath(which) == os.path.abspath(path):
            return uid, path
    raise KeyError(f"no volume {which!r} (known: {', '.join(sorted(reg.values()))})")


def rebuild_volume(store: VolumeDataStore, which: str) -> dict:
    """Recreate every fragment of a lost volume. An empty (or missing) directory at its path is a
    replacement disk: it gets a new identity and replaces the lost volume in the registry."""
    uid, path = _volume(store, which)
    root = Path(path)
    replaced = None
    if not (root / IDENTITY_FILE).exists():
        if root.is_dir() and any(root.iterdir()):
            raise ValueError(f"{path} is not empty and has no volume identity: clear it or mount the new disk there")
        new = format_volume(root, fsync=store.fsync)
        reg = store.read_registry()
        reg.pop(uid, None)
        reg[new] = path
        store.write_registry(reg)
        replaced, uid = uid, new
    store.refresh(force=True)
    done = {"volume": uid, "path": path, "replaced": replaced, "checked": 0, "rebuilt": 0, "unrepaired": [],
            "lost": []}
    for ref in store.iter_refs():
        done["checked"] += 1
        c = census(store, ref, trust=1)
        if c["state"] == "healthy":
            store.dequeue(ref)
            continue
        try:
            res = repair_ref(store, ref)
        except NotEnoughFragments:
            done["lost"].append(ref)
            continue
        if res is not None:
            done["rebuilt"] += len(res.rebuilt)
            if res.unrepaired:
                done["unrepaired"].append(ref)
            else:
                store.dequeue(ref)
    return done


def drain_volume(store: VolumeDataStore, which: str) -> dict:
    """Move every fragment off a volume, then forget it (see module docstring)."""
    uid, path = _volume(store, which)
    draining = store.draining() | {uid}
    write_json(store.heal_dir / "draining.json", sorted(draining))
    store.write_registry(store.read_registry())  # bump the mtime: every process reloads and stops writing there
    store.refresh(force=True)
    vol = store.volumes.get(uid)
    out = {"volume": uid, "path": path, "moved": 0, "repaired": 0, "stuck": [], "forgotten": False}
    if vol is None:
        return out
    for ref in store.iter_refs():
        _move_off(store, vol, ref, out)
    if not out["stuck"]:
        reg = store.read_registry()
        reg.pop(uid, None)
        store.write_registry(reg)
        write_json(store.heal_dir / "draining.json", sorted(store.draining() - {uid}))
        store.refresh(force=True)
        out["forgotten"] = True
    return out


def _move_off(store: VolumeDataStore, vol: Volume, ref: str, out: dict) -> None:
    """Move each fragment of ``ref`` off ``vol`` (drain): to the best writable volume, or, when the copy
    is damaged or there is no room, rebuild it from the others elsewhere and drop this copy. Counts go
    into ``out`` (moved, repaired, stuck)."""
    for index, src in vol.fragments_of(ref):
        try:
            with store.upkeep.lock(REPAIR):
                moved = _move(store, vol, ref, index, src)
        except OSError as exc:
            out["stuck"].append(f"{ref}.{index}: {exc}")
            continue
        if moved:
            out["moved"] += 1
            continue
        res = repair_ref(store, ref)
        if res is not None and not res.unrepaired and _unlink_on(vol, src):
            out["repaired"] += 1
        elif any(i == index for i, _ in vol.fragments_of(ref)):
            out["stuck"].append(f"{ref}.{index}")


def _move(store: VolumeDataStore, vol: Volume, ref: str, index: int, src: Path) -> bool:
    """Copy one verified fragment to the best writable volume holding no fragment of the ref (its
    failure domain under the policy's cap), with the crash-safe write protocol of any fragment."""
    fh = vol.open_fragment(src)
    try:
        header, bad = verify_file(fh)
        if bad:
            return False
        found = store.volumes.find_fragments(ref)
        holders = {v.uuid for v, _, _ in found}
        cap = store.volumes.domain_cap(header.policy.m)
        per_domain = Counter(v.domain for v, i, _ in found if v.uuid != vol.uuid)
        targets = [v for v in store.volumes.writable_ranked(ref) if v.uuid not in holders and v.uuid != vol.uuid
                   and (cap is None or per_domain[v.domain] < cap)]
        if not targets:
            return False
        copy_fragment(fh, header, targets[0], ref, index)
    finally:
        close_handle(fh)
    # A crash before this leaves two good copies of one index: readers accept either.
    with contextlib.suppress(OSError):
        vol.unlink_fragment(src)
    return True


def copy_fragment(fh, header, target, ref: str, index: int) -> int:
    """Stream an open, verified fragment's records to ``target`` under the same name (the target
    writes tmp -> verify -> fsync -> rename, so a crash leaves nothing half-made); bytes copied."""
    sink = target.open_sink(ref, index)
    try:
        size, pos = handle_size(fh), HEADER_SIZE
        while pos < size:
            chunk = pread(fh, min(4 << 20, size - pos), pos)
            if not chunk:
                raise OSError(f"{ref}.{index}: short read")
            sink.append_raw([chunk])
            pos += len(chunk)
        sink.finish(header)
    except BaseException:
        sink.discard()
        raise
    return pos


def _unlink_on(vol: Volume, path: Path) -> bool:
    try:
        return vol.unlink_fragment(path)
    except OSError:
        return False


def volumes_report(store: VolumeDataStore) -> list[dict]:
    store.refresh(force=True)
    draining = store.draining()
    out = []
    for vol in sorted(store.volumes, key=lambda v: str(v.path)):
        cap = vol.capacity() if vol.state is not VolumeState.OFFLINE else None
        out.append({"uuid": vol.uuid, "path": str(vol.path), "state": vol.state.value,
                    "draining": vol.uuid in draining,
                    "capacity": cap.total if cap else None, "free": cap.free if cap else None,
                    "used": cap.used if cap else None, "errors": dict(vol.errors), "last_error": vol.last_error})
    return out


def queue_rebuild(store: VolumeDataStore) -> dict:
    """After a node is declared out: queue every ref below full redundancy on the remaining volumes
    (trust 1: fragments present with valid headers); the healer rebuilds them in the background."""
    store.refresh(force=True)
    out = {"checked": 0, "queued": 0, "lost": 0}
    for ref in store.iter_refs():
        out["checked"] += 1
        state = census(store, ref, trust=1)["state"]
        if state in ("degraded", "lost"):
            store.enqueue(ref)
            out["queued"] += 1
            out["lost"] += state == "lost"
    return out


def drain_volumes(store: VolumeDataStore, uuids: set[str]) -> dict:
    """Move every fragment off these volumes (they must already take no new fragments: a draining
    node), each to the best writable volume of another failure domain slot; damaged copies are
    rebuilt from the others instead."""
    store.refresh(force=True)
    out: dict = {"volumes": sorted(uuids), "moved": 0, "repaired": 0, "stuck": []}
    for uid in sorted(uuids):
        vol = store.volumes.get(uid)
        if vol is None or not vol.readable:
            out["stuck"].append(f"{uid}: not readable")
            continue
        for ref, _ in list(vol.iter_refs()):
            _move_off(store, vol, ref, out)
    return out
