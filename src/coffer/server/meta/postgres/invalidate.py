"""Cache invalidation across gateways and workers: PostgreSQL LISTEN/NOTIFY on channel `coffer_invalidate`.

Every transaction that changes a user (props and tokens included) or an access key also runs
`notify(conn, ...)`, so PostgreSQL delivers "user:ID" / "key:AK" to every listener when it commits
(never for a rolled-back change or savepoint). Each process that subscribes (`MetaStore.on_invalidate`)
holds one dedicated autocommit connection doing `LISTEN coffer_invalidate`, read by a daemon thread
(`Listener`); payloads are handed to the subscribers on their event loop. When that connection
drops, notifications may be missed: subscribers get "" (drop everything) at once, and again right
after the listener is back, reconnecting with backoff meanwhile. A silent network loss is caught by
a `SELECT 1` every few seconds. The caches keep their TTL as the bound when all else fails.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import psycopg

CHANNEL = "coffer_invalidate"
_WAIT = 1.0  # seconds per notifies() wait: how soon close() is noticed
_PROBE_EVERY = 5  # waits between liveness probes of the connection
_BACKOFF_MAX = 5.0
_CONNECT_TIMEOUT = 5

log = logging.getLogger("coffer.meta.invalidate")


def notify(conn: psycopg.Connection, what: str) -> None:
    """Queue `what` ("user:ID", "key:AK") for delivery when the caller's transaction commits."""
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, what))


class Listener:
    """One LISTEN connection and its reader thread; `deliver(payload)` is called on that thread."""

    def __init__(self, dsn: str, deliver: Callable[[str], None]) -> None:
        self.dsn = dsn
        self.deliver = deliver
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="coffer-invalidate", daemon=True)
        self.listening = threading.Event()  # set while LISTEN is in effect (tests, diagnostics)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=_WAIT * 3)

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=_CONNECT_TIMEOUT,
                                       application_name=f"coffer-invalidate:{os.getpid()}")
            except psycopg.Error as exc:
                log.warning("cache invalidation: cannot connect to PostgreSQL (%s); retrying in %.1fs", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                continue
            try:
                conn.execute(f"LISTEN {CHANNEL}")
                self.listening.set()
                self.deliver("")  # whatever changed before LISTEN took effect
                backoff = 0.1
                waits = 0
                while not self._stop.is_set():
                    for n in conn.notifies(timeout=_WAIT):
                        self.deliver(n.payload)
                    waits += 1
                    if waits % _PROBE_EVERY == 0:
                        conn.execute("SELECT 1")
            except psycopg.Error as exc:
                if not self._stop.is_set():
                    log.warning("cache invalidation: LISTEN connection lost (%s); caches dropped", exc)
            finally:
                self.listening.clear()
                self.deliver("")  # notifications may be missed until LISTEN is back
                try:
                    conn.close()
                except psycopg.Error:
                    pass
