"""CORS through boto3 and raw HTTP: Put/Get/DeleteBucketCors, validation errors, OPTIONS preflight
(allowed, refused, no configuration, wildcards), and the Access-Control-* headers of actual requests.
"""

from __future__ import annotations

import http.client
import urllib.parse

import pytest
from helpers import content_md5, raw_request, s3_error, skip_if_external

RULES = {"CORSRules": [
    {"ID": "app", "AllowedOrigins": ["https://app.example.com"], "AllowedMethods": ["GET", "PUT"],
     "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag", "x-amz-request-id"],
     "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["https://*.cdn.example.net"], "AllowedMethods": ["GET", "HEAD"]},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["HEAD"]},
]}


def options(url: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request("OPTIONS", path, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def test_put_get_delete_cors(s3, bucket):
    with s3_error("NoSuchCORSConfiguration", 404):
        s3.get_bucket_cors(Bucket=bucket)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    got = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert got[0] == RULES["CORSRules"][0]
    assert got[1]["AllowedOrigins"] == ["https://*.cdn.example.net"]
    s3.delete_bucket_cors(Bucket=bucket)
    with s3_error("NoSuchCORSConfiguration", 404):
        s3.get_bucket_cors(Bucket=bucket)


@pytest.mark.parametrize("rule", [
    {"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]},
    {"AllowedOrigins": ["https://*.*.example.com"], "AllowedMethods": ["GET"]},
])
def test_cors_invalid_rules(s3, bucket, rule):
    with s3_error("InvalidRequest", 400):
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})


def test_cors_malformed(endpoint, bucket):
    doc = b"<CORSConfiguration></CORSConfiguration>"
    r = raw_request(endpoint, "PUT", f"/{bucket}?cors", body=doc, headers={"Content-MD5": content_md5(doc)})
    assert r.status == 400 and b"MalformedXML" in r.body


def test_preflight(s3, bucket, endpoint):
    skip_if_external(endpoint)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    ok = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT",
          "Access-Control-Request-Headers": "Content-Type, X-Amz-Date"}
    status, h, _ = options(endpoint.url, f"/{bucket}/some/key?uploads", ok)
    assert status == 200
    assert h["access-control-allow-origin"] == "https://app.example.com"
    assert h["access-control-allow-methods"] == "GET, PUT"
    assert h["access-control-allow-headers"] == "content-type, x-amz-date"
    assert h["access-control-max-age"] == "600" and h["access-control-allow-credentials"] == "true"
    assert h["access-control-expose-headers"] == "ETag, x-amz-request-id"
    # a header the rule does not allow; a method no rule allows; an unknown origin
    for bad in ({**ok, "Access-Control-Request-Headers": "x-custom"},
                {**ok, "Access-Control-Request-Method": "DELETE"},
                {**ok, "Origin": "https://evil.example.org"}):
        status, h, body = options(endpoint.url, f"/{bucket}/k", bad)
        assert status == 403 and b"AccessForbidden" in body, bad
        assert "access-control-allow-origin" not in h
    # wildcard origins
    status, h, _ = options(endpoint.url, f"/{bucket}/k", {"Origin": "https://img.cdn.example.net",
                                                          "Access-Control-Request-Method": "GET"})
    assert status == 200 and h["access-control-allow-origin"] == "https://img.cdn.example.net"
    status, h, _ = options(endpoint.url, f"/{bucket}", {"Origin": "https://anyone.test",
                                                        "Access-Control-Request-Method": "HEAD"})
    assert status == 200 and h["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in h


def test_preflight_refusals(s3, bucket, endpoint):
    skip_if_external(endpoint)
    status, _, body = options(endpoint.url, f"/{bucket}/k", {"Origin": "https://a.test",
                                                            "Access-Control-Request-Method": "GET"})
    assert status == 403 and b"CORS is not enabled" in body
    status, _, body = options(endpoint.url, f"/{bucket}/k", {"Access-Control-Request-Method": "GET"})
    assert status == 400 and b"Origin request header needed" in body
    status, _, body = options(endpoint.url, f"/{bucket}/k", {"Origin": "https://a.test"})
    assert status == 400
    status, _, body = options(endpoint.url, "/no-such-bucket-cors/k", {"Origin": "https://a.test",
                                                                       "Access-Control-Request-Method": "GET"})
    assert status == 404 and b"NoSuchBucket" in body


def test_actual_request_headers(s3, bucket, endpoint):
    skip_if_external(endpoint)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    r = raw_request(endpoint, "GET", f"/{bucket}/k", headers={"Origin": "https://app.example.com"})
    assert r.status == 200 and r.body == b"hello"
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert r.headers["access-control-expose-headers"] == "ETag, x-amz-request-id"
    # errors carry them too (a browser could not read the error otherwise)
    r = raw_request(endpoint, "GET", f"/{bucket}/missing", headers={"Origin": "https://app.example.com"})
    assert r.status == 404 and r.headers["access-control-allow-origin"] == "https://app.example.com"
    # no matching rule (DELETE is not allowed for this origin): no CORS headers, request still served
    r = raw_request(endpoint, "GET", f"/{bucket}/k", headers={"Origin": "https://evil.example.org"})
    assert r.status == 200 and "access-control-allow-origin" not in r.headers
    r = raw_request(endpoint, "GET", f"/{bucket}/k")
    assert "access-control-allow-origin" not in r.headers
