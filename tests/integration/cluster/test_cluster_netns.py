"""The cluster across network namespaces this test creates: 4 storage nodes (2 volumes each), each in
a namespace of its own behind a bridge (netns_support.py), 2 gateways in the root namespace, EC-4+2
(at most 2 fragments per node). Links are cut with `ip link set ... down`, gateways are killed with
kill -9; every wait is bounded. The metadata is SQLite shared by the gateways, or PostgreSQL when
COFFER_TEST_PG names a server (then the nodes reach it through its unix socket: the namespaces have
no route to the root namespace's loopback)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from cluster_support import CLUSTER_SECRET, NodeProcess, ServerProcess, free_port
from helpers import data, unique
from netns_support import Netns, NetnsUnavailable, unavailable_reason

from coffer.sdk._client import Client

pytest.importorskip("pyeclib")
_REASON = unavailable_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=f"network namespaces cannot be made: {_REASON}")
NODE_PORT = 9100  # every node has its own namespace, hence its own ports


class NetCluster:
    def __init__(self, root: Path, net: Netns, node_meta: str, gateway_args: list[str], shared_data: bool) -> None:
        self.root, self.net, self.node_meta = root, net, node_meta
        self.nodes: list[NodeProcess] = []
        self.gateways: list[ServerProcess] = []
        self.gateway_args, self.shared_data = gateway_args, shared_data

    def add_node(self, i: int) -> NodeProcess:
        ns = self.net.add_node(i)
        node = NodeProcess(f"node{i}", self.root / f"node{i}", self.node_meta, f"z{i}", port=NODE_PORT,
                           host=self.net.node_address(i), netns=ns)
        node.start(timeout=30)
        self.nodes.append(node)
        return node

    def add_gateway(self, i: int) -> ServerProcess:
        data = self.root / ("gateway-data" if self.shared_data else f"gateway{i}-data")
        gw = ServerProcess(data=data, port=free_port(), workers=1,
                           extra_args=["--cluster-secret", CLUSTER_SECRET, "--heal-interval", "0", *self.gateway_args])
        gw.start(timeout=60)
        self.gateways.append(gw)
        return gw


def _metadata(root: Path) -> tuple[str, list[str], bool]:
    """(the nodes' cluster map URL, the gateways' extra arguments, whether gateways share a data folder)."""
    dsn = os.environ.get("COFFER_TEST_PG")
    if not dsn:
        return str(root / "gateway-data" / "meta" / "cluster.sqlite3"), [], True
    helps = subprocess.run([sys.executable, "-m", "coffer", "serve", "--help"], capture_output=True, text=True,
                           timeout=60).stdout
    if "--meta" not in helps:
        pytest.skip("COFFER_TEST_PG is set but this coffer serve has no --meta (metadata on PostgreSQL)")
    psycopg = pytest.importorskip("psycopg")
    try:
        import pg_server  # the PostgreSQL fixture of the metadata tests (fresh databases, 'start')

        db = pg_server.new_database("netns")
    except ImportError:
        name = f"coffer_netns_{os.getpid()}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        from urllib.parse import urlsplit, urlunsplit

        db = urlunsplit(urlsplit(dsn)._replace(path="/" + name))
    with psycopg.connect(db) as conn:
        sockets = conn.execute("SHOW unix_socket_directories").fetchone()[0]
        port = conn.execute("SHOW port").fetchone()[0]
        user, dbname = conn.info.user, conn.info.dbname
    sock = next((s.strip() for s in sockets.split(",") if s.strip().startswith("/")), "")
    if not sock:
        pytest.skip("PostgreSQL listens on no unix socket: nodes in their namespaces could not reach it")
    node_dsn = f"postgresql://{user}@/{dbname}?host={sock}&port={port}"
    return node_dsn, ["--meta", db, "--cluster-map", db], False


@pytest.fixture(scope="module")
def cl(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("netns")
    node_meta, gw_args, shared = _metadata(root)
    net = Netns()
    try:
        net.create()
    except NetnsUnavailable as exc:
        pytest.skip(f"network namespaces cannot be made: {exc}")
    c = NetCluster(root, net, node_meta, gw_args, shared)
    try:
        for i in range(4):
            c.add_node(i)
        for i in range(2):
            c.add_gateway(i)
        wait(lambda: all(len(admin(g, "GET", "nodes")["nodes"]) == 4 for g in c.gateways), 30, "gateways see 4 nodes")
        yield c
    finally:
        for gw in c.gateways:
            gw.stop()
        for n in c.nodes:
            n.stop()
        net.destroy()


# -- helpers ---------------------------------------------------------------------------------------
def admin(gw: ServerProcess, method: str, name: str, **query) -> dict:
    c = Client(gw.endpoint, gw.access_key, gw.secret_key)
    try:
        resp = c._transport.request(method, "_coffer", "admin/v1/" + name,
                                    query={k: str(v) for k, v in query.items()} or None, retries=False)
        return json.loads(resp.data)
    finally:
        c.close()


def s3(gw: ServerProcess, attempts: int = 4):
    """boto3 as users run it: 503 answers are retried (standard mode)."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=gw.endpoint, aws_access_key_id=gw.access_key,
                        aws_secret_access_key=gw.secret_key, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, read_timeout=120,
                                      retries={"max_attempts": attempts, "mode": "standard"}))


def wait(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except Exception:  # a gateway restarting: ask again
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def node_of(cl: NetCluster) -> dict[str, str]:
    return {v["uuid"]: n["id"] for n in admin(cl.gateways[0], "GET", "nodes")["nodes"] for v in n["volumes"]}


def segment(gw: ServerProcess, bucket: str, key: str) -> dict:
    return admin(gw, "GET", "locate", bucket=bucket, key=key)["segments"][0]


def assert_full(cl: NetCluster, bucket: str, key: str, body: bytes, avoid: str | None = None) -> None:
    seg = segment(cl.gateways[0], bucket, key)
    assert seg["state"] == "healthy" and seg["good"] == 6, (key, seg["state"], seg["good"])
    owners = node_of(cl)
    per_node = Counter(owners[f["volume"]] for f in seg["fragments"] if f["status"] == "ok")
    assert max(per_node.values()) <= 2, per_node  # at most M fragments per failure domain
    if avoid:
        assert avoid not in per_node, per_node
    assert s3(cl.gateways[1]).get_object(Bucket=bucket, Key=key)["Body"].read() == body


def disk_refs(cl: NetCluster) -> set[str]:
    """Every ref with a fragment file on some node's volume (read from the node's directories)."""
    out = set()
    for node in cl.nodes:
        for vol in node.volume_paths:
            for p in (vol / "fragments").glob("*/*/*"):
                out.add(p.name.split(".")[0])
    return out


def tmp_files(cl: NetCluster) -> list[Path]:
    return [p for node in cl.nodes for vol in node.volume_paths for p in (vol / "tmp").glob("*.tmp")]


# -- (a) concurrent writers through both gateways ----------------------------------------------------
@pytest.mark.parametrize("versioned", [True, False])
def test_concurrent_writers_on_the_same_keys_lose_no_update(cl: NetCluster, versioned: bool) -> None:
    a = s3(cl.gateways[0])
    bucket = unique("race")
    a.create_bucket(Bucket=bucket)
    if versioned:
        a.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    keys = ["k0", "k1", "k2"]
    acked: list[dict] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            c = s3(cl.gateways[w % 2])
            for n in range(6):
                key = keys[(w + n) % len(keys)]
                body = f"writer {w} put {n}\n".encode() + data(40_000 + 997 * w + n, seed=1000 * w + n)
                t0 = time.monotonic()
                r = c.put_object(Bucket=bucket, Key=key, Body=body)
                t1 = time.monotonic()
                with lock:
                    acked.append({"key": key, "etag": r["ETag"], "version": r.get("VersionId"), "start": t0,
                                  "end": t1, "md5": hashlib.md5(body).hexdigest(), "body": body})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    assert len(acked) == 24
    b = s3(cl.gateways[1])
    for key in keys:
        got = b.get_object(Bucket=bucket, Key=key)
        body = got["Body"].read()
        mine = [e for e in acked if e["key"] == key]
        winner = [e for e in mine if e["body"] == body]
        assert len(winner) == 1, "the object is none of the acknowledged writes"
        w = winner[0]
        assert got["ETag"] == w["etag"] == '"' + w["md5"] + '"'
        # No acknowledged write that began after the winner was acknowledged may be lost under it.
        later = [e for e in mine if e["start"] > w["end"]]
        assert not later, f"{key}: a write acknowledged after the visible one is lost"
    listed = [o["Key"] for o in b.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == keys
    if versioned:  # every acknowledged PUT is a version of its key: nothing was overwritten in place
        versions = b.list_object_versions(Bucket=bucket)["Versions"]
        assert sorted((v["Key"], v["VersionId"], v["ETag"]) for v in versions) == \
            sorted((e["key"], e["version"], e["etag"]) for e in acked)
        for e in acked[::5]:
            assert a.get_object(Bucket=bucket, Key=e["key"], VersionId=e["version"])["Body"].read() == e["body"]


def test_one_multipart_upload_fed_through_both_gateways(cl: NetCluster) -> None:
    gws = cl.gateways
    a = s3(gws[0])
    bucket = unique("mpr")
    a.create_bucket(Bucket=bucket)
    up = a.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    sizes = {1: 5 << 20, 2: 5 << 20, 3: 200_000}
    bodies = {(n, g): data(size, seed=10 * n + g) for n, size in sizes.items() for g in (0, 1)}
    etags: dict[tuple[int, int], str] = {}
    errors: list[BaseException] = []

    def put(n: int, g: int) -> None:  # every part number twice at once, once through each gateway
        try:
            etags[(n, g)] = s3(gws[g]).upload_part(Bucket=bucket, Key="big", UploadId=up, PartNumber=n,
                                                   Body=bodies[(n, g)])["ETag"]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=put, args=key) for key in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    parts = s3(gws[1]).list_parts(Bucket=bucket, Key="big", UploadId=up)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1, 2, 3]
    winners = {}
    for p in parts:
        n = p["PartNumber"]
        match = [g for g in (0, 1) if etags[(n, g)] == p["ETag"]]
        assert len(match) == 1, (n, p["ETag"], etags)
        winners[n] = match[0]
        assert p["Size"] == sizes[n]
    # S3's answer to completing with a part's superseded ETag: InvalidPart, the upload stays open.
    from botocore.exceptions import ClientError

    stale = [{"PartNumber": n, "ETag": etags[(n, 1 - winners[n] if n == 1 else winners[n])]} for n in sizes]
    with pytest.raises(ClientError) as ei:
        s3(gws[0]).complete_multipart_upload(Bucket=bucket, Key="big", UploadId=up, MultipartUpload={"Parts": stale})
    assert ei.value.response["Error"]["Code"] == "InvalidPart"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    done = s3(gws[1]).complete_multipart_upload(Bucket=bucket, Key="big", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": etags[(n, winners[n])]} for n in sizes]})
    assert done["ETag"].endswith('-3"')
    expected = b"".join(bodies[(n, winners[n])] for n in sizes)
    assert a.get_object(Bucket=bucket, Key="big")["Body"].read() == expected
    assert a.head_object(Bucket=bucket, Key="big")["ContentLength"] == len(expected)


# -- (b) a storage node's link cut, then restored ---------------------------------------------------
def test_cut_link_reads_exact_writes_go_on_repair_after_restore(cl: NetCluster) -> None:
    a, b = s3(cl.gateways[0]), s3(cl.gateways[1])
    bucket = unique("cut")
    a.create_bucket(Bucket=bucket)
    before = {f"b{i}": data(600_000 + 77_777 * i, seed=50 + i) for i in range(4)}
    for k, v in before.items():
        a.put_object(Bucket=bucket, Key=k, Body=v)
    victim = 1
    cl.net.cut(victim)
    during: dict[str, bytes] = {}
    try:
        for k, v in before.items():  # both gateways read around the silent node
            assert a.get_object(Bucket=bucket, Key=k)["Body"].read() == v
            assert b.get_object(Bucket=bucket, Key=k)["Body"].read() == v
        for i in range(3):
            k, v = f"d{i}", data(900_000 + i, seed=60 + i)
            (a, b)[i % 2].put_object(Bucket=bucket, Key=k, Body=v)
            during[k] = v
            assert (b, a)[i % 2].get_object(Bucket=bucket, Key=k)["Body"].read() == v
        owners = node_of(cl)
        for k in during:  # written while cut: no fragment on the unreachable node
            seg = segment(cl.gateways[0], bucket, k)
            assert all(owners[f["volume"]] != f"node{victim}" for f in seg["fragments"]), seg
    finally:
        cl.net.restore(victim)
    wait(lambda: all(v["state"] == "online" for g in cl.gateways for v in admin(g, "GET", "volumes")["volumes"]),
         60, "every volume online again on both gateways")
    for gw in cl.gateways:  # each gateway repairs what it queued (degraded writes, damaged reads)
        admin(gw, "POST", "heal")
    for k, v in {**before, **during}.items():
        assert_full(cl, bucket, k, v)


# -- (c) a node declared out ------------------------------------------------------------------------
def test_node_out_rebuilds_full_redundancy_on_the_others(cl: NetCluster) -> None:
    a = s3(cl.gateways[0])
    bucket = unique("out")
    a.create_bucket(Bucket=bucket)
    objs = {f"o{i}": data(700_000 + i, seed=70 + i) for i in range(3)}
    for k, v in objs.items():
        a.put_object(Bucket=bucket, Key=k, Body=v)
    victim = 3
    cl.net.cut(victim)
    try:
        r = admin(cl.gateways[0], "POST", "node-out", node=f"node{victim}")
        assert r["state"] == "out" and r["queued"] >= len(objs) and r["lost"] == 0, r
        admin(cl.gateways[0], "POST", "heal")
        for k, v in objs.items():
            assert_full(cl, bucket, k, v, avoid=f"node{victim}")
    finally:
        cl.net.restore(victim)
        admin(cl.gateways[0], "POST", "node-active", node=f"node{victim}")
    wait(lambda: all(v["state"] == "online" for g in cl.gateways for v in admin(g, "GET", "volumes")["volumes"]),
         60, "the node back in")


# -- (d) kill -9 a gateway in the middle of an upload -----------------------------------------------
def _slow_put(url: str, size: int, sent: list[int], chunk: int = 1 << 20) -> None:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.putrequest("PUT", u.path + "?" + u.query, skip_accept_encoding=True)
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        block = data(chunk, seed=99)
        while sent[0] < size:
            conn.send(block[:min(chunk, size - sent[0])])
            sent[0] += chunk
            time.sleep(0.05)
        conn.getresponse().read()
    except OSError:
        pass  # the gateway died under us: that is the point
    finally:
        conn.close()


def test_gateway_killed_mid_upload_loses_nothing_acknowledged(cl: NetCluster) -> None:
    g0, g1 = cl.gateways
    a, b = s3(g0), s3(g1, attempts=1)
    bucket = unique("kill")
    a.create_bucket(Bucket=bucket)
    acked: dict[str, bytes] = {}
    for i in range(3):
        k, v = f"pre{i}", data(300_000 + i, seed=80 + i)
        b.put_object(Bucket=bucket, Key=k, Body=v)
        acked[k] = v
    b.put_object(Bucket=bucket, Key="slow", Body=b"the old version")
    acked["slow"] = b"the old version"
    refs_before = disk_refs(cl)
    url = b.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "slow"}, ExpiresIn=600)
    sent = [0]
    uploader = threading.Thread(target=_slow_put, args=(url, 40 << 20, sent))
    stop = threading.Event()

    def steady() -> None:  # acknowledged writes through the other gateway meanwhile
        n = 0
        while not stop.is_set() and n < 40:
            k, v = f"steady{n}", data(100_000 + n, seed=200 + n)
            a.put_object(Bucket=bucket, Key=k, Body=v)
            acked[k] = v
            n += 1

    writer = threading.Thread(target=steady)
    uploader.start()
    writer.start()
    wait(lambda: sent[0] >= 12 << 20, 60, "12 MiB of the slow upload sent")
    g1.kill()  # kill -9 the whole gateway: supervisor and worker
    uploader.join(60)
    stop.set()
    writer.join(120)
    # Nothing half-written is visible: the key keeps its acknowledged value, through the other gateway.
    assert a.get_object(Bucket=bucket, Key="slow")["Body"].read() == b"the old version"
    for k, v in acked.items():
        assert a.get_object(Bucket=bucket, Key=k)["Body"].read() == v, k
    # The nodes dropped the cut fragment bodies (temporary files) on their own.
    wait(lambda: not tmp_files(cl), 30, "no temporary fragment file left on the nodes")
    kept = {seg["ref"] for k in acked for seg in admin(g0, "GET", "locate", bucket=bucket, key=k)["segments"]}
    orphans = disk_refs(cl) - refs_before - kept
    # Unreferenced fragments are freed by the vacuum (grace 0: nothing else is being written now).
    r = admin(g0, "POST", "vacuum", grace=0)
    assert r["orphans"] >= len(orphans), (r, orphans)
    left = disk_refs(cl)
    assert not (orphans & left) and kept <= left
    g1.start(timeout=60)
    assert s3(g1).get_object(Bucket=bucket, Key="slow")["Body"].read() == b"the old version"


# -- (e) a fifth node joins: rebalance while reads stay exact ----------------------------------------
def test_fifth_node_rebalance_moves_data_while_reads_stay_exact(cl: NetCluster) -> None:
    a = s3(cl.gateways[0])
    bucket = unique("grow")
    a.create_bucket(Bucket=bucket)
    objs = {f"g{i}": data(400_000 + 1_111 * i, seed=300 + i) for i in range(12)}
    for k, v in objs.items():
        a.put_object(Bucket=bucket, Key=k, Body=v)
    new = cl.add_node(4)
    wait(lambda: all(len(admin(g, "GET", "nodes")["nodes"]) == 5 for g in cl.gateways), 30, "5 nodes in the map")
    wait(lambda: all(v["state"] == "online" for g in cl.gateways for v in admin(g, "GET", "volumes")["volumes"]),
         30, "the new node's volumes online")
    stop = threading.Event()
    bad: list[str] = []
    reads = [0]

    def reader() -> None:
        c = s3(cl.gateways[1])
        while not stop.is_set() and reads[0] < 10_000:
            for k, v in objs.items():
                if c.get_object(Bucket=bucket, Key=k)["Body"].read() != v:
                    bad.append(k)
                reads[0] += 1

    t = threading.Thread(target=reader)
    t.start()
    try:
        r = admin(cl.gateways[0], "POST", "rebalance")
    finally:
        stop.set()
        t.join(120)
    assert not bad, bad
    assert reads[0] > 0
    assert r["moved"] > 0 and not r["stuck"], r
    owners = node_of(cl)
    on_new = 0
    for k, v in objs.items():
        assert_full(cl, bucket, k, v)
        seg = segment(cl.gateways[0], bucket, k)
        assert len(seg["fragments"]) == 6, seg  # moved, not copied: one fragment per index
        on_new += sum(owners[f["volume"]] == new.name for f in seg["fragments"])
    assert on_new > 0
    # A second pass finds nothing left to move: placement and the layout agree.
    again = admin(cl.gateways[0], "POST", "rebalance")
    assert again["moved"] == 0, again


def test_drain_a_node_moves_everything_off_while_reads_stay_exact(cl: NetCluster) -> None:
    a = s3(cl.gateways[0])
    bucket = unique("drain")
    a.create_bucket(Bucket=bucket)
    objs = {f"r{i}": data(350_000 + 2_222 * i, seed=400 + i) for i in range(8)}
    for k, v in objs.items():
        a.put_object(Bucket=bucket, Key=k, Body=v)
    victim = cl.nodes[-1].name  # the node that joined last holds a share of old and new objects
    owners = node_of(cl)
    held = sum(owners[f["volume"]] == victim for k in objs for f in segment(cl.gateways[0], bucket, k)["fragments"])
    assert held > 0
    stop = threading.Event()
    bad: list[str] = []

    def reader() -> None:
        c = s3(cl.gateways[1])
        for _ in range(1000):
            if stop.is_set():
                return
            for k, v in objs.items():
                if c.get_object(Bucket=bucket, Key=k)["Body"].read() != v:
                    bad.append(k)

    t = threading.Thread(target=reader)
    t.start()
    try:
        r = admin(cl.gateways[0], "POST", "node-drain", node=victim)
    finally:
        stop.set()
        t.join(120)
    assert not bad, bad
    assert r["state"] == "draining" and r["moved"] + r["repaired"] >= held and not r["stuck"], r
    for k, v in objs.items():
        assert_full(cl, bucket, k, v, avoid=victim)
    # No fragment file is left on the drained node's disks.
    node = next(n for n in cl.nodes if n.name == victim)
    assert not [p for vol in node.volume_paths for p in (vol / "fragments").glob("*/*/*")]
    # Draining: read-only for new writes too.
    a.put_object(Bucket=bucket, Key="after", Body=data(200_000, seed=9))
    assert all(node_of(cl)[f["volume"]] != victim for f in segment(cl.gateways[0], bucket, "after")["fragments"])
