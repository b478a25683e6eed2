"""A cluster on loopback: 4 storage nodes x 2 volumes (one zone each), 2 gateways sharing a data
folder (SQLite metadata and cluster map), EC-4+2 by default. Every process is real; a node is
stopped with kill -9."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from cluster_support import CLUSTER_SECRET, Cluster, make_cluster, stop_cluster
from helpers import client, data, unique

from coffer.protocol import node_auth
from coffer.sdk._client import Client

pytest.importorskip("pyeclib")


@pytest.fixture(scope="module")
def cl(tmp_path_factory: pytest.TempPathFactory):
    c = make_cluster(tmp_path_factory.mktemp("cluster"), gateways=2, gateway_args=["--heal-interval", "0"])
    yield c
    stop_cluster(c)


def admin(gw, method: str, name: str, **query) -> dict:
    c = Client(gw.endpoint, gw.access_key, gw.secret_key)
    try:
        resp = c._transport.request(method, "_coffer", "admin/v1/" + name,
                                    query={k: str(v) for k, v in query.items()} or None, retries=False)
        return json.loads(resp.data)
    finally:
        c.close()


def s3(gw):
    return client(gw.endpoint, gw.access_key, gw.secret_key)


def node_of_volume(cl: Cluster) -> dict[str, str]:
    with sqlite3.connect(cl.meta) as db:
        return dict(db.execute("SELECT uuid, node FROM volumes").fetchall())


def fragments(cl: Cluster, bucket: str, key: str) -> list[dict]:
    seg = admin(cl.gateways[0], "GET", "locate", bucket=bucket, key=key)["segments"][0]
    return seg["fragments"]


def wait(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_ec_4_2_spread_over_nodes_and_read_through_either_gateway(cl: Cluster) -> None:
    a, b = s3(cl.gateways[0]), s3(cl.gateways[1])
    bucket = unique("cl")
    a.create_bucket(Bucket=bucket)
    body = data(3 * (1 << 20) + 4321, seed=1)
    a.put_object(Bucket=bucket, Key="obj", Body=body)
    assert b.get_object(Bucket=bucket, Key="obj")["Body"].read() == body
    assert b.get_object(Bucket=bucket, Key="obj", Range="bytes=1048570-2097160")["Body"].read() \
        == body[1048570:2097161]
    frags = fragments(cl, bucket, "obj")
    seg = admin(cl.gateways[0], "GET", "locate", bucket=bucket, key="obj")["segments"][0]
    assert seg["policy"] == "EC-4+2" and seg["state"] == "healthy"
    assert sorted(f["index"] for f in frags) == list(range(6))
    per_node = Counter(node_of_volume(cl)[f["volume"]] for f in frags)
    assert len(per_node) == 4 and max(per_node.values()) <= 2, per_node  # at most M per failure domain
    nodes = admin(cl.gateways[1], "GET", "nodes")
    assert nodes["default_policy"] == "EC-4+2"
    assert sorted(n["id"] for n in nodes["nodes"]) == ["node0", "node1", "node2", "node3"]
    assert all(n["state"] == "active" and not n["suspect"] for n in nodes["nodes"])


def test_multipart_parts_through_both_gateways(cl: Cluster) -> None:
    a, b = s3(cl.gateways[0]), s3(cl.gateways[1])
    bucket = unique("mp")
    a.create_bucket(Bucket=bucket)
    parts = [data(5 << 20, seed=2), data(1 << 20, seed=3)]
    up = a.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    e1 = a.upload_part(Bucket=bucket, Key="big", UploadId=up, PartNumber=1, Body=parts[0])["ETag"]
    e2 = b.upload_part(Bucket=bucket, Key="big", UploadId=up, PartNumber=2, Body=parts[1])["ETag"]
    b.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert a.get_object(Bucket=bucket, Key="big")["Body"].read() == b"".join(parts)


def test_node_killed_reads_exact_writes_go_on_then_repair(cl: Cluster) -> None:
    a, b = s3(cl.gateways[0]), s3(cl.gateways[1])
    bucket = unique("kill")
    a.create_bucket(Bucket=bucket)
    before = {f"k{i}": data(600_000 + i * 77_777, seed=10 + i) for i in range(4)}
    for k, v in before.items():
        a.put_object(Bucket=bucket, Key=k, Body=v)
    victim = cl.nodes[1]
    victim.kill()
    try:
        for k, v in before.items():  # both gateways read around the dead node
            assert a.get_object(Bucket=bucket, Key=k)["Body"].read() == v
            assert b.get_object(Bucket=bucket, Key=k)["Body"].read() == v
        during = {f"d{i}": data(900_000 + i, seed=20 + i) for i in range(3)}
        for k, v in during.items():  # writes go on with the 6 other volumes (quorum k+1 = 5)
            b.put_object(Bucket=bucket, Key=k, Body=v)
            assert a.get_object(Bucket=bucket, Key=k)["Body"].read() == v
        vols = {v["uuid"]: v["state"] for v in admin(cl.gateways[0], "GET", "volumes")["volumes"]}
        dead = [u for u, n in node_of_volume(cl).items() if n == victim.name]
        assert all(vols[u] == "offline" for u in dead), vols
        for k in during:  # every fragment of a write during the outage avoids the dead node
            assert all(node_of_volume(cl)[f["volume"]] != victim.name for f in fragments(cl, bucket, k))
        # The node is suspect once its heartbeat is older than suspect_after (10 s by default).
        wait(lambda: any(n["suspect"] for n in admin(cl.gateways[0], "GET", "nodes")["nodes"]
                         if n["id"] == victim.name), 30, "the killed node to become suspect")
    finally:
        victim.start()
    # Back: gateways probe it again; repair restores full redundancy of what was written meanwhile.
    wait(lambda: all(v["state"] == "online" for v in admin(cl.gateways[0], "GET", "volumes")["volumes"]),
         30, "the restarted node's volumes to come back online")
    admin(cl.gateways[0], "POST", "heal")
    for k, v in {**before, **during}.items():
        seg = admin(cl.gateways[0], "GET", "locate", bucket=bucket, key=k)["segments"][0]
        assert seg["state"] == "healthy" and seg["good"] == 6, (k, seg["state"], seg["good"])
        per_node = Counter(node_of_volume(cl)[f["volume"]] for f in seg["fragments"])
        assert max(per_node.values()) <= 2, per_node
        assert b.get_object(Bucket=bucket, Key=k)["Body"].read() == v


def test_wrong_cluster_secret_is_refused(cl: Cluster) -> None:
    node = cl.nodes[0]
    path = "/_node/v1/info"
    # unsigned
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(f"http://{node.address}{path}", timeout=5)
    assert ei.value.code == 403
    assert "missing cluster signature" in json.loads(ei.value.read())["error"]
    # signed with another secret
    headers = node_auth.sign("not-the-cluster-secret", "GET", path, {}, time.time(), b"")
    req = urllib.request.Request(f"http://{node.address}{path}", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(req, timeout=5)
    assert ei.value.code == 403
    assert "wrong cluster secret" in json.loads(ei.value.read())["error"]
    # signed with the right secret, but 10 minutes old
    headers = node_auth.sign(CLUSTER_SECRET, "GET", path, {}, time.time() - 600, b"")
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(urllib.request.Request(f"http://{node.address}{path}", headers=headers), timeout=5)
    assert ei.value.code == 403 and "clock" in json.loads(ei.value.read())["error"]
    # and right
    headers = node_auth.sign(CLUSTER_SECRET, "GET", path, {}, time.time(), b"")
    with urllib.request.urlopen(urllib.request.Request(f"http://{node.address}{path}", headers=headers),
                                timeout=5) as r:
        assert json.loads(r.read())["node"] == node.name


def test_gateway_with_a_wrong_secret_sees_no_volume(cl: Cluster, tmp_path: Path) -> None:
    """A gateway started with another secret cannot use any node and says why (403 from the nodes)."""
    from cluster_support import ServerProcess, free_port

    gw = ServerProcess(data=cl.data, port=free_port(), extra_args=[
        "--cluster-secret", "a-wrong-secret", "--heal-interval", "0"])
    gw.start()
    try:
        vols = admin(gw, "GET", "volumes")["volumes"]
        assert vols and all(v["state"] == "offline" for v in vols)
        assert all("403" in v["last_error"] and "wrong cluster secret" in v["last_error"] for v in vols), vols
        bucket = unique("ws")
        s3(gw).create_bucket(Bucket=bucket)
        with pytest.raises(Exception) as ei:
            s3(gw).put_object(Bucket=bucket, Key="x", Body=data(300_000))
        assert "503" in str(ei.value) or "ServiceUnavailable" in str(ei.value) or "SlowDown" in str(ei.value)
    finally:
        gw.stop()


def test_node_out_rebuilds_on_the_others(cl: Cluster) -> None:
    a = s3(cl.gateways[0])
    bucket = unique("out")
    a.create_bucket(Bucket=bucket)
    objs = {f"o{i}": data(700_000 + i, seed=40 + i) for i in range(3)}
    for k, v in objs.items():
        a.put_object(Bucket=bucket, Key=k, Body=v)
    victim = cl.nodes[3]
    victim.kill()
    try:
        r = admin(cl.gateways[0], "POST", "node-out", node=victim.name)
        assert r["state"] == "out" and r["queued"] >= 1 and r["lost"] == 0
        admin(cl.gateways[0], "POST", "heal")
        for k, v in objs.items():
            seg = admin(cl.gateways[0], "GET", "locate", bucket=bucket, key=k)["segments"][0]
            assert seg["state"] == "healthy", seg
            holders = Counter(node_of_volume(cl)[f["volume"]] for f in seg["fragments"])
            assert victim.name not in holders and max(holders.values()) <= 2, holders
            assert a.get_object(Bucket=bucket, Key=k)["Body"].read() == v
    finally:
        victim.start()
        admin(cl.gateways[0], "POST", "node-active", node=victim.name)


def test_admin_node_list_cli(cl: Cluster) -> None:
    import os
    import subprocess
    import sys

    gw = cl.gateways[0]
    env = {**os.environ, "COFFER_ENDPOINT": gw.endpoint, "COFFER_ACCESS_KEY": gw.access_key,
           "COFFER_SECRET_KEY": gw.secret_key}
    env.pop("COFFER_ALIAS", None)
    out = subprocess.run([sys.executable, "-m", "coffer", "admin", "node", "list", "--json"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {n["id"] for n in doc["nodes"]} == {"node0", "node1", "node2", "node3"}
    assert all(len(n["volumes"]) == 2 for n in doc["nodes"])
    human = subprocess.run([sys.executable, "-m", "coffer", "admin", "node", "list"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert human.returncode == 0 and "node2" in human.stdout and "zone z2" in human.stdout, human.stdout
    bad = subprocess.run([sys.executable, "-m", "coffer", "admin", "node", "out", "no-such-node"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "no node 'no-such-node'" in (bad.stdout + bad.stderr)
