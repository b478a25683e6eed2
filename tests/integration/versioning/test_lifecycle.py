"""Integration tests for bucket lifecycle with boto3: configuration round trip and validation, and
the background worker on a server whose lifecycle "day" is one second (`--lifecycle-day-seconds`):
Expiration with prefix / tag / size filters, NoncurrentVersionExpiration with
NewerNoncurrentVersions, ExpiredObjectDeleteMarker, AbortIncompleteMultipartUpload, and locked
versions that the worker never touches.

The worker tests wait for an observable outcome (polling with a generous deadline), never for a time.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from helpers import client, s3_error


def wait_for(cond, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def _rule(**kw) -> dict:
    return {"ID": kw.pop("ID", uuid.uuid4().hex[:8]), "Status": "Enabled", **kw}


def test_lifecycle_configuration_roundtrip(s3, bucket):
    with s3_error("NoSuchLifecycleConfiguration", 404):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    rules = [
        _rule(ID="logs", Filter={"Prefix": "logs/"}, Expiration={"Days": 30}),
        _rule(ID="tagged", Filter={"And": {"Prefix": "tmp/", "Tags": [{"Key": "t", "Value": "1"}],
                                           "ObjectSizeGreaterThan": 10}},
              NoncurrentVersionExpiration={"NoncurrentDays": 5, "NewerNoncurrentVersions": 2}),
        _rule(ID="mpu", Filter={"Prefix": ""}, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 7}),
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in got] == ["logs", "tagged", "mpu"]
    assert got[0]["Filter"] == {"Prefix": "logs/"} and got[0]["Expiration"] == {"Days": 30}
    assert got[1]["Filter"]["And"]["Tags"] == [{"Key": "t", "Value": "1"}]
    assert got[1]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 5, "NewerNoncurrentVersions": 2}
    assert got[2]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with s3_error("NoSuchLifecycleConfiguration", 404):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


@pytest.mark.parametrize("rule, code", [
    (_rule(Filter={"Prefix": ""}, Expiration={"Days": 0}), "InvalidArgument"),
    (_rule(Filter={"Prefix": ""}), "InvalidRequest"),
    (_rule(Filter={"Prefix": ""}, Expiration={"Date": dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC)}),
     "InvalidArgument"),
])
def test_lifecycle_validation(s3, bucket, rule, code):
    with s3_error(code, 400):
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})


def test_duplicate_rule_ids(s3, bucket):
    r = _rule(ID="same", Filter={"Prefix": ""}, Expiration={"Days": 1})
    with s3_error("InvalidArgument", 400):
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [r, dict(r)]})


@pytest.fixture
def fast(server_factory):
    """A server whose lifecycle day lasts one second (two workers: one of them runs the rules)."""
    srv = server_factory(workers=2, extra_args=["--lifecycle-day-seconds", "1"])
    return client(srv.endpoint, srv.access_key, srv.secret_key)


def _new_bucket(s3, versioned=False, lock=False) -> str:
    name = f"t-lc-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)
    if versioned and not lock:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _keys(s3, b) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", [])}


def test_expiration_with_filters(fast):
    b = _new_bucket(fast)
    fast.put_object(Bucket=b, Key="logs/small", Body=b"x", Tagging="kind=log")
    fast.put_object(Bucket=b, Key="logs/untagged", Body=b"x")
    fast.put_object(Bucket=b, Key="logs/big", Body=b"x" * 100, Tagging="kind=log")
    fast.put_object(Bucket=b, Key="other/a", Body=b"x", Tagging="kind=log")
    fast.put_object(Bucket=b, Key="sentinel/a", Body=b"x")
    fast.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        _rule(Filter={"And": {"Prefix": "logs/", "Tags": [{"Key": "kind", "Value": "log"}],
                              "ObjectSizeLessThan": 50}}, Expiration={"Days": 1}),
        _rule(Filter={"Prefix": "sentinel/"}, Expiration={"Days": 1}),
    ]})
    # "sentinel/" sorts after every other key: once it is gone, a whole pass has seen them all
    wait_for(lambda: "sentinel/a" not in _keys(fast, b))
    assert _keys(fast, b) == {"logs/untagged", "logs/big", "other/a"}


def test_noncurrent_expiration_keeps_newer(fast):
    b = _new_bucket(fast, versioned=True)
    ids = [fast.put_object(Bucket=b, Key="k", Body=str(i).encode())["VersionId"] for i in range(4)]
    fast.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        _rule(Filter={"Prefix": ""}, NoncurrentVersionExpiration={"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}),
    ]})

    def remaining():
        return [v["VersionId"] for v in fast.list_object_versions(Bucket=b).get("Versions", [])]

    wait_for(lambda: len(remaining()) == 2)
    assert remaining() == [ids[3], ids[2]]


def test_expired_delete_marker_removed(fast):
    b = _new_bucket(fast, versioned=True)
    v = fast.put_object(Bucket=b, Key="gone", Body=b"x")["VersionId"]
    fast.delete_object(Bucket=b, Key="gone")
    fast.delete_object(Bucket=b, Key="gone", VersionId=v)  # only the marker is left
    fast.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        _rule(Filter={"Prefix": ""}, Expiration={"ExpiredObjectDeleteMarker": True})]})
    wait_for(lambda: not fast.list_object_versions(Bucket=b).get("DeleteMarkers"))


def test_abort_incomplete_multipart(fast):
    b = _new_bucket(fast)
    fast.create_multipart_upload(Bucket=b, Key="stale")
    fast.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        _rule(Filter={"Prefix": ""}, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})]})
    wait_for(lambda: not fast.list_multipart_uploads(Bucket=b).get("Uploads"))


def test_lifecycle_never_touches_locked_versions(fast):
    b = _new_bucket(fast, lock=True)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    locked = [fast.put_object(Bucket=b, Key="a-locked", Body=b"x", ObjectLockMode="COMPLIANCE",
                              ObjectLockRetainUntilDate=until)["VersionId"] for _ in range(2)]
    held = fast.put_object(Bucket=b, Key="b-held", Body=b"x", ObjectLockLegalHoldStatus="ON")["VersionId"]
    fast.put_object(Bucket=b, Key="b-held", Body=b"y")
    fast.put_object(Bucket=b, Key="z-sentinel", Body=b"1")
    fast.put_object(Bucket=b, Key="z-sentinel", Body=b"2")
    fast.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        _rule(Filter={"Prefix": ""}, NoncurrentVersionExpiration={"NoncurrentDays": 1}),
        _rule(Filter={"Prefix": "a-"}, Expiration={"Days": 1}),
    ]})

    def sentinel_versions():
        return [v for v in fast.list_object_versions(Bucket=b, Prefix="z-").get("Versions", [])]

    wait_for(lambda: len(sentinel_versions()) == 1)
    versions = {(v["Key"], v["VersionId"]) for v in fast.list_object_versions(Bucket=b).get("Versions", [])}
    assert {("a-locked", i) for i in locked} <= versions
    assert ("b-held", held) in versions
    for i in locked:
        assert fast.get_object(Bucket=b, Key="a-locked", VersionId=i)["Body"].read() == b"x"


def test_rules_come_back_as_sent(s3, bucket):
    rules = [
        {"ID": "legacy", "Prefix": "old/", "Status": "Enabled", "Expiration": {"Days": 3}},
        {"ID": "filtered", "Filter": {"Prefix": "x/"}, "Status": "Enabled", "Expiration": {"Days": 5}},
        {"ID": "and-one", "Filter": {"And": {"Prefix": "y/", "Tags": [{"Key": "a", "Value": "1"}]}},
         "Status": "Disabled", "Expiration": {"Days": 7}},
        {"ID": "empty", "Filter": {}, "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 2}},
        {"ID": "blank-prefix", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 9}},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == rules
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"Filter": {"Prefix": "z/"}, "Status": "Enabled", "Expiration": {"Days": 1}}]})
    named = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["ID"]
    assert named  # S3 names a rule sent without an ID, and keeps that name
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["ID"] == named


def test_expiration_header_on_put_head_get(s3, bucket):
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        _rule(ID="logs-rule", Filter={"Prefix": "logs/"}, Expiration={"Days": 3}),
        _rule(ID="later", Filter={"Prefix": "logs/"}, Expiration={"Days": 30}),
        _rule(ID="off", Status="Disabled", Filter={"Prefix": "tmp/"}, Expiration={"Days": 1})]})
    put = s3.put_object(Bucket=bucket, Key="logs/a", Body=b"x")
    written = s3.head_object(Bucket=bucket, Key="logs/a")["LastModified"]
    day = (written + dt.timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    if written.hour or written.minute or written.second or written.microsecond:
        day += dt.timedelta(days=1)  # S3 rounds up to the next midnight UTC
    want = f'expiry-date="{day.strftime("%a, %d %b %Y %H:%M:%S GMT")}", rule-id="logs-rule"'
    assert put["Expiration"] == want
    assert s3.head_object(Bucket=bucket, Key="logs/a")["Expiration"] == want
    assert s3.get_object(Bucket=bucket, Key="logs/a")["Expiration"] == want
    copied = s3.copy_object(Bucket=bucket, Key="logs/copy", CopySource={"Bucket": bucket, "Key": "logs/a"})
    assert copied["Expiration"].endswith('rule-id="logs-rule"')
    up = s3.create_multipart_upload(Bucket=bucket, Key="logs/mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="logs/mp", UploadId=up, PartNumber=1, Body=b"p")["ETag"]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="logs/mp", UploadId=up,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert done["Expiration"].endswith('rule-id="logs-rule"')
    for key in ("other/b", "tmp/c"):  # no rule, or a disabled one
        assert "Expiration" not in s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        assert "Expiration" not in s3.head_object(Bucket=bucket, Key=key)


def test_lifecycle_delete_markers_are_markers(fast):
    b = _new_bucket(fast, versioned=True)
    v = fast.put_object(Bucket=b, Key="exp/k", Body=b"x")["VersionId"]
    fast.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        _rule(Filter={"Prefix": "exp/"}, Expiration={"Days": 1})]})
    wait_for(lambda: fast.list_object_versions(Bucket=b).get("DeleteMarkers"))
    listing = fast.list_object_versions(Bucket=b)
    [marker] = listing["DeleteMarkers"]
    assert marker["Key"] == "exp/k" and marker["IsLatest"] and marker["VersionId"] not in (v, "null")
    assert [x["VersionId"] for x in listing["Versions"]] == [v]
    with s3_error("NoSuchKey", 404) as ei:
        fast.get_object(Bucket=b, Key="exp/k")
    headers = ei.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true" and headers["x-amz-version-id"] == marker["VersionId"]
    gone = fast.delete_object(Bucket=b, Key="exp/k", VersionId=marker["VersionId"])
    assert gone["DeleteMarker"] is True and gone["VersionId"] == marker["VersionId"]
