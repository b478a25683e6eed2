"""A bucket change is seen by every worker for the next request: bucket rows are cached per worker
(meta/sqlite/bucket_cache.py), and an acknowledged change must never be answered from a stale row.

Two workers; every check opens a fresh connection per request, so the requests spread over both
workers (each of which has the row cached from the requests before). The checks run right after the
change is acknowledged, far inside the cache's 1 s age limit: only the change stamp can make them pass.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse

from helpers import client

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
