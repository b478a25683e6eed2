"""Volumes: the directories (normally one per disk) that hold fragment files, and their health.

Owns a volume's identity file, its layout, its state and how an I/O error changes that state.

    VOL/coffer-volume.json            {"uuid": ..., "created": ..., "format": 1}
    VOL/fragments/ab/cd/<ref>.<i>     fragment i of the object segment <ref> (see bitrot.py)
    VOL/tmp/<ref>.<i>.<rand>.tmp      fragment files being written; garbage after a restart

Identity: the uuid, not the path, names a volume (placement hashes it). A directory without the
identity file is refused unless the caller asks to format it: an empty mount point whose disk did
not mount is exactly such a directory, and writing there would fill the root file system with data
that vanishes when the disk comes back. A volume whose uuid differs from the one the caller expected
(disks swapped between mount points) is refused too: ``VolumeIdentityError``, never used.

States and why three:

* ``online``: reads and writes.
* ``read-only``: the file system refuses writes (EROFS, EACCES/EPERM) or is full (ENOSPC, EDQUOT).
  The fragments already there are intact and readable, so reads keep using them; new fragments go
  elsewhere. This is "offline for writes".
* ``offline``: the directory vanished, its identity changed, or it returned EIO (or any error we do
  not understand): the disk is not trusted for anything until an operator or ``probe()`` brings it
  back. Reads go on degraded from the other volumes.

A missing fragment file is not a volume failure (that is damage to one object); a missing volume
root or identity file is.
"""

from __future__ import annotations

import errno
import json
import os
import time
import uuid as uuidlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coffer.server.data.durable import fsync_dir
from coffer.server.data.volumes import placement

if TYPE_CHECKING:
    from coffer.server.data.volumes.bitrot import FragmentSink

IDENTITY_FILE = "coffer-volume.json"
VOLUME_FORMAT = 1

_READ_ONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class VolumeState(StrEnum):
    ONLINE = "online"
    READ_ONLY = "read-only"
    OFFLINE = "offline"


class VolumeError(Exception):
    """A volume cannot be used."""


class VolumeIdentityError(VolumeError):
    """The directory is not the volume it should be (no identity, another uuid, unknown format)."""


@dataclass(slots=True)
class Capacity:
    total: int
    free: int

    @property
    def used(self) -> int:
        return self.total - self.free


def format_volume(path: Path | str, *, fsync: bool = True) -> str:
    """Give a directory a volume identity (idempotent: an existing identity is kept). Returns the uuid.

    The identity file is written like data (tmp, fsync, rename, fsync dir): a torn identity file
    would make a healthy disk unusable.
    """
    root = Path(path)
    existing = root / IDENTITY_FILE
    if existing.exists():
        return read_identity(root)["uuid"]
    root.mkdir(parents=True, exist_ok=True)
    ident = {"uuid": str(uuidlib.uuid4()), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "format": VOLUME_FORMAT}
    tmp = root / f".{IDENTITY_FILE}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(ident, fh)
        fh.flush()
        if fsync:
            os.fsync(fh.fileno())
    os.rename(tmp, existing)
    if fsync:
        fsync_dir(root)
    return ident["uuid"]


def read_identity(root: Path) -> dict[str, str]:
    try:
        raw = (root / IDENTITY_FILE).read_bytes()
    except FileNotFoundError as exc:
        raise VolumeIdentityError(f"{root}: no {IDENTITY_FILE} (not a Coffer volume, or the disk is not mounted)") \
            from exc
    try:
        ident = json.loads(raw)
        uid = str(uuidlib.UUID(ident["uuid"]))
        fmt = int(ident["format"])
    except (ValueError, KeyError, TypeError) as exc:
        raise VolumeIdentityError(f"{root}: unreadable {IDENTITY_FILE}") from exc
    if fmt != VOLUME_FORMAT:
        raise VolumeIdentityError(f"{root}: volume format {fmt} is not supported (expected {VOLUME_FORMAT})")
    return {"uuid": uid, "created": str(ident.get("created", ""))}


@dataclass(eq=False)
class Volume:
    """One volume directory and what we currently believe about it."""

    path: Path
    uuid: str
    state: VolumeState = VolumeState.ONLINE
    created: str = ""
    errors: Counter[str] = field(default_factory=Counter)
    last_error: str = ""
    fsync: bool = True
    full_free: int | None = None  # free bytes when it last filled up: it stays read-only until more is free
    zone: str = ""  # failure domain when given (cluster volumes: the node's zone or host)
    weight: float = 1.0  # placement weight (`coffer node serve --volume DIR:WEIGHT`; placement.py)

    remote = False

    @property
    def domain(self) -> str:
        """The failure domain placement spreads fragments over: on one host, each volume is its own."""
        return self.zone or self.uuid

    @classmethod
    def open(cls, path: Path | str, expected_uuid: str | None = None, *, create: bool = False,
             fsync: bool = True) -> Volume:
        """Open a volume directory; refuse one that is not the expected volume.

        A directory that does not exist at all (disk gone) gives an ``offline`` volume under the
        expected uuid when one is given, so the set still knows it lacks that volume; without an
        expected uuid there is nothing to identify and it is refused.
        """
        root = Path(path)
        if create and expected_uuid is None:
            format_volume(root, fsync=fsync)
        if not root.is_dir():
            if expected_uuid is None:
                raise VolumeIdentityError(f"{root}: no such volume directory")
            vol = cls(root, expected_uuid, VolumeState.OFFLINE, fsync=fsync)
            vol.last_error = "volume directory missing"
            return vol
        ident = read_identity(root)
        if expected_uuid is not None and ident["uuid"] != expected_uuid:
            raise VolumeIdentityError(
                f"{root}: volume {ident['uuid']} found where volume {expected_uuid} was expected (wrong disk mounted?)")
        vol = cls(root, ident["uuid"], created=ident["created"], fsync=fsync)
        vol.probe()
        return vol

    # -- layout -------------------------------------------------------------------------------------
    @property
    def fragments_dir(self) -> Path:
        return self.path / "fragments"

    @property
    def tmp_dir(self) -> Path:
        return self.path / "tmp"

    def fragment_dir(self, ref: str) -> Path:
        return self.fragments_dir / ref[0:2] / ref[2:4]

    def fragment_path(self, ref: str, index: int) -> Path:
        return self.fragment_dir(ref) / f"{ref}.{index}"

    def fragments_of(self, ref: str) -> list[tuple[int, Path]]:
        """The fragment files of a ref on this volume (normally at most one)."""
        try:
            names = os.listdir(self.fragment_dir(ref))
        except FileNotFoundError:
            if not (self.path / IDENTITY_FILE).exists():
                self.fail(OSError(errno.ENOENT, "volume identity vanished"))
            return []
        except OSError as exc:
            self.fail(exc)
            return []
        out = []
        prefix = ref + "."
        for name in names:
            if name.startswith(prefix) and name[len(prefix):].isdigit():
                out.append((int(name[len(prefix):]), self.fragment_dir(ref) / name))
        return sorted(out)

    # -- fragment I/O (what a remote volume does over HTTP) ------------------------------------------
    def open_sink(self, ref: str, index: int) -> FragmentSink:
        from coffer.server.data.volumes.bitrot import FragmentSink

        return FragmentSink(self, ref, index)

    def open_fragment(self, path: Path) -> int:
        """A read-only descriptor of one of this volume's fragment files (the caller closes it)."""
        return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))

    def unlink_fragment(self, path: Path | str) -> bool:
        """Remove a fragment file; False if it was not there. Other errors are raised."""
        try:
            os.unlink(path)
            return True
        except FileNotFoundError:
            return False

    def fragment_size(self, path: Path | str) -> int:
        try:
            return os.stat(path).st_size
        except OSError:
            return 0

    def sweep_tmp(self, cutoff: float) -> int:
        """Remove temporary fragment files last modified before ``cutoff`` (epoch seconds)."""
        removed = 0
        try:
            entries = list(os.scandir(self.tmp_dir))
        except OSError:
            return 0
        for entry in entries:
            try:
                if entry.name.endswith(".tmp") and entry.stat().st_mtime <= cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                pass
        return removed

    def iter_refs(self, after: str = "") -> Iterator[tuple[str, float]]:
        """(ref, newest fragment mtime) of every ref with a fragment here, sorted, greater than ``after``."""
        for d1 in _hex_names(self.fragments_dir):
            if d1 < after[:2]:
                continue
            for d2 in _hex_names(self.fragments_dir / d1):
                if d1 + d2 < after[:4]:
                    continue
                newest: dict[str, float] = {}
                try:
                    entries = list(os.scandir(self.fragments_dir / d1 / d2))
                except OSError:
                    continue
                for f in entries:
                    ref = f.name.split(".", 1)[0]
                    try:
                        newest[ref] = max(newest.get(ref, 0.0), f.stat().st_mtime)
                    except FileNotFoundError:
                        pass
                yield from ((r, newest[r]) for r in sorted(newest) if r > after)

    # -- state --------------------------------------------------------------------------------------
    @property
    def readable(self) -> bool:
        return self.state is not VolumeState.OFFLINE

    @property
    def writable(self) -> bool:
        return self.state is VolumeState.ONLINE

    def fail(self, exc: BaseException) -> VolumeState:
        """Record an I/O error and demote the volume accordingly (never promotes)."""
        code = getattr(exc, "errno", None)
        name = errno.errorcode.get(code, "EUNKNOWN") if isinstance(code, int) else type(exc).__name__
        self.errors[name] += 1
        self.last_error = f"{name}: {exc}"
        if code in (errno.ENOSPC, errno.EDQUOT):
            cap = self.capacity()
            self.full_free = cap.free if cap else 0
        if code in _READ_ONLY_ERRNOS:
            if self.state is VolumeState.ONLINE:
                self.state = VolumeState.READ_ONLY
        else:
            self.state = VolumeState.OFFLINE
        return self.state

    def probe(self) -> VolumeState:
        """Look at the volume again (start-up, or a periodic health check) and set its state."""
        try:
            ident = read_identity(self.path)
        except (VolumeIdentityError, OSError) as exc:
            self.state = VolumeState.OFFLINE
            self.last_error = str(exc)
            return self.state
        if ident["uuid"] != self.uuid:
            self.state = VolumeState.OFFLINE
            self.last_error = f"identity changed to {ident['uuid']}"
            return self.state
        try:
            self.fragments_dir.mkdir(exist_ok=True)
            self.tmp_dir.mkdir(exist_ok=True)
            # A real write, not os.access(): root passes access checks on a read-only mount and
            # on a chmod'ed directory alike, and a full disk passes them too.
            # a name of its own per call: the threads of one process (a worker, the healer, the garbage
            # collector, each with its own store) probe at once, and one's unlink must not fail another's
            probe = self.tmp_dir / f".probe.{os.getpid()}.{uuidlib.uuid4().hex}"
            with open(probe, "wb") as fh:
                fh.write(b"coffer")
            os.unlink(probe)
        except OSError as exc:
            self.state = VolumeState.ONLINE
            self.fail(exc)
            return self.state
        if self.full_free is not None:
            # Hysteresis: a volume that filled up comes back only with real room (16 MiB or a tenth
            # of the disk more than when it filled), not as soon as one partial file is removed.
            cap = self.capacity()
            if cap is not None and cap.free < self.full_free + max(16 << 20, cap.total // 10):
                self.state = VolumeState.READ_ONLY
                return self.state
            self.full_free = None
        self.state = VolumeState.ONLINE
        return self.state

    def capacity(self) -> Capacity | None:
        try:
            st = os.statvfs(self.path)
        except OSError:
            return None
        return Capacity(st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize)


def _hex_names(path: Path) -> list[str]:
    try:
        return sorted(n for n in os.listdir(path) if len(n) == 2)
    except OSError:
        return []


class VolumeSet:
    """The volumes of a server, by uuid; placement and failover decisions over them."""

    def __init__(self, volumes: Iterable[Volume]) -> None:
        self.volumes: dict[str, Volume] = {}
        for vol in volumes:
            if vol.uuid in self.volumes:
                raise VolumeIdentityError(f"volume {vol.uuid} given twice ({self.volumes[vol.uuid].path}, {vol.path})")
            self.volumes[vol.uuid] = vol

    @classmethod
    def open(cls, paths: Iterable[Path | str], *, create: bool = False, fsync: bool = True) -> VolumeSet:
        return cls(Volume.open(p, create=create, fsync=fsync) for p in paths)

    def __len__(self) -> int:
        return len(self.volumes)

    def __iter__(self) -> Iterator[Volume]:
        return iter(self.volumes.values())

    def get(self, volume_id: str) -> Volume | None:
        return self.volumes.get(volume_id)

    def ranked(self, ref: str) -> list[Volume]:
        """Every volume, in the ref's placement order (offline ones included: callers filter).

        Hierarchical when volumes have failure domains (cluster nodes): domains ranked first, then
        the volumes of each, taken round-robin across domains; on one host every volume is its own
        domain and this is the flat ranking. Volumes weigh in by their ``weight`` (the cluster map's)."""
        domains = {uid: vol.domain for uid, vol in self.volumes.items()}
        weights = {uid: vol.weight for uid, vol in self.volumes.items()}
        if all(w == 1.0 for w in weights.values()):
            weights = None  # the plain ranking (the same order, without a logarithm per volume)
        return [self.volumes[v] for v in placement.rank_hierarchical(ref, domains, weights)]

    def writable_ranked(self, ref: str, cap: int | None = None) -> list[Volume]:
        """Writable volumes in placement order; with ``cap``, only the first ``cap`` of each failure domain."""
        ranked = [v for v in self.ranked(ref) if v.writable]
        if cap is None:
            return ranked
        out, seen = [], Counter[str]()
        for vol in ranked:
            if seen[vol.domain] < cap:
                out.append(vol)
            seen[vol.domain] += 1
        return out

    def domain_cap(self, policy_m: int) -> int | None:
        """At most M fragments of an EC-K+M stripe per failure domain, when there are several domains
        (on one host each volume is its own domain and holds one fragment anyway)."""
        n = len(self.domains())
        return max(1, policy_m) if 1 < n < len(self.volumes) else None

    def domains(self) -> set[str]:
        return {v.domain for v in self.volumes.values()}

    def find_fragments(self, ref: str) -> list[tuple[Volume, int, Path]]:
        """Every fragment file of the ref on a readable volume, in placement order (remote volumes
        are asked in parallel: one round trip of wall time, not one per volume)."""
        vols = [v for v in self.ranked(ref) if v.readable]
        listed = list_in_parallel(vols, ref)
        out = []
        for vol, found in zip(vols, listed, strict=True):
            out.extend((vol, index, path) for index, path in found)
        return out


_listers = ThreadPoolExecutor(max_workers=32, thread_name_prefix="coffer-list")


def list_in_parallel(vols: Sequence[Any], ref: str) -> list[list[tuple[int, Any]]]:
    """``fragments_of(ref)`` on every volume at once (remote ones cost a round trip each)."""
    futures = [_listers.submit(v.fragments_of, ref) if v.remote else None for v in vols]
    return [f.result() if f is not None else v.fragments_of(ref) for v, f in zip(vols, futures, strict=True)]
