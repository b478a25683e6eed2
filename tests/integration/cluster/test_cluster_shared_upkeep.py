"""Background work of a cluster whose gateways share PostgreSQL and nothing else: the healer (repair queue,
scrub, rebalance) and the lifecycle runner run on exactly one gateway at a time, a killed holder's
locks pass to the other gateway, and a repair queued by one gateway is drained by the other.

Two gateways with data folders of their own, 4 storage nodes x 1 volume (EC-2+2), one PostgreSQL
database for the metadata and the cluster map (COFFER_TEST_PG). Who holds which lock is read from
PostgreSQL itself: a lock's connection is named ``coffer-lock:<name>:<pid>`` and holds a granted
advisory lock; the pid's process group is the gateway (each runs in a session of its own).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psycopg
import pytest
from cluster_support import CLUSTER_SECRET, NodeProcess, ServerProcess
from helpers import client, data, unique

import pg_server
from coffer.sdk._client import Client
from ports import free_port

pytest.importorskip("pyeclib")
if not pg_server.configured():
    pytest.skip(pg_server.SKIP_REASON, allow_module_level=True)


class Setup:
    def __init__(self, root: Path) -> None:
        self.dsn = pg_server.new_database("upkeep")
        self.nodes = [NodeProcess(f"node{i}", root / f"node{i}", self.dsn, f"z{i}", volumes=1) for i in range(4)]
        for n in self.nodes:
            n.start()
        self.gateways = [self._gateway(root / f"gw{i}") for i in range(2)]
        for gw in self.gateways:
            gw.start()

    def _gateway(self, folder: Path) -> ServerProcess:
        # no --cluster-map: a gateway on PostgreSQL metadata finds the nodes in that database
        return ServerProcess(data=folder, port=free_port(), meta=self.dsn, workers=1, extra_args=[
            "--cluster-secret", CLUSTER_SECRET, "--heal-interval", "0.3",
            "--lifecycle-day-seconds", "2"])

    def holders(self) -> dict[str, list[int]]:
        """lock name -> pids of the sessions holding it (granted advisory locks of this database)."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database() "
                "AND a.application_name LIKE 'coffer-lock:%%'").fetchall()
        out: dict[str, list[int]] = {}
        for (name,) in rows:
            _, lock, pid = name.split(":")
            out.setdefault(lock, []).append(int(pid))
        return out

    def gateway_of(self, pid: int) -> ServerProcess | None:
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:  # a killed gateway's session outlives it for a moment
            return None
        (gw,) = [g for g in self.gateways if g.proc is not None and g.proc.pid == group]
        return gw

    def holder(self, lock: str) -> ServerProcess | None:
        pids = self.holders().get(lock, [])
        assert len(pids) <= 1, f"{lock} held by {len(pids)} sessions at once"
        return self.gateway_of(pids[0]) if pids else None

    def queued(self) -> list[str]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return [r[0] for r in conn.execute("SELECT ref FROM repair_queue ORDER BY ref").fetchall()]

    def close(self) -> None:
        for gw in self.gateways:
            gw.stop()
        for n in self.nodes:
            n.stop()
        pg_server.drop_database(self.dsn)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    s = Setup(tmp_path_factory.mktemp("upkeep"))
    yield s
    s.close()


def wait(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def admin(gw: ServerProcess, method: str, name: str, **query) -> dict:
    import json

    c = Client(gw.endpoint, gw.access_key, gw.secret_key)
    try:
        resp = c._transport.request(method, "_coffer", "admin/v1/" + name,
                                    query={k: str(v) for k, v in query.items()} or None, retries=False)
        return json.loads(resp.data)
    finally:
        c.close()


def kill(gw: ServerProcess) -> None:
    assert gw.proc is not None
    os.killpg(gw.proc.pid, signal.SIGKILL)
    gw.proc.wait(10)


def test_a_repair_queued_through_one_gateway_is_drained_by_the_other(setup: Setup) -> None:
    runner = wait(lambda: setup.holder("healer"), 20, "a gateway to run the healer")
    other = next(g for g in setup.gateways if g is not runner)
    s3 = client(other.endpoint, other.access_key, other.secret_key)
    bucket = unique("queue")
    s3.create_bucket(Bucket=bucket)
    body = data(700_000, seed=5)
    victim = setup.nodes[2]
    victim.kill()
    try:
        # Written with 3 of 4 fragments (quorum k+1): the writing gateway queues the ref for repair.
        wait(lambda: _put(s3, bucket, "k", body), 30, "a write with one node down")
        queued = wait(setup.queued, 10, "the ref in the shared repair queue")
        other.stop()  # the gateway that queued it is gone: only the healer's gateway can repair it
    finally:
        victim.start()
    wait(lambda: not setup.queued(), 90, f"the healer's gateway to drain {queued}")
    seg = admin(runner, "GET", "locate", bucket=bucket, key="k")["segments"][0]
    assert seg["state"] == "healthy" and seg["good"] == 4, seg
    r = client(runner.endpoint, runner.access_key, runner.secret_key)
    assert r.get_object(Bucket=bucket, Key="k")["Body"].read() == body
    other.start()


def _put(s3, bucket: str, key: str, body: bytes) -> bool:
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        return True
    except Exception:
        return False  # the gateway has not seen the node go yet: 503, retried


def test_one_gateway_runs_healer_and_lifecycle_and_a_killed_one_hands_over(setup: Setup) -> None:
    for lock in ("healer", "lifecycle"):
        wait(lambda lock=lock: setup.holder(lock), 20, f"a gateway to hold {lock}")
    first = setup.holder("lifecycle")
    assert first is not None
    survivor = next(g for g in setup.gateways if g is not first)
    kill(first)  # kill -9: its sessions end, their advisory locks with them
    for lock in ("healer", "lifecycle"):
        wait(lambda lock=lock: setup.holder(lock) is survivor, 20, f"the other gateway to take {lock}")
    first.start()  # back: the survivor keeps both, the restarted one waits
    time.sleep(2)
    assert setup.holder("healer") is survivor and setup.holder("lifecycle") is survivor
    kill(survivor)
    for lock in ("healer", "lifecycle"):
        wait(lambda lock=lock: setup.holder(lock) is first, 20, f"the restarted gateway to take {lock}")
    survivor.start()
