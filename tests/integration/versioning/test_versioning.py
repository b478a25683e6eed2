"""Integration tests for bucket versioning with boto3: version ids, the null version, delete markers,
GET/HEAD/DELETE/CopyObject by versionId, ListObjectVersions paging, multipart uploads and
DeleteObjects in versioned buckets, and suspension exactly as S3 documents it.
"""

from __future__ import annotations

import uuid

import pytest
from helpers import MiB, error_headers, s3_error


@pytest.fixture
def vbucket(s3):
    name = f"t-ver-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    yield name
    _purge(s3, name)


def _purge(s3, name):
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            items = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                     for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            if items:
                s3.delete_objects(Bucket=name, Delete={"Objects": items, "Quiet": True})
        s3.delete_bucket(Bucket=name)
    except Exception:
        pass


def test_versioning_status_roundtrip(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_bad_versioning_status(s3, bucket):
    with s3_error("MalformedXML", 400):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "On"})


def test_put_keeps_every_version(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=vbucket, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and v1 != "null"
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"two"
    got = s3.get_object(Bucket=vbucket, Key="k", VersionId=v1)
    assert got["Body"].read() == b"one" and got["VersionId"] == v1
    assert s3.head_object(Bucket=vbucket, Key="k", VersionId=v2)["ContentLength"] == 3
    versions = s3.list_object_versions(Bucket=vbucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(v2, True), (v1, False)]
    # listing shows only the current version
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=vbucket)["Contents"]] == ["k"]


def test_large_versions_keep_their_data(s3, vbucket):
    big1, big2 = b"a" * (300 * 1024), b"b" * (300 * 1024)  # beyond the inline threshold: segment files
    v1 = s3.put_object(Bucket=vbucket, Key="big", Body=big1)["VersionId"]
    s3.put_object(Bucket=vbucket, Key="big", Body=big2)
    assert s3.get_object(Bucket=vbucket, Key="big", VersionId=v1)["Body"].read() == big1
    assert s3.get_object(Bucket=vbucket, Key="big")["Body"].read() == big2


def test_delete_marker_hides_and_restores(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"one")["VersionId"]
    resp = s3.delete_object(Bucket=vbucket, Key="k")
    assert resp["DeleteMarker"] is True
    marker = resp["VersionId"]
    with s3_error("NoSuchKey", 404) as ei:
        s3.get_object(Bucket=vbucket, Key="k")
    assert error_headers(ei)["x-amz-delete-marker"] == "true"
    assert error_headers(ei)["x-amz-version-id"] == marker
    assert "Contents" not in s3.list_objects_v2(Bucket=vbucket)
    with s3_error("MethodNotAllowed", 405):
        s3.get_object(Bucket=vbucket, Key="k", VersionId=marker)
    listing = s3.list_object_versions(Bucket=vbucket)
    assert [(m["VersionId"], m["IsLatest"]) for m in listing["DeleteMarkers"]] == [(marker, True)]
    assert [(v["VersionId"], v["IsLatest"]) for v in listing["Versions"]] == [(v1, False)]
    # removing the marker makes the old version current again
    resp = s3.delete_object(Bucket=vbucket, Key="k", VersionId=marker)
    assert resp["DeleteMarker"] is True and resp["VersionId"] == marker
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"one"


def test_delete_version_permanently(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=vbucket, Key="k", Body=b"two")["VersionId"]
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=v2)
    assert s3.get_object(Bucket=vbucket, Key="k")["VersionId"] == v1
    with s3_error("NoSuchVersion", 404):
        s3.get_object(Bucket=vbucket, Key="k", VersionId=v2)
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=v1)
    assert "Versions" not in s3.list_object_versions(Bucket=vbucket)


def test_null_version_before_versioning(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"plain")
    assert "VersionId" not in s3.head_object(Bucket=bucket, Key="k")  # unversioned: no version id at all
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.head_object(Bucket=bucket, Key="k")["VersionId"] == "null"
    v = s3.put_object(Bucket=bucket, Key="k", Body=b"new")["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"plain"
    ids = [x["VersionId"] for x in s3.list_object_versions(Bucket=bucket)["Versions"]]
    assert ids == [v, "null"]
    for i in ids:
        s3.delete_object(Bucket=bucket, Key="k", VersionId=i)


def test_suspended_writes_replace_null_version_only(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"one")["VersionId"]
    s3.put_bucket_versioning(Bucket=vbucket, VersioningConfiguration={"Status": "Suspended"})
    r = s3.put_object(Bucket=vbucket, Key="k", Body=b"null-1")
    assert r["VersionId"] == "null"
    s3.put_object(Bucket=vbucket, Key="k", Body=b"null-2")
    versions = s3.list_object_versions(Bucket=vbucket)["Versions"]
    assert [v["VersionId"] for v in versions] == ["null", v1]
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"null-2"
    # delete in a suspended bucket: the null version goes, a null delete marker is added
    resp = s3.delete_object(Bucket=vbucket, Key="k")
    assert resp["DeleteMarker"] is True and resp["VersionId"] == "null"
    listing = s3.list_object_versions(Bucket=vbucket)
    assert [v["VersionId"] for v in listing["Versions"]] == [v1]
    assert [m["VersionId"] for m in listing["DeleteMarkers"]] == ["null"]


def test_copy_from_version(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="src", Body=b"old")["VersionId"]
    s3.put_object(Bucket=vbucket, Key="src", Body=b"new")
    r = s3.copy_object(Bucket=vbucket, Key="dst", CopySource={"Bucket": vbucket, "Key": "src", "VersionId": v1})
    assert r["CopySourceVersionId"] == v1 and r["VersionId"]
    assert s3.get_object(Bucket=vbucket, Key="dst")["Body"].read() == b"old"


def test_multipart_in_versioned_bucket(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="mp", Body=b"first")["VersionId"]
    up = s3.create_multipart_upload(Bucket=vbucket, Key="mp")["UploadId"]
    p1 = s3.upload_part(Bucket=vbucket, Key="mp", UploadId=up, PartNumber=1, Body=b"x" * (5 * MiB))
    p2 = s3.upload_part(Bucket=vbucket, Key="mp", UploadId=up, PartNumber=2, Body=b"y")
    done = s3.complete_multipart_upload(Bucket=vbucket, Key="mp", UploadId=up, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
    assert done["VersionId"] not in (None, v1)
    assert s3.get_object(Bucket=vbucket, Key="mp", VersionId=v1)["Body"].read() == b"first"
    assert s3.head_object(Bucket=vbucket, Key="mp")["ContentLength"] == 5 * MiB + 1


def test_delete_objects_with_versions(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="a", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=vbucket, Key="a", Body=b"2")["VersionId"]
    s3.put_object(Bucket=vbucket, Key="b", Body=b"3")
    resp = s3.delete_objects(Bucket=vbucket, Delete={"Objects": [
        {"Key": "a", "VersionId": v1}, {"Key": "b"}]})
    got = {(d["Key"], d.get("VersionId")): d for d in resp["Deleted"]}
    assert ("a", v1) in got
    b = next(d for d in resp["Deleted"] if d["Key"] == "b")
    assert b["DeleteMarker"] is True and b["DeleteMarkerVersionId"]
    ids = [v["VersionId"] for v in s3.list_object_versions(Bucket=vbucket, Prefix="a").get("Versions", [])]
    assert ids == [v2]


def test_list_versions_paging_and_delimiter(s3, vbucket):
    made = {}
    for key in ("a", "b", "dir/x", "dir/y", "c"):
        made[key] = [s3.put_object(Bucket=vbucket, Key=key, Body=b"v")["VersionId"] for _ in range(2)]
    s3.delete_object(Bucket=vbucket, Key="c")
    seen = []
    kw: dict = {"Bucket": vbucket, "MaxKeys": 3}
    while True:
        page = s3.list_object_versions(**kw)
        entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
        assert len(entries) <= 3
        seen += [(e["Key"], e["VersionId"]) for e in entries]
        if not page["IsTruncated"]:
            break
        kw.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page["NextVersionIdMarker"])
    assert len(seen) == 11 and len(set(seen)) == 11
    full = s3.list_object_versions(Bucket=vbucket, Delimiter="/")
    assert [p["Prefix"] for p in full["CommonPrefixes"]] == ["dir/"]
    assert {v["Key"] for v in full["Versions"]} == {"a", "b", "c"}
    only_a = s3.list_object_versions(Bucket=vbucket, Prefix="a")["Versions"]
    assert [v["VersionId"] for v in only_a] == list(reversed(made["a"]))


def test_delete_bucket_with_versions_refused(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    s3.delete_object(Bucket=vbucket, Key="k")  # only a marker and a noncurrent version remain
    with s3_error("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=vbucket)
