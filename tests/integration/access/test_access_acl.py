"""ACLs, object ownership controls and the public access block, driven with boto3 as three callers:
the bucket owner, another user and an anonymous client. Every refusal is asserted with its code."""

from __future__ import annotations

import uuid

import pytest
from access_users import User, new_user
from helpers import s3_error, unsigned_client

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.fixture
def owner(endpoint) -> User:
    return new_user(endpoint, email=True)


@pytest.fixture
def other(endpoint) -> User:
    return new_user(endpoint, email=True)


@pytest.fixture
def anon(endpoint):
    return unsigned_client(endpoint.url)


@pytest.fixture
def bkt(owner: User):
    name = f"acl-{uuid.uuid4().hex[:16]}"
    owner.s3.create_bucket(Bucket=name)
    owner.s3.put_object(Bucket=name, Key="doc.txt", Body=b"hello")
    yield name
    for o in owner.s3.list_objects_v2(Bucket=name).get("Contents", []):
        owner.s3.delete_object(Bucket=name, Key=o["Key"])
    owner.s3.delete_bucket(Bucket=name)


def test_private_by_default_every_denial(bkt, owner, other, anon):
    for s3 in (other.s3, anon):
        with s3_error("AccessDenied", 403):
            s3.list_objects_v2(Bucket=bkt)
        with s3_error("AccessDenied", 403):
            s3.get_object(Bucket=bkt, Key="doc.txt")
        with s3_error("403", 403):
            s3.head_object(Bucket=bkt, Key="doc.txt")
        with s3_error("AccessDenied", 403):
            s3.put_object(Bucket=bkt, Key="x", Body=b"x")
        with s3_error("AccessDenied", 403):
            s3.delete_object(Bucket=bkt, Key="doc.txt")
        with s3_error("AccessDenied", 403):
            s3.get_bucket_acl(Bucket=bkt)
        with s3_error("AccessDenied", 403):
            s3.put_bucket_acl(Bucket=bkt, ACL="public-read")
        with s3_error("AccessDenied", 403):
            s3.get_object_acl(Bucket=bkt, Key="doc.txt")
        with s3_error("AccessDenied", 403):
            s3.delete_bucket(Bucket=bkt)
        with s3_error("AccessDenied", 403):
            s3.create_multipart_upload(Bucket=bkt, Key="m")
    with s3_error("AccessDenied", 403):
        anon.list_buckets()
    with s3_error("AccessDenied", 403):
        anon.create_bucket(Bucket=f"anon-{uuid.uuid4().hex[:10]}")
    with s3_error("NoSuchBucket", 404):
        anon.get_object(Bucket=f"none-{uuid.uuid4().hex[:10]}", Key="k")
    assert owner.s3.get_object(Bucket=bkt, Key="doc.txt")["Body"].read() == b"hello"
    assert [b["Name"] for b in other.s3.list_buckets()["Buckets"]] == []


def test_default_acl_document(bkt, owner):
    acl = owner.s3.get_bucket_acl(Bucket=bkt)
    assert acl["Owner"]["ID"] == owner.id
    assert [(g["Grantee"]["ID"], g["Permission"]) for g in acl["Grants"]] == [(owner.id, "FULL_CONTROL")]
    oacl = owner.s3.get_object_acl(Bucket=bkt, Key="doc.txt")
    assert oacl["Owner"]["ID"] == owner.id


def test_public_read_bucket(bkt, owner, other, anon):
    owner.s3.put_bucket_acl(Bucket=bkt, ACL="public-read")
    grants = owner.s3.get_bucket_acl(Bucket=bkt)["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in grants
    assert [o["Key"] for o in anon.list_objects_v2(Bucket=bkt)["Contents"]] == ["doc.txt"]
    assert other.s3.list_objects(Bucket=bkt)["Contents"][0]["Key"] == "doc.txt"
    anon.head_bucket(Bucket=bkt)
    # bucket READ lists keys; reading an object needs the object's own grant
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bkt, Key="doc.txt")
    with s3_error("AccessDenied", 403):
        anon.put_object(Bucket=bkt, Key="x", Body=b"x")


def test_public_read_object(bkt, owner, anon):
    owner.s3.put_object(Bucket=bkt, Key="pub.txt", Body=b"public", ACL="public-read")
    assert anon.get_object(Bucket=bkt, Key="pub.txt")["Body"].read() == b"public"
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bkt, Key="doc.txt")
    owner.s3.put_object_acl(Bucket=bkt, Key="pub.txt", ACL="private")
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bkt, Key="pub.txt")


def test_grants_by_id_email_and_xml(bkt, owner, other, anon):
    owner.s3.put_object_acl(Bucket=bkt, Key="doc.txt", GrantRead=f'id="{other.id}"')
    assert other.s3.get_object(Bucket=bkt, Key="doc.txt")["Body"].read() == b"hello"
    with s3_error("AccessDenied", 403):
        other.s3.get_object_acl(Bucket=bkt, Key="doc.txt")  # READ is not READ_ACP
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bkt, Key="doc.txt")
    owner.s3.put_object_acl(Bucket=bkt, Key="doc.txt", AccessControlPolicy={
        "Owner": {"ID": owner.id},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": owner.id}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": f"{other.id}@example.com"},
             "Permission": "READ_ACP"},
        ]})
    acl = other.s3.get_object_acl(Bucket=bkt, Key="doc.txt")
    assert (other.id, "READ_ACP") in [(g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"]]
    with s3_error("AccessDenied", 403):
        other.s3.put_object_acl(Bucket=bkt, Key="doc.txt", ACL="public-read")  # READ_ACP is not WRITE_ACP
    with s3_error("AccessDenied", 403):
        other.s3.get_object(Bucket=bkt, Key="doc.txt")  # the XML replaced the READ grant


def test_acl_input_errors(bkt, owner, other):
    with s3_error("UnresolvableGrantByEmailAddress", 400):
        owner.s3.put_bucket_acl(Bucket=bkt, GrantRead='emailAddress="nobody@example.com"')
    with s3_error("InvalidArgument", 400):
        owner.s3.put_bucket_acl(Bucket=bkt, GrantRead='id="no-such-user"')
    with s3_error("InvalidArgument", 400):
        owner.s3.put_bucket_acl(Bucket=bkt, GrantRead='uri="http://example.com/groups/Everyone"')
    with s3_error("InvalidArgument", 400):
        owner.s3.put_bucket_acl(Bucket=bkt, ACL="wide-open")  # type: ignore[arg-type]
    with s3_error("InvalidRequest", 400):
        owner.s3.put_bucket_acl(Bucket=bkt, ACL="private", GrantRead=f'id="{other.id}"')
    with s3_error("AccessDenied", 403):  # an ACL cannot change the owner
        owner.s3.put_bucket_acl(Bucket=bkt, AccessControlPolicy={"Owner": {"ID": other.id}, "Grants": []})
    with s3_error("NoSuchKey", 404):
        owner.s3.put_object_acl(Bucket=bkt, Key="missing", ACL="public-read")


def test_malformed_acl_xml(bkt, endpoint, owner):
    from helpers import raw_request

    class Ep:
        url, access_key, secret_key, server = endpoint.url, owner.access_key, owner.secret_key, None

    for body in (b"<nope", b"<AccessControlPolicy><AccessControlList/></AccessControlPolicy>"):
        r = raw_request(Ep, "PUT", f"/{bkt}?acl", body=body)
        assert r.status == 400 and b"<Code>MalformedACLError</Code>" in r.body


def test_grantee_write_and_read_acp(bkt, owner, other):
    owner.s3.put_bucket_acl(Bucket=bkt, GrantWrite=f'id="{other.id}"', GrantFullControl=f'id="{owner.id}"',
                            GrantReadACP=f'id="{other.id}"')
    other.s3.put_object(Bucket=bkt, Key="theirs", Body=b"by other")
    assert other.s3.get_object(Bucket=bkt, Key="theirs")["Body"].read() == b"by other"  # the writer owns it
    assert other.s3.get_object_acl(Bucket=bkt, Key="theirs")["Owner"]["ID"] == other.id
    with s3_error("AccessDenied", 403):  # ObjectWriter: the bucket owner has no grant on it (S3)
        owner.s3.get_object_acl(Bucket=bkt, Key="theirs")
    assert other.s3.get_bucket_acl(Bucket=bkt)["Owner"]["ID"] == owner.id
    with s3_error("AccessDenied", 403):
        other.s3.list_objects_v2(Bucket=bkt)  # WRITE is not READ
    with s3_error("AccessDenied", 403):
        other.s3.put_bucket_acl(Bucket=bkt, ACL="public-read")  # READ_ACP is not WRITE_ACP
    # DeleteObjects answers per key; the grantee may delete (bucket WRITE)
    res = other.s3.delete_objects(Bucket=bkt, Delete={"Objects": [{"Key": "theirs"}, {"Key": "doc.txt"}]})
    assert {d["Key"] for d in res.get("Deleted", [])} == {"theirs", "doc.txt"}


def test_delete_objects_denied_per_key(bkt, owner, other):
    res = other.s3.delete_objects(Bucket=bkt, Delete={"Objects": [{"Key": "doc.txt"}]})
    assert [(e["Key"], e["Code"]) for e in res["Errors"]] == [("doc.txt", "AccessDenied")]
    assert owner.s3.get_object(Bucket=bkt, Key="doc.txt")["Body"].read() == b"hello"


def test_copy_needs_read_on_source(bkt, owner, other):
    mine = f"acl-{uuid.uuid4().hex[:16]}"
    other.s3.create_bucket(Bucket=mine)
    try:
        with s3_error("AccessDenied", 403):
            other.s3.copy_object(Bucket=mine, Key="stolen", CopySource={"Bucket": bkt, "Key": "doc.txt"})
        up = other.s3.create_multipart_upload(Bucket=mine, Key="parts")
        with s3_error("AccessDenied", 403):
            other.s3.upload_part_copy(Bucket=mine, Key="parts", UploadId=up["UploadId"], PartNumber=1,
                                      CopySource={"Bucket": bkt, "Key": "doc.txt"})
        owner.s3.put_object_acl(Bucket=bkt, Key="doc.txt", GrantRead=f'id="{other.id}"')
        other.s3.upload_part_copy(Bucket=mine, Key="parts", UploadId=up["UploadId"], PartNumber=1,
                                  CopySource={"Bucket": bkt, "Key": "doc.txt"})
        other.s3.abort_multipart_upload(Bucket=mine, Key="parts", UploadId=up["UploadId"])
        other.s3.copy_object(Bucket=mine, Key="copied", CopySource={"Bucket": bkt, "Key": "doc.txt"})
        assert other.s3.get_object(Bucket=mine, Key="copied")["Body"].read() == b"hello"
        other.s3.delete_object(Bucket=mine, Key="copied")
    finally:
        other.s3.delete_bucket(Bucket=mine)


def test_authenticated_read_and_public_write(bkt, owner, other, anon):
    owner.s3.put_object(Bucket=bkt, Key="auth.txt", Body=b"members", ACL="authenticated-read")
    assert other.s3.get_object(Bucket=bkt, Key="auth.txt")["Body"].read() == b"members"
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bkt, Key="auth.txt")
    owner.s3.put_bucket_acl(Bucket=bkt, ACL="public-read-write")
    anon.put_object(Bucket=bkt, Key="dropbox", Body=b"anonymous")
    # an anonymous writer's object belongs to the bucket owner
    assert owner.s3.get_object_acl(Bucket=bkt, Key="dropbox")["Owner"]["ID"] == owner.id
    assert owner.s3.get_object(Bucket=bkt, Key="dropbox")["Body"].read() == b"anonymous"


def test_canned_acl_on_multipart_upload(bkt, owner, anon):
    up = owner.s3.create_multipart_upload(Bucket=bkt, Key="mp", ACL="public-read")
    etag = owner.s3.upload_part(Bucket=bkt, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p" * 10)["ETag"]
    owner.s3.complete_multipart_upload(Bucket=bkt, Key="mp", UploadId=up["UploadId"],
                                       MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert anon.get_object(Bucket=bkt, Key="mp")["Body"].read() == b"p" * 10


def test_ownership_enforced_disables_acls(bkt, owner, other, anon):
    with s3_error("OwnershipControlsNotFoundError", 404):
        owner.s3.get_bucket_ownership_controls(Bucket=bkt)
    owner.s3.put_bucket_ownership_controls(
        Bucket=bkt, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    rules = owner.s3.get_bucket_ownership_controls(Bucket=bkt)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    with s3_error("AccessControlListNotSupported", 400):
        owner.s3.put_bucket_acl(Bucket=bkt, ACL="public-read")
    with s3_error("AccessControlListNotSupported", 400):
        owner.s3.put_object(Bucket=bkt, Key="p", Body=b"x", ACL="public-read")
    owner.s3.put_object(Bucket=bkt, Key="p", Body=b"x", ACL="bucket-owner-full-control")
    owner.s3.put_bucket_acl(Bucket=bkt, ACL="private")
    with s3_error("AccessDenied", 403):
        other.s3.put_bucket_ownership_controls(
            Bucket=bkt, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    with s3_error("MalformedXML", 400):
        owner.s3.put_bucket_ownership_controls(
            Bucket=bkt, OwnershipControls={"Rules": [{"ObjectOwnership": "Whoever"}]})  # type: ignore[typeddict-item]
    owner.s3.delete_bucket_ownership_controls(Bucket=bkt)
    with s3_error("OwnershipControlsNotFoundError", 404):
        owner.s3.get_bucket_ownership_controls(Bucket=bkt)


def test_ownership_enforced_ignores_existing_acls(bkt, owner, anon):
    owner.s3.put_object(Bucket=bkt, Key="was-public", Body=b"x", ACL="public-read")
    anon.get_object(Bucket=bkt, Key="was-public")
    owner.s3.put_bucket_ownership_controls(
        Bucket=bkt, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bkt, Key="was-public")


def test_create_bucket_with_ownership_and_acl(owner, anon):
    name = f"acl-{uuid.uuid4().hex[:16]}"
    with s3_error("InvalidBucketAclWithObjectOwnership", 400):
        owner.s3.create_bucket(Bucket=name, ACL="public-read", ObjectOwnership="BucketOwnerEnforced")
    with s3_error("InvalidArgument", 400):
        owner.s3.create_bucket(Bucket=name, ObjectOwnership="Mine")  # type: ignore[arg-type]
    assert name not in [b["Name"] for b in owner.s3.list_buckets()["Buckets"]]
    owner.s3.create_bucket(Bucket=name, ACL="public-read", ObjectOwnership="ObjectWriter")
    try:
        assert anon.list_objects_v2(Bucket=name)["KeyCount"] == 0
        assert owner.s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"][0][
            "ObjectOwnership"] == "ObjectWriter"
    finally:
        owner.s3.delete_bucket(Bucket=name)


def test_bucket_owner_preferred(bkt, owner, other):
    owner.s3.put_bucket_ownership_controls(
        Bucket=bkt, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    owner.s3.put_bucket_acl(Bucket=bkt, GrantWrite=f'id="{other.id}"', GrantFullControl=f'id="{owner.id}"')
    other.s3.put_object(Bucket=bkt, Key="given", Body=b"x", ACL="bucket-owner-full-control")
    other.s3.put_object(Bucket=bkt, Key="kept", Body=b"x")
    assert owner.s3.get_object_acl(Bucket=bkt, Key="given")["Owner"]["ID"] == owner.id
    assert other.s3.get_object_acl(Bucket=bkt, Key="kept")["Owner"]["ID"] == other.id
    with s3_error("AccessDenied", 403):  # kept by the writer: the bucket owner has no grant on it
        owner.s3.get_object(Bucket=bkt, Key="kept")


def test_public_access_block(bkt, owner, other, anon):
    with s3_error("NoSuchPublicAccessBlockConfiguration", 404):
        owner.s3.get_public_access_block(Bucket=bkt)
    owner.s3.put_object(Bucket=bkt, Key="pub", Body=b"x", ACL="public-read")
    owner.s3.put_public_access_block(Bucket=bkt, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True})
    conf = owner.s3.get_public_access_block(Bucket=bkt)["PublicAccessBlockConfiguration"]
    assert conf == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
                    "RestrictPublicBuckets": False}
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bkt, Key="pub")  # IgnorePublicAcls
    with s3_error("AccessDenied", 403):
        owner.s3.put_bucket_acl(Bucket=bkt, ACL="public-read")  # BlockPublicAcls
    with s3_error("AccessDenied", 403):
        owner.s3.put_object(Bucket=bkt, Key="pub2", Body=b"x", ACL="public-read")
    with s3_error("AccessDenied", 403):
        other.s3.get_public_access_block(Bucket=bkt)
    with s3_error("AccessDenied", 403):
        other.s3.delete_public_access_block(Bucket=bkt)
    owner.s3.delete_public_access_block(Bucket=bkt)
    assert anon.get_object(Bucket=bkt, Key="pub")["Body"].read() == b"x"


def test_malformed_settings_documents(bkt, endpoint, owner):
    from helpers import raw_request

    class Ep:
        url, access_key, secret_key, server = endpoint.url, owner.access_key, owner.secret_key, None

    for sub, body in (("publicAccessBlock", b"<nope"), ("publicAccessBlock", b"<Other/>"),
                      ("publicAccessBlock", b"<PublicAccessBlockConfiguration><BlockPublicAcls>maybe"
                                            b"</BlockPublicAcls></PublicAccessBlockConfiguration>"),
                      ("ownershipControls", b"<OwnershipControls/>"), ("ownershipControls", b"\xff\xfe")):
        r = raw_request(Ep, "PUT", f"/{bkt}?{sub}", body=body)
        assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.body, (sub, body, r.body[:200])
    r = raw_request(Ep, "PUT", f"/{bkt}?acl")
    assert r.status == 400 and b"<Code>MissingSecurityHeader</Code>" in r.body
