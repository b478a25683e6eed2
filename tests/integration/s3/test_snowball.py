"""Snowball PUTs (a tar body extracted into objects, MinIO's auto-extract): minio-py's
upload_snowball_objects unchanged, Coffer's pax records (checksum, Content-Type), per-key
permissions, versioning, bad archives (docs/s3-compatibility.md, "Snowball")."""

from __future__ import annotations

import io
import json
import tarfile
import urllib.parse
import uuid

import pytest
from helpers import checksum_b64, data, md5_hex, s3_error
from minio import Minio
from minio.commonconfig import SnowballObject

from coffer.protocol import snowball as sb

META = {"snowball-auto-extract": "true"}


@pytest.fixture
def mc(endpoint) -> Minio:
    u = urllib.parse.urlsplit(endpoint.url)
    return Minio(u.netloc, access_key=endpoint.access_key, secret_key=endpoint.secret_key,
                 secure=u.scheme == "https", region="us-east-1")


def _exists(s3, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except Exception:
        return False
    return True


def _keys(s3, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_minio_upload_snowball_objects(mc, s3, bucket):
    big = data(300 * 1024, seed=3)  # above the inline size: the streaming data path
    res = mc.upload_snowball_objects(bucket, [
        SnowballObject("a.txt", data=io.BytesIO(b"hello"), length=5),
        SnowballObject("dir/b.bin", data=io.BytesIO(big), length=len(big)),
        SnowballObject("dir/empty", data=io.BytesIO(b""), length=0),
    ], metadata={"x-amz-meta-colour": "blue"})
    assert res.etag and len(res.etag.strip('"')) == 32
    assert _keys(s3, bucket) == ["a.txt", "dir/b.bin", "dir/empty"]
    assert s3.get_object(Bucket=bucket, Key="dir/b.bin")["Body"].read() == big
    head = s3.head_object(Bucket=bucket, Key="a.txt")
    assert head["ETag"] == f'"{md5_hex(b"hello")}"'
    assert head["Metadata"] == {"colour": "blue"}  # the snowball instructions are never stored


def test_minio_snowball_prefix_gzip_and_ignore_dirs(mc, s3, bucket, tmp_path):
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "f.txt").write_bytes(b"file one")
    mc.upload_snowball_objects(bucket, [SnowballObject("t", filename=str(root))], compression=True,
                               metadata={"X-Amz-Meta-Minio-Snowball-Prefix": "p/"})
    assert _keys(s3, bucket) == ["p/t/", "p/t/sub/", "p/t/sub/f.txt"]  # directories as zero-byte "dir/" objects
    assert s3.get_object(Bucket=bucket, Key="p/t/sub/f.txt")["Body"].read() == b"file one"
    mc.upload_snowball_objects(bucket, [SnowballObject("u", filename=str(root))],
                               metadata={"X-Amz-Meta-Minio-Snowball-Ignore-Dirs": "true"})
    assert "u/sub/f.txt" in _keys(s3, bucket) and "u/" not in _keys(s3, bucket)


def _put_tar(s3, bucket: str, body: bytes, key: str = "batch.tar", meta: dict | None = None, **kw):
    return s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={**META, **(meta or {})}, **kw)


def test_pax_checksum_and_content_type_are_applied_and_verified(s3, s3_nochecksum, bucket):
    body = b"payload"
    good = sb.pack([sb.Member("c.json", body, ("CRC32C", checksum_b64("CRC32C", body)), "application/json")])
    resp = _put_tar(s3_nochecksum, bucket, good)
    assert resp["ResponseMetadata"]["HTTPHeaders"][sb.EXTRACTED] == "1"
    head = s3.head_object(Bucket=bucket, Key="c.json", ChecksumMode="ENABLED")
    assert head["ContentType"] == "application/json"
    assert head["ChecksumCRC32C"] == checksum_b64("CRC32C", body)
    bad = sb.pack([sb.Member("d.json", body, ("CRC32C", checksum_b64("CRC32C", b"other")))])
    with s3_error("BadDigest", 400) as ei:
        _put_tar(s3, bucket, bad)
    assert "d.json" in ei.value.response["Error"]["Message"]
    assert "d.json" not in _keys(s3, bucket) and "batch.tar" not in _keys(s3, bucket)


def test_not_a_tar_is_a_precise_error(s3, bucket):
    with s3_error("MalformedArchive", 400):
        _put_tar(s3, bucket, b"this is not a tar archive at all" * 40)
    with s3_error("MalformedArchive", 400):
        _put_tar(s3, bucket, b"\x1f\x8b" + b"not gzip" * 100)
    import bz2
    with s3_error("MalformedArchive", 400) as ei:
        _put_tar(s3, bucket, bz2.compress(sb.pack([sb.Member("a", b"1")])))
    assert "bzip2 compression is not supported" in ei.value.response["Error"]["Message"]
    assert _keys(s3, bucket) == []


def test_member_key_too_long_names_the_member(s3, bucket):
    tar = sb.pack([sb.Member("x" * 1100, b"1")])
    with s3_error("KeyTooLongError", 400) as ei:
        _put_tar(s3, bucket, tar)
    assert "tar member" in ei.value.response["Error"]["Message"]


def test_policy_denies_one_key(s3_nochecksum, s3, bucket):
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/secret/*"},
    ]}))
    tar = sb.pack([sb.Member("ok.txt", b"ok"), sb.Member("secret/x", b"no")])
    with s3_error("AccessDenied", 403) as ei:
        _put_tar(s3_nochecksum, bucket, tar)
    assert "secret/x" in ei.value.response["Error"]["Message"]
    resp = _put_tar(s3_nochecksum, bucket, tar, meta={"minio-snowball-ignore-errors": "true"})
    assert resp["ResponseMetadata"]["HTTPHeaders"][sb.EXTRACTED] == "1"
    assert "secret/x" not in _keys(s3, bucket) and "ok.txt" in _keys(s3, bucket)
    s3.delete_bucket_policy(Bucket=bucket)


def test_versioned_bucket_and_many_members(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    members = [sb.Member(f"k/{i:04d}", f"v1-{i}".encode()) for i in range(300)]
    _put_tar(s3, bucket, sb.pack(members), Tagging="t=1")
    _put_tar(s3, bucket, sb.pack([sb.Member("k/0000", b"v2")]))
    versions = s3.list_object_versions(Bucket=bucket, Prefix="k/0000")["Versions"]
    assert len(versions) == 2 and len({v["VersionId"] for v in versions}) == 2
    assert s3.get_object(Bucket=bucket, Key="k/0000")["Body"].read() == b"v2"
    assert s3.get_object(Bucket=bucket, Key="k/0299")["Body"].read() == b"v1-299"
    assert s3.get_object_tagging(Bucket=bucket, Key="k/0299")["TagSet"] == [{"Key": "t", "Value": "1"}]
    assert len(_keys(s3, bucket)) == 300


def test_later_member_of_the_same_name_wins(s3_nochecksum, s3, bucket):
    tar = sb.pack([sb.Member("same", b"first"), sb.Member(f"o-{uuid.uuid4().hex}", b"x"),
                   sb.Member("same", b"second")])
    _put_tar(s3_nochecksum, bucket, tar)
    assert s3.get_object(Bucket=bucket, Key="same")["Body"].read() == b"second"


def test_gnu_long_names(s3, bucket):
    buf = io.BytesIO()
    name = "long/" + "n" * 200
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    _put_tar(s3, bucket, buf.getvalue())
    assert s3.get_object(Bucket=bucket, Key=name)["Body"].read() == b"abc"


def test_one_event_per_extracted_object(s3, bucket):
    from webhook_receiver import Receiver, notification_config

    from ports import free_port

    receiver = Receiver(free_port())
    receiver.start()
    try:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=notification_config(
            receiver.url, ["s3:ObjectCreated:*"]))
        _put_tar(s3, bucket, sb.pack([sb.Member("e1", b"1"), sb.Member("e2", b"22")]))
        records = receiver.wait_for(2)
    finally:
        receiver.stop()
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    got = sorted((r["eventName"], r["s3"]["object"]["key"], r["s3"]["object"]["size"]) for r in records)
    assert got == [("ObjectCreated:Put", "e1", 1), ("ObjectCreated:Put", "e2", 2)]


def test_unsigned_payload_commits_as_members_arrive(endpoint, s3, bucket):
    from helpers import raw_request

    big = data(200 * 1024, seed=5)
    members = [sb.Member(f"u/{i:03d}", f"m{i}".encode()) for i in range(150)] + [sb.Member("u/big", big)]
    hdrs = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD", sb.AUTO_EXTRACT: "true"}
    r = raw_request(endpoint, "PUT", f"/{bucket}/x.tar", body=sb.pack(members), headers=hdrs,
                    payload_hash="UNSIGNED-PAYLOAD")
    assert r.status == 200 and r.headers[sb.EXTRACTED] == "151"
    assert s3.get_object(Bucket=bucket, Key="u/big")["Body"].read() == big
    assert s3.get_object(Bucket=bucket, Key="u/149")["Body"].read() == b"m149"
    # not atomic: a bad member stops the request; members before it may already be objects (whole)
    bad = [sb.Member(f"v/{i:03d}", b"v") for i in range(100)] + [sb.Member("v/" + "x" * 1100, b"")]
    r = raw_request(endpoint, "PUT", f"/{bucket}/y.tar", body=sb.pack(bad), headers=hdrs,
                    payload_hash="UNSIGNED-PAYLOAD")
    assert r.status == 400 and b"KeyTooLongError" in r.body
    made = [k for k in _keys(s3, bucket) if k.startswith("v/")]
    assert "v/000" in made and all(s3.get_object(Bucket=bucket, Key=k)["Body"].read() == b"v" for k in made[:3])


def test_later_member_of_the_same_name_wins_with_a_signed_body(s3, bucket):
    big1, big2 = data(150 * 1024, seed=1), data(150 * 1024, seed=2)  # segment files: the first one is freed
    _put_tar(s3, bucket, sb.pack([sb.Member("dup", big1), sb.Member("dup", big2), sb.Member("s", b"1"),
                                  sb.Member("s", b"2")]))
    assert s3.get_object(Bucket=bucket, Key="dup")["Body"].read() == big2
    assert s3.get_object(Bucket=bucket, Key="s")["Body"].read() == b"2"


def test_signed_snowball_holding_too_much_is_refused_whole(server_factory, monkeypatch):
    """Rows of a body whose hash is checked at its end wait in memory: past the limit the request is
    refused (EntityTooLarge) and nothing of it is committed; aws-chunked / unsigned bodies have no limit."""
    from helpers import client

    monkeypatch.setenv("COFFER_SNOWBALL_HELD_BYTES", "10000")
    srv = server_factory()
    s3 = client(srv.endpoint, srv.access_key, srv.secret_key)
    s3.create_bucket(Bucket="held")
    small = sb.pack([sb.Member(f"k{i}", data(3000, seed=i)) for i in range(3)])
    assert _put_tar(s3, "held", small)["ResponseMetadata"]["HTTPHeaders"][sb.EXTRACTED] == "3"
    big = sb.pack([sb.Member(f"m{i}", data(3000, seed=i)) for i in range(4)])  # 12,000 bytes held
    with s3_error("EntityTooLarge", 400):
        _put_tar(s3, "held", big)
    assert _keys(s3, "held") == ["k0", "k1", "k2"]


@pytest.mark.slow
def test_kill9_mid_snowball_leaves_only_whole_objects(server_factory):
    """kill -9 while a member above the inline size streams: the objects already committed are whole,
    the cut member is absent, and the start-up sweep empties tmp/."""
    import socket

    from helpers import MiB, client, wait_for
    from rawhttp import UNSIGNED_PAYLOAD, Signer

    srv = server_factory()
    s3 = client(srv.endpoint, srv.access_key, srv.secret_key)
    s3.create_bucket(Bucket="snow")
    small = {f"s/{i:03d}": data(100 + i, seed=i) for i in range(100)}
    big = data(8 * MiB, seed=77)
    tar = sb.pack([*(sb.Member(k, v) for k, v in small.items()), sb.Member("big", big), sb.Member("after", b"x")])
    req = Signer(srv.endpoint, srv.access_key, srv.secret_key).sign(
        "PUT", "/snow/batch.tar", payload_hash=UNSIGNED_PAYLOAD, content_length=False,
        headers=[("Content-Length", str(len(tar))), (sb.AUTO_EXTRACT, "true")])
    cut = len(tar) - 4 * MiB  # half of the big member sent
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        sock.sendall(req.to_bytes() + tar[:cut])
        wait_for(lambda: any(p.stat().st_size > MiB for d in srv.data.rglob("tmp") if d.is_dir()
                             for p in d.rglob("*") if p.is_file()), 10, "the big member being written")
        wait_for(lambda: _exists(s3, "snow", "s/000"), 10, "the first members committed")
        srv.kill()
    finally:
        sock.close()
    srv.start()
    s3 = client(srv.endpoint, srv.access_key, srv.secret_key)
    assert not [p for d in srv.data.rglob("tmp") if d.is_dir() for p in d.rglob("*") if p.is_file()]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="snow").get("Contents", [])}
    assert "big" not in keys and "after" not in keys and "batch.tar" not in keys
    assert keys <= set(small) and "s/000" in keys  # committed before the kill: still there, whole
    for k in keys:
        assert s3.get_object(Bucket="snow", Key=k)["Body"].read() == small[k]
