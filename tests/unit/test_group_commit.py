"""The SQLite group-commit writer: operations queued together share one transaction, and one that
fails rolls back alone (its partial writes too) while the others of its batch commit."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from coffer.server.meta.sqlite.engine import GroupCommitWriter, connect


@pytest.fixture
def writer(tmp_path):
    conn = connect(tmp_path / "t.db", synchronous="FULL", busy_timeout_ms=5000)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
    w = GroupCommitWriter(conn)
    yield w, tmp_path / "t.db"
    w.close()


def rows(path) -> dict[str, int]:
    c = sqlite3.connect(path)
    try:
        return dict(c.execute("SELECT k, v FROM t").fetchall())
    finally:
        c.close()


def insert(k: str, v: int):
    def op(c: sqlite3.Connection) -> str:
        c.execute("INSERT INTO t VALUES (?, ?)", (k, v))
        return k
    return op


def insert_then_fail(k: str):
    def op(c: sqlite3.Connection) -> str:
        c.execute("INSERT INTO t VALUES (?, 1)", (k,))  # written, then the operation fails
        raise ValueError(f"refused {k}")
    return op


def test_a_failing_operation_rolls_back_alone_in_its_batch(writer):
    w, path = writer
    gate = threading.Event()

    async def main():
        # Hold the writer thread in a first operation so that everything below queues into one batch.
        blocker = asyncio.ensure_future(w.write(lambda c: gate.wait(5)))
        await asyncio.sleep(0.05)
        ops = [insert("a", 1), insert_then_fail("b"), insert("c", 3), insert("a", 9), insert("d", 4)]
        futs = [asyncio.ensure_future(w.write(op)) for op in ops]
        await asyncio.sleep(0.05)
        gate.set()
        await blocker
        return await asyncio.gather(*futs, return_exceptions=True)

    commits_before = w.commits
    out = asyncio.run(main())
    assert out[0] == "a" and out[2] == "c" and out[4] == "d"
    assert isinstance(out[1], ValueError) and "refused b" in str(out[1])
    assert isinstance(out[3], sqlite3.IntegrityError)  # "a" is taken by the first operation of the batch
    assert rows(path) == {"a": 1, "c": 3, "d": 4}  # b's own insert was rolled back, nobody else's
    assert w.commits - commits_before == 2  # the blocker's batch, then one batch for the five


def test_a_batch_without_failures_commits_every_operation(writer):
    w, path = writer

    async def main():
        return await asyncio.gather(*(w.write(insert(f"k{i}", i)) for i in range(50)))

    assert asyncio.run(main()) == [f"k{i}" for i in range(50)]
    assert rows(path) == {f"k{i}": i for i in range(50)}
