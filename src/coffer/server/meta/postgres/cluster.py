"""The cluster map on PostgreSQL (psycopg 3): the shared database of a real cluster.

See meta/cluster.py for the model. Every change and its generation bump commit in one transaction
(the layout row is locked ``FOR UPDATE`` first, so concurrent changes serialise on it); liveness
uses the database's ``now()``, never a node's clock. One small connection of its own (autocommit
off, reconnected on failure): the cluster map is a handful of rows read every few seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from coffer.server.meta.cluster import NodeRecord, NodeState, UnknownNode, VolumeRecord
from coffer.server.meta.postgres.schema import create_cluster_map


class PostgresClusterMap:
    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._run(create_cluster_map)

    def _connect(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, connect_timeout=5)
        return self._conn

    def _run(self, fn: Callable[[psycopg.Cursor], Any]) -> Any:
        """One transaction; a broken connection is dropped (the next call reconnects)."""
        with self._lock:
            conn = self._connect()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    return fn(cur)
            except psycopg.OperationalError:
                conn.close()
                self._conn = None
                raise

    def _tx(self, fn: Callable[[psycopg.Cursor], bool]) -> int:
        def go(cur: psycopg.Cursor) -> int:
            cur.execute("SELECT generation FROM cluster_layout WHERE id = 1 FOR UPDATE")
            if fn(cur):
                cur.execute("UPDATE cluster_layout SET generation = generation + 1 WHERE id = 1 RETURNING generation")
            else:
                cur.execute("SELECT generation FROM cluster_layout WHERE id = 1")
            return int(cur.fetchone()[0])

        return self._run(go)

    def register_node(self, node_id: str, *, zone: str, host: str, address: str,
                      volumes: Sequence[tuple[str, float]]) -> int:
        def go(cur: psycopg.Cursor) -> bool:
            cur.execute("SELECT zone, host, address FROM nodes WHERE id = %s", (node_id,))
            row = cur.fetchone()
            changed = row != (zone, host, address)
            cur.execute("INSERT INTO nodes (id, zone, host, address, last_seen) VALUES (%s, %s, %s, %s, now()) "
                        "ON CONFLICT (id) DO UPDATE SET zone = EXCLUDED.zone, host = EXCLUDED.host, "
                        "address = EXCLUDED.address, last_seen = now()", (node_id, zone, host, address))
            for uid, weight in sorted(volumes):
                cur.execute("SELECT node, weight FROM volumes WHERE uuid = %s", (uid,))
                old = cur.fetchone()
                if old != (node_id, weight):
                    cur.execute("INSERT INTO volumes (uuid, node, weight) VALUES (%s, %s, %s) ON CONFLICT (uuid) "
                                "DO UPDATE SET node = EXCLUDED.node, weight = EXCLUDED.weight", (uid, node_id, weight))
                    changed = True
            return changed

        return self._tx(go)

    def heartbeat(self, node_id: str) -> None:
        def go(cur: psycopg.Cursor) -> None:
            cur.execute("UPDATE nodes SET last_seen = now() WHERE id = %s", (node_id,))
            if cur.rowcount == 0:
                raise UnknownNode(node_id)

        self._run(go)

    def nodes(self) -> list[NodeRecord]:
        def go(cur: psycopg.Cursor) -> list[NodeRecord]:
            cur.execute("SELECT id, zone, host, address, state, extract(epoch FROM last_seen)::float8, "
                        "extract(epoch FROM now() - last_seen)::float8 FROM nodes ORDER BY id")
            return [NodeRecord(*r) for r in cur.fetchall()]

        return self._run(go)

    def volumes(self) -> list[VolumeRecord]:
        def go(cur: psycopg.Cursor) -> list[VolumeRecord]:
            cur.execute("SELECT uuid, node, weight, state FROM volumes ORDER BY uuid")
            return [VolumeRecord(*r) for r in cur.fetchall()]

        return self._run(go)

    def generation(self) -> int:
        return self._run(lambda cur: int(cur.execute("SELECT generation FROM cluster_layout").fetchone()[0]))

    def set_node_state(self, node_id: str, state: NodeState) -> int:
        def go(cur: psycopg.Cursor) -> bool:
            cur.execute("UPDATE nodes SET state = %s WHERE id = %s", (str(state), node_id))
            if cur.rowcount == 0:
                raise UnknownNode(node_id)
            cur.execute("UPDATE volumes SET state = %s WHERE node = %s", (str(state), node_id))
            return True

        return self._tx(go)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
