"""Coordination of background work through the metadata: named cluster locks, the repair queue, saved cursors.

Owns the contract both engines implement (``sqlite/coordination.py``, ``postgres/coordination.py``) for
what every gateway of a cluster must share besides users, buckets and objects:

* ``lock(name, blocking=...)``: a named lock held for a session, by at most one process of the cluster
  (PostgreSQL: ``pg_advisory_lock`` on a dedicated connection; SQLite: an flock on ``<name>.lock``
  beside the database file, one host). It dies with its holder: a killed process's connection (or file
  descriptor) is closed by the kernel and the lock is free for the next one. Inside one process the
  lock is re-entrant for the thread holding it and serialises the others (a healer pass that holds
  ``repair`` repairs ref by ref without asking again).
* the repair queue (``repair_queue``: ref, not_before): any gateway that sees a missing or damaged
  fragment adds the ref; whichever gateway runs repair claims a batch (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL). A claim pushes the ref's ``not_before`` forward by the lease: a ref whose repair failed,
  or whose claimer died, comes back by itself when the lease ends; a repaired ref is removed.
* saved state (``upkeep_state``: name -> JSON document): the rebalance and scrub cursors and the
  lifecycle runner's position, so a pass resumes on whichever gateway holds the lock next.

Synchronous by design, like the cluster map: the healer runs in a thread, and the request path only
adds to the queue when a read or write meets damage.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

# Names of the cluster locks that Coffer takes (one holder in the whole cluster each).
LIFECYCLE = "lifecycle"  # the lifecycle rules' runner (held for the process's life)
HEALER = "healer"  # the healer loop: repair queue, scrub slices, rebalance slices (held while running)
REPAIR = "repair"  # one repair (or fragment move) at a time
SCRUB = "scrub"  # one scrub pass at a time
REBALANCE = "rebalance"  # one rebalance pass at a time


def lock_key(name: str) -> int:
    """A stable signed 64-bit number for a lock name (PostgreSQL's advisory-lock key space)."""
    return int.from_bytes(hashlib.sha256(b"coffer-lock:" + name.encode()).digest()[:8], "big", signed=True)


class HeldLock(ABC):
    """A cluster lock this process holds; ``release()`` (or leaving the ``with``) frees it."""

    @abstractmethod
    def alive(self) -> bool:
        """Still held (PostgreSQL: the connection holding it still answers)."""

    @abstractmethod
    def release(self) -> None: ...

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Coordination(ABC):
    """Locks, the repair queue and saved state shared by every process using one metadata database."""

    def __init__(self) -> None:
        self._local: dict[str, tuple[threading.RLock, list]] = {}
        self._local_guard = threading.Lock()

    # -- locks -------------------------------------------------------------------------------------
    @abstractmethod
    def _acquire(self, name: str, blocking: bool) -> HeldLock | None:
        """The cross-process lock itself (not re-entrant)."""

    def try_lock(self, name: str) -> HeldLock | None:
        """The lock if no other process (or thread) holds it, else None; never waits."""
        local, state = self._slot(name)
        if not local.acquire(blocking=False):
            return None
        return self._enter(name, local, state, blocking=False)

    @contextmanager
    def lock(self, name: str, *, blocking: bool = True) -> Iterator[bool]:
        """Hold ``name`` while the block runs; yields False instead of waiting when ``blocking`` is off
        and another process or thread holds it."""
        local, state = self._slot(name)
        if not local.acquire(blocking=blocking):
            yield False
            return
        held = self._enter(name, local, state, blocking=blocking)
        if held is None:
            yield False
            return
        try:
            yield True
        finally:
            held.release()

    def _slot(self, name: str) -> tuple[threading.RLock, list]:
        with self._local_guard:
            if name not in self._local:
                self._local[name] = (threading.RLock(), [0, None])  # [depth, the process-wide HeldLock]
            return self._local[name]

    def _enter(self, name: str, local: threading.RLock, state: list, *, blocking: bool) -> HeldLock | None:
        """Called with ``local`` held: the first level of this thread takes the process-wide lock."""
        if state[0] == 0:
            try:
                outer = self._acquire(name, blocking)
            except BaseException:
                local.release()
                raise
            if outer is None:
                local.release()
                return None
            state[1] = outer
        state[0] += 1
        return _Level(local, state)

    # -- the repair queue --------------------------------------------------------------------------
    @abstractmethod
    def queue_add(self, refs: Iterable[str]) -> None:
        """Queue refs for repair (idempotent: a ref already queued keeps its place and retry time)."""

    @abstractmethod
    def queue_claim(self, limit: int, lease: float, *, force: bool = False) -> list[str]:
        """Up to ``limit`` due refs (``force``: every ref, due or not), in ref order, each pushed back by
        ``lease`` seconds: not claimed again until then unless removed. Concurrent claimers get
        disjoint refs."""

    @abstractmethod
    def queue_remove(self, refs: Iterable[str]) -> None: ...

    @abstractmethod
    def queue_list(self, limit: int = 100_000) -> list[str]:
        """Queued refs in order, due or not."""

    @abstractmethod
    def queue_length(self) -> int: ...

    # -- saved state -------------------------------------------------------------------------------
    @abstractmethod
    def load_state(self, name: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def save_state(self, name: str, doc: dict[str, Any]) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class _Level(HeldLock):
    """One level of a re-entrant hold: the last one out releases the process-wide lock."""

    def __init__(self, local: threading.RLock, state: list) -> None:
        self._local, self._state, self._done = local, state, False

    def alive(self) -> bool:
        outer = self._state[1]
        return not self._done and outer is not None and outer.alive()

    def release(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._state[0] -= 1
            if self._state[0] == 0:
                outer, self._state[1] = self._state[1], None
                if outer is not None:
                    outer.release()
        finally:
            self._local.release()
