"""The AIStore API (bearer tokens) keeps the ownership rule now that S3 requests are decided
by bucket policies and ACLs: a token of another user can neither read nor write a bucket it
does not own, whatever the bucket's S3 policy says."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from access_users import new_user

aistore = pytest.importorskip("aistore")
requests = pytest.importorskip("requests")


def test_other_users_token_is_refused(endpoint, s3):
    if endpoint.server is None:
        pytest.skip("tokens are issued on the local server's data folder")
    u = new_user(endpoint)
    out = subprocess.run([sys.executable, "-m", "coffer", "token", "create", "--user", u.id, "--data",
                          str(endpoint.server.data)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    headers = {"Authorization": f"Bearer {out.stdout.strip()}"}
    name = f"ais-acl-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"root's")
    # even a public S3 policy does not open the AIStore API to other users
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}]}))
    try:
        r = requests.get(f"{endpoint.url}/v1/objects/{name}/k", headers=headers, timeout=10)
        assert r.status_code in (401, 403), (r.status_code, r.text[:200])
        r = requests.put(f"{endpoint.url}/v1/objects/{name}/new", data=b"x", headers=headers, timeout=10)
        assert r.status_code in (401, 403), (r.status_code, r.text[:200])
        assert "new" not in [o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", [])]
    finally:
        s3.delete_bucket_policy(Bucket=name)
        s3.delete_object(Bucket=name, Key="k")
        s3.delete_bucket(Bucket=name)
