"""Users, access keys and quotas through the admin API (SDK and `coffer user key|quota`), and who may
call it: every refusal is checked with a non-admin's and an anonymous request."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
import uuid

import pytest
from access_users import admin_for, new_user
from helpers import client, s3_error, skip_if_external

from coffer import AccessDenied, Client, CofferError


@pytest.fixture
def solo(server_factory):
    """A one-worker server: a changed key is seen by the worker that changed it at once."""
    srv = server_factory(workers=1)

    class Ep:
        url, access_key, secret_key, server = srv.endpoint, srv.access_key, srv.secret_key, srv

    return Ep


def test_add_list_remove_user(solo):
    endpoint = solo
    u = new_user(endpoint, email=True)
    admin = admin_for(endpoint)
    listed = {x["id"]: x for x in admin.list_users()}
    assert u.id in listed and listed[u.id]["email"] == f"{u.id}@example.com"
    assert all("secret_key" not in k for x in listed.values() for k in x["access_keys"])
    assert u.s3.list_buckets()["Buckets"] == []  # the new user works and sees nothing of others
    admin.remove_user(u.id)
    with s3_error("InvalidAccessKeyId", 403):
        client(endpoint.url, u.access_key, u.secret_key).list_buckets()
    with pytest.raises(CofferError) as ei:
        admin.get_user(u.id)
    assert ei.value.status == 404


def test_duplicate_user_and_bad_id(endpoint):
    u = new_user(endpoint)
    admin = admin_for(endpoint)
    with pytest.raises(CofferError) as ei:
        admin.add_user(u.id)
    assert ei.value.code == "EntityAlreadyExists" and ei.value.status == 409
    with pytest.raises(CofferError) as ei:
        admin.add_user("bad id/../x")
    assert ei.value.status in (400, 404)


def test_user_owning_buckets_cannot_be_removed(endpoint):
    u = new_user(endpoint)
    name = f"own-{uuid.uuid4().hex[:12]}"
    u.s3.create_bucket(Bucket=name)
    with pytest.raises(CofferError) as ei:
        admin_for(endpoint).remove_user(u.id)
    assert ei.value.code == "DeleteConflict"
    u.s3.delete_bucket(Bucket=name)
    admin_for(endpoint).remove_user(u.id)


def test_non_admin_and_anonymous_are_refused(endpoint):
    u = new_user(endpoint)
    with pytest.raises(AccessDenied):
        Client(endpoint.url, u.access_key, u.secret_key).admin.list_users()
    with pytest.raises(AccessDenied):
        Client(endpoint.url, u.access_key, u.secret_key).admin.create_key(u.id)
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(endpoint.url + "/_coffer/admin/v1/users", timeout=10)
    assert ei.value.code == 403 and b"<Code>AccessDenied</Code>" in ei.value.read()


def test_admin_user_can_administer(endpoint):
    boss = new_user(endpoint, admin=True)
    other = Client(endpoint.url, boss.access_key, boss.secret_key).admin.add_user(f"u-{uuid.uuid4().hex[:10]}")
    assert other["access_keys"][0]["secret_key"]


def test_admin_cannot_delete_or_disable_own_last_key(endpoint):
    boss = new_user(endpoint, admin=True)
    own = Client(endpoint.url, boss.access_key, boss.secret_key).admin
    with pytest.raises(CofferError) as ei:
        own.delete_key(boss.access_key)
    assert ei.value.code == "DeleteConflict"
    with pytest.raises(CofferError) as ei:
        own.disable_key(boss.access_key)
    assert ei.value.code == "DeleteConflict"
    assert own.list_keys(boss.id)[0]["status"] == "active"


def test_unknown_admin_resource(endpoint):
    skip_if_external(endpoint)
    with pytest.raises(CofferError) as ei:
        admin_for(endpoint)._call("GET", "nothing-here")
    assert ei.value.status == 404


def test_key_create_rotate_disable_delete(solo):
    u = new_user(solo)
    admin = admin_for(solo)
    k2 = admin.create_key(u.id)
    s3b = client(solo.url, k2["access_key"], k2["secret_key"])
    assert s3b.list_buckets()["Buckets"] == []
    assert {k["access_key"] for k in admin.list_keys(u.id)} == {u.access_key, k2["access_key"]}
    rotated = admin.rotate_key(k2["access_key"])
    assert rotated["secret_key"] != k2["secret_key"]
    with s3_error("SignatureDoesNotMatch", 403):
        s3b.list_buckets()
    client(solo.url, k2["access_key"], rotated["secret_key"]).list_buckets()
    admin.disable_key(u.access_key)
    with s3_error("InvalidAccessKeyId", 403):
        u.s3.list_buckets()
    admin.enable_key(u.access_key)
    u.s3.list_buckets()
    admin.delete_key(k2["access_key"])
    with s3_error("InvalidAccessKeyId", 403):
        client(solo.url, k2["access_key"], rotated["secret_key"]).list_buckets()
    with pytest.raises(CofferError) as ei:
        admin.rotate_key(k2["access_key"])
    assert ei.value.status == 404
    with pytest.raises(CofferError) as ei:
        admin._call("PUT", f"keys/{u.access_key}", {"status": "sleeping"})
    assert ei.value.code == "InvalidArgument"


def test_byte_and_object_quotas(solo):
    endpoint = solo  # quotas are cached per worker for a second or two: one worker makes them exact
    u = new_user(endpoint)
    admin = admin_for(endpoint)
    name = f"q-{uuid.uuid4().hex[:12]}"
    u.s3.create_bucket(Bucket=name)
    admin.set_quota(u.id, max_bytes=1000, max_objects=3)
    u.s3.put_object(Bucket=name, Key="a", Body=b"x" * 600)
    with s3_error("QuotaExceeded", 403):
        u.s3.put_object(Bucket=name, Key="b", Body=b"x" * 500)
    u.s3.put_object(Bucket=name, Key="b", Body=b"x" * 300)
    u.s3.put_object(Bucket=name, Key="c", Body=b"")
    with s3_error("QuotaExceeded", 403):
        u.s3.put_object(Bucket=name, Key="d", Body=b"")
    q = admin.get_quota(u.id)
    assert q["usage"] == {"bytes": 900, "objects": 3, "buckets": 1}
    assert q["quota"] == {"max_bytes": 1000, "max_objects": 3}
    # the quota binds the bucket owner's storage, whoever writes (here the admin)
    root = client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    with s3_error("QuotaExceeded", 403):
        root.put_object(Bucket=name, Key="e", Body=b"x" * 200)
    admin.clear_quota(u.id)
    u.s3.put_object(Bucket=name, Key="d", Body=b"x" * 500)
    for k in "abcd":
        u.s3.delete_object(Bucket=name, Key=k)
    u.s3.delete_bucket(Bucket=name)


def test_bucket_quota_and_bad_quota(solo):
    endpoint = solo
    u = new_user(endpoint)
    admin = admin_for(endpoint)
    admin.set_quota(u.id, max_buckets=1)
    first, second = f"q-{uuid.uuid4().hex[:12]}", f"q-{uuid.uuid4().hex[:12]}"
    u.s3.create_bucket(Bucket=first)
    with s3_error("TooManyBuckets", 400):
        u.s3.create_bucket(Bucket=second)
    u.s3.delete_bucket(Bucket=first)
    for bad in ({"max_bytes": -1}, {"max_bytes": "10"}, {"max_files": 3}):
        with pytest.raises(CofferError) as ei:
            admin._call("PUT", f"quotas/{u.id}", bad)
        assert ei.value.code == "InvalidArgument"


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "coffer", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_cli_key_and_quota_commands(solo, tmp_path):
    import os

    u = new_user(solo)
    env = {**os.environ, "COFFER_CONFIG_DIR": str(tmp_path), "HOME": str(tmp_path)}
    r = _cli("alias", "set", "adm", solo.url, solo.access_key, solo.secret_key, env=env)
    assert r.returncode == 0, r.stderr
    r = _cli("user", "key", "create", "adm", u.id, "--json", env=env)
    assert r.returncode == 0, r.stderr
    made = json.loads(r.stdout)
    assert made["user"] == u.id and made["secret_key"]
    r = _cli("user", "key", "disable", "adm", made["access_key"], env=env)
    assert r.returncode == 0, r.stderr
    with s3_error("InvalidAccessKeyId", 403):
        client(solo.url, made["access_key"], made["secret_key"]).list_buckets()
    r = _cli("user", "key", "rotate", "adm", made["access_key"], "--json", env=env)
    assert json.loads(r.stdout)["secret_key"] != made["secret_key"]
    r = _cli("user", "key", "delete", "adm", made["access_key"], env=env)
    assert r.returncode == 0, r.stderr
    r = _cli("user", "key", "list", "adm", u.id, "--json", env=env)
    assert [json.loads(line)["access_key"] for line in r.stdout.splitlines()] == [u.access_key]
    r = _cli("user", "quota", "set", "adm", u.id, "--max-bytes", "5000", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["quota"] == {"max_bytes": 5000}
    r = _cli("user", "quota", "get", "adm", u.id, env=env)
    assert "unlimited" in r.stdout and r.returncode == 0
    name = f"cli-{uuid.uuid4().hex[:12]}"
    client(solo.url, solo.access_key, solo.secret_key).create_bucket(Bucket=name)
    r = _cli("user", "chown", "adm", name, u.id, env=env)
    assert r.returncode == 0, r.stderr
    r = _cli("user", "buckets", "adm", u.id, "--json", env=env)
    assert [json.loads(line)["name"] for line in r.stdout.splitlines()] == [name]
    new_id = f"cli-{uuid.uuid4().hex[:8]}"
    r = _cli("user", "create", "adm", new_id, "--email", f"{new_id}@example.com", "--json", env=env)
    assert r.returncode == 0, r.stderr
    made_user = json.loads(r.stdout)
    client(solo.url, made_user["access_keys"][0]["access_key"],
           made_user["access_keys"][0]["secret_key"]).list_buckets()
    r = _cli("user", "ls", "adm", "--json", env=env)
    assert new_id in [json.loads(line)["id"] for line in r.stdout.splitlines()]
    r = _cli("user", "delete", "adm", new_id, env=env)
    assert r.returncode == 0, r.stderr
    r = _cli("user", "delete", "adm", new_id, env=env)
    assert r.returncode == 3, r.stderr  # not found
    # a non-admin alias is refused with the access-denied exit code
    _cli("alias", "set", "plain", solo.url, u.access_key, u.secret_key, env=env)
    r = _cli("user", "quota", "get", "plain", u.id, env=env)
    assert r.returncode == 4, r.stderr


def test_quota_counts_a_multipart_upload_as_one_object(solo):
    u = new_user(solo)
    admin = admin_for(solo)
    name = f"q-{uuid.uuid4().hex[:12]}"
    u.s3.create_bucket(Bucket=name)
    admin.set_quota(u.id, max_objects=1, max_bytes=100)
    up = u.s3.create_multipart_upload(Bucket=name, Key="mp")
    etag = u.s3.upload_part(Bucket=name, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p" * 60)["ETag"]
    with s3_error("QuotaExceeded", 403):  # 60 + 60 bytes would pass max_bytes
        u.s3.upload_part(Bucket=name, Key="mp", UploadId=up["UploadId"], PartNumber=2, Body=b"p" * 60)
    u.s3.complete_multipart_upload(Bucket=name, Key="mp", UploadId=up["UploadId"],
                                   MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    with s3_error("QuotaExceeded", 403):
        u.s3.put_object(Bucket=name, Key="second", Body=b"")
    assert admin.get_quota(u.id)["usage"]["objects"] == 1
    u.s3.delete_object(Bucket=name, Key="mp")
    u.s3.delete_bucket(Bucket=name)


def test_admin_api_malformed_bodies(endpoint):
    skip_if_external(endpoint)
    admin = admin_for(endpoint)
    u = new_user(endpoint)
    for body in (b"{nope", b"[1, 2]"):
        with pytest.raises(CofferError) as ei:
            admin._transport.request("PUT", "_coffer", f"admin/v1/quotas/{u.id}", body=body, retries=False)
        assert ei.value.code == "MalformedJSON" and ei.value.status == 400
    with pytest.raises(CofferError) as ei:
        admin._call("POST", "keys", {"user": 5})
    assert ei.value.code == "InvalidArgument"
    with pytest.raises(CofferError) as ei:
        admin._call("POST", "users/someone")
    assert ei.value.status == 405


def test_give_a_bucket_to_another_user(endpoint):
    u, v = new_user(endpoint), new_user(endpoint)
    admin = admin_for(endpoint)
    name = f"own-{uuid.uuid4().hex[:12]}"
    u.s3.create_bucket(Bucket=name)
    u.s3.put_bucket_acl(Bucket=name, GrantFullControl=f'id="{u.id}"', GrantRead=f'id="{u.id}"')
    u.s3.put_object(Bucket=name, Key="k", Body=b"x")
    assert [b["name"] for b in admin.list_buckets(u.id)] == [name]
    with pytest.raises(CofferError) as ei:
        admin.set_bucket_owner(name, "nobody-at-all")
    assert ei.value.status == 404
    with pytest.raises(CofferError) as ei:
        admin.set_bucket_owner(f"none-{uuid.uuid4().hex[:8]}", v.id)
    assert ei.value.code == "NoSuchBucket"
    admin.set_bucket_owner(name, v.id)
    assert {b["name"]: b["owner"] for b in admin.list_buckets()}[name] == v.id
    with s3_error("AccessDenied", 403):  # the old owner's ACL grant did not survive
        u.s3.list_objects_v2(Bucket=name)
    assert v.s3.get_bucket_acl(Bucket=name)["Owner"]["ID"] == v.id
    admin.remove_user(u.id)  # owns nothing now
    v.s3.delete_object(Bucket=name, Key="k")
    v.s3.delete_bucket(Bucket=name)
