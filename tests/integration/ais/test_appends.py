"""Coffer's append sessions over the wire: pieces become the object only at flush, without copies."""

from __future__ import annotations

import os

import pytest
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

HANDLE = "x-coffer-append-handle"


@pytest.fixture
def call(endpoint):
    if os.environ.get("COFFER_TEST_ENDPOINT"):
        pytest.skip("append sessions are Coffer's own API")
    http = urllib3.PoolManager()
    creds = Credentials(endpoint.access_key, endpoint.secret_key)

    def do(method: str, path: str, body: bytes = b"", headers: dict | None = None):
        req = AWSRequest(method=method, url=endpoint.url + path, data=body, headers=headers or {})
        S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
        return http.request(method, req.url, body=body, headers=dict(req.headers.items()), retries=False)

    return do


def test_append_then_flush(call, s3, bucket):
    r = call("PUT", f"/{bucket}/log?append", b"first-")
    assert r.status == 200, r.data
    h = r.headers[HANDLE]
    assert call("PUT", f"/{bucket}/log?append&handle={h}", b"second").status == 200
    # nothing visible before the flush
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="log")
    r = call("POST", f"/{bucket}/log?append&handle={h}&flush")
    assert r.status == 200, r.data
    assert s3.get_object(Bucket=bucket, Key="log")["Body"].read() == b"first-second"
    # the session is gone after the flush
    assert call("PUT", f"/{bucket}/log?append&handle={h}", b"x").status == 404


def test_append_to_existing_object_keeps_it_until_flush(call, s3, bucket):
    big = os.urandom(300 * 1024)  # a segment file, not inline
    s3.put_object(Bucket=bucket, Key="a", Body=big)
    s3.put_object(Bucket=bucket, Key="small", Body=b"tiny")
    for key, start in (("a", big), ("small", b"tiny")):
        r = call("PUT", f"/{bucket}/{key}?append&base=existing", b"+more")
        h = r.headers[HANDLE]
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == start
        assert call("POST", f"/{bucket}/{key}?append&handle={h}&flush").status == 200
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert got == start + b"+more"
        assert s3.get_object(Bucket=bucket, Key=key, Range="bytes=-5")["Body"].read() == b"+more"


def test_abort_and_bad_handle(call, s3, bucket):
    r = call("PUT", f"/{bucket}/k?append", b"abc")
    h = r.headers[HANDLE]
    assert call("DELETE", f"/{bucket}/k?append&handle={h}").status == 204
    assert call("POST", f"/{bucket}/k?append&handle={h}&flush").status == 404
    assert call("PUT", f"/{bucket}/k?append&handle=nope", b"x").status == 404
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    # a multipart upload id is not an append handle
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    assert call("PUT", f"/{bucket}/k?append&handle={uid}", b"x").status == 400
