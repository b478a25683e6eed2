"""Version ids and delete-marker headers as S3 answers them: DeleteObject says `x-amz-delete-marker`
when it made or removed a marker (not when it removed a version), unversioned buckets never answer a
version id, and GetObjectAttributes names the version it described.
"""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def vbucket(s3):
    name = f"t-vh-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _headers(resp) -> dict[str, str]:
    return resp["ResponseMetadata"]["HTTPHeaders"]


def test_delete_marker_headers(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=vbucket, Key="k", Body=b"2")["VersionId"]
    made = s3.delete_object(Bucket=vbucket, Key="k")
    assert made["DeleteMarker"] is True and made["VersionId"] not in (v1, v2)
    removed_version = s3.delete_object(Bucket=vbucket, Key="k", VersionId=v2)
    assert "x-amz-delete-marker" not in _headers(removed_version) and removed_version["VersionId"] == v2
    removed_marker = s3.delete_object(Bucket=vbucket, Key="k", VersionId=made["VersionId"])
    assert removed_marker["DeleteMarker"] is True and removed_marker["VersionId"] == made["VersionId"]
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"1"


def test_get_object_attributes_names_the_version(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="a", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=vbucket, Key="a", Body=b"22")["VersionId"]
    latest = s3.get_object_attributes(Bucket=vbucket, Key="a", ObjectAttributes=["ObjectSize"])
    assert latest["VersionId"] == v2 and latest["ObjectSize"] == 2
    older = s3.get_object_attributes(Bucket=vbucket, Key="a", VersionId=v1, ObjectAttributes=["ObjectSize"])
    assert older["VersionId"] == v1 and older["ObjectSize"] == 1


def test_unversioned_bucket_answers_no_version_id(s3, bucket):
    answers = [s3.put_object(Bucket=bucket, Key="a", Body=b"1")]
    answers.append(s3.copy_object(Bucket=bucket, Key="b", CopySource={"Bucket": bucket, "Key": "a"}))
    up = s3.create_multipart_upload(Bucket=bucket, Key="m")
    part = s3.upload_part(Bucket=bucket, Key="m", UploadId=up["UploadId"], PartNumber=1, Body=b"p")
    answers.append(s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}))
    answers += [s3.head_object(Bucket=bucket, Key="a"), s3.get_object(Bucket=bucket, Key="a"),
                s3.get_object_attributes(Bucket=bucket, Key="a", ObjectAttributes=["ETag"]),
                s3.put_object_tagging(Bucket=bucket, Key="a", Tagging={"TagSet": [{"Key": "t", "Value": "1"}]}),
                s3.delete_object(Bucket=bucket, Key="b")]
    for resp in answers:
        assert "x-amz-version-id" not in _headers(resp), resp
        assert "x-amz-delete-marker" not in _headers(resp), resp
