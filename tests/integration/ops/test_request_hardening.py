"""Requests that must be refused, not half-understood: unsigned x-amz-* headers (also on presigned URLs),
two Authorization headers, a Transfer-Encoding other than plain chunked."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid

import pytest
from rawhttp import Signer, build, exchange


@pytest.fixture
def key(s3, bucket) -> str:
    return f"hard-{uuid.uuid4().hex[:8]}"


def missing(s3, bucket: str, key: str) -> bool:
    return "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=key)


def test_unsigned_amz_header_on_a_signed_request_is_refused(endpoint, s3, bucket, key):
    signer = Signer(endpoint.url, endpoint.access_key, endpoint.secret_key)
    req = signer.sign("PUT", f"/{bucket}/{key}", body=b"data")
    for name, value in (("x-amz-acl", "public-read"), ("x-amz-meta-owner", "mallory"),
                        ("x-amz-website-redirect-location", "https://evil.example/"),
                        ("x-amz-tagging", "a=b")):
        resp = exchange(endpoint.url, req.with_header(name, value).to_bytes())
        resp.assert_error(403, "AccessDenied")
        assert resp.xml("HeadersNotSigned") == name
        assert missing(s3, bucket, key)
    ok = exchange(endpoint.url, req.to_bytes())
    assert ok.status == 200, ok.describe()


def test_presigned_url_cannot_be_extended_with_unsigned_headers(endpoint, s3, bucket, key):
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    for name, value in (("x-amz-acl", "public-read"), ("x-amz-grant-read", 'uri="http://acs.amazonaws.com/groups/'
                                                                          'global/AllUsers"'),
                        ("x-amz-object-lock-mode", "COMPLIANCE"), ("x-amz-meta-x", "1")):
        req = urllib.request.Request(url, data=b"payload", method="PUT", headers={name: value})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 403
        assert b"<Code>AccessDenied</Code>" in e.value.read()
        assert missing(s3, bucket, key)
    # the same URL as signed works, and integrity-only headers may be added
    req = urllib.request.Request(url, data=b"payload", method="PUT",
                                 headers={"x-amz-checksum-crc32": "QixqFQ=="})  # CRC32 of b"payload"
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
    assert s3.get_object_acl(Bucket=bucket, Key=key)["Grants"][0]["Permission"] == "FULL_CONTROL"
    assert len(s3.get_object_acl(Bucket=bucket, Key=key)["Grants"]) == 1


def test_two_authorization_headers_are_refused(endpoint, bucket, key):
    req = Signer(endpoint.url, endpoint.access_key, endpoint.secret_key).sign("GET", f"/{bucket}")
    auth = req.header("Authorization")
    doubled = [*req.headers, ("Authorization", auth)]
    resp = exchange(endpoint.url, build("GET", f"/{bucket}", doubled))
    resp.assert_error(400, "InvalidArgument")


@pytest.mark.parametrize("te", ["gzip, chunked", "identity", "chunked, chunked"])
def test_transfer_encoding_other_than_chunked_is_refused(endpoint, s3, bucket, key, te):
    req = Signer(endpoint.url, endpoint.access_key, endpoint.secret_key).sign("PUT", f"/{bucket}/{key}",
                                                                             body=b"4\r\ndata\r\n0\r\n\r\n",
                                                                             content_length=False)
    resp = exchange(endpoint.url, req.with_header("Transfer-Encoding", te).to_bytes())
    assert resp is not None and resp.status in (400, 501), resp.describe() if resp else None
    assert missing(s3, bucket, key)


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("body", [b"[" * 30_000 + b"]" * 30_000, nested(40)], ids=["recursion", "depth-40"])
def test_deeply_nested_json_is_a_clear_400(endpoint, body):
    signer = Signer(endpoint.url, endpoint.access_key, endpoint.secret_key)
    for target in ("/_coffer/oio/v1/account-props", "/_coffer/admin/v1/users/deep"):
        method = "POST" if "oio" in target else "PUT"
        resp = exchange(endpoint.url, signer.sign(method, target, body=body).to_bytes(), timeout=30)
        resp.assert_error(400, "MalformedJSON")
        assert b"nested more than" in resp.body


def test_deeply_nested_json_on_the_aistore_api(endpoint, tmp_path):
    from helpers import coffer_cli, skip_if_external

    skip_if_external(endpoint)
    token = coffer_cli(endpoint.server.data, "token", "create", "--user", "root").strip()
    for body in (b"[" * 30_000 + b"]" * 30_000, nested(40)):
        req = build("POST", "/v1/buckets/deepjson", [("Host", "x"), ("Authorization", f"Bearer {token}"),
                                                     ("Content-Type", "application/json"),
                                                     ("Content-Length", str(len(body)))], body)
        resp = exchange(endpoint.url, req, timeout=30)
        assert resp.status == 400, resp.describe()
        assert b"nested more than" in resp.body
