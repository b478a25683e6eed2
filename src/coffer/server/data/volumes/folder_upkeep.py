"""The upkeep state of a multi-volume store built without a metadata store: in its data folder.

Implements data/interface.py `Upkeep` with files under ``DATA/heal/``: an flock per lock name
(``<name>.lock``), one empty file per queued ref (``queue/<ref>``, its mtime the time it is due again)
and one JSON file per saved state (``<name>.json``). A server never uses it (the runner hands the store
one backed by the metadata, shared by every gateway); stores made by tests and tools on a bare folder
do. ``adopt`` moves what an older Coffer left in these files into the metadata-backed upkeep.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from coffer.server.data.durable import flock, write_json
from coffer.server.data.interface import Upkeep


class FolderUpkeep:
    def __init__(self, heal_dir: Path) -> None:
        self.heal_dir = Path(heal_dir)
        self.queue_dir = self.heal_dir / "queue"
        self._local: dict[str, threading.RLock] = {}
        self._depth: dict[str, int] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def lock(self, name: str, *, blocking: bool = True) -> Iterator[bool]:
        with self._guard:
            local = self._local.setdefault(name, threading.RLock())
        if not local.acquire(blocking=blocking):
            yield False
            return
        try:
            if self._depth.get(name, 0):  # re-entered by the holding thread
                self._depth[name] += 1
                try:
                    yield True
                finally:
                    self._depth[name] -= 1
                return
            self.heal_dir.mkdir(parents=True, exist_ok=True)
            with flock(self.heal_dir / f"{name}.lock", blocking=blocking) as got:
                if not got:
                    yield False
                    return
                self._depth[name] = 1
                try:
                    yield True
                finally:
                    self._depth[name] = 0
        finally:
            local.release()

    def try_lock(self, name: str) -> _Held | None:
        stack = contextlib.ExitStack()
        if not stack.enter_context(self.lock(name, blocking=False)):
            stack.close()
            return None
        return _Held(stack)

    def queue_add(self, refs: Iterable[str]) -> None:
        for ref in refs:
            try:
                self.queue_dir.mkdir(parents=True, exist_ok=True)
                os.close(os.open(self.queue_dir / ref, os.O_WRONLY | os.O_CREAT, 0o640))
            except OSError:
                pass  # the scrubber finds the damage anyway; a read must not fail for this

    def queue_claim(self, limit: int, lease: float, *, force: bool = False) -> list[str]:
        now = time.time()
        out = []
        for ref in self.queue_list():
            if len(out) >= limit:
                break
            qfile = self.queue_dir / ref
            try:
                if qfile.stat().st_mtime > now and not force:
                    continue  # claimed or failed recently: its due time (the mtime) has not come
                os.utime(qfile, (now + lease, now + lease))
            except FileNotFoundError:
                continue
            out.append(ref)
        return out

    def queue_remove(self, refs: Iterable[str]) -> None:
        for ref in refs:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.queue_dir / ref)

    def queue_list(self, limit: int = 100_000) -> list[str]:
        try:
            return sorted(os.listdir(self.queue_dir))[:limit]
        except FileNotFoundError:
            return []

    def queue_length(self) -> int:
        return len(self.queue_list())

    def load_state(self, name: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.heal_dir / f"{name}.json").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def save_state(self, name: str, doc: dict[str, Any]) -> None:
        self.heal_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.heal_dir / f"{name}.json", doc)

    def close(self) -> None:
        pass


class _Held:
    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack: contextlib.ExitStack | None = stack

    def alive(self) -> bool:
        return self._stack is not None

    def release(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None


def adopt(heal_dir: Path, upkeep: Upkeep, states: Iterable[str] = ("rebalance",)) -> int:
    """Move the repair queue files and saved states an older Coffer kept in ``heal_dir`` into ``upkeep``
    (added first, then the files removed: a crash in between only queues a ref twice, which is
    idempotent). Returns the number of refs moved."""
    old = FolderUpkeep(heal_dir)
    refs = old.queue_list()
    if refs:
        upkeep.queue_add(refs)
        old.queue_remove(refs)
    for name in states:
        doc = old.load_state(name)
        if doc is not None:
            if upkeep.load_state(name) is None:
                upkeep.save_state(name, doc)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(heal_dir / f"{name}.json")
    return len(refs)
