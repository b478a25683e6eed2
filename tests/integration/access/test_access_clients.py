"""Access control through a second client, minio-py: bucket policies (set/get/delete), anonymous reads
with an unsigned Minio client, minio's own POST policy forms, and x-amz-expected-bucket-owner."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import uuid

import pytest
import urllib3
from access_users import new_user
from helpers import s3_error
from minio import Minio
from minio.datatypes import PostPolicy
from minio.error import S3Error


def _minio(endpoint, access_key: str | None, secret_key: str | None) -> Minio:
    u = urllib.parse.urlsplit(endpoint.url)
    return Minio(u.netloc, access_key=access_key, secret_key=secret_key, secure=False, region="us-east-1")


@pytest.fixture
def owned(endpoint):
    owner = new_user(endpoint)
    name = f"mc-{uuid.uuid4().hex[:16]}"
    owner.s3.create_bucket(Bucket=name)
    owner.s3.put_object(Bucket=name, Key="pub/a.txt", Body=b"A")
    owner.s3.put_object(Bucket=name, Key="priv/b.txt", Body=b"B")
    yield owner, name
    owner.s3.delete_bucket_policy(Bucket=name)
    for o in owner.s3.list_objects_v2(Bucket=name).get("Contents", []):
        owner.s3.delete_object(Bucket=name, Key=o["Key"])
    owner.s3.delete_bucket(Bucket=name)


def test_minio_bucket_policy_and_anonymous_client(endpoint, owned):
    owner, name = owned
    mc = _minio(endpoint, owner.access_key, owner.secret_key)
    anon = _minio(endpoint, None, None)
    with pytest.raises(S3Error) as ei:
        anon.get_object(name, "pub/a.txt")
    assert ei.value.code == "AccessDenied"
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::{name}/pub/*"]}]})
    mc.set_bucket_policy(name, doc)
    assert json.loads(mc.get_bucket_policy(name)) == json.loads(doc)
    assert anon.get_object(name, "pub/a.txt").read() == b"A"
    with pytest.raises(S3Error) as ei:
        anon.get_object(name, "priv/b.txt")
    assert ei.value.code == "AccessDenied"
    mc.delete_bucket_policy(name)
    with pytest.raises(S3Error) as ei:
        mc.get_bucket_policy(name)
    assert ei.value.code == "NoSuchBucketPolicy"
    with pytest.raises(S3Error) as ei:
        anon.get_object(name, "pub/a.txt")
    assert ei.value.code == "AccessDenied"


def test_minio_post_policy_form(endpoint, owned):
    owner, name = owned
    mc = _minio(endpoint, owner.access_key, owner.secret_key)
    policy = PostPolicy(name, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
    policy.add_starts_with_condition("key", "forms/")
    policy.add_content_length_range_condition(1, 1024)
    form = mc.presigned_post_policy(policy)
    fields: list = [(k, v) for k, v in form.items()] + [("key", "forms/one"), ("file", ("f", b"via minio"))]
    body, ctype = urllib3.encode_multipart_formdata(fields)
    r = urllib3.request("POST", f"{endpoint.url}/{name}", body=body, headers={"Content-Type": ctype})
    assert r.status == 204, r.data
    assert owner.s3.get_object(Bucket=name, Key="forms/one")["Body"].read() == b"via minio"
    bad = [(k, v) for k, v in form.items()] + [("key", "elsewhere"), ("file", ("f", b"x"))]
    body, ctype = urllib3.encode_multipart_formdata(bad)
    r = urllib3.request("POST", f"{endpoint.url}/{name}", body=body, headers={"Content-Type": ctype})
    assert r.status == 403 and b"AccessDenied" in r.data


def test_expected_bucket_owner(endpoint, owned):
    owner, name = owned
    assert owner.s3.get_object(Bucket=name, Key="pub/a.txt", ExpectedBucketOwner=owner.id)["Body"].read() == b"A"
    with s3_error("AccessDenied", 403):
        owner.s3.get_object(Bucket=name, Key="pub/a.txt", ExpectedBucketOwner="someone-else")
    with s3_error("AccessDenied", 403):
        owner.s3.list_objects_v2(Bucket=name, ExpectedBucketOwner="someone-else")
