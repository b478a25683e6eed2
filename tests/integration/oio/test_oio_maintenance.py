"""The rest of OpenIO's ObjectStorageApi against a live server: touch, refresh, purge, account
delete, storage policy change, and the `version` argument of single-object methods."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from webhook_receiver import Receiver

from coffer import Client
from coffer.compat.oio import BadRequest, Conflict, Forbidden, NoSuchObject, ObjectStorageApi
from ports import free_port

ACCOUNT = "acct"


@pytest.fixture
def api(endpoint) -> ObjectStorageApi:
    return ObjectStorageApi("OPENIO", endpoint=endpoint.url, access_key=endpoint.access_key,
                            secret_key=endpoint.secret_key)


@pytest.fixture
def versioned(api, s3):
    name = f"oio-v-{uuid.uuid4().hex[:12]}"
    api.container_create(ACCOUNT, name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    yield name
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
    s3.delete_bucket(Bucket=name)


def _versions(s3, bucket: str, key: str) -> list[bytes]:
    out = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    return [s3.get_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])["Body"].read() for v in out
            if v["Key"] == key]


def test_container_purge_keeps_newest_versions(api, versioned, s3):
    for i in range(4):
        api.object_create(ACCOUNT, versioned, data=f"a{i}".encode(), obj_name="a")
    api.object_create(ACCOUNT, versioned, data=b"b0", obj_name="b")
    api.object_create(ACCOUNT, versioned, data=b"c0", obj_name="c")
    api.object_create(ACCOUNT, versioned, data=b"c1", obj_name="c")
    api.object_delete(ACCOUNT, versioned, "c")  # a delete marker: neither counted nor deleted
    api.container_purge(ACCOUNT, versioned, maxvers=2)
    assert _versions(s3, versioned, "a") == [b"a3", b"a2"]
    assert _versions(s3, versioned, "b") == [b"b0"]
    assert _versions(s3, versioned, "c") == [b"c1", b"c0"]
    assert len(s3.list_object_versions(Bucket=versioned, Prefix="c")["DeleteMarkers"]) == 1
    api.container_purge(ACCOUNT, versioned)  # default: keep one
    assert _versions(s3, versioned, "a") == [b"a3"]
    assert _versions(s3, versioned, "c") == [b"c1"]
    api.object_create(ACCOUNT, versioned, data=b"a4", obj_name="a")
    api.container_purge(ACCOUNT, versioned, maxvers=-1)  # negative: keep everything
    assert _versions(s3, versioned, "a") == [b"a4", b"a3"]


def test_container_purge_leaves_protected_versions(api, s3):
    name = f"oio-lk-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    try:
        api.object_create(ACCOUNT, name, data=b"old", obj_name="k")
        s3.put_object_legal_hold(Bucket=name, Key="k", LegalHold={"Status": "ON"})
        api.object_create(ACCOUNT, name, data=b"new", obj_name="k")
        api.container_purge(ACCOUNT, name, maxvers=1)
        assert _versions(s3, name, "k") == [b"new", b"old"]  # the held one stays
    finally:
        for v in s3.list_object_versions(Bucket=name).get("Versions", []):
            s3.put_object_legal_hold(Bucket=name, Key="k", VersionId=v["VersionId"], LegalHold={"Status": "OFF"})
            s3.delete_object(Bucket=name, Key="k", VersionId=v["VersionId"])
        s3.delete_bucket(Bucket=name)


def test_version_argument_acts_on_that_version(api, versioned, s3):
    api.object_create(ACCOUNT, versioned, data=b"first", obj_name="k", properties={"n": "1"})
    api.object_create(ACCOUNT, versioned, data=b"second!", obj_name="k")
    old, new = [v["VersionId"] for v in s3.list_object_versions(Bucket=versioned)["Versions"]][::-1]
    assert api.object_get_properties(ACCOUNT, versioned, "k", version=old)["length"] == 5
    assert api.object_get_properties(ACCOUNT, versioned, "k", version=old)["properties"] == {"n": "1"}
    assert api.object_show(ACCOUNT, versioned, "k")["version"] == new
    meta, stream = api.object_fetch(ACCOUNT, versioned, "k", version=old, ranges=[(1, 3)])
    assert meta["version"] == old and b"".join(stream) == b"irs"
    assert b"".join(api.object_fetch(ACCOUNT, versioned, "k", version=old)[1]) == b"first"
    assert api.object_locate(ACCOUNT, versioned, "k", version=old)[0]["size"] == 5
    assert api.object_head(ACCOUNT, versioned, "k", trust_level=2, version=old) is True
    assert api.object_head(ACCOUNT, versioned, "k", version="nosuchversion") is False
    with pytest.raises(NoSuchObject):
        api.object_get_properties(ACCOUNT, versioned, "k", version="nosuchversion")
    api.object_link(ACCOUNT, versioned, "k", ACCOUNT, versioned, "k-old", target_version=old)
    assert s3.get_object(Bucket=versioned, Key="k-old")["Body"].read() == b"first"
    # changes in place apply to the current version; naming an older one is refused, not ignored
    api.object_set_properties(ACCOUNT, versioned, "k", {"x": "y"}, version=new)
    assert api.object_show(ACCOUNT, versioned, "k")["properties"] == {"x": "y"}
    with pytest.raises(BadRequest):
        api.object_set_properties(ACCOUNT, versioned, "k", {"x": "z"}, version=old)
    with pytest.raises(BadRequest):
        api.object_drain(ACCOUNT, versioned, "k", version=old)
    api.object_delete(ACCOUNT, versioned, "k", version=old)
    assert _versions(s3, versioned, "k") == [b"second!"]


def test_touch_sends_created_event_and_refresh_counts(api, endpoint):
    receiver = Receiver(free_port())
    receiver.start()
    client = Client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    name = f"oio-t-{uuid.uuid4().hex[:12]}"
    api.container_create(ACCOUNT, name)
    try:
        api.object_create(ACCOUNT, name, data=b"x" * 300_000, obj_name="big")
        api.object_create(ACCOUNT, name, data=b"small", obj_name="small")
        client.bucket(name).ext.set_webhooks([{"url": receiver.url, "events": ["s3:ObjectCreated:*"]}])
        api.object_touch(ACCOUNT, name, "small")
        records = receiver.wait_for(1)
        assert [(r["eventName"], r["s3"]["object"]["key"], r["s3"]["object"]["size"]) for r in records] == \
            [("ObjectCreated:Touch", "small", 5)]
        with pytest.raises(NoSuchObject):
            api.object_touch(ACCOUNT, name, "absent")
        api.container_refresh(ACCOUNT, name)
        system = api.container_get_properties(ACCOUNT, name)["system"]
        assert system["sys.m2.objects"] == "2" and "sys.m2.objects.damaged" not in system
        api.container_touch(ACCOUNT, name, recompute=True)
        system = api.container_get_properties(ACCOUNT, name)["system"]
        assert system["sys.m2.objects.damaged"] == "0" and system["sys.m2.chunks.missing"] == "0"
        _meta, chunks = api.object_locate(ACCOUNT, name, "big")
        path = None if endpoint.server is None else \
            next((endpoint.server.data / "objects").rglob(chunks[0]["ref"] + "*"), None)
        if path is not None:  # a single-folder server: lose the big object's data file behind Coffer's back
            path.unlink()
            api.container_touch(ACCOUNT, name, recompute=True)
            system = api.container_get_properties(ACCOUNT, name)["system"]
            assert system["sys.m2.objects.damaged"] == "1" and system["sys.m2.chunks.missing"] == "1"
        api.account_refresh(ACCOUNT)
    finally:
        receiver.stop()
        client.bucket(name).ext.set_webhooks([])
        api.container_flush(ACCOUNT, name)
        api.container_delete(ACCOUNT, name)


def test_change_policy_rewrites_the_data_keeping_metadata(server_factory, tmp_path):
    """On a multi-volume server: the data moves to the new policy, the metadata stays."""
    from ec_support import start

    srv, _vols = start(server_factory, tmp_path, n=3)
    api = ObjectStorageApi(endpoint=srv.endpoint, access_key=srv.access_key, secret_key=srv.secret_key)
    api.container_create(ACCOUNT, "pol")
    payload = bytes(range(256)) * 2048  # 512 KiB: a segment, not inline
    api.object_create(ACCOUNT, "pol", data=payload, obj_name="o", properties={"k": "v"})
    before = api.object_show(ACCOUNT, "pol", "o")
    with pytest.raises(Conflict):  # the default of a 3-volume server is REPLICA-2
        api.object_change_policy(ACCOUNT, "pol", "o", "REPLICA-2")
    chunks, size, hash_, meta = api.object_change_policy(ACCOUNT, "pol", "o", "EC-2+1")
    assert (size, hash_, meta["version"]) == (len(payload), before["hash"], before["version"]) and chunks
    after = api.object_show(ACCOUNT, "pol", "o")
    assert {k: after[k] for k in ("hash", "version", "properties", "length", "mtime")} == \
        {k: before[k] for k in ("hash", "version", "properties", "length", "mtime")}
    assert b"".join(api.object_fetch(ACCOUNT, "pol", "o")[1]) == payload
    with pytest.raises(Conflict):  # now stored under EC-2+1
        api.object_change_policy(ACCOUNT, "pol", "o", "EC-2+1")
    api.object_change_policy(ACCOUNT, "pol", "o", "SINGLE")
    assert b"".join(api.object_fetch(ACCOUNT, "pol", "o", ranges=[(1000, 1999)])[1]) == payload[1000:2000]
    with pytest.raises(BadRequest):  # needs more volumes than the server has
        api.object_change_policy(ACCOUNT, "pol", "o", "EC-4+2")
    api.object_create(ACCOUNT, "pol", data=b"tiny", obj_name="inline")
    with pytest.raises(BadRequest):  # inline in the metadata: no policy to change
        api.object_change_policy(ACCOUNT, "pol", "inline", "SINGLE")


def test_change_policy_validates_the_name(api):
    name = f"oio-p-{uuid.uuid4().hex[:12]}"
    api.container_create(ACCOUNT, name)
    try:
        api.object_create(ACCOUNT, name, data=b"data", obj_name="o")
        with pytest.raises(BadRequest) as e:
            api.object_change_policy(ACCOUNT, name, "o", "NO-SUCH-POLICY")
        assert e.value.cause.code == "InvalidArgument"
        with pytest.raises(NoSuchObject):
            api.object_change_policy(ACCOUNT, name, "absent", "SINGLE")
    finally:
        api.container_flush(ACCOUNT, name)
        api.container_delete(ACCOUNT, name)


def test_account_delete_refused_unless_empty(api, endpoint):
    if endpoint.server is None:
        pytest.skip("needs a local server (users are added on its data folder)")
    ak, sk = "OIODELETEUSERKEY0001", "oio-delete-user-secret-0123456789abcdefg"
    out = subprocess.run([sys.executable, "-m", "coffer", "user", "add", "oio-del", "--access-key", ak,
                          "--secret-key", sk, "--data", str(endpoint.server.data)], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    user = ObjectStorageApi(endpoint=endpoint.url, access_key=ak, secret_key=sk)
    name = f"oio-d-{uuid.uuid4().hex[:12]}"
    user.container_create(ACCOUNT, name)
    with pytest.raises(Conflict):
        user.account_delete(ACCOUNT)
    with pytest.raises(Conflict):  # an admin cannot delete itself through this API
        api.account_delete(ACCOUNT)
    user.container_delete(ACCOUNT, name)
    user.account_delete(ACCOUNT)
    with pytest.raises(Forbidden):  # its keys went with it
        user.account_show(None)


def test_container_purge_sends_one_event_per_version_removed(api, versioned, endpoint, s3):
    receiver = Receiver(free_port())
    receiver.start()
    client = Client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    try:
        for i in range(3):
            api.object_create(ACCOUNT, versioned, data=f"v{i}".encode(), obj_name="k")
        old = [v["VersionId"] for v in s3.list_object_versions(Bucket=versioned)["Versions"]][1:]
        client.bucket(versioned).ext.set_webhooks([{"url": receiver.url, "events": ["s3:ObjectRemoved:*"]}])
        api.container_purge(ACCOUNT, versioned, maxvers=1)
        records = receiver.wait_for(2)
        assert sorted((r["eventName"], r["s3"]["object"]["versionId"]) for r in records) == \
            sorted(("ObjectRemoved:Delete", v) for v in old)
    finally:
        receiver.stop()
        client.bucket(versioned).ext.set_webhooks([])
