"""Bucket notifications for writes made through the web console's JSON API (driven without a
browser, as the page drives it): uploads (single and multipart), folders, version restores and
deletes raise S3's events, on webhooks and on listen streams; a frozen snapshot refuses them."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from browser_support import ApiClient
from webhook_receiver import Receiver

from coffer import Client
from ports import free_port


def _console(endpoint: Any) -> ApiClient:
    api = ApiClient(endpoint.url)
    api.login(endpoint.access_key, endpoint.secret_key)
    return api


def _ok(answer: tuple[int, Any]) -> Any:
    status, doc = answer
    assert status < 300, doc
    return doc


def _q(**kw: str) -> str:
    return urlencode(kw, quote_via=quote)  # spaces as %20, as the page sends them


def test_console_writes_reach_webhooks(endpoint, s3):
    sdk = Client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    name = f"n-{uuid.uuid4().hex[:12]}"
    receiver = Receiver(free_port())
    receiver.start()
    sdk.bucket(name).create()
    try:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        sdk.bucket(name).ext.set_webhooks([{"url": receiver.url}])
        api = _console(endpoint)
        first = _ok(api.upload("object", _q(bucket=name, key="doc.txt"), b"one", "text/plain"))
        _ok(api.upload("object", _q(bucket=name, key="doc.txt"), b"two!", "text/plain"))
        restored = _ok(api.request("POST", "restore", query=_q(bucket=name, key="doc.txt",
                                                                version_id=first["version_id"])))
        _ok(api.request("POST", "folder", query=_q(bucket=name, key="dir")))
        up = _ok(api.request("POST", "upload", {"content_type": "application/octet-stream"},
                             query=_q(bucket=name, key="big bin")))["upload_id"]
        part = _ok(api.upload("part", _q(bucket=name, key="big bin", upload_id=up, part="1"), b"m" * 100))
        done = _ok(api.request("POST", "complete", {"parts": [{"part": 1, "etag": part["etag"]}]},
                               query=_q(bucket=name, key="big bin", upload_id=up)))
        marker = _ok(api.request("DELETE", "object", query=_q(bucket=name, key="doc.txt")))
        assert marker["delete_marker"]
        _ok(api.request("DELETE", "object", query=_q(bucket=name, key="big bin", version_id=done["version_id"])))

        records = receiver.wait_for(7)
        seen = [(r["eventName"], r["s3"]["object"]["key"]) for r in records]
        assert seen == [
            ("ObjectCreated:Put", "doc.txt"), ("ObjectCreated:Put", "doc.txt"), ("ObjectCreated:Copy", "doc.txt"),
            ("ObjectCreated:Put", "dir/"), ("ObjectCreated:CompleteMultipartUpload", "big+bin"),
            ("ObjectRemoved:DeleteMarkerCreated", "doc.txt"), ("ObjectRemoved:Delete", "big+bin")]
        obj = [r["s3"]["object"] for r in records]
        assert obj[0]["size"] == 3 and obj[0]["versionId"] == first["version_id"]
        assert obj[2]["size"] == 3 and obj[2]["versionId"] == restored["version_id"]
        assert obj[4]["size"] == 100 and obj[4]["eTag"] == done["etag"]
        assert obj[5]["versionId"] == marker["version_id"]
        assert obj[6]["versionId"] == done["version_id"]
        assert all(r["userIdentity"]["principalId"] for r in records)
    finally:
        receiver.stop()
        sdk.bucket(name).ext.set_webhooks([])
        for v in s3.list_object_versions(Bucket=name).get("Versions", []) + \
                s3.list_object_versions(Bucket=name).get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
        sdk.bucket(name).delete(force=True)


@contextmanager
def _listening(endpoint: Any, bucket: str) -> Iterator[queue.Queue]:
    """minio-py's listen_bucket_notification in a thread; records (or an exception) arrive on the queue."""
    from minio import Minio

    mc = Minio(urlsplit(endpoint.url).netloc, endpoint.access_key, endpoint.secret_key, secure=False,
               region="us-east-1")
    got: queue.Queue = queue.Queue()
    stream = mc.listen_bucket_notification(bucket, events=["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])

    def run() -> None:
        try:
            for event in stream:
                for r in event["Records"]:
                    got.put(r)
        except Exception as e:  # the stream was closed by the test
            got.put(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield got
    finally:
        stream._close_response()
        t.join(10)


def _next(got: queue.Queue, timeout: float) -> dict | None:
    try:
        r = got.get(timeout=timeout)
    except queue.Empty:
        return None
    assert not isinstance(r, Exception), r
    return r


def test_console_writes_reach_listen_streams(endpoint, bucket):
    api = _console(endpoint)
    with _listening(endpoint, bucket) as got:
        # the stream gives no sign of being live: upload through the console until one is reported
        deadline = time.monotonic() + 20
        while _next(got, 0.5) is None:
            assert time.monotonic() < deadline, "the listen stream never reported a console upload"
            _ok(api.upload("object", _q(bucket=bucket, key="warm"), b"w"))
        time.sleep(0.3)
        while not got.empty():
            got.get_nowait()
        _ok(api.upload("object", _q(bucket=bucket, key="seen"), b"x" * 10))
        _ok(api.request("DELETE", "object", query=_q(bucket=bucket, key="seen")))
        records = [r for r in (_next(got, 15), _next(got, 15)) if r is not None]
    assert [(r["eventName"], r["s3"]["object"]["key"]) for r in records] == [
        ("ObjectCreated:Put", "seen"), ("ObjectRemoved:Delete", "seen")]
    assert records[0]["s3"]["object"]["size"] == 10


def test_frozen_snapshot_refuses_console_writes(endpoint):
    sdk = Client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    name = f"n-{uuid.uuid4().hex[:12]}"
    sdk.bucket(name).create()
    sdk.bucket(name).object("kept").put(b"k")
    snap = sdk.bucket(name).ext.snapshot(name + "-s")
    try:
        api = _console(endpoint)
        for status, doc in (
            api.upload("object", _q(bucket=snap.name, key="new"), b"n"),
            api.request("POST", "folder", query=_q(bucket=snap.name, key="dir")),
            api.request("DELETE", "object", query=_q(bucket=snap.name, key="kept")),
        ):
            assert status == 403 and doc["error"]["code"] == "AccessDenied", doc
        assert [o.key for o in snap.list_objects()] == ["kept"]
    finally:
        snap.ext.freeze(False)
        snap.delete(force=True)
        sdk.bucket(name).delete(force=True)
