"""Fault injection on a real multi-volume server: every time, GET returns the exact bytes
(or a clear error once more is lost than the policy tolerates), health says degraded, and repair /
rebuild / heal restore full redundancy (checked with `check --trust 2`).

Faults: flipped bytes in a fragment, deleted fragments (within and beyond tolerance), a whole volume
directory deleted, a volume turned read-only (a read-only bind mount: root ignores permission bits),
a volume filled up (a 3 MiB tmpfs: a real ENOSPC, skipped where mounting is not allowed), kill -9
during a PUT, during CompleteMultipartUpload and during a repair.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from ec_support import admin, cluster, flip, fragments, health, read_only, s3_for, start, state, tmpfs
from helpers import MiB, data, s3_error, wait_for
from rawhttp import UNSIGNED_PAYLOAD, Signer

pytestmark = pytest.mark.slow


def _all_healthy(srv, bucket: str) -> None:
    r = admin(srv, "POST", "check", bucket=bucket, trust=2)
    assert r["healthy"] == r["objects"] and not r["problems"], r


def _tmp_files(vols: list[Path]) -> list[Path]:
    return [p for v in vols if (v / "tmp").is_dir() for p in (v / "tmp").iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def ec6(server_factory, tmp_path):
    return cluster(server_factory, tmp_path, "faults")


def test_flipped_bytes_are_caught_served_around_and_repaired_identically(ec6):
    srv, _, s3 = ec6
    body = data(5 * MiB + 1234, seed=11)
    s3.put_object(Bucket="faults", Key="k", Body=body)
    frags = fragments(srv, "faults", "k")
    original = Path(frags[1]["path"]).read_bytes()
    flip(frags[1]["path"], 64 + 4 + 1000)  # inside stripe 0's payload of a data fragment
    flip(frags[5]["path"], len(original) - 10)  # the last stripe of a parity fragment
    assert s3.get_object(Bucket="faults", Key="k")["Body"].read() == body
    assert s3.get_object(Bucket="faults", Key="k", Range="bytes=100-200")["Body"].read() == body[100:201]
    h = health(srv)
    assert h["status"] == "degraded" and h["repair_queue"] >= 1  # the read queued a repair
    assert state(srv, "faults", "k") == "degraded"
    healed = admin(srv, "POST", "heal")["healed"]
    assert [x["status"] for x in healed] == ["repaired"]
    assert Path(frags[1]["path"]).read_bytes() == original  # rebuilt byte for byte
    _all_healthy(srv, "faults")
    assert health(srv)["status"] == "ok"


def test_deleted_fragments_within_and_beyond_tolerance(ec6):
    srv, _, s3 = ec6
    ok_body, lost_body = data(3 * MiB, seed=12), data(3 * MiB, seed=13)
    s3.put_object(Bucket="faults", Key="ok", Body=ok_body)
    s3.put_object(Bucket="faults", Key="lost", Body=lost_body)
    for f in fragments(srv, "faults", "ok")[:2]:  # two data fragments: the decoder must work
        os.unlink(f["path"])
    for f in fragments(srv, "faults", "lost")[:3]:  # one more than EC-4+2 tolerates
        os.unlink(f["path"])
    assert s3.get_object(Bucket="faults", Key="ok")["Body"].read() == ok_body
    with s3_error("ServiceUnavailable", 503):
        s3.get_object(Bucket="faults", Key="lost")
    r = admin(srv, "POST", "check", bucket="faults", trust=1)
    assert (r["degraded"], r["lost"]) == (1, 1)
    rep = admin(srv, "POST", "repair", bucket="faults", key="lost")
    assert rep["segments"][0]["status"] == "lost"
    rep = admin(srv, "POST", "repair", bucket="faults", key="ok")
    assert rep["segments"][0]["status"] == "repaired" and len(rep["segments"][0]["rebuilt"]) == 2
    assert state(srv, "faults", "ok") == "healthy"
    assert s3.get_object(Bucket="faults", Key="ok")["Body"].read() == ok_body


def test_lost_volume_directory_then_rebuild(ec6):
    srv, vols, s3 = ec6
    bodies = {f"k{i}": data(2 * MiB + i, seed=20 + i) for i in range(4)}
    for k, b in bodies.items():
        s3.put_object(Bucket="faults", Key=k, Body=b)
    shutil.rmtree(vols[2])
    for k, b in bodies.items():
        assert s3.get_object(Bucket="faults", Key=k)["Body"].read() == b
    vstate = {v["path"]: v["state"] for v in admin(srv, "GET", "volumes")["volumes"]}
    assert vstate[str(vols[2])] == "offline"
    assert health(srv)["status"] == "degraded"
    # writes go on over the 5 others (EC-4+2's write quorum is 5)
    late = data(3 * MiB, seed=30)
    s3.put_object(Bucket="faults", Key="late", Body=late)
    assert s3.get_object(Bucket="faults", Key="late")["Body"].read() == late
    r = admin(srv, "POST", "rebuild", volume=str(vols[2]))
    assert r["replaced"] and r["rebuilt"] >= 5 and not r["unrepaired"] and not r["lost"], r
    _all_healthy(srv, "faults")
    assert health(srv)["status"] == "ok"
    for k, b in {**bodies, "late": late}.items():
        assert s3.get_object(Bucket="faults", Key=k)["Body"].read() == b


def test_read_only_volume(ec6):
    srv, vols, s3 = ec6
    before = data(2 * MiB, seed=40)
    s3.put_object(Bucket="faults", Key="before", Body=before)
    with read_only(vols[0]):
        during = data(2 * MiB, seed=41)
        s3.put_object(Bucket="faults", Key="during", Body=during)  # 5 fragments, one queued for later
        assert s3.get_object(Bucket="faults", Key="before")["Body"].read() == before  # ro still readable
        assert s3.get_object(Bucket="faults", Key="during")["Body"].read() == during
        vstate = {v["path"]: v for v in admin(srv, "GET", "volumes")["volumes"]}[str(vols[0])]
        assert vstate["state"] == "read-only" and vstate["errors"], vstate
        assert health(srv)["status"] == "degraded"
        assert state(srv, "faults", "during") == "degraded"
    healed = admin(srv, "POST", "heal")["healed"]  # the disk is writable again: probe, then repair
    assert "repaired" in [x["status"] for x in healed]
    _all_healthy(srv, "faults")


def test_full_volume(server_factory, tmp_path):
    vols = [tmp_path / f"vol{i}" for i in range(6)]
    with tmpfs(vols[3], "3m"):
        srv, _ = start(server_factory, tmp_path, 6)
        s3 = s3_for(srv)
        s3.create_bucket(Bucket="full")
        bodies = {f"k{i}": data(4 * MiB, seed=50 + i) for i in range(6)}  # ~1 MiB per fragment each
        for k, b in bodies.items():
            s3.put_object(Bucket="full", Key=k, Body=b)
        for k, b in bodies.items():
            assert s3.get_object(Bucket="full", Key=k)["Body"].read() == b
        v = {v["path"]: v for v in admin(srv, "GET", "volumes")["volumes"]}[str(vols[3])]
        assert v["state"] == "read-only" and "ENOSPC" in v["errors"], v
        assert health(srv)["status"] == "degraded"
        assert not _tmp_files([vols[3]]), "a partial fragment must not stay on the full volume"
        # More room (a bigger disk): heal restores full redundancy.
        assert os.system(f"mount -o remount,size=64m {vols[3]}") == 0
        admin(srv, "POST", "heal")
        _all_healthy(srv, "full")
        srv.stop()


def test_kill9_during_put(ec6):
    srv, vols, s3 = ec6
    earlier = data(3 * MiB, seed=60)
    s3.put_object(Bucket="faults", Key="earlier", Body=earlier)
    total = 64 * MiB
    req = Signer(srv.endpoint, srv.access_key, srv.secret_key).sign(
        "PUT", "/faults/big", payload_hash=UNSIGNED_PAYLOAD, content_length=False,
        headers=[("Content-Length", str(total))])
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        sock.sendall(req.to_bytes())
        chunk = data(MiB, seed=61)
        for _ in range(24):
            sock.sendall(chunk)
        wait_for(lambda: any(p.stat().st_size > MiB // 4 for p in _tmp_files(vols)), 20, "fragments being written")
        srv.kill()
    finally:
        sock.close()
    assert _tmp_files(vols), "the kill should leave partial fragment files"
    srv.start()
    assert not _tmp_files(vols), "the start-up sweep empties every volume's tmp/"
    s3 = s3_for(srv)
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket="faults", Key="big")
    assert s3.get_object(Bucket="faults", Key="earlier")["Body"].read() == earlier
    _all_healthy(srv, "faults")


@pytest.mark.parametrize("delay", [0.0, 0.01])
def test_kill9_during_complete_multipart(ec6, delay):
    srv, _, s3 = ec6
    up = s3.create_multipart_upload(Bucket="faults", Key="mpu")["UploadId"]
    parts = [data(5 * MiB, seed=70 + i) for i in range(3)] + [data(77_777, seed=79)]
    done = [{"PartNumber": n, "ETag": s3.upload_part(Bucket="faults", Key="mpu", UploadId=up, PartNumber=n,
                                                     Body=b)["ETag"]} for n, b in enumerate(parts, 1)]
    xml = "<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{p['PartNumber']}</PartNumber><ETag>{p['ETag']}</ETag></Part>" for p in done
    ) + "</CompleteMultipartUpload>"
    req = Signer(srv.endpoint, srv.access_key, srv.secret_key).sign("POST", f"/faults/mpu?uploadId={up}",
                                                                    body=xml.encode())
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(req.to_bytes())
        time.sleep(delay)  # before / around the metadata commit
        srv.kill()
    srv.start()
    s3 = s3_for(srv)
    if not s3.list_objects_v2(Bucket="faults", Prefix="mpu").get("Contents"):
        s3.complete_multipart_upload(Bucket="faults", Key="mpu", UploadId=up, MultipartUpload={"Parts": done})
    got = s3.get_object(Bucket="faults", Key="mpu")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(b"".join(parts)).digest()
    _all_healthy(srv, "faults")


def test_kill9_during_repair(ec6):
    srv, vols, s3 = ec6
    body = data(48 * MiB, seed=80)
    s3.put_object(Bucket="faults", Key="big", Body=body)
    for f in fragments(srv, "faults", "big")[:2]:
        os.unlink(f["path"])
    box: dict = {}

    def go() -> None:
        try:
            box["r"] = admin(srv, "POST", "repair", bucket="faults", key="big")
        except Exception as exc:  # the server dies under it
            box["e"] = exc

    t = threading.Thread(target=go)
    t.start()
    wait_for(lambda: bool(_tmp_files(vols)) or not t.is_alive(), 60, "the repair to start writing")
    srv.kill()
    t.join(30)
    killed_mid_repair = "e" in box
    print(f"kill -9 {'during' if killed_mid_repair else 'after'} the repair")
    srv.start()
    s3 = s3_for(srv)
    assert s3.get_object(Bucket="faults", Key="big")["Body"].read() == body  # old or new fragments, never partial
    if killed_mid_repair:
        assert state(srv, "faults", "big") == "degraded"
        admin(srv, "POST", "repair", bucket="faults", key="big")
    _all_healthy(srv, "faults")
    assert not _tmp_files(vols)


def test_background_healer_and_scrubber(server_factory, tmp_path):
    """With the healer on, a damaged fragment nobody reads is found by the scrubber and repaired."""
    srv, _ = start(server_factory, tmp_path, 4, extra=["--scrub-interval", "1", "--scrub-rate", "0"],
                   healer=True)
    s3 = s3_for(srv)
    s3.create_bucket(Bucket="scrub")
    body = data(2 * MiB, seed=90)
    s3.put_object(Bucket="scrub", Key="k", Body=body)
    frag = fragments(srv, "scrub", "k")[0]["path"]
    original = Path(frag).read_bytes()
    flip(frag, 200)
    wait_for(lambda: admin(srv, "GET", "volumes")["scrub"]["passes"] >= 1, 60, "a scrub pass to end")
    assert Path(frag).read_bytes() == original  # found without any read of the object, and repaired
    assert s3.get_object(Bucket="scrub", Key="k")["Body"].read() == body


def test_loss_after_the_headers_cuts_the_body_short(ec6):
    """Stripes far into an object lost beyond tolerance: the first batch went out with a 200, so the
    server aborts the connection; the client gets a prefix of the true bytes, never wrong ones."""
    srv, _, s3 = ec6
    body = data(8 * MiB, seed=95)
    s3.put_object(Bucket="faults", Key="late-loss", Body=body)
    stripe = 6  # beyond the first 4 MiB batch
    for f in fragments(srv, "faults", "late-loss")[:3]:  # one more than EC-4+2 tolerates
        record = 64 + stripe * (4 + (f["size"] - 64) // 8 - 4)
        flip(f["path"], record + 4 + 500)
    resp = s3.get_object(Bucket="faults", Key="late-loss")
    got = bytearray()
    with pytest.raises(Exception):  # noqa: B017 - botocore's IncompleteRead / ResponseStreamingError
        while chunk := resp["Body"].read(256 * 1024):
            got += chunk
    assert 0 < len(got) < len(body) and bytes(got) == body[:len(got)]  # abort drops what was buffered
    assert s3.get_object(Bucket="faults", Key="late-loss", Range=f"bytes=0-{MiB - 1}")["Body"].read() == body[:MiB]


def test_vacuum_removes_orphans_and_temporary_files(ec6):
    from coffer.server.data.volumes.store import VolumeDataStore

    srv, vols, s3 = ec6
    keep = data(1 * MiB, seed=96)
    s3.put_object(Bucket="faults", Key="keep", Body=keep)
    other = VolumeDataStore(srv.data, vols, fsync=False)  # a writer whose metadata commit never came
    other.open(register=False)
    w = other.writer({})
    w.write(data(300_000, seed=97))
    orphan = w.commit()
    (vols[0] / "tmp" / f"{orphan}.0.deadbeef.tmp").write_bytes(b"partial")
    r = admin(srv, "POST", "vacuum", grace=0)
    assert r["orphans"] == 1 and r["temporary_files"] == 1, r
    assert not other.volumes.find_fragments(orphan) and not _tmp_files(vols)
    assert s3.get_object(Bucket="faults", Key="keep")["Body"].read() == keep


def test_writes_refused_clearly_below_quorum_reads_go_on(server_factory, tmp_path):
    """EC-2+2 over 4 volumes writes 3 fragments at least: with 2 volumes gone a PUT is a clear 503,
    nothing is stored, and what was stored before is still read from the 2 volumes left."""
    srv, vols = start(server_factory, tmp_path, 4)
    s3 = s3_for(srv)
    s3.create_bucket(Bucket="quorum")
    old = data(2 * MiB, seed=99)
    s3.put_object(Bucket="quorum", Key="old", Body=old)
    shutil.rmtree(vols[0])
    shutil.rmtree(vols[3])
    assert s3.get_object(Bucket="quorum", Key="old")["Body"].read() == old
    with s3_error("ServiceUnavailable", 503) as ei:
        s3.put_object(Bucket="quorum", Key="new", Body=data(1 * MiB, seed=98))
    assert "EC-2+2" in ei.value.response["Error"]["Message"]
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket="quorum", Key="new")
    s3.put_object(Bucket="quorum", Key="small", Body=b"inline objects live in the metadata")
    assert health(srv)["status"] == "failed"
    assert not _tmp_files(vols)
