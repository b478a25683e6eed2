"""SQLite plumbing of the metadata store: connections, busy retries, group commit, read threads.

Owns how the SQLite backend talks to the database file, independent of what it stores:

- `connect` opens a connection in autocommit mode (we issue BEGIN/COMMIT ourselves) with the
  durability, foreign-key and busy-timeout pragmas every connection needs.
- `GroupCommitWriter` is the single writer thread of a process. Callers queue a function of the
  connection; the thread takes everything queued, runs the functions in one `BEGIN IMMEDIATE`
  transaction, commits once and then resolves every caller's future. One
  fsync'ed WAL commit costs ~0.3 ms here, so sharing it between concurrent requests is what makes
  many small concurrent PUTs fast. The operations run without savepoints; when one raises, the
  batch runs again with a SAVEPOINT per operation, so only that one rolls back.
- `Checkpointer` copies the WAL into the database on a thread of its own (PASSIVE checkpoints,
  which never block a writer), shortly after commits: the writer connection's automatic
  checkpoint would otherwise run inside a commit every 1,000 pages, and fsync the database
  file while the callers of that batch (and every write queued behind it) wait.
- `ReadPool` runs read functions on a few threads, each with its own connection, inside a
  read transaction so a multi-query read (a listing page) sees one snapshot.

Several processes (server workers, the `coffer user` command) open the same file; SQLite's file
locks arbitrate between them. Every write transaction starts with BEGIN IMMEDIATE, which takes
the write lock up front: a deferred transaction that upgrades from read to write can hit
SQLITE_BUSY without the busy handler ever being called. SQLITE_BUSY that survives the busy
timeout is retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from coffer.server.meta import interface as meta_interface

T = TypeVar("T")

SYNCHRONOUS_MODES = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
# Upper bound of operations in one transaction: keeps a burst from holding the write lock (and
# every caller's latency) hostage to one huge commit.
MAX_BATCH = 512


def connect(path: str | Path, *, synchronous: str, busy_timeout_ms: int) -> sqlite3.Connection:
    if synchronous.upper() not in SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {sorted(SYNCHRONOUS_MODES)}")
    conn = sqlite3.connect(
        str(path),
        timeout=busy_timeout_ms / 1000,
        isolation_level=None,  # autocommit: transactions are explicit BEGIN/COMMIT
        check_same_thread=False,  # opened by one thread, used by one other, closed by a third
        cached_statements=256,
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA cache_size = -16384")  # 16 MiB of page cache per connection
    return conn


def is_busy(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _BUSY_CODES
    return "locked" in str(exc) or "busy" in str(exc)


def retry_busy(fn: Callable[[], T], *, attempts: int = 8) -> T:
    """Call fn, retrying with backoff while SQLite reports BUSY/LOCKED past its busy timeout."""
    delay = 0.01
    for attempt in range(attempts):
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")


def _deliver(loop: asyncio.AbstractEventLoop, fut: asyncio.Future, ok: bool, value: Any) -> None:
    def settle() -> None:
        if fut.done():  # the caller was cancelled; the write happened regardless
            return
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:
        pass  # the caller's event loop is closed: nobody is waiting for this answer


class _Op:
    __slots__ = ("durable", "fn", "fut", "loop")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any], loop: asyncio.AbstractEventLoop,
                 fut: asyncio.Future, durable: bool = True) -> None:
        self.fn = fn
        self.loop = loop
        self.fut = fut
        self.durable = durable




class GroupCommitWriter:
    """The process's one writer: batches queued operations into shared transactions."""

    def __init__(self, conn: sqlite3.Connection, name: str = "coffer-meta-writer",
                 checkpointer: Checkpointer | None = None) -> None:
        self._conn = conn
        self._checkpointer = checkpointer
        if checkpointer is not None:
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpointer's thread does it
        self._synchronous = int(conn.execute("PRAGMA synchronous").fetchone()[0])  # 2 = FULL, 3 = EXTRA
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self.commits = 0  # transactions committed; lets tests and metrics see batching happen

    async def write(self, fn: Callable[[sqlite3.Connection], T], durable: bool = True) -> T:
        """Run `fn` in a committed transaction. durable=False (WAL only): the commit is not fsynced
        by itself; it becomes durable with the next durable commit of any connection (the WAL is
        one append-only file, so syncing it covers every frame before), for writes whose loss in a
        crash is harmless as long as they are durable before a later write that depends on them."""
        if self._closed:
            raise RuntimeError("metadata store is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        self._queue.put(_Op(fn, loop, fut, durable))
        return await fut

    def close(self) -> None:
        """Finish every queued operation, stop the thread and close the connection (blocking)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()
            self._conn.close()
            # A write that raced close() past the closed check landed behind the sentinel:
            # answer it rather than leave its caller waiting forever.
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
            # Whatever queued up while the previous commit was fsyncing joins this transaction;
            # no deliberate waiting, so an idle store commits a lone write immediately.
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

    def _run_batch(self, batch: list[_Op]) -> None:
        started = time.perf_counter()
        self._commit_batch(batch)
        meta_interface.observe_commit(time.perf_counter() - started, len(batch))

    def _commit_batch(self, batch: list[_Op]) -> None:
        conn = self._conn
        outcomes: list[tuple[bool, Any]] = []
        lazy = self._synchronous > 1 and not any(op.durable for op in batch)
        if lazy:
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL mode: commit without fsync
        try:
            retry_busy(lambda: conn.execute("BEGIN IMMEDIATE"))
            try:
                # Optimistic: no savepoint per operation (two statements, two GIL hand-offs each).
                outcomes = [(True, op.fn(conn)) for op in batch]
            except Exception:
                # One operation refused (a precondition, a missing bucket): run the batch again,
                # each operation in a savepoint of its own, so only that one fails.
                if conn.in_transaction:  # (an I/O error or a full disk may have ended it already)
                    conn.execute("ROLLBACK")
                outcomes = []
                retry_busy(lambda: conn.execute("BEGIN IMMEDIATE"))
                for op in batch:
                    conn.execute("SAVEPOINT op")
                    try:
                        value = op.fn(conn)
                    except Exception as exc:
                        conn.execute("ROLLBACK TO op")
                        conn.execute("RELEASE op")
                        outcomes.append((False, exc))
                    else:
                        conn.execute("RELEASE op")
                        outcomes.append((True, value))
            # In WAL mode a COMMIT that returns BUSY leaves the transaction open and may be retried.
            retry_busy(lambda: conn.execute("COMMIT"))
            self.commits += 1
            if self._checkpointer is not None:
                self._checkpointer.committed()
        except BaseException as exc:
            # The transaction itself failed (I/O error, disk full, lock never obtained): nothing
            # of this batch is durable, so every caller gets the error.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            for op in batch:
                _deliver(op.loop, op.fut, False, exc)
            return
        finally:
            if lazy:
                conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        for op, (ok, value) in zip(batch, outcomes, strict=True):
            _deliver(op.loop, op.fut, ok, value)


class Checkpointer:
    """Checkpoints the WAL on its own thread and connection, `delay` seconds after a commit."""

    def __init__(self, opener: Callable[[], sqlite3.Connection], delay: float = 0.2,
                 name: str = "coffer-meta-checkpoint") -> None:
        self._opener = opener
        self._delay = delay
        self._wanted = threading.Event()
        self._closed = False
        self.checkpoints = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def committed(self) -> None:
        self._wanted.set()

    def close(self) -> None:
        self._closed = True
        self._wanted.set()
        self._thread.join()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                while not self._wanted.wait(1.0):  # (a close racing the clear below is seen within 1 s)
                    if self._closed:
                        return
                if self._closed:
                    return
                time.sleep(self._delay)  # let commits gather: one checkpoint copies them all
                if self._closed:
                    return
                self._wanted.clear()
                try:
                    if conn is None:
                        conn = self._opener()
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.checkpoints += 1
                except sqlite3.Error:
                    pass  # busy (another process checkpoints) or an I/O error: the next commit asks again
        finally:
            if conn is not None:
                conn.close()


class ReadPool:
    """A few reader threads, each with a private connection, for reads off the event loop."""

    def __init__(self, opener: Callable[[], sqlite3.Connection], threads: int) -> None:
        self._opener = opener
        self._executor = ThreadPoolExecutor(max(1, threads), thread_name_prefix="coffer-meta-read")
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise RuntimeError("metadata store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._opener()
            conn.execute("PRAGMA query_only = ON")  # a read path must never write by accident
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn()

        def attempt() -> T:
            # One read transaction per call: every query of a listing page sees the same snapshot.
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.execute("ROLLBACK")

        return retry_busy(attempt)

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
