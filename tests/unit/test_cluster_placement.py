"""Hierarchical placement, the cluster default policy, node request signatures and the SQLite cluster map."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from pathlib import Path

import pytest

from coffer.protocol import node_auth
from coffer.server.data.volumes import placement
from coffer.server.data.volumes.storage_policy import cluster_default_policy
from coffer.server.meta.cluster import NodeState, UnknownNode
from coffer.server.meta.sqlite.cluster import SqliteClusterMap


def _layout(nodes: int, per_node: int) -> dict[str, str]:
    return {f"n{n}-v{v}": f"n{n}" for n in range(nodes) for v in range(per_node)}


@pytest.mark.parametrize(("nodes", "per_node", "width"), [(4, 2, 6), (6, 2, 9), (8, 3, 12), (3, 4, 6)])
def test_first_width_volumes_spread_over_domains(nodes: int, per_node: int, width: int) -> None:
    doms = _layout(nodes, per_node)
    for _ in range(300):
        ref = secrets.token_hex(16)
        order = placement.rank_hierarchical(ref, doms)
        assert sorted(order) == sorted(doms)
        per = Counter(doms[v] for v in order[:width])
        assert max(per.values()) <= -(-width // nodes)


def test_flat_when_every_volume_is_its_own_domain() -> None:
    vols = [f"v{i}" for i in range(7)]
    for _ in range(100):
        ref = secrets.token_hex(16)
        assert placement.rank_hierarchical(ref, {v: v for v in vols}) == placement.rank(ref, vols)


def test_adding_a_node_moves_a_bounded_share() -> None:
    before, after = _layout(4, 2), _layout(5, 2)
    refs = [secrets.token_hex(16) for _ in range(2000)]
    moved = sum(len(set(placement.rank_hierarchical(r, before)[:6]) - set(placement.rank_hierarchical(r, after)[:6]))
                for r in refs) / (len(refs) * 6)
    assert 0.05 < moved < 0.4  # about the new node's share, never a reshuffle


def test_cluster_default_policy() -> None:
    assert cluster_default_policy(4, 8).name == "EC-4+2"
    assert cluster_default_policy(4, 4).name == "EC-2+2"
    assert cluster_default_policy(3, 6).name == "EC-2+1"
    assert cluster_default_policy(2, 8).name == "REPLICA-2"
    assert cluster_default_policy(1, 6).name == "EC-4+2"  # one host: as without nodes
    assert cluster_default_policy(6, 12).name == "EC-6+3"


def test_signatures() -> None:
    now = time.time()
    h = node_auth.sign("s3cret", "PUT", "/_node/v1/x", {"b": "2", "a": "1 2"}, now)
    assert node_auth.check("s3cret", "PUT", "/_node/v1/x", [("a", "1 2"), ("b", "2")], h, now + 10) is None
    assert "wrong cluster secret" in node_auth.check("other", "PUT", "/_node/v1/x", {"a": "1 2", "b": "2"}, h, now)
    assert "wrong cluster secret" in node_auth.check("s3cret", "PUT", "/_node/v1/y", {"a": "1 2", "b": "2"}, h, now)
    assert "clock" in node_auth.check("s3cret", "PUT", "/_node/v1/x", {"a": "1 2", "b": "2"}, h, now + 301)
    assert node_auth.check("s3cret", "GET", "/", {}, {}, now).startswith("missing")
    signed = node_auth.sign("k", "POST", "/p", {}, now, b"body")
    assert node_auth.body_matches(signed, b"body") and not node_auth.body_matches(signed, b"other")


def test_sqlite_cluster_map_generation_and_ages(tmp_path: Path) -> None:
    cm = SqliteClusterMap(tmp_path / "c.sqlite3")
    g0 = cm.generation()
    g1 = cm.register_node("a", zone="z1", host="h", address="127.0.0.1:1", volumes=[("u1", 1.0), ("u2", 1.0)])
    assert g1 == g0 + 1
    assert cm.register_node("a", zone="z1", host="h", address="127.0.0.1:1", volumes=[("u1", 1.0)]) == g1  # no change
    g2 = cm.register_node("b", zone="z2", host="h", address="127.0.0.1:2", volumes=[("u2", 1.0)])  # u2 moved
    assert g2 == g1 + 1 and {v.uuid: v.node for v in cm.volumes()} == {"u1": "a", "u2": "b"}
    cm.heartbeat("a")
    assert all(0 <= n.age < 5 for n in cm.nodes())
    assert cm.set_node_state("b", NodeState.DRAINING) == g2 + 1
    assert {v.uuid: v.state for v in cm.volumes()}["u2"] == "draining"
    with pytest.raises(UnknownNode):
        cm.set_node_state("nope", NodeState.OUT)
    with pytest.raises(UnknownNode):
        cm.heartbeat("nope")
    cm.close()


@pytest.fixture(scope="module")
def pg_url(tmp_path_factory: pytest.TempPathFactory):
    """A throw-away PostgreSQL (initdb + pg_ctl as the postgres user); skipped where there is none."""
    import glob
    import os
    import shutil
    import socket
    import subprocess

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins or shutil.which("runuser") is None or os.geteuid() != 0:
        pytest.skip("PostgreSQL (Debian package) and root (to run it as the postgres user) are needed")
    bindir = bins[-1]
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="coffer-pg-"))  # not under pytest's 0700 folder: postgres must enter it
    os.chmod(root, 0o777)
    pgdata = root / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*run, f"{bindir}/initdb", "-D", str(pgdata), "-U", "postgres", "--auth=trust",
                    "--locale-provider=icu", "--icu-locale=en-US", "--locale=C.UTF-8"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run([*run, f"{bindir}/pg_ctl", "-D", str(pgdata), "-w", "-t", "60", "-l", str(root / "log"),
                    "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {root}", "start"],
                   check=True, capture_output=True, timeout=120)
    yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    subprocess.run([*run, f"{bindir}/pg_ctl", "-D", str(pgdata), "-m", "immediate", "stop"],
                   capture_output=True, timeout=60)
    shutil.rmtree(root, ignore_errors=True)


def test_postgres_cluster_map(pg_url: str) -> None:
    from coffer.server.meta.backends import open_cluster_map

    cm = open_cluster_map(pg_url)
    other = open_cluster_map(pg_url)  # a second process's view: same rows, same generation
    g1 = cm.register_node("a", zone="z1", host="h", address="10.0.0.1:9100", volumes=[("u1", 1.0), ("u2", 1.0)])
    assert other.generation() == g1
    assert cm.register_node("a", zone="z1", host="h", address="10.0.0.1:9100", volumes=[("u1", 1.0)]) == g1
    assert other.set_node_state("a", NodeState.OUT) == g1 + 1
    assert {v.state for v in cm.volumes()} == {"out"}
    cm.heartbeat("a")
    (node,) = other.nodes()
    assert node.state == "out" and 0 <= node.age < 5 and node.last_seen > 1.7e9
    with pytest.raises(UnknownNode):
        cm.heartbeat("nope")
    cm.close()
    other.close()
