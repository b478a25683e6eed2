"""Integration tests for IBM COS immutable storage, driven by ibm_boto3 (ibm-cos-sdk) the way IBM's
Python documentation uses it: bucket protection configuration, retention on PUT / copy /
CompleteMultipartUpload, named legal holds (add, remove, list; at most 100; IDs checked), retention
extension, and that protected objects survive delete and overwrite.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from helpers import MiB

ibm_boto3 = pytest.importorskip("ibm_boto3")
from ibm_botocore.client import Config  # noqa: E402
from ibm_botocore.exceptions import ClientError  # noqa: E402

DAY = 86400


@pytest.fixture(scope="module")
def cos(endpoint):
    # HMAC credentials, as IBM's docs show for S3-compatible tools
    return ibm_boto3.client("s3", aws_access_key_id=endpoint.access_key, aws_secret_access_key=endpoint.secret_key,
                            endpoint_url=endpoint.url, region_name="us-east-1",
                            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


@pytest.fixture
def pbucket(cos):
    name = f"t-ibm-{uuid.uuid4().hex[:16]}"
    cos.create_bucket(Bucket=name)
    cos.put_bucket_protection_configuration(Bucket=name, ProtectionConfiguration={
        "Status": "Retention", "MinimumRetention": {"Days": 0}, "DefaultRetention": {"Days": 1},
        "MaximumRetention": {"Days": 10}})
    return name  # protected objects cannot be deleted: the bucket stays, each test has its own


def _err(ei) -> tuple[str, int]:
    r = ei.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_protection_roundtrip(cos, pbucket):
    got = cos.get_bucket_protection_configuration(Bucket=pbucket)["ProtectionConfiguration"]
    assert got["Status"] == "Retention"
    assert (got["MinimumRetention"]["Days"], got["DefaultRetention"]["Days"], got["MaximumRetention"]["Days"]) \
        == (0, 1, 10)
    # the policy can tighten, never loosen
    with pytest.raises(ClientError) as ei:
        cos.put_bucket_protection_configuration(Bucket=pbucket, ProtectionConfiguration={
            "Status": "Retention", "MinimumRetention": {"Days": 0}, "DefaultRetention": {"Days": 1},
            "MaximumRetention": {"Days": 5}})
    assert _err(ei) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as ei:
        cos.put_bucket_versioning(Bucket=pbucket, VersioningConfiguration={"Status": "Enabled"})
    assert _err(ei) == ("InvalidBucketState", 409)


def test_default_retention_and_no_delete(cos, pbucket):
    cos.put_object(Bucket=pbucket, Key="rec", Body=b"record")
    head = cos.head_object(Bucket=pbucket, Key="rec")
    assert head["RetentionPeriod"] == DAY
    assert head["RetentionExpirationDate"] > dt.datetime.now(dt.UTC)
    with pytest.raises(ClientError) as ei:
        cos.delete_object(Bucket=pbucket, Key="rec")
    assert _err(ei) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as ei:
        cos.put_object(Bucket=pbucket, Key="rec", Body=b"overwrite")
    assert _err(ei) == ("AccessDenied", 403)
    resp = cos.delete_objects(Bucket=pbucket, Delete={"Objects": [{"Key": "rec"}]})
    assert [e["Code"] for e in resp["Errors"]] == ["AccessDenied"]
    assert cos.get_object(Bucket=pbucket, Key="rec")["Body"].read() == b"record"
    with pytest.raises(ClientError) as ei:
        cos.delete_bucket(Bucket=pbucket)
    assert _err(ei) == ("BucketNotEmpty", 409)


def test_zero_retention_can_be_deleted(cos, pbucket):
    cos.put_object(Bucket=pbucket, Key="zero", Body=b"x", RetentionPeriod=0)
    cos.delete_object(Bucket=pbucket, Key="zero")


def test_retention_bounds(cos, pbucket):
    with pytest.raises(ClientError) as ei:
        cos.put_object(Bucket=pbucket, Key="k", Body=b"x", RetentionPeriod=11 * DAY)
    assert _err(ei) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as ei:
        cos.put_object(Bucket=pbucket, Key="k", Body=b"x", RetentionPeriod=DAY,
                       RetentionExpirationDate=dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    assert _err(ei) == ("InvalidArgument", 400)
    cos.put_object(Bucket=pbucket, Key="k", Body=b"x",
                   RetentionExpirationDate=dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    assert cos.head_object(Bucket=pbucket, Key="k")["RetentionPeriod"] > DAY


def test_legal_holds(cos, pbucket):
    cos.put_object(Bucket=pbucket, Key="h", Body=b"x", RetentionPeriod=0, RetentionLegalHoldId="case-1")
    cos.add_legal_hold(Bucket=pbucket, Key="h", RetentionLegalHoldId="case-2")
    with pytest.raises(ClientError) as ei:  # an id already in use: IBM answers 409, the hold is kept
        cos.add_legal_hold(Bucket=pbucket, Key="h", RetentionLegalHoldId="case-2")
    assert _err(ei)[1] == 409
    holds = cos.list_legal_holds(Bucket=pbucket, Key="h")
    assert sorted(h["ID"] for h in holds["LegalHolds"]) == ["case-1", "case-2"]
    assert cos.head_object(Bucket=pbucket, Key="h")["RetentionLegalHoldCount"] == 2
    with pytest.raises(ClientError) as ei:
        cos.delete_object(Bucket=pbucket, Key="h")
    assert _err(ei) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as ei:
        cos.add_legal_hold(Bucket=pbucket, Key="h", RetentionLegalHoldId="bad id with spaces")
    assert _err(ei) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as ei:
        cos.add_legal_hold(Bucket=pbucket, Key="h", RetentionLegalHoldId="x" * 65)
    assert _err(ei) == ("InvalidArgument", 400)
    cos.add_legal_hold(Bucket=pbucket, Key="h", RetentionLegalHoldId="!_.*()-" + "y" * 57)  # 64, every symbol
    cos.delete_legal_hold(Bucket=pbucket, Key="h", RetentionLegalHoldId="case-1")
    cos.delete_legal_hold(Bucket=pbucket, Key="h", RetentionLegalHoldId="case-2")
    cos.delete_legal_hold(Bucket=pbucket, Key="h", RetentionLegalHoldId="!_.*()-" + "y" * 57)
    assert cos.list_legal_holds(Bucket=pbucket, Key="h").get("LegalHolds", []) == []
    cos.delete_object(Bucket=pbucket, Key="h")


def test_at_most_100_holds(cos, pbucket):
    cos.put_object(Bucket=pbucket, Key="many", Body=b"x", RetentionPeriod=0)
    for i in range(100):
        cos.add_legal_hold(Bucket=pbucket, Key="many", RetentionLegalHoldId=f"h{i}")
    with pytest.raises(ClientError) as ei:
        cos.add_legal_hold(Bucket=pbucket, Key="many", RetentionLegalHoldId="one-too-many")
    assert _err(ei)[1] == 400
    assert len(cos.list_legal_holds(Bucket=pbucket, Key="many")["LegalHolds"]) == 100


def test_legal_hold_needs_protected_bucket(cos, bucket):
    cos.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as ei:
        cos.add_legal_hold(Bucket=bucket, Key="k", RetentionLegalHoldId="h")
    assert _err(ei) == ("InvalidRequest", 400)


def test_object_without_retention_metadata(cos, bucket):
    cos.put_object(Bucket=bucket, Key="before", Body=b"x")  # written before the bucket was protected
    cos.put_bucket_protection_configuration(Bucket=bucket, ProtectionConfiguration={
        "Status": "Retention", "MinimumRetention": {"Days": 0}, "DefaultRetention": {"Days": 0},
        "MaximumRetention": {"Days": 1}})
    with pytest.raises(ClientError) as ei:
        cos.add_legal_hold(Bucket=bucket, Key="before", RetentionLegalHoldId="h")
    assert _err(ei)[1] == 400
    with pytest.raises(ClientError) as ei:
        cos.list_legal_holds(Bucket=bucket, Key="before")
    assert _err(ei)[1] == 404
    cos.delete_object(Bucket=bucket, Key="before")  # not protected: it predates the policy


def test_upload_file_with_retention(cos, pbucket, tmp_path):
    """IBM's upload_file_with_retention example (a small file: one PutObject)."""
    path = tmp_path / "f.txt"
    path.write_bytes(b"file body")
    cos.upload_file(Filename=str(path), Bucket=pbucket, Key="uploaded", ExtraArgs={"RetentionPeriod": 2 * DAY})
    assert cos.head_object(Bucket=pbucket, Key="uploaded")["RetentionPeriod"] == 2 * DAY


def test_extend_retention(cos, pbucket):
    cos.put_object(Bucket=pbucket, Key="e", Body=b"x", RetentionPeriod=DAY)
    before = cos.head_object(Bucket=pbucket, Key="e")["RetentionExpirationDate"]
    cos.extend_object_retention(Bucket=pbucket, Key="e", AdditionalRetentionPeriod=DAY)
    after = cos.head_object(Bucket=pbucket, Key="e")["RetentionExpirationDate"]
    assert (after - before).total_seconds() == pytest.approx(DAY, abs=2)
    with pytest.raises(ClientError) as ei:  # shortening
        cos.extend_object_retention(Bucket=pbucket, Key="e", NewRetentionPeriod=60)
    assert _err(ei) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as ei:  # beyond the bucket's maximum
        cos.extend_object_retention(Bucket=pbucket, Key="e", ExtendRetentionFromCurrentTime=20 * DAY)
    assert _err(ei) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as ei:  # two ways at once
        cos.extend_object_retention(Bucket=pbucket, Key="e", AdditionalRetentionPeriod=1, NewRetentionPeriod=3 * DAY)
    assert _err(ei) == ("InvalidArgument", 400)
    cos.extend_object_retention(Bucket=pbucket, Key="e", NewRetentionPeriod=5 * DAY)
    assert cos.head_object(Bucket=pbucket, Key="e")["RetentionPeriod"] == 5 * DAY


def test_copy_and_multipart_retention(cos, pbucket):
    cos.put_object(Bucket=pbucket, Key="src", Body=b"x", RetentionPeriod=2 * DAY, RetentionLegalHoldId="keep")
    cos.copy_object(Bucket=pbucket, Key="copy", CopySource={"Bucket": pbucket, "Key": "src"},
                    RetentionDirective="Copy")  # as IBM's copy_protected_object example spells it
    head = cos.head_object(Bucket=pbucket, Key="copy")
    assert head["RetentionLegalHoldCount"] == 1 and head["RetentionPeriod"] >= 2 * DAY - 2
    cos.copy_object(Bucket=pbucket, Key="copy2", CopySource={"Bucket": pbucket, "Key": "src"},
                    RetentionDirective="REPLACE", RetentionPeriod=3 * DAY)
    assert cos.head_object(Bucket=pbucket, Key="copy2")["RetentionPeriod"] == 3 * DAY
    up = cos.create_multipart_upload(Bucket=pbucket, Key="mp")["UploadId"]
    p1 = cos.upload_part(Bucket=pbucket, Key="mp", UploadId=up, PartNumber=1, Body=b"a" * (5 * MiB))
    cos.complete_multipart_upload(Bucket=pbucket, Key="mp", UploadId=up, RetentionPeriod=4 * DAY,
                                  MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}]})
    assert cos.head_object(Bucket=pbucket, Key="mp")["RetentionPeriod"] == 4 * DAY
    with pytest.raises(ClientError) as ei:
        cos.delete_object(Bucket=pbucket, Key="mp")
    assert _err(ei) == ("AccessDenied", 403)
