"""Coordination on PostgreSQL (a cluster): session advisory locks, the repair queue and saved state.

See meta/coordination.py for the contract. A lock is ``pg_try_advisory_lock`` (or, waiting,
``pg_advisory_lock``) on a dedicated connection, held as long as that session lives: a gateway killed
with -9 closes its sockets, the server ends the session and the lock is free. TCP keepalives on the
lock connections make a silently vanished host's locks fall within about half a minute too. A lock
connection is named (``application_name = coffer-lock:<name>:<pid>``) so ``pg_stat_activity`` shows who holds
what. Released locks give their connection back to a small pool for the next lock.

The cluster's keys (``shared_keys``: the SSE master key, the KMS key store, the token signing key) are
read and created here too (crypto/keys.py ``KeyVault``): created once with ``ON CONFLICT DO NOTHING``
and read back, changed under a transaction-level advisory lock.

The queue is claimed with ``FOR UPDATE SKIP LOCKED`` and every time is the database's clock
(``now()``), so gateways never compare their own clocks.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import psycopg

from coffer.server.meta.coordination import Coordination, HeldLock, lock_key
from coffer.server.meta.postgres.engine import connect
from coffer.server.meta.postgres.schema import migrate

_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
_NOW = "extract(epoch FROM clock_timestamp())"


class _AdvisoryLock(HeldLock):
    def __init__(self, owner: PostgresCoordination, conn: psycopg.Connection, key: int) -> None:
        self._owner, self._conn, self._key = owner, conn, key

    def alive(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
            conn.execute("SET application_name = 'coffer-lock'")
        except psycopg.Error:
            conn.close()  # the session ends: the lock with it
            return
        self._owner._give_back(conn)


class PostgresCoordination(Coordination):
    def __init__(self, dsn: str) -> None:
        super().__init__()
        self.dsn = dsn
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._idle: list[psycopg.Connection] = []
        self._migrated = False

    # -- locks -------------------------------------------------------------------------------------
    def _acquire(self, name: str, blocking: bool) -> HeldLock | None:
        key = lock_key(name)
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is not None:
            try:
                conn.execute("SELECT 1")  # an idle connection may have died with a server restart
            except psycopg.Error:
                conn.close()
                conn = None
        if conn is None or conn.closed:
            conn = connect(self.dsn, **_KEEPALIVE)
        try:
            conn.execute("SELECT set_config('application_name', %s, false)", (f"coffer-lock:{name}:{os.getpid()}",))
            if blocking:
                conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            else:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                if not (row and row[0]):
                    conn.execute("SET application_name = 'coffer-lock'")
                    self._give_back(conn)
                    return None
        except BaseException:
            conn.close()
            raise
        return _AdvisoryLock(self, conn, key)

    def _give_back(self, conn: psycopg.Connection) -> None:
        with self._lock:
            if len(self._idle) < 2:
                self._idle.append(conn)
                return
        conn.close()

    # -- queue and state: one autocommit connection, reconnected on failure ---------------------------
    def _run(self, fn: Any) -> Any:
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.dsn)
                if not self._migrated:
                    migrate(self._conn)
                    self._migrated = True
            conn = self._conn
            try:
                return fn(conn)
            except psycopg.OperationalError:
                conn.close()
                self._conn = None
                raise

    def queue_add(self, refs: Iterable[str]) -> None:
        rows = sorted(set(refs))
        if rows:
            self._run(lambda c: c.execute(
                f"INSERT INTO repair_queue (ref, queued) SELECT r, {_NOW} FROM unnest(%s::text[]) AS r "
                "ON CONFLICT (ref) DO NOTHING", (rows,)))

    def queue_claim(self, limit: int, lease: float, *, force: bool = False) -> list[str]:
        due = "" if force else f"WHERE not_before <= {_NOW}"
        rows = self._run(lambda c: c.execute(
            f"UPDATE repair_queue SET not_before = {_NOW} + %s WHERE ref IN (SELECT ref FROM repair_queue {due} "
            "ORDER BY ref LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING ref", (float(lease), int(limit))).fetchall())
        return sorted(r[0] for r in rows)

    def queue_remove(self, refs: Iterable[str]) -> None:
        rows = sorted(set(refs))
        if rows:
            self._run(lambda c: c.execute("DELETE FROM repair_queue WHERE ref = ANY(%s::text[])", (rows,)))

    def queue_list(self, limit: int = 100_000) -> list[str]:
        return [r[0] for r in self._run(lambda c: c.execute(
            "SELECT ref FROM repair_queue ORDER BY ref LIMIT %s", (int(limit),)).fetchall())]

    def queue_length(self) -> int:
        return int(self._run(lambda c: c.execute("SELECT count(*) FROM repair_queue").fetchone()[0]))

    def load_state(self, name: str) -> dict[str, Any] | None:
        row = self._run(lambda c: c.execute("SELECT doc FROM upkeep_state WHERE name = %s", (name,)).fetchone())
        return json.loads(row[0]) if row else None

    def save_state(self, name: str, doc: dict[str, Any]) -> None:
        self._run(lambda c: c.execute(
            "INSERT INTO upkeep_state (name, doc) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET doc = EXCLUDED.doc",
            (name, json.dumps(doc))))

    # -- the cluster's keys (crypto/keys.py `KeyVault`) -----------------------------------------------
    def get_or_create(self, name: str, value: bytes) -> bytes:
        def go(c: psycopg.Connection) -> bytes:
            c.execute("INSERT INTO shared_keys (name, value) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
                      (name, value))
            return bytes(c.execute("SELECT value FROM shared_keys WHERE name = %s", (name,)).fetchone()[0])

        return self._run(go)

    def read(self, name: str) -> bytes | None:
        row = self._run(lambda c: c.execute("SELECT value FROM shared_keys WHERE name = %s", (name,)).fetchone())
        return None if row is None else bytes(row[0])

    def update(self, name: str, fn: Callable[[bytes | None], bytes]) -> bytes:
        def go(c: psycopg.Connection) -> bytes:
            with c.transaction():
                c.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("key:" + name),))  # also when absent
                row = c.execute("SELECT value FROM shared_keys WHERE name = %s", (name,)).fetchone()
                new = fn(None if row is None else bytes(row[0]))
                c.execute("INSERT INTO shared_keys (name, value) VALUES (%s, %s) ON CONFLICT (name) "
                          "DO UPDATE SET value = EXCLUDED.value", (name, new))
                return new

        return self._run(go)

    def close(self) -> None:
        with self._lock:
            conns = [*self._idle, *([self._conn] if self._conn is not None else [])]
            self._idle, self._conn = [], None
        for conn in conns:
            conn.close()
