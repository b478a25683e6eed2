"""The data store interface: what the service layer may ask of any store of object bytes.

Owns the contract that `local.LocalDataStore` (one folder, one file per segment) and
`volumes.store.VolumeDataStore` (erasure-coded or mirrored fragments over several volumes) implement,
and that a remote-volume store (fragments on storage nodes reached over HTTP) implements next. The
service layer types its data store as `DataStore` and never asks which class it holds: what differs
between stores is answered by the methods below, and volume administration is an optional facet
(`volume_admin()`), None on a store that has no volumes.

Rules every store keeps:
- A segment is written through a `SegmentWriter` (worker thread): `write` hashes what it stores,
  `commit` makes the bytes durable under their ref *before* the caller commits metadata that names it,
  `abort` leaves nothing behind. A crash before the metadata commit leaves an orphan (found by
  `iter_refs` + the metadata store's `referenced`), never a partial object.
- Reads address an object as its segments (anything with `ref` and `size`) and a byte range of the
  whole: `spans` (file pieces a response may sendfile, or None when the store has no plain files),
  `reader` (verified bytes in batches, for streaming) and `read` (one bytes, for small synchronous
  readers: SSE blocks, archive members). Bytes that cannot be read now raise `DataUnavailable` (a
  503); bytes shorter than the metadata says raise `DataShort` (an `OSError`, a 500).
- `delete(refs)` is idempotent: a ref already gone is no error.
- Every call may block on disk or network: the service runs them in its worker threads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from coffer.protocol.checksums import Hasher
from coffer.server.data.volumes.storage_policy import Policy


class DataUnavailable(Exception):
    """The data cannot be written or read right now (too few volumes / fragments): a 503, not a 500."""


class DataShort(OSError):
    """A segment holds fewer bytes than the metadata says it does (lost or truncated data): a 500."""


class SegmentLike(Protocol):
    """What the data store needs of a metadata segment (it never imports the metadata layer)."""

    ref: str
    size: int


@dataclass(slots=True)
class ReadSpan:
    """A byte range of one segment file: what a response sends with sendfile."""

    path: str
    offset: int
    length: int


class SegmentWriter(Protocol):
    """Receives one segment's bytes (called from a worker thread, never on the event loop)."""

    ref: str
    hashers: dict[str, Hasher]

    @property
    def size(self) -> int: ...

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Store the bytes after these, feeding every hasher."""

    def commit(self) -> str:
        """Make the bytes durable under `ref` and return it. After this, only metadata is missing."""
        ...

    def abort(self) -> None:
        """Forget the segment: nothing of it stays."""


class SegmentReader(Protocol):
    """Bytes of a range of segments, verified, in batches (worker thread)."""

    def next_batch(self) -> list[memoryview]:
        """The next bytes as views (an empty list at the end); each batch owns its buffers."""
        ...

    def close(self) -> None: ...


class VolumeAdmin(Protocol):
    """The volume-administration facet of a store with volumes (`coffer admin`, /health/data).

    Every method may block (worker thread); answers are plain dicts the admin API sends as JSON."""

    def report(self) -> dict[str, Any]:
        """Volumes (state, capacity, usage, errors), default policy, repair queue length, scrub state."""
        ...

    def health(self) -> dict[str, Any]:
        """status (ok | degraded | failed), volumes, repair_queue and the scrubber's saved state."""
        ...

    def enqueue(self, ref: str) -> None:
        """Queue a ref for the healer."""

    def repair(self, ref: str) -> dict[str, Any]:
        """Verify and rebuild a ref's fragments now: {ref, status, ...}."""
        ...

    def rebuild(self, volume: str) -> dict[str, Any]:
        """Recreate everything that lived on a lost volume (KeyError/ValueError: no such volume)."""
        ...

    def drain(self, volume: str) -> dict[str, Any]:
        """Move every fragment off a volume, then forget it (KeyError: no such volume)."""
        ...

    def scrub(self) -> dict[str, Any]:
        """Run (or resume) a scrub pass to its end, unthrottled."""
        ...

    def rebalance(self) -> dict[str, Any]:
        """Move fragments to where placement wants them now (a node joined), to the pass's end:
        {checked, moved, duplicates, bytes, stuck, done}."""
        ...

    def heal(self) -> list[dict[str, Any]]:
        """Re-probe the volumes and repair everything in the repair queue now."""
        ...

    def drop_stale_queue(self) -> int:
        """Forget queued repairs of refs with no fragment left; how many were dropped."""
        ...


class NodeAdmin(Protocol):
    """The storage-node facet of a gateway's store over the cluster map (`coffer admin node ...`).

    Every method may block (worker thread); answers are plain dicts the admin API sends as JSON."""

    def nodes(self) -> dict[str, Any]:
        """The cluster map's nodes with their volumes and states, its generation, the default policy."""
        ...

    def set_state(self, node: str, state: str) -> int:
        """Set a node's state (active | draining | out) and re-read the map; the new layout generation.
        Raises KeyError for a node the map does not list."""
        ...

    def queue_rebuild(self) -> dict[str, Any]:
        """Queue every ref below full redundancy for the healer: {checked, queued, lost}."""
        ...

    def drain(self, node: str) -> dict[str, Any]:
        """Move every fragment off a node's volumes: {volumes, moved, repaired, stuck}."""
        ...


class HeldLock(Protocol):
    def alive(self) -> bool: ...  # still held (its database session still answers)

    def release(self) -> None: ...


class Upkeep(Protocol):
    """What the multi-volume store's background work shares with every other process and gateway: named
    locks held for a session (``lock(name, blocking=...)`` yields whether it got it; re-entrant in the
    holding thread; gone with its holder), the repair queue and saved cursors. The composition root
    hands in one backed by the metadata store (meta/coordination.py: PostgreSQL across gateways, SQLite
    on one host); a store built without one keeps them in its data folder (volumes/folder_upkeep.py).
    The data layer never imports the metadata layer: it sees only this."""

    def lock(self, name: str, *, blocking: bool = True) -> AbstractContextManager[bool]: ...

    def try_lock(self, name: str) -> HeldLock | None:
        """The lock, held until ``release()`` (from the same thread), or None if another holds it."""
        ...

    def queue_add(self, refs: Iterable[str]) -> None: ...

    def queue_claim(self, limit: int, lease: float, *, force: bool = False) -> list[str]: ...

    def queue_remove(self, refs: Iterable[str]) -> None: ...

    def queue_list(self, limit: int = 100_000) -> list[str]: ...

    def queue_length(self) -> int: ...

    def load_state(self, name: str) -> dict[str, Any] | None: ...

    def save_state(self, name: str, doc: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class DataStore(ABC):
    """Object bytes by segment ref (see module docstring)."""

    root: Path  # the server's data folder: keys, tokens and other server state live beside the bytes

    # -- life cycle --------------------------------------------------------------------------------
    @abstractmethod
    def open(self) -> None:
        """Create what is missing and get ready to serve (idempotent)."""

    def close(self) -> None:
        """Release what `open` took (connections, file handles); the store can be opened again."""
        return None

    # -- policies ------------------------------------------------------------------------------------
    @abstractmethod
    def default_policy(self) -> Policy | None:
        """The policy a segment is written under when nobody asks for one; None for a store with one
        layout only (SINGLE, one folder), where storage policies do not apply."""

    def check_policy(self, policy: Policy) -> None:
        """Raise `PolicyError` if this store can never write under `policy` (checked before any byte;
        only asked of a store whose `default_policy()` is not None)."""
        return None

    def volume_count(self) -> int:
        """How many places a segment's fragments can go (1 for one folder)."""
        return 1

    # -- writes ------------------------------------------------------------------------------------
    @abstractmethod
    def writer(self, hashers: dict[str, Hasher], policy: Policy | None = None) -> SegmentWriter:
        """A new segment, written under `policy` (None: the default). May raise `DataUnavailable`."""

    # -- reads -------------------------------------------------------------------------------------
    @abstractmethod
    def spans(self, segments: Sequence[SegmentLike], start: int, length: int) -> list[ReadSpan] | None:
        """The file pieces holding bytes [start, start+length) of an object, for sendfile; None when
        the store keeps no plain files (verified fragments, remote nodes): read through `reader`."""

    @abstractmethod
    def reader(self, segments: Sequence[SegmentLike], start: int, length: int) -> SegmentReader:
        """Bytes [start, start+length) of an object in batches (streaming responses, copies)."""

    def read(self, segments: Sequence[SegmentLike], start: int, length: int) -> bytes:
        """Bytes [start, start+length) of an object as one bytes (SSE blocks, archive members)."""
        reader = self.reader(segments, start, length)
        try:
            out = bytearray()
            while batch := reader.next_batch():
                for view in batch:
                    out += view
            if len(out) != length:
                raise DataShort("object data is shorter than its metadata says")
            return bytes(out)
        finally:
            reader.close()

    @abstractmethod
    def fragments(self, segment: SegmentLike, trust: int = 2) -> dict[str, Any]:
        """Where a segment's bytes are and how sound they are: {ref, policy (None when nothing is
        found), state: healthy | degraded | lost | missing, good, width, fragments: [{index, path,
        size, status, ...}]}. trust 1: present and headers valid; 2: every block verified."""

    # -- deletes and housekeeping ------------------------------------------------------------------
    @abstractmethod
    def delete(self, refs: list[str]) -> None:
        """Remove the segments' bytes (refs already gone are skipped)."""

    @abstractmethod
    def sweep_tmp(self, older_than: float = 0.0) -> int:
        """Delete leftover temporary files older than `older_than` seconds; how many were removed
        (all of them at start, when no writer can be running)."""

    @abstractmethod
    def iter_refs(self, before: float) -> Iterator[str]:
        """Every ref stored, last written before the time `before` (the orphan sweep's input)."""

    # -- optional facets -----------------------------------------------------------------------------
    def volume_admin(self) -> VolumeAdmin | None:
        """Volume administration (repairs, rebuild, drain, scrub, health), or None without volumes."""
        return None

    def node_admin(self) -> NodeAdmin | None:
        """Storage-node administration, or None for a store without a cluster map."""
        return None
