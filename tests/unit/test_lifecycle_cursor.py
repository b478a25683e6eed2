"""The lifecycle runner's position in the shared metadata (``upkeep_state`` row ``lifecycle``), on
SQLite and PostgreSQL: a pass stopped mid-way resumes where it was on whichever process (gateway)
runs the next one, /metrics' "pass pending" reads it, and the DATA/meta/lifecycle.json an older
Coffer wrote is moved into the metadata once (a stale file never overrides the metadata's state)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from service_env import ROOT, Env, put, run

import pg_server
from coffer.server.meta.coordination import LIFECYCLE
from coffer.server.service import Service

RULE = [{"id": "r", "status": "Enabled", "filter": {"prefix": ""}, "expiration": {"days": 1}}]
LATER = time.time() + 2 * 86400


def _env(tmp: Path, engine: str) -> Env:
    if engine == "sqlite":
        return Env(tmp)
    if not pg_server.configured():
        pytest.skip(pg_server.SKIP_REASON)
    from coffer.server.meta.postgres.store import PostgresMetaStore

    return Env(tmp, PostgresMetaStore(pg_server.new_database("lifecycle")))


async def _two_buckets(svc: Service) -> None:
    for name in ("lc-a", "lc-b"):
        await svc.buckets.create(ROOT, name, None)
        for k in ("k0", "k1", "k2", "k3"):
            await put(svc, name, k, b"x")
        await svc.lifecycle.put(ROOT, name, RULE)


async def _left(svc: Service) -> set[tuple[str, str]]:
    return {(b, e.key) for b in ("lc-a", "lc-b")
            for e in (await svc.objects.list(ROOT, b, "", None, None, 100)).entries}


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_pass_resumes_on_another_process_where_the_last_one_stopped(tmp_path: Path, engine: str) -> None:
    async def go() -> None:
        async with _env(tmp_path, engine) as svc:
            await _two_buckets(svc)
            stopped, taking_over = svc.core.meta.coordination(), svc.core.meta.coordination()
            try:
                # the gateway that held the lock stopped in lc-b after k1
                stopped.save_state(LIFECYCLE, {"bucket": "lc-b", "phase": "current", "after": "k1"})
                svc.lifecycle.coordination = taking_over  # another connection, as another gateway's
                assert await svc.lifecycle.pass_pending()
                assert await svc.lifecycle.run_pass(86400, now=LATER) == 2  # lc-b's k2 and k3 only
                assert await _left(svc) == {("lc-a", k) for k in ("k0", "k1", "k2", "k3")} | {("lc-b", "k0"),
                                                                                               ("lc-b", "k1")}
                assert stopped.load_state(LIFECYCLE) == {}  # the pass completed: nothing to resume
                assert not await svc.lifecycle.pass_pending()
                assert await svc.lifecycle.run_pass(86400, now=LATER) == 6
            finally:
                stopped.close()
                taking_over.close()

    run(go())


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_an_older_cursor_file_is_moved_into_the_metadata_once(tmp_path: Path, engine: str) -> None:
    async def go() -> None:
        async with _env(tmp_path, engine) as svc:
            await _two_buckets(svc)
            coordination = svc.core.meta.coordination()
            try:
                svc.lifecycle.coordination = coordination
                old = tmp_path / "lifecycle.json"
                old.write_text(json.dumps({"bucket": "lc-b", "phase": "current", "after": "k2"}))
                assert await svc.lifecycle.adopt_file(old) and not old.exists()
                assert coordination.load_state(LIFECYCLE) == {"bucket": "lc-b", "phase": "current", "after": "k2"}
                assert await svc.lifecycle.run_pass(86400, now=LATER) == 1  # lc-b's k3
                # another gateway's stale file: the metadata's state (finished) wins, the file goes
                old.write_text(json.dumps({"bucket": "lc-a", "phase": "current", "after": ""}))
                assert not await svc.lifecycle.adopt_file(old) and not old.exists()
                assert coordination.load_state(LIFECYCLE) == {}
                old.write_text("{not json")
                assert not await svc.lifecycle.adopt_file(old) and not old.exists()
                assert not await svc.lifecycle.adopt_file(old)  # no file: nothing to do
            finally:
                coordination.close()

    run(go())
