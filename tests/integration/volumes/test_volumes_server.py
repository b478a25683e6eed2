"""The multi-volume server through S3 clients: storage policies per bucket and per object,
placement on distinct volumes, range reads, multipart, copies, volume identity, the admin API and
the `coffer admin` CLI. Fault injection is in test_volumes_faults.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from ec_support import admin, cluster, fragments, health, s3_for, start, volume_args
from helpers import MiB, data, s3_error


@pytest.fixture
def ec6(server_factory, tmp_path):
    return cluster(server_factory, tmp_path, "ecb")


def test_default_policy_ec_4_2_on_distinct_volumes_and_ranges(ec6):
    srv, vols, s3 = ec6
    body = data(3 * MiB + 12345, seed=1)
    s3.put_object(Bucket="ecb", Key="big", Body=body)
    frags = fragments(srv, "ecb", "big")
    seg = admin(srv, "GET", "locate", bucket="ecb", key="big")["segments"][0]
    assert seg["policy"] == "EC-4+2" and seg["state"] == "healthy"
    assert [f["index"] for f in frags] == list(range(6))
    assert len({f["volume"] for f in frags}) == 6  # never two fragments on one volume
    assert all(f["path"].startswith(tuple(str(v) for v in vols)) for f in frags)
    assert s3.get_object(Bucket="ecb", Key="big")["Body"].read() == body
    for lo, hi in [(0, 0), (1, MiB), (MiB - 1, MiB + 1), (3 * MiB, len(body) - 1), (123, 2 * MiB + 7)]:
        got = s3.get_object(Bucket="ecb", Key="big", Range=f"bytes={lo}-{hi}")["Body"].read()
        assert got == body[lo:hi + 1]
    # nothing of the object in the data folder itself: the volumes hold it
    assert not (srv.data / "objects").exists() or not any((srv.data / "objects").rglob("*"))


def test_policy_per_object_header_and_storage_class(ec6):
    srv, _, s3 = ec6
    body = data(300_000, seed=2)
    undo = _with_header(s3, "PutObject", "x-coffer-storage-policy", "REPLICA-3")
    s3.put_object(Bucket="ecb", Key="r3", Body=body)
    undo()
    seg = admin(srv, "GET", "locate", bucket="ecb", key="r3")["segments"][0]
    assert seg["policy"] == "REPLICA-3" and seg["good"] == 3
    s3.put_object(Bucket="ecb", Key="rrs", Body=body, StorageClass="REDUCED_REDUNDANCY")
    seg = admin(srv, "GET", "locate", bucket="ecb", key="rrs")["segments"][0]
    assert seg["policy"] == "REPLICA-2"
    assert s3.head_object(Bucket="ecb", Key="rrs")["StorageClass"] == "REDUCED_REDUNDANCY"
    for key in ("r3", "rrs"):
        assert s3.get_object(Bucket="ecb", Key=key)["Body"].read() == body
    # small objects stay inline whatever the policy
    s3.put_object(Bucket="ecb", Key="tiny", Body=b"x" * 100)
    assert admin(srv, "GET", "locate", bucket="ecb", key="tiny")["inline"] is True


def _with_header(s3, op: str, name: str, value: str):
    def add(request, **kw):
        request.headers[name] = value
    s3.meta.events.register(f"before-sign.s3.{op}", add)
    return lambda: s3.meta.events.unregister(f"before-sign.s3.{op}", add)


def test_bad_and_impossible_policies_are_400(ec6):
    _, _, s3 = ec6
    body = data(200_000)
    undo = _with_header(s3, "PutObject", "x-coffer-storage-policy", "EC-2+0")
    with s3_error("InvalidArgument", 400):
        s3.put_object(Bucket="ecb", Key="bad", Body=body)
    undo()
    undo = _with_header(s3, "PutObject", "x-coffer-storage-policy", "EC-8+4")
    with s3_error("InvalidStorageClass", 400):
        s3.put_object(Bucket="ecb", Key="bad", Body=body)
    undo()
    with pytest.raises(ClientError):
        s3.head_object(Bucket="ecb", Key="bad")  # nothing was stored


def test_bucket_default_policy_from_create_header_and_admin(ec6):
    srv, _, s3 = ec6
    undo = _with_header(s3, "CreateBucket", "x-coffer-storage-policy", "SINGLE")
    s3.create_bucket(Bucket="single")
    undo()
    body = data(400_000, seed=3)
    s3.put_object(Bucket="single", Key="k", Body=body)
    assert admin(srv, "GET", "locate", bucket="single", key="k")["segments"][0]["policy"] == "SINGLE"
    r = admin(srv, "PUT", "storage-policy", bucket="single", policy="ec-3+2")
    assert r["storage_policy"] == "EC-3+2"
    # the resource's former name still answers (scripts written before it was renamed)
    assert admin(srv, "PUT", "bucket-policy", bucket="single", policy="ec-3+2")["storage_policy"] == "EC-3+2"
    s3.put_object(Bucket="single", Key="k2", Body=body)
    assert admin(srv, "GET", "locate", bucket="single", key="k2")["segments"][0]["policy"] == "EC-3+2"
    # the object header beats the bucket default; multipart keeps the policy of its creation
    undo = _with_header(s3, "CreateMultipartUpload", "x-coffer-storage-policy", "REPLICA-2")
    up = s3.create_multipart_upload(Bucket="single", Key="mp")
    undo()
    parts = [data(5 * MiB, seed=4), data(1000, seed=5)]
    etags = [s3.upload_part(Bucket="single", Key="mp", UploadId=up["UploadId"], PartNumber=i + 1, Body=p)["ETag"]
             for i, p in enumerate(parts)]
    s3.complete_multipart_upload(Bucket="single", Key="mp", UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
    segs = admin(srv, "GET", "locate", bucket="single", key="mp")["segments"]
    assert [s["policy"] for s in segs] == ["REPLICA-2", "REPLICA-2"]
    assert s3.get_object(Bucket="single", Key="mp")["Body"].read() == b"".join(parts)
    # copies share the data: same segments, still readable after the source goes
    s3.copy_object(Bucket="single", Key="cp", CopySource={"Bucket": "single", "Key": "mp"})
    s3.delete_object(Bucket="single", Key="mp")
    assert s3.get_object(Bucket="single", Key="cp")["Body"].read() == b"".join(parts)


def test_delete_removes_fragments(ec6):
    srv, _, s3 = ec6
    s3.put_object(Bucket="ecb", Key="gone", Body=data(2 * MiB))
    paths = [f["path"] for f in fragments(srv, "ecb", "gone")]
    assert all(os.path.exists(p) for p in paths)
    s3.delete_object(Bucket="ecb", Key="gone")
    assert not any(os.path.exists(p) for p in paths)


def test_admin_needs_an_admin_and_known_names(ec6):
    srv, _, _ = ec6
    subprocess.run([sys.executable, "-m", "coffer", "user", "add", "bob", "--access-key", "BOBKEY0000000001",
                    "--secret-key", "bob-secret-0123456789", "--data", str(srv.data)], check=True,
                   capture_output=True)
    from coffer.sdk._client import Client
    from coffer.sdk._errors import CofferError

    bob = Client(srv.endpoint, "BOBKEY0000000001", "bob-secret-0123456789")
    with pytest.raises(CofferError) as ei:
        bob._transport.request("GET", "_coffer", "admin/v1/volumes", retries=False)
    assert ei.value.code == "AccessDenied"
    anon = Client(srv.endpoint)
    with pytest.raises(CofferError) as ei:
        anon._transport.request("GET", "_coffer", "admin/v1/volumes", retries=False)
    assert ei.value.code in ("AccessDenied", "MissingSecurityHeader")
    with pytest.raises(CofferError) as ei:
        admin(srv, "POST", "volumes")
    assert ei.value.code == "MethodNotAllowed"
    with pytest.raises(CofferError) as ei:
        admin(srv, "GET", "locate", bucket="ecb", key="nope")
    assert ei.value.code == "NoSuchKey"


def test_coffer_admin_cli(ec6):
    srv, _, s3 = ec6
    body = data(2 * MiB, seed=7)
    s3.put_object(Bucket="ecb", Key="obj", Body=body)
    env = {**os.environ, "COFFER_ENDPOINT": srv.endpoint, "COFFER_ACCESS_KEY": srv.access_key,
           "COFFER_SECRET_KEY": srv.secret_key}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "coffer", "admin", *args], env=env, capture_output=True,
                              text=True, timeout=120)

    r = cli("volumes")
    assert r.returncode == 0, r.stderr
    assert sum("online" in line for line in r.stdout.splitlines()) == 6
    r = cli("locate", "ecb", "obj", "--json")
    loc = json.loads(r.stdout)
    assert loc["segments"][0]["state"] == "healthy" and len(loc["segments"][0]["fragments"]) == 6
    r = cli("check", "ecb", "--trust", "2")
    assert r.returncode == 0 and "1 healthy" in r.stdout, r.stdout + r.stderr
    os.unlink(loc["segments"][0]["fragments"][0]["path"])
    r = cli("check", "ecb", "obj", "--trust", "1")
    assert "1 degraded" in r.stdout
    r = cli("repair", "ecb", "obj")
    assert r.returncode == 0 and "repaired" in r.stdout, r.stdout + r.stderr
    r = cli("vacuum", "--grace", "0")
    assert r.returncode == 0 and "orphaned" in r.stdout
    r = cli("scrub")
    assert r.returncode == 0 and "scrub pass" in r.stdout, r.stdout + r.stderr
    assert s3.get_object(Bucket="ecb", Key="obj")["Body"].read() == body
    r = cli("rebuild", "--volume", "/nonexistent")
    assert r.returncode != 0 and "no volume" in r.stderr


def test_volume_identity_is_checked(server_factory, tmp_path):
    srv, vols = start(server_factory, tmp_path, 4)
    s3 = s3_for(srv)
    s3.create_bucket(Bucket="idb")
    body = data(1 * MiB, seed=9)
    s3.put_object(Bucket="idb", Key="k", Body=body)
    assert admin(srv, "GET", "volumes")["default_policy"] == "EC-2+2"
    srv.stop()
    # Swap two disks between their mount points: found by uuid, still served.
    os.rename(vols[0], tmp_path / "swap")
    os.rename(vols[1], vols[0])
    os.rename(tmp_path / "swap", vols[1])
    srv.start()
    assert s3.get_object(Bucket="idb", Key="k")["Body"].read() == body
    srv.stop()
    # Another server's volume at one of our paths is refused at start.
    other = tmp_path / "other"
    from coffer.server.data.volumes.volume import format_volume

    format_volume(other)
    srv.extra_args = [*volume_args(vols), "--volume", str(other)]
    with pytest.raises(RuntimeError, match="belongs to another server"):
        srv.start(timeout=20)
    # An unmounted disk (empty directory where a volume was) is never formatted or written.
    srv.extra_args = volume_args(vols)
    for p in sorted(vols[2].rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    srv.start()
    assert s3.get_object(Bucket="idb", Key="k")["Body"].read() == body  # 3 of 4 volumes, EC-2+2
    assert not any(vols[2].iterdir())
    assert health(srv)["status"] == "degraded"


def test_two_workers_and_the_supervisors_healer(server_factory, tmp_path):
    """Workers find damage on reads; the healer thread (in the supervisor process) repairs it."""
    vols = [tmp_path / f"vol{i}" for i in range(4)]
    srv = server_factory(workers=2, extra_args=[*volume_args(vols), "--heal-interval", "0.2"])
    s3 = s3_for(srv)
    s3.create_bucket(Bucket="two")
    bodies = {f"k{i}": data(1 * MiB + i, seed=100 + i) for i in range(4)}
    for k, b in bodies.items():
        s3.put_object(Bucket="two", Key=k, Body=b)
    lost = []
    for k in bodies:
        f = fragments(srv, "two", k)[1]
        os.unlink(f["path"])
        lost.append(f["path"])
    for k, b in bodies.items():  # served degraded by whichever worker takes the connection
        assert s3.get_object(Bucket="two", Key=k)["Body"].read() == b
    deadline = time.monotonic() + 60
    while not all(os.path.exists(p) for p in lost) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(os.path.exists(p) for p in lost), "the healer should rebuild every fragment in place"
    r = admin(srv, "POST", "check", bucket="two", trust=2)
    assert r["healthy"] == 4


def test_adding_a_volume_rewrites_nothing(server_factory, tmp_path):
    srv, vols = start(server_factory, tmp_path, 4)
    s3 = s3_for(srv)
    s3.create_bucket(Bucket="grow")
    bodies = {f"k{i}": data(600_000, seed=200 + i) for i in range(6)}
    for k, b in bodies.items():
        s3.put_object(Bucket="grow", Key=k, Body=b)
    before = {k: [(f["index"], f["path"], os.stat(f["path"]).st_mtime_ns) for f in fragments(srv, "grow", k)]
              for k in bodies}
    srv.stop()
    srv.extra_args = [*volume_args([*vols, tmp_path / "vol-new"]), "--heal-interval", "0"]
    srv.start()
    assert admin(srv, "GET", "volumes")["default_policy"] == "EC-3+2"  # the default follows the count
    for k, b in bodies.items():
        assert s3.get_object(Bucket="grow", Key=k)["Body"].read() == b
        after = [(f["index"], f["path"], os.stat(f["path"]).st_mtime_ns) for f in fragments(srv, "grow", k)]
        assert after == before[k]  # same files, untouched: old objects keep EC-2+2 where they are
    s3.put_object(Bucket="grow", Key="new", Body=data(600_000, seed=300))
    seg = admin(srv, "GET", "locate", bucket="grow", key="new")["segments"][0]
    assert seg["policy"] == "EC-3+2" and len({f["volume"] for f in seg["fragments"]}) == 5


def test_encryption_at_rest_over_volumes(ec6):
    """SSE-S3 is a layer above the data store: ciphertext is erasure-coded, reads decrypt verified
    fragments, ranges and degraded reads still give the exact plaintext."""
    srv, _, s3 = ec6
    body = data(3 * MiB + 777, seed=400)
    s3.put_object(Bucket="ecb", Key="secret", Body=body, ServerSideEncryption="AES256")
    got = s3.get_object(Bucket="ecb", Key="secret")
    assert got["ServerSideEncryption"] == "AES256" and got["Body"].read() == body
    assert s3.get_object(Bucket="ecb", Key="secret", Range="bytes=70000-2100000")["Body"].read() == \
        body[70000:2100001]
    frags = fragments(srv, "ecb", "secret")
    assert len(frags) == 6
    needle = body[1000:1064]
    assert all(needle not in Path(f["path"]).read_bytes() for f in frags)  # only ciphertext on the disks
    os.unlink(frags[0]["path"])
    os.unlink(frags[2]["path"])
    assert s3.get_object(Bucket="ecb", Key="secret")["Body"].read() == body
