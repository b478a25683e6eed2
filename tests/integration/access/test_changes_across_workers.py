"""A change of a bucket, a user's quota or an access key is seen by every worker for the next request:
bucket rows, users and keys are cached per worker (meta/sqlite/stamps.py, service/access), and an
acknowledged change must never be answered from a stale entry.

Two workers; every check opens a fresh connection per request, so the requests spread over both
workers (each of which has the entry cached from the requests before). The checks run right after the
change is acknowledged, far inside the caches' age limits (1 s for bucket rows; the credential cache
TTL is set to 60 s here): only the change stamps (or, on PostgreSQL, LISTEN/NOTIFY) can make them pass.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
import uuid

import pytest
from botocore.exceptions import ClientError
from helpers import client

from coffer import Client

BUCKET = "stamped"
PUBLIC_READ = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]})


def anonymous_get_statuses(endpoint: str, key: str, times: int) -> set[int]:
    u = urllib.parse.urlsplit(endpoint)
    seen = set()
    for _ in range(times):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        try:
            conn.request("GET", f"/{BUCKET}/{key}")
            resp = conn.getresponse()
            resp.read()
            seen.add(resp.status)
        finally:
            conn.close()
    return seen


def test_policy_and_versioning_changes_reach_every_worker_at_once(server_factory):
    srv = server_factory(workers=2)
    s3 = client(srv.endpoint, srv.access_key, srv.secret_key)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")
    assert anonymous_get_statuses(srv.endpoint, "k", 16) == {403}  # both workers now hold the row
    for _ in range(3):
        s3.put_bucket_policy(Bucket=BUCKET, Policy=PUBLIC_READ)
        assert anonymous_get_statuses(srv.endpoint, "k", 16) == {200}
        s3.delete_bucket_policy(Bucket=BUCKET)
        assert anonymous_get_statuses(srv.endpoint, "k", 16) == {403}

    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for i in range(8):  # a fresh client each time: a new connection, either worker
        fresh = client(srv.endpoint, srv.access_key, srv.secret_key)
        assert fresh.put_object(Bucket=BUCKET, Key=f"v{i}", Body=b"y").get("VersionId") not in (None, "null")
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    for i in range(8):
        fresh = client(srv.endpoint, srv.access_key, srv.secret_key)
        assert fresh.put_object(Bucket=BUCKET, Key=f"s{i}", Body=b"y").get("VersionId") in (None, "null")


def test_a_deleted_and_recreated_bucket_is_the_new_one_everywhere(server_factory):
    srv = server_factory(workers=2)
    s3 = client(srv.endpoint, srv.access_key, srv.secret_key)
    for round_ in range(3):
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_policy(Bucket=BUCKET, Policy=PUBLIC_READ)
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")
        assert anonymous_get_statuses(srv.endpoint, "k", 16) == {200}, round_
        s3.delete_object(Bucket=BUCKET, Key="k")
        s3.delete_bucket(Bucket=BUCKET)
        assert anonymous_get_statuses(srv.endpoint, "k", 16) == {404}, round_


def error_codes(endpoint: str, ak: str, sk: str, times: int, call) -> set[str]:
    """The S3 error code (or "ok") of `call` made `times` times, each on a fresh client and connection."""
    seen = set()
    for _ in range(times):
        try:
            call(client(endpoint, ak, sk))
            seen.add("ok")
        except ClientError as e:
            seen.add(e.response["Error"]["Code"])
    return seen


def test_quota_and_key_changes_reach_every_worker_at_once(server_factory, monkeypatch):
    monkeypatch.setenv("COFFER_CREDENTIAL_CACHE_TTL", "60")
    srv = server_factory(workers=2)
    admin = Client(srv.endpoint, srv.access_key, srv.secret_key).admin
    uid = f"u-{uuid.uuid4().hex[:8]}"
    key = admin.add_user(uid, display_name=uid)["access_keys"][0]
    ak, sk = key["access_key"], key["secret_key"]
    client(srv.endpoint, ak, sk).create_bucket(Bucket="quoted")

    def put(s3) -> None:
        s3.put_object(Bucket="quoted", Key=f"k-{uuid.uuid4().hex[:8]}", Body=b"x" * 100)

    assert error_codes(srv.endpoint, ak, sk, 16, put) == {"ok"}  # both workers hold the user and the key
    admin.set_quota(uid, max_bytes=10)
    assert error_codes(srv.endpoint, ak, sk, 16, put) == {"QuotaExceeded"}
    admin.clear_quota(uid)
    assert error_codes(srv.endpoint, ak, sk, 16, put) == {"ok"}

    admin.disable_key(ak)
    assert error_codes(srv.endpoint, ak, sk, 16, lambda s3: s3.list_buckets()) == {"InvalidAccessKeyId"}
    admin.enable_key(ak)
    assert error_codes(srv.endpoint, ak, sk, 16, lambda s3: s3.list_buckets()) == {"ok"}
    admin.delete_key(ak)
    with pytest.raises(ClientError):
        client(srv.endpoint, ak, sk).list_buckets()
    assert error_codes(srv.endpoint, ak, sk, 16, lambda s3: s3.list_buckets()) == {"InvalidAccessKeyId"}
