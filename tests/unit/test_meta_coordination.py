"""Conformance of the metadata stores' coordination (meta/coordination.py), engine by engine: named cluster
locks held for a session and gone with their holder, the repair queue and its claims, saved state.

Two handles on one database stand for two processes (two gateways on PostgreSQL); the lock's holder
killed with -9 is a real child process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from meta_records import Backend

from coffer.server.meta.coordination import Coordination


def _handles(backend: Backend, n: int = 2) -> list[Coordination]:
    return [backend.make().coordination() for _ in range(n)]


def test_a_lock_has_one_holder_among_handles(backend: Backend) -> None:
    a, b = _handles(backend)
    try:
        held = a.try_lock("rebalance")
        assert held is not None and held.alive()
        assert b.try_lock("rebalance") is None
        with b.lock("rebalance", blocking=False) as got:
            assert not got
        assert b.try_lock("scrub") is not None  # another name is another lock
        held.release()
        assert not held.alive()
        again = b.try_lock("rebalance")
        assert again is not None
        assert a.try_lock("rebalance") is None
        again.release()
    finally:
        a.close()
        b.close()


def test_a_lock_is_reentrant_in_its_thread_and_released_by_the_last_level(backend: Backend) -> None:
    a, b = _handles(backend)
    try:
        with a.lock("repair") as outer:
            assert outer
            with a.lock("repair") as inner:  # a healer pass repairing ref by ref
                assert inner
            assert b.try_lock("repair") is None  # the outer level still holds it
        held = b.try_lock("repair")
        assert held is not None
        held.release()
    finally:
        a.close()
        b.close()


_HOLDER = textwrap.dedent("""
    import sys, time
    from coffer.server.meta.postgres.store import PostgresMetaStore
    from coffer.server.meta.sqlite.store import SqliteMetaStore

    where = sys.argv[1]
    store = PostgresMetaStore(where) if where.startswith("postgresql://") else SqliteMetaStore(where)
    held = store.coordination().try_lock("lifecycle")
    print("held" if held else "busy", flush=True)
    time.sleep(600)
""")


def test_a_lock_dies_with_its_holder(backend: Backend) -> None:
    where = backend.dsn or str(backend.path)
    child = subprocess.Popen([sys.executable, "-c", _HOLDER, where], stdout=subprocess.PIPE, text=True,
                             start_new_session=True)
    (mine,) = _handles(backend, 1)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        assert mine.try_lock("lifecycle") is None
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 15
        held = None
        while held is None and time.monotonic() < deadline:
            held = mine.try_lock("lifecycle")
            time.sleep(0.05)
        assert held is not None, "the lock outlived its killed holder"
        held.release()
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(10)
        mine.close()


def test_the_repair_queue_is_shared_and_claims_are_disjoint(backend: Backend) -> None:
    a, b = _handles(backend)
    try:
        assert a.queue_length() == 0 and a.queue_claim(10, 30) == []
        a.queue_add(["r3", "r1", "r2"])
        b.queue_add(["r2", "r4"])  # idempotent
        assert b.queue_list() == ["r1", "r2", "r3", "r4"] and a.queue_length() == 4
        first = a.queue_claim(2, 30)
        second = b.queue_claim(10, 30)
        assert first == ["r1", "r2"] and second == ["r3", "r4"]
        assert a.queue_claim(10, 30) == []  # every ref is leased
        assert sorted(b.queue_claim(10, 30, force=True)) == ["r1", "r2", "r3", "r4"]  # force: due or not
        a.queue_remove(["r1", "r3", "nope"])
        assert b.queue_list() == ["r2", "r4"]
        a.queue_add(["r2"])  # queued again while leased: keeps its lease
        assert b.queue_claim(10, 30) == []
        b.queue_claim(10, 0, force=True)  # a lease of 0: due again at once (a failed repair's retry)
        assert a.queue_claim(10, 30) == ["r2", "r4"]
    finally:
        a.close()
        b.close()


def test_saved_state_is_shared(backend: Backend) -> None:
    a, b = _handles(backend)
    try:
        assert a.load_state("rebalance") is None
        a.save_state("rebalance", {"cursor": "abc", "generation": 3, "stats": {"moved": 1}})
        assert b.load_state("rebalance") == {"cursor": "abc", "generation": 3, "stats": {"moved": 1}}
        b.save_state("rebalance", {"cursor": ""})
        assert a.load_state("rebalance") == {"cursor": ""} and a.load_state("scrub") is None
    finally:
        a.close()
        b.close()


def test_lock_names_never_collide_with_the_migration_lock() -> None:
    from coffer.server.meta.coordination import lock_key
    from coffer.server.meta.postgres.schema import MIGRATION_LOCK

    keys = {lock_key(n) for n in ("lifecycle", "healer", "repair", "scrub", "rebalance")}
    assert len(keys) == 5 and MIGRATION_LOCK not in keys
    assert all(-(2**63) <= k < 2**63 for k in keys)


def test_handles_need_no_open_store(backend: Backend) -> None:
    (c,) = _handles(backend, 1)
    try:
        c.queue_add(["x"])  # the tables exist (migrated) even if no store was ever opened
        assert c.queue_list() == ["x"]
    finally:
        c.close()
