"""The cluster map on SQLite (one host: tests, a cluster whose nodes share a file system).

See meta/cluster.py for the model. WAL mode and a busy timeout let several processes (nodes
heartbeating, gateways reading) share the file; every change runs in one ``BEGIN IMMEDIATE``
transaction together with the generation bump. The clock is SQLite's (this host's).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from coffer.server.meta.cluster import NodeRecord, NodeState, UnknownNode, VolumeRecord
from coffer.server.meta.sqlite.schema import CLUSTER_MAP_SCHEMA

_NOW = "((julianday('now') - 2440587.5) * 86400.0)"


class SqliteClusterMap:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(CLUSTER_MAP_SCHEMA)

    def _tx(self, fn):  # one immediate transaction; the caller's function returns whether to bump
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                bump = fn(self._db)
                if bump:
                    self._db.execute("UPDATE cluster_layout SET generation = generation + 1")
                gen = self._db.execute("SELECT generation FROM cluster_layout").fetchone()[0]
                self._db.execute("COMMIT")
                return gen
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def register_node(self, node_id: str, *, zone: str, host: str, address: str,
                      volumes: Sequence[tuple[str, float]]) -> int:
        def go(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT zone, host, address FROM nodes WHERE id = ?", (node_id,)).fetchone()
            changed = row != (zone, host, address)
            if row is None:
                db.execute(f"INSERT INTO nodes (id, zone, host, address, last_seen) VALUES (?, ?, ?, ?, {_NOW})",
                           (node_id, zone, host, address))
            else:
                db.execute(f"UPDATE nodes SET zone = ?, host = ?, address = ?, last_seen = {_NOW} WHERE id = ?",
                           (zone, host, address, node_id))
            for uid, weight in volumes:
                old = db.execute("SELECT node, weight FROM volumes WHERE uuid = ?", (uid,)).fetchone()
                if old is None:
                    db.execute("INSERT INTO volumes (uuid, node, weight) VALUES (?, ?, ?)", (uid, node_id, weight))
                    changed = True
                elif old != (node_id, weight):
                    db.execute("UPDATE volumes SET node = ?, weight = ? WHERE uuid = ?", (node_id, weight, uid))
                    changed = True
            return changed

        return self._tx(go)

    def heartbeat(self, node_id: str) -> None:
        with self._lock:
            cur = self._db.execute(f"UPDATE nodes SET last_seen = {_NOW} WHERE id = ?", (node_id,))
            if cur.rowcount == 0:
                raise UnknownNode(node_id)

    def nodes(self) -> list[NodeRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT id, zone, host, address, state, last_seen, {_NOW} - last_seen "
                                    "FROM nodes ORDER BY id").fetchall()
        return [NodeRecord(*r) for r in rows]

    def volumes(self) -> list[VolumeRecord]:
        with self._lock:
            rows = self._db.execute("SELECT uuid, node, weight, state FROM volumes ORDER BY uuid").fetchall()
        return [VolumeRecord(*r) for r in rows]

    def generation(self) -> int:
        with self._lock:
            return self._db.execute("SELECT generation FROM cluster_layout").fetchone()[0]

    def set_node_state(self, node_id: str, state: NodeState) -> int:
        def go(db: sqlite3.Connection) -> bool:
            cur = db.execute("UPDATE nodes SET state = ? WHERE id = ?", (str(state), node_id))
            if cur.rowcount == 0:
                raise UnknownNode(node_id)
            db.execute("UPDATE volumes SET state = ? WHERE node = ?", (str(state), node_id))
            return True

        return self._tx(go)

    def close(self) -> None:
        with self._lock:
            self._db.close()
