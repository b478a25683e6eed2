"""Bucket-policy fidelity driven by boto3: every `...IfExists` Condition operator (a present key is
compared, an absent one passes), `NotPrincipal`, multipart and tagging actions granted on object
resources, `s3:ExistingObjectTag/<key>`, the request's tags (`s3:RequestObjectTag/<key>`,
`s3:RequestObjectTagKeys`) on PutObject and PutObjectTagging, and the missing-key answer by
permission: 404 NoSuchKey to a caller allowed to list the bucket (policy or ACL), 403 to any other.
"""

from __future__ import annotations

import json
import uuid

import pytest
from access_users import User, new_user
from helpers import s3_error, unsigned_client


@pytest.fixture
def owner(endpoint) -> User:
    return new_user(endpoint)


@pytest.fixture
def other(endpoint) -> User:
    return new_user(endpoint)


@pytest.fixture
def bkt(owner: User):
    name = f"pop-{uuid.uuid4().hex[:16]}"
    owner.s3.create_bucket(Bucket=name)
    owner.s3.put_object(Bucket=name, Key="obj", Body=b"data")
    return name


def put_policy(s3, bucket: str, *statements: dict) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def anon_with(endpoint, headers: dict[str, str]):
    """An anonymous client that adds these headers to every request."""
    c = unsigned_client(endpoint.url)

    def add(request, **_):
        for k, v in headers.items():
            request.headers[k] = v

    c.meta.events.register_first("before-sign.s3", add)
    return c


def _allowed(call) -> bool:
    try:
        call()
    except Exception as e:
        assert getattr(e, "response", {}).get("Error", {}).get("Code") == "AccessDenied", e
        return False
    return True


# (operator, key, policy value, headers that match, headers that do not, an absent key for the same operator)
REFERER_CASES = [
    ("StringEquals", "http://ok/", "http://ok/", "http://bad/"),
    ("StringNotEquals", "http://bad/", "http://ok/", "http://bad/"),
    ("StringEqualsIgnoreCase", "HTTP://OK/", "http://ok/", "http://bad/"),
    ("StringNotEqualsIgnoreCase", "HTTP://BAD/", "http://ok/", "http://bad/"),
    ("StringLike", "http://ok/*", "http://ok/page", "http://bad/page"),
    ("StringNotLike", "http://bad/*", "http://ok/page", "http://bad/page"),
    ("ArnEquals", "arn:aws:s3:::ok", "arn:aws:s3:::ok", "arn:aws:s3:::bad"),
    ("ArnLike", "arn:aws:s3:::ok*", "arn:aws:s3:::ok-1", "arn:aws:s3:::bad"),
    ("ArnNotEquals", "arn:aws:s3:::bad", "arn:aws:s3:::ok", "arn:aws:s3:::bad"),
    ("ArnNotLike", "arn:aws:s3:::bad*", "arn:aws:s3:::ok", "arn:aws:s3:::bad-1"),
]


@pytest.mark.parametrize("op, value, good, bad", REFERER_CASES, ids=[c[0] for c in REFERER_CASES])
def test_string_and_arn_if_exists(endpoint, owner, bkt, op, value, good, bad):
    put_policy(owner.s3, bkt, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                               "Resource": f"arn:aws:s3:::{bkt}/*",
                               "Condition": {op + "IfExists": {"aws:Referer": value}}})
    anon = unsigned_client(endpoint.url)
    assert _allowed(lambda: anon_with(endpoint, {"Referer": good}).get_object(Bucket=bkt, Key="obj"))
    assert not _allowed(lambda: anon_with(endpoint, {"Referer": bad}).get_object(Bucket=bkt, Key="obj"))
    assert _allowed(lambda: anon.get_object(Bucket=bkt, Key="obj"))  # no Referer: IfExists passes


@pytest.mark.parametrize("op, value, good, bad", [
    ("NumericEquals", "5", 5, 6), ("NumericNotEquals", "5", 6, 5), ("NumericLessThan", "10", 9, 10),
    ("NumericLessThanEquals", "10", 10, 11), ("NumericGreaterThan", "10", 11, 10),
    ("NumericGreaterThanEquals", "10", 10, 9)])
def test_numeric_if_exists(endpoint, owner, bkt, op, value, good, bad):
    put_policy(owner.s3, bkt, {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket",
                               "Resource": f"arn:aws:s3:::{bkt}",
                               "Condition": {op + "IfExists": {"s3:max-keys": value}}})
    anon = unsigned_client(endpoint.url)
    assert _allowed(lambda: anon.list_objects(Bucket=bkt, MaxKeys=good))
    assert not _allowed(lambda: anon.list_objects(Bucket=bkt, MaxKeys=bad))
    assert _allowed(lambda: anon.list_objects(Bucket=bkt))  # no max-keys sent


@pytest.mark.parametrize("op, good, bad", [
    ("DateGreaterThan", "2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z"),
    ("DateGreaterThanEquals", "2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z"),
    ("DateLessThan", "2999-01-01T00:00:00Z", "2000-01-01T00:00:00Z"),
    ("DateLessThanEquals", "2999-01-01T00:00:00Z", "2000-01-01T00:00:00Z"),
    ("DateNotEquals", "2000-01-01T00:00:00Z", None), ("DateEquals", None, "2000-01-01T00:00:00Z")])
def test_date_if_exists(endpoint, owner, bkt, op, good, bad):
    anon = unsigned_client(endpoint.url)
    for value, allowed in ((good, True), (bad, False)):
        if value is None:
            continue
        put_policy(owner.s3, bkt, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                   "Resource": f"arn:aws:s3:::{bkt}/*",
                                   "Condition": {op + "IfExists": {"aws:CurrentTime": value}}})
        assert _allowed(lambda: anon.get_object(Bucket=bkt, Key="obj")) is allowed
    put_policy(owner.s3, bkt, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                               "Resource": f"arn:aws:s3:::{bkt}/*",  # a key these requests never carry
                               "Condition": {op + "IfExists": {"aws:TokenIssueTime": "2000-01-01T00:00:00Z"}}})
    assert _allowed(lambda: anon.get_object(Bucket=bkt, Key="obj"))


@pytest.mark.parametrize("op, key, good, bad, absent_key", [
    ("Bool", "aws:SecureTransport", "false", "true", "aws:MultiFactorAuthPresent"),
    ("IpAddress", "aws:SourceIp", "127.0.0.0/8", "192.0.2.0/24", None),
    ("NotIpAddress", "aws:SourceIp", "192.0.2.0/24", "127.0.0.0/8", None)])
def test_bool_and_ip_if_exists(endpoint, owner, bkt, op, key, good, bad, absent_key):
    anon = unsigned_client(endpoint.url)
    for value, allowed in ((good, True), (bad, False)):
        put_policy(owner.s3, bkt, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                   "Resource": f"arn:aws:s3:::{bkt}/*", "Condition": {op + "IfExists": {key: value}}})
        assert _allowed(lambda: anon.get_object(Bucket=bkt, Key="obj")) is allowed
    if absent_key:
        put_policy(owner.s3, bkt, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                   "Resource": f"arn:aws:s3:::{bkt}/*",
                                   "Condition": {op + "IfExists": {absent_key: bad}}})
        assert _allowed(lambda: anon.get_object(Bucket=bkt, Key="obj"))


def test_not_principal_deny(endpoint, owner, other, bkt):
    third = new_user(endpoint)
    put_policy(owner.s3, bkt,
               {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bkt}/*"},
               {"Effect": "Deny", "NotPrincipal": {"AWS": [other.id, owner.id]}, "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bkt}/*"})
    assert other.s3.get_object(Bucket=bkt, Key="obj")["Body"].read() == b"data"
    with s3_error("AccessDenied", 403):
        third.s3.get_object(Bucket=bkt, Key="obj")
    with s3_error("AccessDenied", 403):
        unsigned_client(endpoint.url).get_object(Bucket=bkt, Key="obj")


def test_multipart_and_tagging_actions_on_objects(owner, other, bkt):
    put_policy(owner.s3, bkt, {"Effect": "Allow", "Principal": {"AWS": [other.id]},
                               "Action": ["s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload",
                                          "s3:PutObjectTagging", "s3:GetObjectTagging", "s3:DeleteObjectTagging"],
                               "Resource": f"arn:aws:s3:::{bkt}/*"})
    o = other.s3
    up = o.create_multipart_upload(Bucket=bkt, Key="m")["UploadId"]
    etag = o.upload_part(Bucket=bkt, Key="m", UploadId=up, PartNumber=1, Body=b"p")["ETag"]
    assert [p["ETag"] for p in o.list_parts(Bucket=bkt, Key="m", UploadId=up)["Parts"]] == [etag]
    o.abort_multipart_upload(Bucket=bkt, Key="m", UploadId=up)
    o.put_object_tagging(Bucket=bkt, Key="obj", Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
    assert o.get_object_tagging(Bucket=bkt, Key="obj")["TagSet"] == [{"Key": "a", "Value": "1"}]
    o.delete_object_tagging(Bucket=bkt, Key="obj")
    with s3_error("AccessDenied", 403):  # not granted
        o.get_object(Bucket=bkt, Key="obj")


def test_existing_object_tag(owner, other, bkt):
    owner.s3.put_object(Bucket=bkt, Key="low", Body=b"l", Tagging="sec=low")
    owner.s3.put_object(Bucket=bkt, Key="high", Body=b"h", Tagging="sec=high")
    put_policy(owner.s3, bkt, {"Effect": "Allow", "Principal": {"AWS": [other.id]}, "Action": "s3:GetObject",
                               "Resource": f"arn:aws:s3:::{bkt}/*",
                               "Condition": {"StringEquals": {"s3:ExistingObjectTag/sec": "low"}}})
    assert other.s3.get_object(Bucket=bkt, Key="low")["Body"].read() == b"l"
    with s3_error("AccessDenied", 403):
        other.s3.get_object(Bucket=bkt, Key="high")


def test_request_object_tags_on_put_object(owner, other, bkt):
    put_policy(owner.s3, bkt, {"Effect": "Allow", "Principal": {"AWS": [other.id]}, "Action": "s3:PutObject",
                               "Resource": f"arn:aws:s3:::{bkt}/*",
                               "Condition": {"StringEquals": {"s3:RequestObjectTag/proj": "apollo"}}})
    other.s3.put_object(Bucket=bkt, Key="t", Body=b"x", Tagging="proj=apollo&x=1")
    for tagging in ("proj=gemini", ""):
        with s3_error("AccessDenied", 403):
            other.s3.put_object(Bucket=bkt, Key="t", Body=b"x", **({"Tagging": tagging} if tagging else {}))
    assert owner.s3.get_object_tagging(Bucket=bkt, Key="t")["TagSet"] == [
        {"Key": "proj", "Value": "apollo"}, {"Key": "x", "Value": "1"}]


def test_request_object_tags_on_put_object_tagging(owner, other, bkt):
    put_policy(owner.s3, bkt,
               {"Effect": "Allow", "Principal": {"AWS": [other.id]}, "Action": "s3:PutObjectTagging",
                "Resource": f"arn:aws:s3:::{bkt}/*",
                "Condition": {"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["proj", "env"]},
                              "StringEqualsIfExists": {"s3:RequestObjectTag/env": "prod"}}})
    other.s3.put_object_tagging(Bucket=bkt, Key="obj", Tagging={"TagSet": [{"Key": "proj", "Value": "a"}]})
    other.s3.put_object_tagging(Bucket=bkt, Key="obj", Tagging={"TagSet": [{"Key": "env", "Value": "prod"}]})
    for tags in ([{"Key": "other", "Value": "b"}], [{"Key": "env", "Value": "dev"}]):
        with s3_error("AccessDenied", 403):
            other.s3.put_object_tagging(Bucket=bkt, Key="obj", Tagging={"TagSet": tags})
    assert owner.s3.get_object_tagging(Bucket=bkt, Key="obj")["TagSet"] == [{"Key": "env", "Value": "prod"}]


def test_missing_key_is_404_only_to_listers(endpoint, owner, other, bkt):
    read_only = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bkt}/*"}
    put_policy(owner.s3, bkt, read_only)
    anon = unsigned_client(endpoint.url)
    for who in (other.s3, anon):
        assert who.get_object(Bucket=bkt, Key="obj")["Body"].read() == b"data"
        with s3_error("AccessDenied", 403):
            who.get_object(Bucket=bkt, Key="missing")
        with s3_error("403", 403):
            who.head_object(Bucket=bkt, Key="missing")
    put_policy(owner.s3, bkt, read_only, {"Effect": "Allow", "Principal": {"AWS": [other.id]},
                                          "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bkt}"})
    with s3_error("NoSuchKey", 404):
        other.s3.get_object(Bucket=bkt, Key="missing")
    with s3_error("404", 404):
        other.s3.head_object(Bucket=bkt, Key="missing")
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bkt, Key="missing")
    with s3_error("NoSuchKey", 404):
        owner.s3.get_object(Bucket=bkt, Key="missing")


def test_missing_key_by_bucket_acl(endpoint, owner):
    anon = unsigned_client(endpoint.url)
    name = f"pop-{uuid.uuid4().hex[:16]}"
    owner.s3.create_bucket(Bucket=name, ACL="public-read")  # READ on the bucket: anyone may list
    owner.s3.put_object(Bucket=name, Key="private", Body=b"p")
    with s3_error("NoSuchKey", 404):
        anon.get_object(Bucket=name, Key="missing")
    with s3_error("AccessDenied", 403):  # exists, but not readable: still 403
        anon.get_object(Bucket=name, Key="private")
    owner.s3.put_bucket_acl(Bucket=name, ACL="private")
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=name, Key="missing")
