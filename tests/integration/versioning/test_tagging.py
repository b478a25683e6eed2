"""Integration tests for object and bucket tagging with boto3: x-amz-tagging on PUT, the tag count
on GET/HEAD, Put/Get/DeleteObjectTagging (per version), the tagging directive on copy, multipart
uploads with tags, S3's limits, and bucket tagging.
"""

from __future__ import annotations

import pytest
from helpers import s3_error


def _tagset(resp) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resp["TagSet"]}


def test_put_with_tagging_header(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="project=coffer&team=a%20b")
    assert _tagset(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"project": "coffer", "team": "a b"}
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 2
    assert s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"


def test_put_get_delete_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
    assert _tagset(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"a": "1"}
    s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    with s3_error("NoSuchKey", 404):
        s3.get_object_tagging(Bucket=bucket, Key="missing")


@pytest.mark.parametrize("tagset, code", [
    ([{"Key": f"k{i}", "Value": "v"} for i in range(11)], "InvalidTag"),
    ([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}], "InvalidTag"),
    ([{"Key": "k" * 129, "Value": "v"}], "InvalidTag"),
    ([{"Key": "k", "Value": "v" * 257}], "InvalidTag"),
    ([{"Key": "aws:reserved", "Value": "v"}], "InvalidTag"),
])
def test_object_tag_limits(s3, bucket, tagset, code):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with s3_error(code, 400):
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tagset})


def test_tagging_header_too_many(s3, bucket):
    with s3_error("InvalidTag", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="&".join(f"k{i}=v" for i in range(11)))


def test_copy_tagging_directive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="a=1")
    s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "src"})
    assert _tagset(s3.get_object_tagging(Bucket=bucket, Key="copied")) == {"a": "1"}
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource={"Bucket": bucket, "Key": "src"},
                   TaggingDirective="REPLACE", Tagging="b=2")
    assert _tagset(s3.get_object_tagging(Bucket=bucket, Key="replaced")) == {"b": "2"}


def test_multipart_with_tags(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="x=y")["UploadId"]
    p = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=b"data")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    assert _tagset(s3.get_object_tagging(Bucket=bucket, Key="mp")) == {"x": "y"}


def test_tags_per_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="v=1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"2", Tagging="v=2")
    s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=v1, Tagging={"TagSet": [{"Key": "v", "Value": "one"}]})
    assert _tagset(s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)) == {"v": "one"}
    assert _tagset(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"v": "2"}
    for v in s3.list_object_versions(Bucket=bucket)["Versions"]:
        s3.delete_object(Bucket=bucket, Key="k", VersionId=v["VersionId"])


def test_bucket_tagging(s3, bucket):
    with s3_error("NoSuchTagSet", 404):
        s3.get_bucket_tagging(Bucket=bucket)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "env", "Value": "test"}]})
    assert _tagset(s3.get_bucket_tagging(Bucket=bucket)) == {"env": "test"}
    s3.delete_bucket_tagging(Bucket=bucket)
    with s3_error("NoSuchTagSet", 404):
        s3.get_bucket_tagging(Bucket=bucket)
    with s3_error("InvalidTag", 400):
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]})
