"""Integration tests for S3 Object Lock with boto3: buckets created with object lock, default
retention, per-version retention (GOVERNANCE, COMPLIANCE) and legal holds, and that protected
versions survive every delete path: DeleteObject, DeleteObjects, DeleteBucket, overwrite.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from helpers import s3_error


def _future(seconds: int = 3600) -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=seconds)


@pytest.fixture
def lbucket(s3):
    name = f"t-lock-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    yield name
    # protected versions cannot be removed: GOVERNANCE ones are released with the bypass header;
    # COMPLIANCE ones stay, and so does the bucket (each test uses its own).
    try:
        for v in s3.list_object_versions(Bucket=name).get("Versions", []):
            s3.put_object_legal_hold(Bucket=name, Key=v["Key"], VersionId=v["VersionId"],
                                     LegalHold={"Status": "OFF"})
            s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"], BypassGovernanceRetention=True)
    except Exception:
        pass


def test_bucket_created_with_lock_is_versioned(s3, lbucket):
    assert s3.get_bucket_versioning(Bucket=lbucket)["Status"] == "Enabled"
    cfg = s3.get_object_lock_configuration(Bucket=lbucket)["ObjectLockConfiguration"]
    assert cfg["ObjectLockEnabled"] == "Enabled" and "Rule" not in cfg
    with s3_error("InvalidBucketState", 409):
        s3.put_bucket_versioning(Bucket=lbucket, VersioningConfiguration={"Status": "Suspended"})


def test_no_lock_configuration(s3, bucket):
    with s3_error("ObjectLockConfigurationNotFoundError", 404):
        s3.get_object_lock_configuration(Bucket=bucket)
    with s3_error("InvalidRequest", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=_future())
    # object lock needs versioning on an existing bucket
    with s3_error("InvalidBucketState", 409):
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})


def test_default_retention_applies(s3, lbucket):
    s3.put_object_lock_configuration(Bucket=lbucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    rule = s3.get_object_lock_configuration(Bucket=lbucket)["ObjectLockConfiguration"]["Rule"]
    assert rule["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}
    v = s3.put_object(Bucket=lbucket, Key="k", Body=b"x")["VersionId"]
    ret = s3.get_object_retention(Bucket=lbucket, Key="k", VersionId=v)["Retention"]
    assert ret["Mode"] == "GOVERNANCE"
    assert ret["RetainUntilDate"] > dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)
    head = s3.head_object(Bucket=lbucket, Key="k")
    assert head["ObjectLockMode"] == "GOVERNANCE"


def test_bad_default_retention(s3, lbucket):
    with s3_error("MalformedXML", 400):
        s3.put_object_lock_configuration(Bucket=lbucket, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}}})
    for period in ({"Days": 0}, {"Days": -3}, {"Years": 0}, {"Years": -1}):
        with s3_error("InvalidRetentionPeriod", 400):
            s3.put_object_lock_configuration(Bucket=lbucket, ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", **period}}})


def test_governance_blocks_delete_unless_bypassed(s3, lbucket):
    v = s3.put_object(Bucket=lbucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=_future())["VersionId"]
    with s3_error("AccessDenied", 403):
        s3.delete_object(Bucket=lbucket, Key="k", VersionId=v)
    # a delete without version id only adds a marker: allowed, the data stays
    assert s3.delete_object(Bucket=lbucket, Key="k")["DeleteMarker"] is True
    assert s3.get_object(Bucket=lbucket, Key="k", VersionId=v)["Body"].read() == b"x"
    # shortening needs the bypass too
    with s3_error("AccessDenied", 403):
        s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=v,
                                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": _future(60)})
    s3.delete_object(Bucket=lbucket, Key="k", VersionId=v, BypassGovernanceRetention=True)
    with s3_error("NoSuchVersion", 404):
        s3.get_object(Bucket=lbucket, Key="k", VersionId=v)


def test_governance_can_become_compliance(s3, lbucket):
    until = _future()
    v = s3.put_object(Bucket=lbucket, Key="g", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=until)["VersionId"]
    with s3_error("AccessDenied", 403):  # earlier date: shortening, even when switching to COMPLIANCE
        s3.put_object_retention(Bucket=lbucket, Key="g", VersionId=v,
                                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - dt.timedelta(minutes=1)})
    with s3_error("AccessDenied", 403):  # same date, another mode: S3 asks for the governance bypass
        s3.put_object_retention(Bucket=lbucket, Key="g", VersionId=v,
                                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until})
    assert s3.get_object_retention(Bucket=lbucket, Key="g", VersionId=v)["Retention"]["Mode"] == "GOVERNANCE"
    s3.put_object_retention(Bucket=lbucket, Key="g", VersionId=v, BypassGovernanceRetention=True,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until})
    assert s3.get_object_retention(Bucket=lbucket, Key="g", VersionId=v)["Retention"]["Mode"] == "COMPLIANCE"


def test_compliance_only_grows(s3, lbucket):
    until = _future()
    v = s3.put_object(Bucket=lbucket, Key="c", Body=b"x", ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=until)["VersionId"]
    with s3_error("AccessDenied", 403):
        s3.delete_object(Bucket=lbucket, Key="c", VersionId=v, BypassGovernanceRetention=True)
    with s3_error("AccessDenied", 403):
        s3.put_object_retention(Bucket=lbucket, Key="c", VersionId=v, BypassGovernanceRetention=True,
                                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - dt.timedelta(minutes=5)})
    with s3_error("AccessDenied", 403):
        s3.put_object_retention(Bucket=lbucket, Key="c", VersionId=v, BypassGovernanceRetention=True,
                                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until + dt.timedelta(days=1)})
    later = until + dt.timedelta(days=1)
    s3.put_object_retention(Bucket=lbucket, Key="c", VersionId=v,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later})
    assert s3.get_object_retention(Bucket=lbucket, Key="c", VersionId=v)["Retention"]["RetainUntilDate"] == later


def test_legal_hold(s3, lbucket):
    v = s3.put_object(Bucket=lbucket, Key="h", Body=b"x", ObjectLockLegalHoldStatus="ON")["VersionId"]
    assert s3.get_object_legal_hold(Bucket=lbucket, Key="h", VersionId=v)["LegalHold"]["Status"] == "ON"
    with s3_error("AccessDenied", 403):
        s3.delete_object(Bucket=lbucket, Key="h", VersionId=v, BypassGovernanceRetention=True)
    s3.put_object_legal_hold(Bucket=lbucket, Key="h", VersionId=v, LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=lbucket, Key="h", VersionId=v)


def test_delete_objects_refuses_locked_only(s3, lbucket):
    locked = s3.put_object(Bucket=lbucket, Key="l", Body=b"x", ObjectLockMode="COMPLIANCE",
                           ObjectLockRetainUntilDate=_future())["VersionId"]
    free = s3.put_object(Bucket=lbucket, Key="f", Body=b"y")["VersionId"]
    resp = s3.delete_objects(Bucket=lbucket, Delete={"Objects": [
        {"Key": "l", "VersionId": locked}, {"Key": "f", "VersionId": free}]})
    assert [(e["Key"], e["Code"]) for e in resp["Errors"]] == [("l", "AccessDenied")]
    assert [d["Key"] for d in resp["Deleted"]] == ["f"]
    assert s3.get_object(Bucket=lbucket, Key="l", VersionId=locked)["Body"].read() == b"x"
    with s3_error("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=lbucket)


def test_retention_in_past_refused(s3, lbucket):
    with s3_error("InvalidArgument", 400):
        s3.put_object(Bucket=lbucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=_future(-60))


def test_multipart_carries_lock(s3, lbucket):
    up = s3.create_multipart_upload(Bucket=lbucket, Key="mp", ObjectLockMode="COMPLIANCE",
                                    ObjectLockRetainUntilDate=_future())["UploadId"]
    p = s3.upload_part(Bucket=lbucket, Key="mp", UploadId=up, PartNumber=1, Body=b"z")
    v = s3.complete_multipart_upload(Bucket=lbucket, Key="mp", UploadId=up,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})["VersionId"]
    assert s3.get_object_retention(Bucket=lbucket, Key="mp", VersionId=v)["Retention"]["Mode"] == "COMPLIANCE"
    with s3_error("AccessDenied", 403):
        s3.delete_object(Bucket=lbucket, Key="mp", VersionId=v)
