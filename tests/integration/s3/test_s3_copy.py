"""Integration tests for S3 CopyObject: within and across buckets, MetadataDirective COPY vs
REPLACE (and the self-copy rule), x-amz-copy-source-if-* conditions, copies of multipart objects,
awkward source keys, and missing sources.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from helpers import MiB, data, md5_hex, quoted_md5, s3_error, skip_on_moto, unique

BODY = b"copy me, byte for byte"


@pytest.fixture
def other_bucket(s3):
    name = f"t-copy-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    yield name
    for o in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=o["Key"])
    s3.delete_bucket(Bucket=name)


def _put_source(s3, bucket, key="src"):
    return s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=BODY,
        ContentType="text/x-source",
        Metadata={"origin": "source"},
        CacheControl="max-age=5",
    )


def test_copy_same_bucket(s3, bucket):
    _put_source(s3, bucket)
    resp = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    result = resp["CopyObjectResult"]
    assert result["ETag"] == quoted_md5(BODY)
    assert result["LastModified"]
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == BODY
    # MetadataDirective defaults to COPY: user metadata and standard headers come along.
    assert got["Metadata"] == {"origin": "source"}
    assert got["ContentType"] == "text/x-source"
    assert got["CacheControl"] == "max-age=5"


def test_copy_to_other_bucket(s3, bucket, other_bucket):
    _put_source(s3, bucket)
    s3.copy_object(Bucket=other_bucket, Key="x/dst", CopySource=f"{bucket}/src")
    assert s3.get_object(Bucket=other_bucket, Key="x/dst")["Body"].read() == BODY
    # The source is untouched.
    assert s3.get_object(Bucket=bucket, Key="src")["Body"].read() == BODY


def test_metadata_directive_replace(s3, bucket):
    _put_source(s3, bucket)
    s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        Metadata={"fresh": "yes"},
        ContentType="application/x-new",
    )
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["Metadata"] == {"fresh": "yes"}
    assert head["ContentType"] == "application/x-new"
    assert "CacheControl" not in head  # REPLACE drops what the request does not restate


def test_metadata_directive_copy_ignores_request_metadata(s3, bucket):
    _put_source(s3, bucket)
    s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="COPY",
        Metadata={"ignored": "1"},
    )
    assert s3.head_object(Bucket=bucket, Key="dst")["Metadata"] == {"origin": "source"}


def test_copy_onto_itself(s3, bucket):
    _put_source(s3, bucket)
    with s3_error("InvalidRequest", 400):
        s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})
    # With REPLACE a self-copy is how metadata is changed in place.
    s3.copy_object(
        Bucket=bucket,
        Key="src",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        Metadata={"changed": "true"},
    )
    got = s3.get_object(Bucket=bucket, Key="src")
    assert got["Metadata"] == {"changed": "true"}
    assert got["Body"].read() == BODY


def test_copy_source_conditions(s3, endpoint, bucket):
    etag = _put_source(s3, bucket)["ETag"]
    lm = s3.head_object(Bucket=bucket, Key="src")["LastModified"]
    before, after = lm - dt.timedelta(days=1), lm + dt.timedelta(days=1)
    src = {"Bucket": bucket, "Key": "src"}

    def copy(**cond):
        return s3.copy_object(Bucket=bucket, Key="dst", CopySource=src, **cond)

    # Conditions that hold.
    copy(CopySourceIfMatch=etag)
    copy(CopySourceIfNoneMatch='"0000"')
    copy(CopySourceIfModifiedSince=before)
    copy(CopySourceIfUnmodifiedSince=after)
    # Conditions that fail: always 412 for a copy (never 304).
    skip_on_moto(endpoint, "moto ignores x-amz-copy-source-if-match")
    for cond in (
        {"CopySourceIfMatch": '"0000"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": after},
        {"CopySourceIfUnmodifiedSince": before},
    ):
        with s3_error("PreconditionFailed", 412):
            copy(**cond)


def test_copy_multipart_source(s3, bucket):
    parts = [data(5 * MiB, seed=11), data(3000, seed=12)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp", Metadata={"kind": "mp"})["UploadId"]
    done = []
    for n, p in enumerate(parts, 1):
        etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=n, Body=p)["ETag"]
        done.append({"PartNumber": n, "ETag": etag})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": done})
    s3.copy_object(Bucket=bucket, Key="mp-copy", CopySource={"Bucket": bucket, "Key": "mp"})
    got = s3.get_object(Bucket=bucket, Key="mp-copy")
    assert md5_hex(got["Body"].read()) == md5_hex(b"".join(parts))
    assert got["Metadata"] == {"kind": "mp"}
    assert got["ContentLength"] == sum(map(len, parts))


@pytest.mark.parametrize("key", ["with space/and+plus", "ünïcödé/日本語 😀", "q?hash#pct%20", "a//b/"])
def test_copy_awkward_source_keys(s3, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    # boto3 URL-encodes the x-amz-copy-source header from both forms.
    s3.copy_object(Bucket=bucket, Key="d1", CopySource={"Bucket": bucket, "Key": key})
    s3.copy_object(Bucket=bucket, Key="d2", CopySource=f"{bucket}/{key}")
    for dst in ("d1", "d2"):
        assert s3.get_object(Bucket=bucket, Key=dst)["Body"].read() == key.encode()
    # And an awkward destination key.
    s3.copy_object(Bucket=bucket, Key=key + "-copy", CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key=key + "-copy")["Body"].read() == key.encode()


def test_copy_missing_source(s3, bucket):
    with s3_error("NoSuchKey", 404):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": unique("nope")})
    with s3_error("NoSuchBucket", 404):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": f"t-gone-{uuid.uuid4().hex[:12]}", "Key": "k"})
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="dst")


def test_copy_storage_class(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ia", Body=b"x", StorageClass="STANDARD_IA")
    s3.copy_object(Bucket=bucket, Key="ia-copy", CopySource={"Bucket": bucket, "Key": "ia"}, StorageClass="STANDARD_IA")
    assert s3.head_object(Bucket=bucket, Key="ia-copy")["StorageClass"] == "STANDARD_IA"
    # A self-copy that only changes the storage class is allowed without REPLACE.
    s3.copy_object(Bucket=bucket, Key="ia", CopySource={"Bucket": bucket, "Key": "ia"}, StorageClass="STANDARD")
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="ia")
