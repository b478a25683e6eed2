"""The listen API (MinIO's ListenBucketNotification) driven by minio-py, the third-party client.

Writes are made by boto3 on other connections (a new client per write, so with the shared server's
two workers the writes land on both); the stream is served by whichever worker took the listen
connection, so events cross processes through the metadata store. A stream gives no sign of being
ready to a minio-py caller, so each test first writes warm-up objects until one is reported; every
write after that must be reported. Waiting is by bounded polling, never by timed assertions.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
from access_users import new_user
from helpers import client


def _minio(ep: Any, access_key: str | None = None, secret_key: str | None = None) -> Any:
    from minio import Minio

    return Minio(urlsplit(ep.url).netloc, access_key or ep.access_key, secret_key or ep.secret_key,
                 secure=False, region="us-east-1")


@contextmanager
def _listening(mc: Any, bucket: str, **kw: Any) -> Iterator[queue.Queue]:
    """minio-py's listen_bucket_notification in a thread; records (or an exception) arrive on the queue."""
    got: queue.Queue = queue.Queue()
    stream = mc.listen_bucket_notification(bucket, **kw)

    def run() -> None:
        try:
            for event in stream:
                for r in event["Records"]:
                    got.put(r)
        except Exception as e:  # the stream was closed by the test, or refused
            got.put(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield got
    finally:
        stream._close_response()
        t.join(10)


def _warm_up(ep: Any, bucket: str, got: queue.Queue, key: str) -> None:
    """Write `key` until the stream reports it (the stream is then live), then drain what came."""
    s3 = client(ep.url, ep.access_key, ep.secret_key)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        s3.put_object(Bucket=bucket, Key=key, Body=b"w")
        try:
            r = got.get(timeout=0.5)
        except queue.Empty:
            continue
        assert not isinstance(r, Exception), r
        time.sleep(0.3)
        while not got.empty():
            got.get_nowait()
        return
    raise AssertionError("the listen stream never reported a write")


def _collect(got: queue.Queue, n: int, timeout: float = 15) -> list[dict]:
    out: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        try:
            r = got.get(timeout=0.2)
        except queue.Empty:
            continue
        assert not isinstance(r, Exception), r
        out.append(r)
    return out


def test_minio_listen_sees_writes_from_every_worker(endpoint, bucket):
    mc = _minio(endpoint)
    with _listening(mc, bucket, events=["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]) as got:
        _warm_up(endpoint, bucket, got, "warm")
        keys = [f"k{i}" for i in range(6)]
        for k in keys:  # a new connection per write: both workers serve some
            client(endpoint.url, endpoint.access_key, endpoint.secret_key).put_object(Bucket=bucket, Key=k,
                                                                                     Body=k.encode() * 100)
        s3 = client(endpoint.url, endpoint.access_key, endpoint.secret_key)
        s3.delete_object(Bucket=bucket, Key="k0")
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k1"}, {"Key": "k2"}]})
        records = _collect(got, 9)
    seen = [(r["eventName"], r["s3"]["object"]["key"]) for r in records]
    assert seen[:6] == [("ObjectCreated:Put", k) for k in keys]
    assert sorted(seen[6:]) == [("ObjectRemoved:Delete", "k0"), ("ObjectRemoved:Delete", "k1"),
                                ("ObjectRemoved:Delete", "k2")]
    r = records[0]
    assert r["eventSource"] == "coffer:s3" and r["s3"]["bucket"]["name"] == bucket
    assert r["s3"]["object"]["size"] == 200 and r["s3"]["object"]["eTag"]


def test_copy_multipart_and_delete_marker_events(endpoint, bucket, s3):
    """Every write path reports, though the bucket has no notification configuration."""
    s3.put_object(Bucket=bucket, Key="src", Body=b"s")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    mc = _minio(endpoint)
    with _listening(mc, bucket, prefix="t/") as got:
        _warm_up(endpoint, bucket, got, "t/warm")
        s3.copy_object(Bucket=bucket, Key="t/copy", CopySource={"Bucket": bucket, "Key": "src"})
        up = s3.create_multipart_upload(Bucket=bucket, Key="t/mpu")
        part = s3.upload_part(Bucket=bucket, Key="t/mpu", UploadId=up["UploadId"], PartNumber=1, Body=b"m" * 10)
        s3.complete_multipart_upload(Bucket=bucket, Key="t/mpu", UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
        s3.delete_object(Bucket=bucket, Key="t/copy")  # versioned: a delete marker
        records = _collect(got, 3)
    assert [(r["eventName"], r["s3"]["object"]["key"]) for r in records] == [
        ("ObjectCreated:Copy", "t/copy"), ("ObjectCreated:CompleteMultipartUpload", "t/mpu"),
        ("ObjectRemoved:DeleteMarkerCreated", "t/copy")]
    assert records[2]["s3"]["object"]["versionId"]
    for v in s3.list_object_versions(Bucket=bucket).get("Versions", []) + \
            s3.list_object_versions(Bucket=bucket).get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])


def test_prefix_suffix_and_event_filters(endpoint, bucket):
    mc = _minio(endpoint)
    s3 = client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    with _listening(mc, bucket, prefix="in/", suffix=".txt", events=["s3:ObjectCreated:*"]) as got:
        _warm_up(endpoint, bucket, got, "in/warm.txt")
        for key in ("out/a.txt", "in/b.log", "in/c.txt", "in/sub dir/d+e.txt"):
            s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        s3.delete_object(Bucket=bucket, Key="in/c.txt")  # a removal: not asked for
        s3.put_object(Bucket=bucket, Key="in/last.txt", Body=b"x")
        records = _collect(got, 3)
        time.sleep(0.5)
        extra = [got.get_nowait() for _ in range(got.qsize())]
    from urllib.parse import unquote_plus

    assert [unquote_plus(r["s3"]["object"]["key"]) for r in records] == ["in/c.txt", "in/sub dir/d+e.txt",
                                                                          "in/last.txt"]
    assert extra == []


def test_unknown_event_is_refused(endpoint, bucket):
    from minio.error import S3Error

    mc = _minio(endpoint)
    with pytest.raises(S3Error) as e:
        next(iter(mc.listen_bucket_notification(bucket, events=["s3:ObjectExploded:*"])))
    assert e.value.code == "InvalidArgument"


def test_listen_needs_the_permission(endpoint, bucket):
    from minio.error import S3Error

    user = new_user(endpoint)
    mc = _minio(endpoint, user.access_key, user.secret_key)
    with pytest.raises(S3Error) as e:
        next(iter(mc.listen_bucket_notification(bucket, events=["s3:ObjectCreated:*"])))
    assert e.value.code == "AccessDenied"


def test_bucket_policy_grants_listen(endpoint, bucket, s3):
    import json

    user = new_user(endpoint)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": [user.id]}, "Action": ["s3:ListenBucketNotification"],
        "Resource": [f"arn:aws:s3:::{bucket}"]}]}))
    mc = _minio(endpoint, user.access_key, user.secret_key)
    with _listening(mc, bucket, events=["s3:ObjectCreated:*"]) as got:
        _warm_up(endpoint, bucket, got, "granted")


def test_disconnect_drops_the_lease_and_shutdown_ends_streams(server_factory):
    """A client that goes away ends its stream (its lease is gone within a keep-alive period); SIGTERM
    ends the streams still open at once, so they never hold the shutdown (the grace is 60 s here,
    longer than stop()'s patience: a held shutdown would end in SIGKILL)."""
    import os
    import sqlite3

    from coffer import Client

    if os.environ.get("COFFER_TEST_META") == "postgresql":
        pytest.skip("reads the leases from the SQLite file")
    srv = server_factory(workers=2, extra_args=["--shutdown-grace", "60"])
    c = Client(srv.endpoint, srv.access_key, srv.secret_key, proxy="")
    b = c.bucket("leases").create()
    db = srv.data / "meta" / "coffer.sqlite3"

    def leases() -> int:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM listeners").fetchone()[0])

    gone = b.listen()
    kept = b.listen(events=["s3:ObjectCreated:*"])
    assert leases() == 2
    gone.close()
    deadline = time.monotonic() + 20
    while leases() != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert leases() == 1
    assert srv.stop() == 0
    assert list(kept) == []  # the stream ended cleanly (no error), with no event
    assert "coffer: stopped" in srv.log_text()
