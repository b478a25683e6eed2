"""Bucket notifications to webhooks: configuration with boto3, durable queue, retries, restarts.

The receiver is a real HTTP server in a thread. The key test keeps it down (nothing listens on its
port) while events happen and while Coffer restarts, then brings it up and checks that every event
arrives exactly once, in order per URL. Waiting is by polling for the condition, never by a timed
assertion.
"""

from __future__ import annotations

import socket
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from helpers import client, coffer_cli
from webhook_receiver import Receiver, notification_config

from ports import free_port


def test_config_round_trip_and_validation(s3, bucket):
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    cfg = notification_config("http://127.0.0.1:9/x", ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"], "logs/")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=cfg)
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert got == [{"Id": "hook-1", "QueueArn": "arn:coffer:webhook:::http://127.0.0.1:9/x",
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "logs/"}]}}}]
    bad = [
        notification_config("http://x/", ["s3:ObjectExploded:*"]),  # unknown event
        {"QueueConfigurations": [{"QueueArn": "arn:aws:sqs:us-east-1:123456789012:q",  # not deliverable
                                  "Events": ["s3:ObjectCreated:*"]}]},
        {"QueueConfigurations": [{"QueueArn": "arn:coffer:webhook:::ftp://x/", "Events": ["s3:ObjectCreated:*"]}]},
    ]
    for doc in bad:
        with pytest.raises(ClientError) as e:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=doc)
        assert e.value.response["Error"]["Code"] == "InvalidArgument"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # a refused document changed nothing; an empty one removes the configuration
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"] == got
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)


def test_webhook_element_extension(endpoint, bucket):
    """Coffer's own <WebhookConfiguration> element (for clients that send the XML themselves)."""
    from coffer import Client

    client = Client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    doc = (b'<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><WebhookConfiguration>'
           b"<Id>w</Id><Url>http://127.0.0.1:9/w</Url><Event>s3:ObjectRemoved:*</Event>"
           b"<Filter><S3Key><FilterRule><Name>suffix</Name><Value>.log</Value></FilterRule></S3Key></Filter>"
           b"</WebhookConfiguration></NotificationConfiguration>")
    client._transport.request("PUT", bucket, query={"notification": ""}, body=doc)
    got = client._transport.request("GET", bucket, query={"notification": ""}).data
    assert b"<WebhookConfiguration><Id>w</Id><Url>http://127.0.0.1:9/w</Url>" in got
    assert b"<Name>suffix</Name><Value>.log</Value>" in got


def test_receiver_down_then_back_gets_every_event_once_across_restart(server_factory):
    srv = server_factory(workers=2, extra_args=["--webhook-retry-max", "0.3"])
    s3 = client(srv.endpoint, srv.access_key, srv.secret_key)
    receiver = Receiver(free_port())  # not started: connections to it are refused
    bucket = f"n-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=notification_config(
        receiver.url, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"], prefix="logs/"))
    expected: list[tuple[str, str]] = []
    for i in range(20):
        s3.put_object(Bucket=bucket, Key=f"logs/{i:02d}", Body=b"x" * i)
        expected.append(("ObjectCreated:Put", f"logs/{i:02d}"))
    s3.put_object(Bucket=bucket, Key="other/ignored", Body=b"filtered out by the prefix")
    s3.copy_object(Bucket=bucket, Key="logs/copy", CopySource={"Bucket": bucket, "Key": "logs/05"})
    expected.append(("ObjectCreated:Copy", "logs/copy"))
    up = s3.create_multipart_upload(Bucket=bucket, Key="logs/mp")
    etag = s3.upload_part(Bucket=bucket, Key="logs/mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="logs/mp", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    expected.append(("ObjectCreated:CompleteMultipartUpload", "logs/mp"))
    s3.delete_object(Bucket=bucket, Key="logs/00")
    expected.append(("ObjectRemoved:Delete", "logs/00"))
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "logs/01"}, {"Key": "logs/02"}]})
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "logs/03"}, {"Key": "logs/absent"}],
                                             "Quiet": True})
    # like S3, a key DeleteObjects reports deleted is an event even when it did not exist
    expected += [("ObjectRemoved:Delete", k) for k in ("logs/01", "logs/02", "logs/03", "logs/absent")]

    # Coffer restarts while the receiver is still down: the queue is on disk.
    srv.stop()
    srv.start()
    s3.put_object(Bucket=bucket, Key="logs/after-restart", Body=b"late")
    expected.append(("ObjectCreated:Put", "logs/after-restart"))

    receiver.start()
    try:
        records = receiver.wait_for(len(expected))
        time.sleep(1.0)  # a duplicate, if the queue produced one, would arrive now
        records = receiver.wait_for(len(expected))
    finally:
        receiver.stop()
    got = [(r["eventName"], r["s3"]["object"]["key"]) for r in records]
    assert sorted(got) == sorted(expected)  # every event, none twice, nothing filtered out leaked
    by_key = {r["s3"]["object"]["key"]: r for r in records if r["eventName"].startswith("ObjectCreated")}
    rec = by_key["logs/07"]
    assert rec["eventVersion"] == "2.1" and rec["s3"]["bucket"]["name"] == bucket
    assert rec["s3"]["object"]["size"] == 7 and rec["s3"]["configurationId"] == "hook-1"
    assert by_key["logs/copy"]["s3"]["object"]["eTag"] == by_key["logs/05"]["s3"]["object"]["eTag"]
    # within one process, one URL's events arrive in the order they happened
    puts = [k for name, k in got if name == "ObjectCreated:Put" and k.startswith("logs/") and k[5:].isdigit()]
    assert len(puts) == 20


def test_receiver_errors_are_retried(server_factory):
    srv = server_factory(workers=1, extra_args=["--webhook-retry-max", "0.2"])
    s3 = client(srv.endpoint, srv.access_key, srv.secret_key)
    receiver = Receiver(free_port(), fail_first=3)
    receiver.start()
    try:
        bucket = f"n-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=notification_config(
            receiver.url, ["s3:ObjectCreated:Put"]))
        for i in range(3):
            s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"v")
        s3.delete_object(Bucket=bucket, Key="k0")  # not subscribed
        records = receiver.wait_for(3)
    finally:
        receiver.stop()
    assert receiver.posts >= 6  # three refused (503) attempts, then the three events
    assert [r["s3"]["object"]["key"] for r in records] == ["k0", "k1", "k2"]


def test_kill_9_during_delivery_loses_nothing(server_factory):
    """A worker killed while a delivery is in flight: after restart the events go out at once
    (start-up releases the dead process's leases) and none is lost."""
    srv = server_factory(workers=1, extra_args=["--webhook-retry-max", "0.3"])
    s3 = client(srv.endpoint, srv.access_key, srv.secret_key)
    port = free_port()
    hang = socket.socket()  # accepts connections and never answers: the delivery hangs in flight
    hang.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hang.bind(("127.0.0.1", port))
    hang.listen(16)
    receiver = Receiver(port)
    bucket = f"n-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=notification_config(
        receiver.url, ["s3:ObjectCreated:*"]))
    keys = [f"k{i}" for i in range(10)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    hang.settimeout(30)
    conn, _ = hang.accept()  # the first delivery attempt is now in flight
    srv.kill()
    conn.close()
    hang.close()
    receiver.start()
    try:
        srv.start()
        # well before the dead worker's 30 s lease would expire: start-up released it
        records = receiver.wait_for(len(keys), timeout=20)
    finally:
        receiver.stop()
    assert sorted(r["s3"]["object"]["key"] for r in records) == keys


def test_appends_and_openio_operations_send_events(endpoint):
    from coffer import Client
    from coffer.compat.oio import ObjectStorageApi

    receiver = Receiver(free_port())
    receiver.start()
    client_ = Client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    api = ObjectStorageApi(client=client_)
    bucket = f"n-{uuid.uuid4().hex[:12]}"
    other = bucket + "-b"
    try:
        for b in (bucket, other):
            api.container_create("acct", b)
            client_.bucket(b).ext.set_webhooks([{"url": receiver.url}])
        w = client_.bucket(bucket).object("log").get_writer()
        h = w.append_content(b"one ")
        w.append_content(b"two", handle=h, flush=True)
        api.object_truncate("acct", bucket, "log", size=3)
        api.object_link("acct", bucket, "log", "acct", other, "log-link")
        api.container_flush("acct", bucket)
        records = receiver.wait_for(4)
    finally:
        receiver.stop()
        for b in (bucket, other):
            client_.bucket(b).ext.set_webhooks([])
            api.container_flush("acct", b)
            api.container_delete("acct", b)
    got = [(r["s3"]["bucket"]["name"], r["eventName"], r["s3"]["object"]["key"], r["s3"]["object"].get("size"))
           for r in records]
    assert sorted(got, key=str) == sorted([
        (bucket, "ObjectCreated:Put", "log", 7),  # the append flush
        (bucket, "ObjectCreated:Put", "log", 3),  # the truncation
        (other, "ObjectCreated:Copy", "log-link", 3),  # the link
        (bucket, "ObjectRemoved:Delete", "log", None),  # the flush
    ], key=str)


def test_aistore_api_writes_send_events_and_respect_frozen_buckets(endpoint):
    """Objects written through the AIStore API (another front) pass the same write hook."""
    aistore = pytest.importorskip("aistore")
    if endpoint.server is None:
        pytest.skip("needs a local server (tokens are issued on its data folder)")

    from coffer import Client

    token = coffer_cli(endpoint.server.data, "token", "create", "--user", "root")
    ais = aistore.Client(endpoint.url, token=token)
    sdk = Client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    name = f"n-{uuid.uuid4().hex[:12]}"
    receiver = Receiver(free_port())
    receiver.start()
    b = sdk.bucket(name).create()
    try:
        b.ext.set_webhooks([{"url": receiver.url}])
        obj = ais.bucket(name).object("a")
        obj.get_writer().put_content(b"hello")
        handle = obj.get_writer().append_content(b" world")  # a piece: no event yet
        obj.get_writer().append_content(b"", handle=handle, flush=True)
        obj.delete()
        records = receiver.wait_for(3)
        got = [(r["eventName"], r["s3"]["object"].get("size")) for r in records]
        assert got == [("ObjectCreated:Put", 5), ("ObjectCreated:Put", 11), ("ObjectRemoved:Delete", None)]
        snap = b.ext.snapshot(name + "-s")
        from aistore.sdk.errors import AISError

        with pytest.raises(AISError) as denied:
            ais.bucket(snap.name).object("x").get_writer().put_content(b"no")
        assert denied.value.status_code == 403
        snap.ext.freeze(False)
        ais.bucket(snap.name).object("x").get_writer().put_content(b"yes")  # unfrozen: the same write works
        snap.delete(force=True)
    finally:
        receiver.stop()
        b.ext.set_webhooks([])
        b.delete(force=True)
