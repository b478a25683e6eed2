"""The multi-volume data store: the erasure-coded engine behind the data-store interface.

Owns what the service layer sees with `coffer serve --volume DIR ...`: the `DataStore` interface
(data/interface.py) over volumes. ``spans`` is None (no sendfile: every block is verified, CRC32C,
on its way out through ``reader``/``read``); ``volume_admin()`` is the administration facet
(upkeep.VolumeAdmin). Fragments are found on any volume by the segment's ref,
so the metadata keeps only the ref (no fragment table to keep in step).

Also owns the volume registry ``DATA/volumes.json`` ({uuid: path}): which directories are this
server's volumes. A path listed there whose identity file is missing is *not* formatted again (an
unmounted disk leaves an empty mount point; filling it would hide data), it is offline until an
operator runs ``coffer admin rebuild --volume``. A path given for the first time is formatted. A
directory carrying another server's uuid is refused at start.

Damage seen by a read (bad CRC, missing fragment, I/O error) goes to the repair queue of the store's
``upkeep`` (data/interface.py `Upkeep`: a table of the metadata, shared by every worker process and
every gateway of a cluster; idempotent); the healer (heal.py) of whichever process holds the healer
lock drains it. Writes that met their quorum with fewer than ``k + m`` fragments are queued the same
way. Without an upkeep handed in, the store keeps its queue, locks and cursors in ``DATA/heal/``
(folder_upkeep.py); with one, what an older Coffer left there is moved into it at ``open``.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coffer.protocol.checksums import Hasher
from coffer.server.data.interface import DataStore, DataUnavailable, ReadSpan, SegmentLike, Upkeep
from coffer.server.data.local import plan_range
from coffer.server.data.volumes.folder_upkeep import FolderUpkeep, adopt
from coffer.server.data.volumes.storage_policy import Policy, PolicyError, codec_for, default_policy
from coffer.server.data.volumes.stripes import (
    DEFAULT_BLOCK_SIZE,
    NotEnoughFragments,
    ObjectReader,
    PolicyUnavailable,
    StripeWriter,
)
from coffer.server.data.volumes.volume import (
    IDENTITY_FILE,
    Volume,
    VolumeError,
    VolumeIdentityError,
    VolumeSet,
    VolumeState,
    format_volume,
    fsync_dir,
    read_identity,
)

if TYPE_CHECKING:
    from coffer.server.data.volumes.upkeep import VolumeAdmin

log = logging.getLogger("coffer.volumes")

REGISTRY = "volumes.json"
READ_BATCH = 4 << 20  # object bytes per hop to a worker thread on GET


def tune_allocator() -> None:
    """Keep freed stripe buffers in the heap (glibc only). A GET keeps a batch of fresh ~256 KiB
    record buffers alive while it is sent; glibc mmaps such sizes and trims freed heap tops, so every
    buffer cost page faults: the reader ran at 600 MiB/s, against 1,500-1,900 with this."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD: below 64 MiB, allocate from the heap
        libc.mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD: keep up to 512 MiB of freed heap for reuse
    except (OSError, AttributeError):
        pass


class VolumeWriter:
    """A segment being written under a policy (same surface as local.FileWriter)."""

    def __init__(self, store: VolumeDataStore, hashers: dict[str, Hasher], policy: Policy) -> None:
        self._store = store
        self.hashers = hashers
        try:
            self._w = StripeWriter(store.volumes, policy, block_size=store.block_size)
        except PolicyUnavailable as exc:
            raise DataUnavailable(str(exc)) from exc
        self.ref = self._w.ref

    @property
    def size(self) -> int:
        return self._w.size

    def write(self, data: bytes | bytearray | memoryview) -> None:
        for h in self.hashers.values():
            h.update(data)
        try:
            self._w.write(data)
        except PolicyUnavailable as exc:
            raise DataUnavailable(str(exc)) from exc

    def commit(self) -> str:
        try:
            result = self._w.commit()
        except PolicyUnavailable as exc:
            raise DataUnavailable(str(exc)) from exc
        if result.missing:
            self._store.enqueue(self.ref)  # acknowledged at k+1: the healer restores full width
        return self.ref

    def abort(self) -> None:
        self._w.abort()


class RangeReader:
    """Bytes [start, start+length) of an object's segments, verified, in batches of views."""

    def __init__(self, store: VolumeDataStore, segments: Sequence[SegmentLike], start: int, length: int) -> None:
        self._store = store
        self._plan = plan_range(segments, start, length)
        self._reader: ObjectReader | None = None
        self._iter: Iterator[memoryview] | None = None

    def next_batch(self) -> list[memoryview]:
        """Up to READ_BATCH bytes as views (empty at the end). Runs in a worker thread."""
        out: list[memoryview] = []
        n = 0
        while n < READ_BATCH:
            if self._iter is None:
                if not self._plan:
                    break
                ref, lo, ln = self._plan.pop(0)
                try:
                    self._reader = ObjectReader(self._store.volumes, ref)
                except NotEnoughFragments as exc:
                    self._store.enqueue(ref)
                    raise DataUnavailable(f"object data lost beyond its policy's tolerance: {exc}") from exc
                self._iter = self._reader.iter_range(lo, ln)
            try:
                piece = next(self._iter)
            except StopIteration:
                self._finish_segment()
                continue
            except NotEnoughFragments as exc:
                self._finish_segment()
                raise DataUnavailable(f"object data lost beyond its policy's tolerance: {exc}") from exc
            out.append(piece)  # a view into this stripe's own fresh buffers: valid after the next read
            n += len(piece)
        return out

    def _finish_segment(self) -> None:
        if self._reader is not None:
            if self._reader.damage:
                self._store.enqueue(self._reader.ref)
            self._reader.close()
        self._reader, self._iter = None, None

    def close(self) -> None:
        self._finish_segment()
        self._plan.clear()


class VolumeDataStore(DataStore):
    """Object data over several volumes (see module docstring)."""

    def __init__(self, root: Path, volume_paths: list[Path], *, fsync: bool = True,
                 block_size: int = DEFAULT_BLOCK_SIZE, upkeep: Upkeep | None = None) -> None:
        self.root = Path(root)
        self.paths = [Path(p).absolute() for p in volume_paths]
        self.fsync = fsync
        self.block_size = block_size
        self.heal_dir = self.root / "heal"
        self.shared_upkeep = upkeep is not None
        self.upkeep: Upkeep = upkeep if upkeep is not None else FolderUpkeep(self.heal_dir)
        self.volumes = VolumeSet([])
        self._lock = threading.Lock()
        self._registry_mtime = 0.0
        self._last_probe = 0.0

    # -- start-up ----------------------------------------------------------------------------------
    @property
    def registry_path(self) -> Path:
        return self.root / REGISTRY

    def read_registry(self) -> dict[str, str]:
        try:
            return {str(k): str(v) for k, v in json.loads(self.registry_path.read_text()).items()}
        except FileNotFoundError:
            return {}

    def write_registry(self, reg: dict[str, str]) -> None:
        tmp = self.registry_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(reg, indent=1, sort_keys=True))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.rename(tmp, self.registry_path)
        fsync_dir(self.root)

    def open(self, *, register: bool = True) -> None:
        """Open (first time: format) every volume. ``register`` adds new paths to the registry
        (the server's start does; helper processes only read it)."""
        tune_allocator()
        self.root.mkdir(parents=True, exist_ok=True)
        self.adopt_folder_upkeep()
        reg = self.read_registry()
        if register:
            first = not reg
            changed = False
            for path in self.paths:
                key = str(path)
                if (path / IDENTITY_FILE).exists():
                    uid = read_identity(path)["uuid"]
                    if uid not in reg and not first:
                        raise VolumeIdentityError(f"{path}: volume {uid} belongs to another server (or was "
                                                  "drained from this one); remove it from --volume")
                    # Known by its uuid wherever it is mounted now (disks moved between mount points).
                    changed |= reg.get(uid) != key
                    reg[uid] = key
                elif key in reg.values():
                    continue  # a known volume without identity: its disk is not mounted; stays offline
                else:
                    if path.is_dir() and any(path.iterdir()):
                        raise VolumeIdentityError(f"{path}: not empty and not a Coffer volume; refusing to format it")
                    reg[format_volume(path, fsync=self.fsync)] = key
                    changed = True
            if changed:
                self.write_registry(reg)
        self._load(reg)
        try:
            codec_for(self.default_policy())  # an EC default without pyeclib: say so now, not at first PUT
        except ImportError as exc:
            raise VolumeError(f"{self.default_policy()} needs pyeclib (pip install 'coffer[ec]'): {exc}") from exc

    def _load(self, reg: dict[str, str]) -> None:
        vols = []
        for uid, path in sorted(reg.items()):
            try:
                vols.append(Volume.open(path, uid, fsync=self.fsync))
            except VolumeIdentityError as exc:
                # Wrong disk, or an empty mount point: known to be missing, never written to.
                vol = Volume(Path(path), uid, VolumeState.OFFLINE, fsync=self.fsync)
                vol.last_error = str(exc)
                vols.append(vol)
        draining = self.draining()
        for vol in vols:
            if vol.uuid in draining and vol.state is VolumeState.ONLINE:
                vol.state = VolumeState.READ_ONLY
        with self._lock:
            self.volumes = VolumeSet(vols)
        try:
            self._registry_mtime = self.registry_path.stat().st_mtime
        except FileNotFoundError:
            self._registry_mtime = 0.0

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the registry if another process changed it (rebuild, drain); re-probe volumes
        that are not online every few seconds so a repaired disk comes back without a restart."""
        try:
            mtime = self.registry_path.stat().st_mtime
        except FileNotFoundError:
            mtime = 0.0
        if mtime != self._registry_mtime:
            self._load(self.read_registry())
            return
        now = time.monotonic()
        if force or now - self._last_probe > 5.0:
            self._last_probe = now
            draining = self.draining()
            for vol in self.volumes:
                if vol.state is not VolumeState.ONLINE or force:
                    vol.probe()
                if vol.uuid in draining and vol.state is VolumeState.ONLINE:
                    vol.state = VolumeState.READ_ONLY  # drained volumes take no new fragments

    def draining(self) -> set[str]:
        try:
            return set(json.loads((self.heal_dir / "draining.json").read_text()))
        except (FileNotFoundError, ValueError):
            return set()

    # -- policies ----------------------------------------------------------------------------------
    def default_policy(self) -> Policy:
        return default_policy(len(self.volumes))

    def volume_count(self) -> int:
        return len(self.volumes) or 1

    def check_policy(self, policy: Policy) -> None:
        """Refuse a policy this set of volumes can never satisfy (a 400, before any byte is read)."""
        if policy.write_quorum > len(self.volumes):
            raise PolicyError(f"{policy} needs at least {policy.write_quorum} volumes (full redundancy: "
                              f"{policy.width}); this server has {len(self.volumes)}")
        try:
            codec_for(policy)
        except ImportError as exc:
            raise PolicyError(f"{policy} needs pyeclib, which this server lacks") from exc

    # -- the data-store interface -------------------------------------------------------------------
    def writer(self, hashers: dict[str, Hasher], policy: Policy | None = None) -> VolumeWriter:
        self.refresh()
        return VolumeWriter(self, hashers, policy or self.default_policy())

    def spans(self, segments: Sequence[SegmentLike], start: int, length: int) -> list[ReadSpan] | None:
        return None  # fragments are no plain files: GET streams verified bytes through `reader`

    def reader(self, segments: Sequence[SegmentLike], start: int, length: int) -> RangeReader:
        self.refresh()
        return RangeReader(self, list(segments), start, length)

    def read(self, segments: Sequence[SegmentLike], start: int, length: int) -> bytes:
        """A verified byte range as one bytes (small synchronous readers, e.g. archive members)."""
        reader = self.reader(segments, start, length)
        try:
            out = bytearray()
            while batch := reader.next_batch():
                for view in batch:
                    out += view
            return bytes(out)
        finally:
            reader.close()

    def fragments(self, segment: SegmentLike, trust: int = 2) -> dict[str, Any]:
        from coffer.server.data.volumes.heal import census

        return census(self, segment.ref, trust)

    def volume_admin(self) -> VolumeAdmin:
        from coffer.server.data.volumes.upkeep import VolumeAdmin

        return VolumeAdmin(self)

    def delete(self, refs: list[str]) -> None:
        for ref in refs:
            for vol in self.volumes.ranked(ref):
                if not vol.readable:
                    continue
                for _, path in vol.fragments_of(ref):
                    try:
                        vol.unlink_fragment(path)
                    except OSError as exc:
                        vol.fail(exc)
        try:  # one call for the batch; a queued ref left behind is found gone by the healer and dropped
            self.upkeep.queue_remove(refs)
        except Exception:
            log.warning("could not drop deleted refs from the repair queue", exc_info=True)

    # -- repair queue (the upkeep's) ----------------------------------------------------------------
    def adopt_folder_upkeep(self) -> None:
        """With an upkeep handed in: move the queue files and cursors an older Coffer kept in
        ``DATA/heal/`` into it (nothing to do after the first start)."""
        self.heal_dir.mkdir(parents=True, exist_ok=True)
        if self.shared_upkeep:
            try:
                adopt(self.heal_dir, self.upkeep, ("rebalance", "scrub"))
            except Exception:  # the metadata cannot take them now: the files stay for the next start
                log.warning("could not move DATA/heal/ queue files into the metadata", exc_info=True)

    def enqueue(self, ref: str) -> None:
        try:
            self.upkeep.queue_add([ref])
        except Exception:  # the scrubber finds the damage anyway; a read must not fail for this
            log.warning("could not queue %s for repair", ref, exc_info=True)

    def dequeue(self, ref: str) -> None:
        self.upkeep.queue_remove([ref])

    def queued(self) -> list[str]:
        return self.upkeep.queue_list()

    # -- housekeeping -------------------------------------------------------------------------------
    def sweep_tmp(self, older_than: float = 0.0) -> int:
        cutoff = time.time() - older_than
        return sum(vol.sweep_tmp(cutoff) for vol in self.volumes if vol.readable)

    def iter_refs(self, before: float = float("inf"), after: str = "") -> Iterator[str]:
        """Every ref with a fragment on some readable volume, in sorted order (scrub cursor order),
        greater than ``after``, whose newest fragment was written before ``before``."""
        streams = [vol.iter_refs(after) for vol in self.volumes if vol.readable]
        current, newest = None, 0.0
        for ref, mtime in heapq.merge(*streams):
            if ref != current:
                if current is not None and newest <= before:
                    yield current
                current, newest = ref, mtime
            else:
                newest = max(newest, mtime)
        if current is not None and newest <= before:
            yield current
