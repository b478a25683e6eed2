"""psycopg plumbing of the PostgreSQL metadata store: group commit, the read pool, errors, retries.

Owns how the PostgreSQL backend talks to the server, independent of what it stores:

- `GroupCommitWriter`: one connection per worker process for writes, on one thread. Callers queue a
  function of the connection; the thread takes everything queued, runs every function in one
  transaction, commits once, then resolves every caller's future (8 upserts in one transaction cost
  about one: the commit's WAL flush dominates). Operations run without savepoints first (a round
  trip fewer each); when one raises, the transaction is rolled back and the batch runs again with
  one SAVEPOINT per operation, so that one rolls back alone. A deadlock or serialization failure
  (two gateways locking the same keys in different batches) aborts the whole transaction: the batch
  is run again from the start, so every caller still gets exactly one answer from one committed
  transaction. Statements without parameters share a round trip (`BEGIN; SAVEPOINT op`).
- `ReadPool`: a few threads, each with its own read-only connection: a multi-query read (a version
  listing) runs in one REPEATABLE READ transaction (one snapshot); a single statement runs without
  BEGIN/ROLLBACK (measured: the two extra round trips made a point read cost three). Point reads
  ask for binary results: an inline 4 KiB object is 4 KiB on the wire, not 8 KiB of hex (one packet,
  not two). Measured (bench/meta_cost.py): the same reads on asynchronous connections on the event
  loop (no thread hop) cost the gateway no less CPU per request, so the threads stay. `read_shared`:
  callers of one read (a bucket's row) share it while it is still queued, never once it was sent.
- `MetaUnavailable`: PostgreSQL cannot be reached (down, restarting, failing over). The HTTP layer
  answers 503 ServiceUnavailable; a write whose commit never returned was never acknowledged.
  The writer reconnects for the next batch; a reader thread reconnects on its next call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors

from coffer.server.meta import interface as meta_interface
from coffer.server.meta.interface import MetaUnavailable

T = TypeVar("T")
log = logging.getLogger("coffer.meta.postgres")

MAX_BATCH = 512  # operations per transaction at most (see the SQLite writer)
RETRIES = 8  # deadlock / serialization retries of one batch
CONNECT_TIMEOUT = 5  # seconds: how long a request waits for an unreachable server before 503
_RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure, pg_errors.LockNotAvailable)


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, _RETRYABLE)


def is_unavailable(exc: BaseException) -> bool:
    """The server is gone or refusing work (not an answer about our data)."""
    if isinstance(exc, (pg_errors.AdminShutdown, pg_errors.CannotConnectNow,
                        pg_errors.TooManyConnections, pg_errors.ReadOnlySqlTransaction)):
        return True
    return isinstance(exc, psycopg.OperationalError) and not is_retryable(exc)


def unavailable(exc: BaseException) -> MetaUnavailable:
    return MetaUnavailable(f"metadata database unavailable: {type(exc).__name__}: {str(exc).strip()[:200]}")


def connect(dsn: str, **kwargs: Any) -> psycopg.Connection:
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT, **kwargs)
    except psycopg.OperationalError as exc:
        raise unavailable(exc) from exc


def _deliver(loop: asyncio.AbstractEventLoop, fut: asyncio.Future, ok: bool, value: Any) -> None:
    def settle() -> None:
        if fut.done():
            return
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)

    with contextlib.suppress(RuntimeError):  # the caller's loop is closed: nobody waits
        loop.call_soon_threadsafe(settle)


class _Op:
    __slots__ = ("durable", "fn", "fut", "loop")

    def __init__(self, fn: Callable[[psycopg.Connection], Any], loop: asyncio.AbstractEventLoop,
                 fut: asyncio.Future, durable: bool) -> None:
        self.fn, self.loop, self.fut, self.durable = fn, loop, fut, durable


class GroupCommitWriter:
    """The process's one writer connection: batches queued operations into shared transactions."""

    def __init__(self, dsn: str, conn: psycopg.Connection, name: str = "coffer-pg-writer") -> None:
        self._dsn = dsn
        self._conn: psycopg.Connection | None = conn
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._closed = False
        self.commits = 0
        self.retries = 0  # batches run again after a deadlock / serialization failure
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def write(self, fn: Callable[[psycopg.Connection], T], durable: bool = True) -> T:
        if self._closed:
            raise RuntimeError("metadata store is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        self._queue.put(_Op(fn, loop, fut, durable))
        return await fut

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        if self._conn is not None:
            self._conn.close()
        while True:
            try:
                op = self._queue.get_nowait()
            except queue.Empty:
                break
            if op is not None:
                _deliver(op.loop, op.fut, False, RuntimeError("metadata store is closed"))

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._run_batch(batch)

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = None
            self._conn = connect(self._dsn)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None

    def _run_batch(self, batch: list[_Op]) -> None:
        delay = 0.005
        started = time.perf_counter()
        attempt = 0
        savepoints = False
        while True:
            try:
                outcomes = self._attempt(batch, savepoints)
            except _OperationFailed:
                savepoints = True  # once at most: the batch again, each operation in its own savepoint
                continue
            except BaseException as exc:
                if is_retryable(exc) and attempt < RETRIES - 1:
                    attempt += 1
                    self.retries += 1
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)
                    continue
                if is_unavailable(exc) or isinstance(exc, MetaUnavailable):
                    self._drop_connection()
                    err: BaseException = exc if isinstance(exc, MetaUnavailable) else unavailable(exc)
                else:
                    log.exception("metadata transaction failed")
                    err = exc
                for op in batch:
                    _deliver(op.loop, op.fut, False, err)
                return
            meta_interface.observe_commit(time.perf_counter() - started, len(batch))
            for op, (ok, value) in zip(batch, outcomes, strict=True):
                _deliver(op.loop, op.fut, ok, value)
            return

    def _attempt(self, batch: list[_Op], savepoints: bool) -> list[tuple[bool, Any]]:
        """One transaction of the whole batch. Without savepoints (the first try), every operation runs
        straight in the transaction; one that fails rolls it back: alone in the batch, that is its
        answer; otherwise `_OperationFailed` makes the caller run the batch again with savepoints."""
        conn = self._connection()
        outcomes: list[tuple[bool, Any]] = []
        # statements without parameters go together as one simple query (one round trip); prepare=False:
        # a string of several statements cannot be a prepared statement
        begin = "BEGIN"
        if not any(op.durable for op in batch):
            # bookkeeping whose loss in a crash is harmless: commit without waiting for the flush
            begin += "; SET LOCAL synchronous_commit = off"
        try:
            if not savepoints:
                conn.execute(begin, prepare=False)
                for op in batch:
                    try:
                        outcomes.append((True, op.fn(conn)))
                    except Exception as exc:
                        if is_retryable(exc) or is_unavailable(exc):
                            raise
                        conn.execute("ROLLBACK")
                        if len(batch) == 1:
                            return [(False, exc)]
                        raise _OperationFailed from exc
            else:
                # one savepoint per operation; the previous one is released in the round trip that
                # sets the next (after a ROLLBACK TO, the savepoint still exists: RELEASE is valid)
                setup = f"{begin}; SAVEPOINT op"
                for op in batch:
                    conn.execute(setup, prepare=False)
                    setup = "RELEASE SAVEPOINT op; SAVEPOINT op"
                    try:
                        value = op.fn(conn)
                    except Exception as exc:
                        if is_retryable(exc) or is_unavailable(exc):
                            raise  # the transaction itself is lost: retry or fail the batch
                        conn.execute("ROLLBACK TO SAVEPOINT op")
                        outcomes.append((False, exc))
                    else:
                        outcomes.append((True, value))
            conn.execute("COMMIT")  # also releases the last savepoint
            self.commits += 1
            return outcomes
        except BaseException:
            if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
            raise


class _OperationFailed(Exception):
    """An operation of a batch run without savepoints failed: the transaction was rolled back."""


class ReadPool:
    """A few reader threads, each with its own read-only REPEATABLE READ connection, one transaction per call.

    Not psycopg_pool: with PostgreSQL unreachable a pool makes each caller wait its whole timeout for
    a connection (5 s per request, measured with the cut-link test), while a thread that owns its
    connection retries the connect once and answers 503 at once on "connection refused"; and a pool
    adds nothing when every thread holds exactly one connection anyway.
    """

    def __init__(self, dsn: str, threads: int) -> None:
        self._dsn = dsn
        self._executor = ThreadPoolExecutor(max(1, threads), thread_name_prefix="coffer-pg-read")
        self._local = threading.local()
        self._conns: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._queued: dict[tuple, Future] = {}  # read_shared: reads not yet started, by key
        self._closed = False

    def open(self) -> None:
        pass  # connections are made by each reader thread on its first call

    async def read(self, fn: Callable[[psycopg.Connection], T], snapshot: bool = True) -> T:
        """Run fn on a reader thread; snapshot=False for a single statement (atomic by itself): no
        BEGIN/ROLLBACK round trips around it."""
        if self._closed:
            raise RuntimeError("metadata store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn, snapshot)

    async def read_shared(self, key: tuple, fn: Callable[[psycopg.Connection], T]) -> T:
        """A single-statement read that callers asking the same `key` share while it waits for a reader
        thread: a caller joins only a read whose statement has not been sent yet, so what it gets is
        at least as new as the moment it asked (the same as a read of its own). The result is shared:
        fn must return something immutable (a row tuple)."""
        if self._closed:
            raise RuntimeError("metadata store is closed")
        with self._lock:
            cf = self._queued.get(key)
            if cf is None:
                holder: list[Future] = []

                def run() -> T:
                    with self._lock:  # from now on, a new caller starts a read of its own
                        if self._queued.get(key) is holder[0]:
                            del self._queued[key]
                    return self._call(fn, False)

                cf = self._executor.submit(run)
                holder.append(cf)
                self._queued[key] = cf
        # shield: one caller's cancellation must not cancel the read the others wait for
        return await asyncio.shield(asyncio.wrap_future(cf))

    def _conn(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg.connect(self._dsn, connect_timeout=CONNECT_TIMEOUT, autocommit=True)
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # for snapshot reads
            conn.read_only = True  # a read path must never write by accident
            conn.execute("SET default_transaction_read_only = on")  # also outside snapshot transactions
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _forget(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _call(self, fn: Callable[[psycopg.Connection], T], snapshot: bool = True) -> T:
        # a connection broken since its last use (server restart, failover) gets one fresh attempt
        for attempt in range(2):
            try:
                conn = self._conn()
                if not snapshot:
                    return fn(conn)
                try:
                    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    return fn(conn)
                finally:
                    if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                        conn.execute("ROLLBACK")
            except Exception as exc:
                if is_retryable(exc) and attempt == 0:
                    continue
                if is_unavailable(exc):
                    self._forget()
                    if attempt == 0:
                        continue
                    raise unavailable(exc) from exc
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=True)
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(Exception):
                    conn.close()
            self._conns.clear()
