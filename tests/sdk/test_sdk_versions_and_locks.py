"""SDK: versioning, version-addressed reads/deletes/copies, tagging, S3 Object Lock and IBM immutable
storage, against a real Coffer server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from coffer import (
    AccessDenied,
    ClientRequestError,
    LegalHold,
    NoSuchKey,
    NoSuchVersion,
    ObjectLockConfig,
    ObjectVersion,
    Prefix,
    ProtectionConfig,
    Retention,
)


def test_versioning_state_listing_and_version_ids(coffer_bkt):
    b = coffer_bkt
    assert b.get_versioning() is None
    b.enable_versioning()
    assert b.get_versioning() == "Enabled"
    obj = b.object("dir/a.txt")
    v1 = obj.put(b"one").version_id
    v2 = obj.put(b"two").version_id
    assert v1 and v2 and v1 != v2
    gone = obj.delete()
    assert gone.delete_marker and gone.version_id
    assert not obj.exists()
    assert obj.read(version_id=v1) == b"one"
    assert obj.head(v2).size == 3
    b.object("other").put(b"x")

    versions = [v for v in b.list_versions(prefix="dir/")]
    assert all(isinstance(v, ObjectVersion) for v in versions)
    assert [(v.version_id, v.delete_marker, v.is_latest) for v in versions] == [
        (gone.version_id, True, True), (v2, False, False), (v1, False, False)]
    assert versions[1].size == 3 and versions[1].etag

    paged = list(b.list_versions(page_size=1))
    assert len(paged) == 4
    with_prefixes = list(b.list_versions(delimiter="/"))
    assert Prefix(b.name, "dir/") in with_prefixes

    # copy an old version, then remove the delete marker: the newest version is back
    res = obj.copy_to(b, "restored.txt", version_id=v1)
    assert b.object("restored.txt").read() == b"one" and res.version_id
    obj.delete(gone.version_id)
    assert obj.read() == b"two"
    assert obj.delete(v2).version_id == v2
    assert obj.read() == b"one"
    with pytest.raises(NoSuchVersion):
        obj.head("no-such-version-id")

    b.suspend_versioning()
    assert b.get_versioning() == "Suspended"
    # delete(force) also removes versions and delete markers
    b.object("dir/a.txt").delete()
    results = b.delete_objects([("other", versions_of(b, "other")[0])])
    assert results[0].deleted and results[0].version_id
    assert versions_of(b, "other") == []
    b.delete(force=True)
    assert not b.exists()


def versions_of(b, key):
    return [v.version_id for v in b.list_versions(prefix=key) if isinstance(v, ObjectVersion) and v.key == key]


def test_object_and_bucket_tags(coffer_bkt):
    b = coffer_bkt
    assert b.get_tags() == {}
    b.set_tags({"team": "data", "env": "test"})
    assert b.get_tags() == {"team": "data", "env": "test"}
    b.delete_tags()
    assert b.get_tags() == {}

    obj = b.object("t")
    obj.put(b"x", headers={"x-amz-tagging": "a=1&b=2"})
    assert obj.get_tags() == {"a": "1", "b": "2"}
    obj.set_tags({"k": "v w"})
    assert obj.get_tags() == {"k": "v w"}
    assert obj.head().headers.get("x-amz-tagging-count") == "1"
    obj.delete_tags()
    assert obj.get_tags() == {}
    with pytest.raises(NoSuchKey):
        b.object("missing").get_tags()
    with pytest.raises(ClientRequestError) as e:
        obj.set_tags({f"k{i}": "v" for i in range(11)})  # S3's limit is 10 per object
    assert e.value.status == 400


def test_object_lock_retention_and_legal_hold(coffer_client):
    b = coffer_client.bucket(f"sdk-lock-{uuid.uuid4().hex[:12]}").create(object_lock=True)
    assert b.get_versioning() == "Enabled"
    assert b.get_object_lock() == ObjectLockConfig(True, None, None, None)
    b.set_object_lock("GOVERNANCE", days=1)
    assert b.get_object_lock() == ObjectLockConfig(True, "GOVERNANCE", 1, None)

    obj = b.object("locked")
    vid = obj.put(b"keep").version_id
    ret = obj.get_retention()
    assert isinstance(ret, Retention) and ret.mode == "GOVERNANCE"
    assert ret.retain_until is not None and ret.retain_until > datetime.now(UTC)
    with pytest.raises(AccessDenied):
        obj.delete(vid)

    later = datetime.now(UTC) + timedelta(days=2)
    obj.set_retention("GOVERNANCE", later, vid)
    got = obj.get_retention(vid)
    assert got is not None and abs((got.retain_until - later).total_seconds()) < 1

    assert obj.get_legal_hold() is False
    obj.set_legal_hold(True)
    assert obj.get_legal_hold() is True
    obj.set_legal_hold(False)

    # governance can be bypassed by its owner
    obj.delete(vid, bypass_governance=True)
    b.set_object_lock(None)
    assert b.get_object_lock() == ObjectLockConfig(True, None, None, None)
    b.delete(force=True)


def test_force_delete_of_a_bucket_with_locked_versions_says_why_and_can_bypass_governance(coffer_client):
    b = coffer_client.bucket(f"sdk-lock-{uuid.uuid4().hex[:12]}").create(object_lock=True)
    b.set_object_lock("GOVERNANCE", days=1)
    b.object("locked").put(b"keep")
    b.object("locked").put(b"keep too")
    with pytest.raises(AccessDenied, match=r"2 object version\(s\) .* protected by Object Lock") as err:
        b.delete(force=True)
    assert "bypass_governance" in str(err.value)
    assert len([v for v in b.list_versions() if isinstance(v, ObjectVersion)]) == 2  # nothing lost
    b.delete(force=True, bypass_governance=True)
    assert not coffer_client.bucket(b.name).exists()


def test_bucket_without_object_lock(coffer_bkt):
    assert coffer_bkt.get_object_lock() is None
    obj = coffer_bkt.object("plain")
    obj.put(b"x")
    with pytest.raises(ClientRequestError) as e:  # S3's answer: the bucket has no Object Lock
        obj.get_retention()
    assert e.value.code == "InvalidRequest"
    with pytest.raises(ClientRequestError):
        obj.set_retention("COMPLIANCE", datetime.now(UTC) + timedelta(days=1))


def test_ibm_protection_named_holds_and_extension(coffer_bkt):
    b = coffer_bkt
    assert b.get_protection().status == "Disabled"
    b.set_protection(0, 1, 30)
    assert b.get_protection() == ProtectionConfig("Retention", 0, 1, 30, False)

    obj = b.object("held")
    obj.put(b"x", headers={"Retention-Period": "60"})
    assert obj.head().headers.get("retention-period") == "60"
    obj.add_legal_hold("case-1")
    obj.add_legal_hold("case-2")
    state = obj.list_legal_holds()
    assert [h.id for h in state.legal_holds] == ["case-1", "case-2"]
    assert isinstance(state.legal_holds[0], LegalHold) and state.legal_holds[0].date is not None
    assert state.retention_period == 60 and state.create_time is not None
    obj.remove_legal_hold("case-1")
    assert [h.id for h in obj.list_legal_holds().legal_holds] == ["case-2"]

    obj.extend_retention(additional_seconds=60)
    assert obj.list_legal_holds().retention_period == 120
    with pytest.raises(ClientRequestError):
        obj.extend_retention(new_period_seconds=10)  # retention only grows
    with pytest.raises(ValueError):
        obj.extend_retention()
    with pytest.raises(AccessDenied):
        obj.delete()
