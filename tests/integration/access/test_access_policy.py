"""Bucket policies end to end: Put/Get/Delete/GetBucketPolicyStatus, the evaluator on real requests
(explicit Deny wins, then Allow, else the ACL/ownership), conditions on request facts, anonymous access,
and the public access block's policy switches. Every refusal is asserted with its code."""

from __future__ import annotations

import json
import uuid

import pytest
from access_users import User, admin_for, new_user
from helpers import client, s3_error, unsigned_client


@pytest.fixture
def owner(endpoint) -> User:
    return new_user(endpoint)


@pytest.fixture
def other(endpoint) -> User:
    return new_user(endpoint)


@pytest.fixture
def anon(endpoint):
    return unsigned_client(endpoint.url)


@pytest.fixture
def bkt(owner: User):
    name = f"pol-{uuid.uuid4().hex[:16]}"
    owner.s3.create_bucket(Bucket=name)
    for k in ("public/a.txt", "private/b.txt", "home/c.txt"):
        owner.s3.put_object(Bucket=name, Key=k, Body=k.encode())
    yield name
    owner.s3.delete_bucket_policy(Bucket=name)
    listed = owner.s3.list_object_versions(Bucket=name)  # every version and delete marker
    for v in listed.get("Versions", []) + listed.get("DeleteMarkers", []):
        owner.s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
    owner.s3.delete_bucket(Bucket=name)


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def stmt(bucket: str, action: str | list[str], resource: str = "/*", principal: object = "*",
         effect: str = "Allow", **extra: object) -> dict:
    return {"Effect": effect, "Principal": principal, "Action": action,
            "Resource": f"arn:aws:s3:::{bucket}{resource}", **extra}


def test_put_get_delete_and_status(bkt, owner):
    with s3_error("NoSuchBucketPolicy", 404):
        owner.s3.get_bucket_policy(Bucket=bkt)
    with s3_error("NoSuchBucketPolicy", 404):
        owner.s3.get_bucket_policy_status(Bucket=bkt)
    doc = policy(stmt(bkt, "s3:GetObject", "/public/*"))
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=doc)
    assert owner.s3.get_bucket_policy(Bucket=bkt)["Policy"] == doc
    assert owner.s3.get_bucket_policy_status(Bucket=bkt)["PolicyStatus"]["IsPublic"] is True
    narrow = policy(stmt(bkt, "s3:GetObject", principal={"AWS": f"arn:aws:iam::{owner.id}:root"}))
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=narrow)
    assert owner.s3.get_bucket_policy_status(Bucket=bkt)["PolicyStatus"]["IsPublic"] is False
    owner.s3.delete_bucket_policy(Bucket=bkt)
    with s3_error("NoSuchBucketPolicy", 404):
        owner.s3.get_bucket_policy(Bucket=bkt)


@pytest.mark.parametrize(("doc", "message"), [
    ("not json", "Policies must be valid JSON and the first byte must be '{'"),
    ('{"Statement": [}', "This policy contains invalid Json"),
    (policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::someone-else/*"}), "Policy has invalid resource"),
    (policy({"Effect": "Allow", "Principal": "*", "Action": "s3:Fly", "Resource": "*"}), "Policy has invalid action"),
])
def test_malformed_policy(bkt, owner, doc, message):
    with s3_error("MalformedPolicy", 400) as ei:
        owner.s3.put_bucket_policy(Bucket=bkt, Policy=doc)
    assert ei.value.response["Error"]["Message"] == message
    with s3_error("NoSuchBucketPolicy", 404):
        owner.s3.get_bucket_policy(Bucket=bkt)


def test_policy_operations_need_permission(bkt, owner, other, anon):
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(stmt(bkt, "s3:GetObject", "/public/*")))
    for s3 in (other.s3, anon):
        with s3_error("AccessDenied", 403):
            s3.get_bucket_policy(Bucket=bkt)
        with s3_error("AccessDenied", 403):
            s3.put_bucket_policy(Bucket=bkt, Policy=policy(stmt(bkt, "s3:*", "/*")))
        with s3_error("AccessDenied", 403):
            s3.delete_bucket_policy(Bucket=bkt)
        with s3_error("AccessDenied", 403):
            s3.get_bucket_policy_status(Bucket=bkt)


def test_anonymous_read_of_a_prefix(bkt, owner, anon):
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(stmt(bkt, "s3:GetObject", "/public/*")))
    assert anon.get_object(Bucket=bkt, Key="public/a.txt")["Body"].read() == b"public/a.txt"
    anon.head_object(Bucket=bkt, Key="public/a.txt")
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bkt, Key="private/b.txt")
    with s3_error("AccessDenied", 403):
        anon.list_objects_v2(Bucket=bkt)
    with s3_error("AccessDenied", 403):
        anon.put_object(Bucket=bkt, Key="public/new", Body=b"x")


def test_allow_another_user_by_arn(bkt, owner, other):
    who = {"AWS": [f"arn:aws:iam::{other.id}:root"]}
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(
        stmt(bkt, ["s3:PutObject", "s3:GetObject"], "/home/*", principal=who),
        stmt(bkt, "s3:ListBucket", "", principal={"CanonicalUser": other.id})))
    other.s3.put_object(Bucket=bkt, Key="home/mine", Body=b"x")
    assert other.s3.get_object(Bucket=bkt, Key="home/mine")["Body"].read() == b"x"
    assert "home/mine" in [o["Key"] for o in other.s3.list_objects_v2(Bucket=bkt)["Contents"]]
    with s3_error("AccessDenied", 403):
        other.s3.put_object(Bucket=bkt, Key="private/x", Body=b"x")
    with s3_error("AccessDenied", 403):
        other.s3.delete_object(Bucket=bkt, Key="home/mine")
    with s3_error("AccessDenied", 403):
        other.s3.delete_bucket(Bucket=bkt)


def test_explicit_deny_beats_acl_and_ownership(bkt, owner, other, anon):
    owner.s3.put_bucket_acl(Bucket=bkt, ACL="public-read")
    owner.s3.put_object(Bucket=bkt, Key="public/open", Body=b"x", ACL="public-read")
    anon.list_objects_v2(Bucket=bkt)
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(
        stmt(bkt, "s3:ListBucket", "", effect="Deny"),
        stmt(bkt, "s3:GetObject", "/private/*", effect="Deny")))
    with s3_error("AccessDenied", 403):
        anon.list_objects_v2(Bucket=bkt)
    with s3_error("AccessDenied", 403):
        owner.s3.list_objects_v2(Bucket=bkt)  # the owner too
    with s3_error("AccessDenied", 403):
        owner.s3.get_object(Bucket=bkt, Key="private/b.txt")
    assert anon.get_object(Bucket=bkt, Key="public/open")["Body"].read() == b"x"
    owner.s3.get_object(Bucket=bkt, Key="home/c.txt")  # not denied: ownership allows
    # the owner can always read and remove a policy that locks them out
    assert "Deny" in owner.s3.get_bucket_policy(Bucket=bkt)["Policy"]
    owner.s3.delete_bucket_policy(Bucket=bkt)
    owner.s3.list_objects_v2(Bucket=bkt)


def test_deny_everything_even_policy_changes_by_others(bkt, owner, other, endpoint):
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(stmt(bkt, "s3:*", "", effect="Deny"),
                                                         stmt(bkt, "s3:*", "/*", effect="Deny")))
    with s3_error("AccessDenied", 403):
        owner.s3.put_object(Bucket=bkt, Key="x", Body=b"x")
    root = client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    with s3_error("AccessDenied", 403):
        root.get_object(Bucket=bkt, Key="home/c.txt")  # an admin is bound by an explicit Deny
    with s3_error("AccessDenied", 403):
        other.s3.delete_bucket_policy(Bucket=bkt)
    root.delete_bucket_policy(Bucket=bkt)  # ... except for managing the policy


def test_condition_prefix_and_max_keys(bkt, owner, other):
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(stmt(
        bkt, "s3:ListBucket", "", principal={"AWS": other.id},
        Condition={"StringEquals": {"s3:prefix": "home/"}, "NumericLessThanEquals": {"s3:max-keys": "10"}})))
    keys = [o["Key"] for o in other.s3.list_objects_v2(Bucket=bkt, Prefix="home/", MaxKeys=5)["Contents"]]
    assert keys == ["home/c.txt"]
    with s3_error("AccessDenied", 403):
        other.s3.list_objects_v2(Bucket=bkt, Prefix="private/", MaxKeys=5)
    with s3_error("AccessDenied", 403):
        other.s3.list_objects_v2(Bucket=bkt, Prefix="home/")  # boto3 sends no max-keys: key absent
    with s3_error("AccessDenied", 403):
        other.s3.list_objects_v2(Bucket=bkt, Prefix="home/", MaxKeys=100)


def test_condition_source_ip(bkt, owner, anon):
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(
        stmt(bkt, "s3:GetObject", "/public/*", Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}),
        stmt(bkt, "s3:GetObject", "/home/*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})))
    anon.get_object(Bucket=bkt, Key="public/a.txt")
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bkt, Key="home/c.txt")


def test_condition_secure_transport(bkt, owner, other):
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(
        stmt(bkt, "s3:GetObject", principal={"AWS": other.id}),
        stmt(bkt, "s3:*", "/*", effect="Deny", Condition={"Bool": {"aws:SecureTransport": "false"}})))
    with s3_error("AccessDenied", 403):  # plain HTTP is refused, the allow notwithstanding
        other.s3.get_object(Bucket=bkt, Key="home/c.txt")
    with s3_error("AccessDenied", 403):
        owner.s3.get_object(Bucket=bkt, Key="home/c.txt")


def test_condition_acl_header_on_put(bkt, owner, other, anon):
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(stmt(
        bkt, "s3:PutObject", "/home/*", principal={"AWS": other.id},
        Condition={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}})))
    with s3_error("AccessDenied", 403):
        other.s3.put_object(Bucket=bkt, Key="home/no-acl", Body=b"x")
    other.s3.put_object(Bucket=bkt, Key="home/ok", Body=b"x", ACL="bucket-owner-full-control")
    acl = owner.s3.get_object_acl(Bucket=bkt, Key="home/ok")
    assert (owner.id, "FULL_CONTROL") in [(g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"]]


def test_condition_string_like_and_not_equals(bkt, owner, anon):
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(
        stmt(bkt, "s3:GetObject", Condition={"StringLike": {"aws:UserAgent": "*Boto3*"}}),
        stmt(bkt, "s3:GetObject", "/private/*", effect="Deny",
             Condition={"StringNotEquals": {"aws:username": owner.id}})))
    anon.get_object(Bucket=bkt, Key="home/c.txt")
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bkt, Key="private/b.txt")
    owner.s3.get_object(Bucket=bkt, Key="private/b.txt")


def test_not_principal_and_not_action(bkt, owner, other, anon):
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(
        {"Effect": "Allow", "Principal": "*", "NotAction": ["s3:DeleteObject", "s3:PutObject"],
         "Resource": f"arn:aws:s3:::{bkt}/*"},
        {"Effect": "Deny", "NotPrincipal": {"AWS": [other.id, owner.id]}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bkt}/private/*"}))
    other.s3.get_object(Bucket=bkt, Key="private/b.txt")
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bkt, Key="private/b.txt")
    anon.get_object(Bucket=bkt, Key="home/c.txt")
    with s3_error("AccessDenied", 403):
        other.s3.delete_object(Bucket=bkt, Key="home/c.txt")


def test_public_access_block_and_policies(bkt, owner, anon):
    public = policy(stmt(bkt, "s3:GetObject", "/public/*"))
    owner.s3.put_public_access_block(Bucket=bkt, PublicAccessBlockConfiguration={"BlockPublicPolicy": True})
    with s3_error("AccessDenied", 403):
        owner.s3.put_bucket_policy(Bucket=bkt, Policy=public)
    owner.s3.put_public_access_block(Bucket=bkt, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=public)
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bkt, Key="public/a.txt")
    owner.s3.delete_public_access_block(Bucket=bkt)
    anon.get_object(Bucket=bkt, Key="public/a.txt")


def test_delete_objects_evaluated_per_key(bkt, owner, other):
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(
        stmt(bkt, "s3:DeleteObject", "/home/*", principal={"AWS": other.id})))
    res = other.s3.delete_objects(Bucket=bkt, Delete={"Objects": [{"Key": "home/c.txt"}, {"Key": "public/a.txt"}]})
    assert [d["Key"] for d in res["Deleted"]] == ["home/c.txt"]
    assert [(e["Key"], e["Code"]) for e in res["Errors"]] == [("public/a.txt", "AccessDenied")]


def test_removed_user_loses_access(server_factory):
    srv = server_factory(workers=1)  # credentials are cached per worker for two seconds

    class endpoint:
        url, access_key, secret_key, server = srv.endpoint, srv.access_key, srv.secret_key, srv

    owner, other = new_user(endpoint), new_user(endpoint)
    bkt = f"pol-{uuid.uuid4().hex[:16]}"
    owner.s3.create_bucket(Bucket=bkt)
    owner.s3.put_object(Bucket=bkt, Key="home/c.txt", Body=b"x")
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(stmt(bkt, "s3:GetObject", principal={"AWS": other.id})))
    other.s3.get_object(Bucket=bkt, Key="home/c.txt")
    admin_for(endpoint).remove_user(other.id)
    with s3_error("InvalidAccessKeyId", 403):
        client(endpoint.url, other.access_key, other.secret_key).get_object(Bucket=bkt, Key="home/c.txt")


def test_policy_size_limit(bkt, owner):
    big = policy(*[stmt(bkt, "s3:GetObject", f"/p{i:05d}-{'x' * 40}/*", Sid=f"s{i}") for i in range(300)])
    assert len(big) > 20 * 1024
    with s3_error("MalformedPolicy", 400) as ei:
        owner.s3.put_bucket_policy(Bucket=bkt, Policy=big)
    assert ei.value.response["Error"]["Message"] == "Policies must be no larger than 20 KB"


def test_condition_existing_object_tag(bkt, owner, anon):
    owner.s3.put_object(Bucket=bkt, Key="tagged", Body=b"t", Tagging="class=public&team=a")
    owner.s3.put_object(Bucket=bkt, Key="secret", Body=b"s", Tagging="class=private")
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(stmt(
        bkt, "s3:GetObject", Condition={"StringEquals": {"s3:ExistingObjectTag/class": "public"}})))
    assert anon.get_object(Bucket=bkt, Key="tagged")["Body"].read() == b"t"
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bkt, Key="secret")
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bkt, Key="home/c.txt")  # no tags at all
    owner.s3.put_object_tagging(Bucket=bkt, Key="secret", Tagging={"TagSet": [{"Key": "class", "Value": "public"}]})
    assert anon.get_object(Bucket=bkt, Key="secret")["Body"].read() == b"s"


def test_version_specific_permission(bkt, owner, other):
    owner.s3.put_bucket_versioning(Bucket=bkt, VersioningConfiguration={"Status": "Enabled"})
    v1 = owner.s3.put_object(Bucket=bkt, Key="v", Body=b"one")["VersionId"]
    owner.s3.put_object(Bucket=bkt, Key="v", Body=b"two")
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(stmt(bkt, "s3:GetObject", principal={"AWS": other.id})))
    assert other.s3.get_object(Bucket=bkt, Key="v")["Body"].read() == b"two"
    with s3_error("AccessDenied", 403):  # an older version needs s3:GetObjectVersion
        other.s3.get_object(Bucket=bkt, Key="v", VersionId=v1)
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(
        stmt(bkt, ["s3:GetObject", "s3:GetObjectVersion"], principal={"AWS": other.id})))
    assert other.s3.get_object(Bucket=bkt, Key="v", VersionId=v1)["Body"].read() == b"one"


def test_anonymous_virtual_host_and_referer(bkt, owner, endpoint):
    from helpers import raw_request

    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(stmt(
        bkt, "s3:GetObject", "/public/*", Condition={"StringLike": {"aws:Referer": "https://site.test/*"}})))
    port = endpoint.url.rsplit(":", 1)[1]
    host = f"{bkt}.localhost:{port}"
    r = raw_request(endpoint, "GET", "/public/a.txt", host=host, sign=False,
                    headers={"Referer": "https://site.test/page"})
    assert (r.status, r.body) == (200, b"public/a.txt")
    r = raw_request(endpoint, "GET", "/public/a.txt", host=host, sign=False,
                    headers={"Referer": "https://elsewhere.test/"})
    assert r.status == 403 and b"<Code>AccessDenied</Code>" in r.body
    r = raw_request(endpoint, "GET", "/public/a.txt", host=host, sign=False)
    assert r.status == 403


def test_policy_requiring_encryption_headers(bkt, owner):
    owner.s3.put_bucket_policy(Bucket=bkt, Policy=policy(
        stmt(bkt, "s3:PutObject", effect="Deny", Condition={"Null": {"s3:x-amz-server-side-encryption": "true"}}),
        stmt(bkt, "s3:PutObject", effect="Deny",
             Condition={"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "AES256"}})))
    with s3_error("AccessDenied", 403):
        owner.s3.put_object(Bucket=bkt, Key="plain", Body=b"x")
    with s3_error("AccessDenied", 403):
        owner.s3.put_object(Bucket=bkt, Key="kms", Body=b"x", ServerSideEncryption="aws:kms")
    owner.s3.put_object(Bucket=bkt, Key="sealed", Body=b"x", ServerSideEncryption="AES256")
    assert owner.s3.head_object(Bucket=bkt, Key="sealed")["ServerSideEncryption"] == "AES256"
