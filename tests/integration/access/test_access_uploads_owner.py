"""Who may continue a multipart upload, and what the bucket owner may do with objects other users
own (ObjectWriter ownership), as S3 decides. Three users: the bucket owner, a writer the bucket
policy lets write, and a second writer with the same rights. Every refusal is asserted with its code.
"""

from __future__ import annotations

import json
import uuid

import pytest
from access_users import User, new_user
from helpers import s3_error


@pytest.fixture
def owner(endpoint) -> User:
    return new_user(endpoint)


@pytest.fixture
def writers(endpoint) -> tuple[User, User]:
    return new_user(endpoint), new_user(endpoint)


@pytest.fixture
def bkt(owner: User, writers):
    name = f"own-{uuid.uuid4().hex[:16]}"
    owner.s3.create_bucket(Bucket=name)
    ids = [w.id for w in writers]
    owner.s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": ids},
        "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
                   "s3:ListBucketMultipartUploads", "s3:DeleteObject"],
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]}]}))
    return name


def test_only_initiator_or_bucket_owner_continue_an_upload(owner, writers, bkt):
    a, b = writers
    up = a.s3.create_multipart_upload(Bucket=bkt, Key="big")["UploadId"]
    a.s3.upload_part(Bucket=bkt, Key="big", UploadId=up, PartNumber=1, Body=b"a" * 10)
    with s3_error("AccessDenied", 403):
        b.s3.upload_part(Bucket=bkt, Key="big", UploadId=up, PartNumber=2, Body=b"b" * 10)
    with s3_error("AccessDenied", 403):
        b.s3.list_parts(Bucket=bkt, Key="big", UploadId=up)
    with s3_error("AccessDenied", 403):
        b.s3.complete_multipart_upload(Bucket=bkt, Key="big", UploadId=up, MultipartUpload={"Parts": []})
    with s3_error("AccessDenied", 403):
        b.s3.abort_multipart_upload(Bucket=bkt, Key="big", UploadId=up)
    # the listing shows who started it
    u = b.s3.list_multipart_uploads(Bucket=bkt)["Uploads"][0]
    assert u["Initiator"]["ID"] == a.id and u["Owner"]["ID"] == a.id
    assert u["Initiator"]["DisplayName"] == a.id  # new_user's display name is its id
    parts = owner.s3.list_parts(Bucket=bkt, Key="big", UploadId=up)  # the bucket owner may
    assert parts["Initiator"]["ID"] == a.id and [p["PartNumber"] for p in parts["Parts"]] == [1]
    owner.s3.abort_multipart_upload(Bucket=bkt, Key="big", UploadId=up)
    assert "Uploads" not in owner.s3.list_multipart_uploads(Bucket=bkt)


def test_owner_shown_for_bucket_owner_preferred(owner, writers, bkt):
    a, _ = writers
    owner.s3.put_bucket_ownership_controls(Bucket=bkt, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": [a.id]}, "Action": ["s3:PutObject", "s3:PutObjectAcl",
                                                                    "s3:ListMultipartUploadParts",
                                                                    "s3:AbortMultipartUpload"],
        "Resource": f"arn:aws:s3:::{bkt}/*"}]}))
    up = a.s3.create_multipart_upload(Bucket=bkt, Key="k", ACL="bucket-owner-full-control")["UploadId"]
    parts = a.s3.list_parts(Bucket=bkt, Key="k", UploadId=up)
    assert parts["Initiator"]["ID"] == a.id and parts["Owner"]["ID"] == owner.id
    a.s3.abort_multipart_upload(Bucket=bkt, Key="k", UploadId=up)


def test_bucket_owner_cannot_read_object_writer_object(owner, writers, bkt):
    a, _ = writers
    a.s3.put_object(Bucket=bkt, Key="theirs", Body=b"secret")
    owner.s3.put_object(Bucket=bkt, Key="mine", Body=b"mine")
    assert owner.s3.get_object(Bucket=bkt, Key="mine")["Body"].read() == b"mine"
    with s3_error("AccessDenied", 403):
        owner.s3.get_object(Bucket=bkt, Key="theirs")
    with s3_error("403", 403):
        owner.s3.head_object(Bucket=bkt, Key="theirs")
    with s3_error("AccessDenied", 403):
        owner.s3.get_object_acl(Bucket=bkt, Key="theirs")
    # listing it is a bucket permission: fine
    assert {o["Key"] for o in owner.s3.list_objects_v2(Bucket=bkt)["Contents"]} == {"mine", "theirs"}
    # a grant in the object's ACL lets the bucket owner read it
    a.s3.put_object(Bucket=bkt, Key="shared", Body=b"shared", ACL="bucket-owner-read")
    assert owner.s3.get_object(Bucket=bkt, Key="shared")["Body"].read() == b"shared"
    # and the bucket owner may still delete the object it cannot read
    owner.s3.delete_object(Bucket=bkt, Key="theirs")
    assert "theirs" not in {o["Key"] for o in owner.s3.list_objects_v2(Bucket=bkt)["Contents"]}


def test_bucket_owner_enforced_owner_reads_everything(owner, writers, bkt):
    a, _ = writers
    owner.s3.put_bucket_ownership_controls(Bucket=bkt, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    a.s3.put_object(Bucket=bkt, Key="k", Body=b"x")
    assert owner.s3.get_object(Bucket=bkt, Key="k")["Body"].read() == b"x"
