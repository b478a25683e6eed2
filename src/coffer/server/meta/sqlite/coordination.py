"""Coordination on SQLite (one host): flock files beside the database, the repair queue and saved state in it.

See meta/coordination.py for the contract. A lock is an flock on ``<name>.lock`` in the database's
folder (``DATA/meta/``): every process of the host that opens the same database shares it, and the
kernel drops it when its holder dies. The queue and the state are tables of the metadata database
(schema.py), written on a connection of this object's own (the healer's thread, or a request that
met damage), never through the store's group-commit writer.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from coffer.server.meta.coordination import Coordination, HeldLock
from coffer.server.meta.sqlite.engine import connect, retry_busy
from coffer.server.meta.sqlite.schema import migrate


class _FileLock(HeldLock):
    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def alive(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None


class SqliteCoordination(Coordination):
    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = None

    def _acquire(self, name: str, blocking: bool) -> HeldLock | None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.parent / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return _FileLock(fd)

    def _run(self, sql: str, params: Any = (), *, many: bool = False, write: bool = True) -> list:
        with self._lock:
            if self._conn is None:
                conn = connect(self.path, synchronous="FULL", busy_timeout_ms=10000)
                retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"))
                retry_busy(lambda: migrate(conn))
                self._conn = conn
            conn = self._conn

            def go() -> list:
                if many:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        conn.executemany(sql, params)
                        conn.execute("COMMIT")
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
                    return []
                return conn.execute(sql, params).fetchall()

            return retry_busy(go)

    def queue_add(self, refs: Iterable[str]) -> None:
        rows = [(ref, time.time()) for ref in refs]
        if rows:
            self._run("INSERT OR IGNORE INTO repair_queue (ref, queued, not_before) VALUES (?, ?, 0)", rows, many=True)

    def queue_claim(self, limit: int, lease: float, *, force: bool = False) -> list[str]:
        now = time.time()
        # One statement: SQLite runs it under the database's write lock, so claimers never overlap.
        rows = self._run(
            "UPDATE repair_queue SET not_before = ? WHERE ref IN (SELECT ref FROM repair_queue "
            "WHERE not_before <= ? ORDER BY ref LIMIT ?) RETURNING ref",
            (now + lease, float("inf") if force else now, int(limit)))
        return sorted(r[0] for r in rows)

    def queue_remove(self, refs: Iterable[str]) -> None:
        wanted = sorted(set(refs))
        # Read first: deletes of objects call this for every freed ref, and most were never queued;
        # a read takes no write lock (the store's writer is never made to wait for nothing).
        queued = [r for i in range(0, len(wanted), 500) for (r,) in self._run(
            f"SELECT ref FROM repair_queue WHERE ref IN ({', '.join('?' * len(wanted[i:i + 500]))})",
            wanted[i:i + 500])]
        if queued:
            self._run("DELETE FROM repair_queue WHERE ref = ?", [(r,) for r in queued], many=True)

    def queue_list(self, limit: int = 100_000) -> list[str]:
        return [r[0] for r in self._run("SELECT ref FROM repair_queue ORDER BY ref LIMIT ?", (int(limit),))]

    def queue_length(self) -> int:
        return int(self._run("SELECT count(*) FROM repair_queue")[0][0])

    def load_state(self, name: str) -> dict[str, Any] | None:
        rows = self._run("SELECT doc FROM upkeep_state WHERE name = ?", (name,))
        return json.loads(rows[0][0]) if rows else None

    def save_state(self, name: str, doc: dict[str, Any]) -> None:
        self._run("INSERT INTO upkeep_state (name, doc) VALUES (?, ?) "
                  "ON CONFLICT (name) DO UPDATE SET doc = excluded.doc", (name, json.dumps(doc)))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
