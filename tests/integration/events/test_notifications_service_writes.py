"""Bucket notifications for the writes beyond S3's own requests: AIStore server-side copies and
multi-object copy/delete, DS3 folder deletes, lifecycle expiry; frozen snapshots refuse the AIStore
copies and multi-object operations."""

from __future__ import annotations

import uuid

import pytest
from ds3_wire import Ds3WireClient
from helpers import coffer_cli
from webhook_receiver import Receiver

from coffer import Client
from ports import free_port


def _events(records: list[dict]) -> list[tuple[str, str, str]]:
    return sorted((r["s3"]["bucket"]["name"], r["eventName"], r["s3"]["object"]["key"]) for r in records)


def test_aistore_copies_and_multi_object_operations(endpoint):
    aistore = pytest.importorskip("aistore")
    from aistore.sdk.errors import AISError

    if endpoint.server is None:
        pytest.skip("needs a local server (tokens are issued on its data folder)")
    token = coffer_cli(endpoint.server.data, "token", "create", "--user", "root")
    ais = aistore.Client(endpoint.url, token=token)
    sdk = Client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    src, dst = f"n-{uuid.uuid4().hex[:12]}", f"n-{uuid.uuid4().hex[:12]}"
    receiver = Receiver(free_port())
    receiver.start()
    for name in (src, dst):
        sdk.bucket(name).create()
    try:
        for i in range(3):
            sdk.bucket(src).object(f"shard-{i}").put(b"x" * (i + 1))
        for name in (src, dst):
            sdk.bucket(name).ext.set_webhooks([{"url": receiver.url}])
        ais.bucket(src).object("shard-0").copy(ais.bucket(dst).object("single"))
        ais.bucket(src).objects(obj_template="shard-{0..2}").copy(ais.bucket(dst), prepend="c/")
        ais.bucket(src).objects(obj_names=["shard-1", "shard-2"]).delete()
        records = receiver.wait_for(6)
        assert _events(records) == sorted([
            (dst, "ObjectCreated:Copy", "single"), (dst, "ObjectCreated:Copy", "c/shard-0"),
            (dst, "ObjectCreated:Copy", "c/shard-1"), (dst, "ObjectCreated:Copy", "c/shard-2"),
            (src, "ObjectRemoved:Delete", "shard-1"), (src, "ObjectRemoved:Delete", "shard-2")])
        sizes = {r["s3"]["object"]["key"]: r["s3"]["object"].get("size") for r in records}
        assert sizes["c/shard-2"] == 3 and sizes["single"] == 1

        # a frozen snapshot refuses being the destination of copies, and multi-object deletes
        snap = sdk.bucket(dst).ext.snapshot(dst + "-s")
        try:
            for attempt in (
                lambda: ais.bucket(src).object("shard-0").copy(ais.bucket(snap.name).object("x")),
                lambda: ais.bucket(src).objects(obj_names=["shard-0"]).copy(ais.bucket(snap.name), prepend="p/"),
                lambda: ais.bucket(snap.name).objects(obj_names=["single"]).delete(),
                lambda: ais.bucket(snap.name).objects(obj_template="c/shard-{0..2}").delete(),
            ):
                with pytest.raises(AISError) as denied:
                    attempt()
                assert denied.value.status_code == 403
            assert sorted(o.key for o in snap.list_objects()) == ["c/shard-0", "c/shard-1", "c/shard-2", "single"]
            # reading from a snapshot is fine: it can be a copy's source
            ais.bucket(snap.name).objects(obj_names=["single"]).copy(ais.bucket(src), prepend="back/")
            assert sdk.bucket(src).object("back/single").read() == b"x"
        finally:
            snap.ext.freeze(False)
            snap.delete(force=True)
    finally:
        receiver.stop()
        for name in (src, dst):
            sdk.bucket(name).ext.set_webhooks([])
            sdk.bucket(name).delete(force=True)


def test_ds3_folder_delete_sends_events(endpoint, s3):
    sdk = Client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    name = f"n-{uuid.uuid4().hex[:12]}"
    receiver = Receiver(free_port())
    receiver.start()
    b = sdk.bucket(name).create()
    try:
        for key in ("dir/a", "dir/sub/b", "other"):
            b.object(key).put(b"data")
        b.ext.set_webhooks([{"url": receiver.url, "events": ["s3:ObjectRemoved:*"]}])
        Ds3WireClient(endpoint.url, endpoint.access_key, endpoint.secret_key).delete_folder_recursively(name, "dir")
        records = receiver.wait_for(2)
        assert _events(records) == [(name, "ObjectRemoved:Delete", "dir/a"),
                                    (name, "ObjectRemoved:Delete", "dir/sub/b")]
        assert [o.key for o in b.list_objects()] == ["other"]
    finally:
        receiver.stop()
        b.ext.set_webhooks([])
        b.delete(force=True)


def test_lifecycle_expiry_sends_lifecycle_events(server_factory):
    srv = server_factory(extra_args=["--lifecycle-day-seconds", "1"])
    sdk = Client(srv.endpoint, srv.access_key, srv.secret_key)
    from helpers import client

    s3 = client(srv.endpoint, srv.access_key, srv.secret_key)
    receiver = Receiver(free_port())
    receiver.start()
    try:
        for name, versioned in (("plain", False), ("versioned", True)):
            s3.create_bucket(Bucket=name)
            if versioned:
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            sdk.bucket(name).ext.set_webhooks([{"url": receiver.url, "events": ["s3:LifecycleExpiration:*"]}])
            s3.put_object(Bucket=name, Key="tmp/old", Body=b"bye")
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
                {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}]})
        records = receiver.wait_for(2)
        assert _events(records) == [("plain", "LifecycleExpiration:Delete", "tmp/old"),
                                    ("versioned", "LifecycleExpiration:DeleteMarkerCreated", "tmp/old")]
        marker = next(r for r in records if r["s3"]["bucket"]["name"] == "versioned")
        assert marker["s3"]["object"]["versionId"] == \
            s3.list_object_versions(Bucket="versioned")["DeleteMarkers"][0]["VersionId"]
    finally:
        receiver.stop()
