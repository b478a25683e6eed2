"""The SDK's Coffer-only operations (`client.ext`, `bucket.ext`, `obj.ext`) against a live Coffer."""

from __future__ import annotations

import uuid

import pytest

from coffer import AccessDenied, CofferError


def test_object_ext_truncate_link_locate_properties(coffer_client, coffer_bkt):
    obj = coffer_bkt.object("data.bin")
    data = bytes(range(256)) * 1000
    obj.put(data)
    chunks = obj.ext.locate()
    assert [c["size"] for c in chunks] == [len(data)]
    assert obj.ext.update_properties(set={"a": "1", "b": "2"}) == {"a": "1", "b": "2"}
    assert obj.ext.update_properties(delete=["a"]) == {"b": "2"}
    assert obj.head().custom == {"b": "2"} and obj.ext.locate() == chunks  # data untouched
    link = obj.ext.link_to(coffer_bkt, "link.bin")
    obj.delete()
    assert link.read() == data and link.ext.present(trust_level=2)
    assert link.ext.truncate(1000)["length"] == 1000
    assert link.read() == data[:1000]
    with pytest.raises(CofferError) as e:
        link.ext.truncate(1001)
    assert e.value.code == "InvalidArgument"
    link.ext.drain()
    assert link.ext.describe()["drained"] is True and not link.ext.present(trust_level=1)
    with pytest.raises(AccessDenied) as denied:  # 403 InvalidObjectState
        link.read()
    assert denied.value.code == "InvalidObjectState"


def test_bucket_ext_stats_snapshot_freeze_flush(coffer_client, coffer_bkt):
    for i in range(3):
        coffer_bkt.object(f"k{i}").put(b"x" * (i + 1))
    coffer_bkt.ext.set_properties(set={"team": "a"})
    stats = coffer_bkt.ext.stats()
    assert stats["properties"] == {"team": "a"} and stats["system"]["sys.m2.objects"] == "3"
    assert stats["system"]["sys.m2.usage"] == "6"
    snap = coffer_bkt.ext.snapshot(f"snap-{uuid.uuid4().hex[:12]}")
    try:
        assert sorted(o.key for o in snap.list_objects()) == ["k0", "k1", "k2"]
        with pytest.raises(AccessDenied):
            snap.object("k0").delete()
        snap.ext.freeze(False)
        assert snap.ext.flush() == 3
        assert coffer_bkt.object("k2").read() == b"xxx"  # the source keeps its objects
    finally:
        snap.ext.freeze(False)
        snap.delete(force=True)
    account = coffer_client.ext.account()
    assert account["containers"] >= 1 and account["objects"] >= 3
    assert coffer_client.ext.set_account_properties(set={"x": "y"})["x"] == "y"


def test_bucket_webhooks_round_trip(coffer_bkt):
    assert coffer_bkt.ext.webhooks() == []
    coffer_bkt.ext.set_webhooks([{"id": "w1", "url": "http://127.0.0.1:9/h", "events": ["s3:ObjectCreated:*"],
                                  "prefix": "logs/"}])
    (got,) = coffer_bkt.ext.webhooks()
    secret = got.pop("secret")  # generated: the key signing its deliveries
    assert len(secret) == 64 and got == {"id": "w1", "url": "http://127.0.0.1:9/h",
                                         "events": ["s3:ObjectCreated:*"], "prefix": "logs/"}
    # re-put without a secret keeps it; a given secret replaces it
    coffer_bkt.ext.set_webhooks([{"id": "w1", "url": "http://127.0.0.1:9/h", "events": ["s3:ObjectCreated:*"]}])
    assert coffer_bkt.ext.webhooks()[0]["secret"] == secret
    coffer_bkt.ext.set_webhooks([{"id": "w1", "url": "http://127.0.0.1:9/h", "secret": "my-own-secret-0123"}])
    assert coffer_bkt.ext.webhooks()[0]["secret"] == "my-own-secret-0123"
    coffer_bkt.ext.set_webhooks([])
    assert coffer_bkt.ext.webhooks() == []


def test_bucket_ext_refresh_purge_object_touch_and_policy(coffer_client, coffer_bkt):
    coffer_client._transport.request("PUT", coffer_bkt.name, query={"versioning": ""},
                                     body=b'<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>')
    o = coffer_bkt.object("k")
    for i in range(3):
        o.put(b"v%d" % i)
    assert coffer_bkt.ext.refresh()["objects"] == 1
    assert coffer_bkt.ext.refresh(recompute=True)["damaged_objects"] == 0
    assert coffer_bkt.ext.purge(keep=2) == {"deleted": 1, "protected": 0}
    assert coffer_bkt.ext.purge() == {"deleted": 1, "protected": 0}
    assert o.read() == b"v2"
    assert o.ext.touch() == 0  # no webhook configured: nothing queued
    with pytest.raises(CofferError) as e:
        o.ext.change_policy("NOT-A-POLICY")
    assert e.value.code == "InvalidArgument"
