"""Keys, user metadata and listings as S3 treats them: keys that are not UTF-8 are refused (400),
non-ASCII user metadata comes back as the same UTF-8 characters (sent over raw HTTP: boto3 sends
metadata as latin-1 only), `Content-Encoding` is stored without `aws-chunked`, ListObjects V1 and V2
echo `Prefix` as sent and say `EncodingType` when they encode, and presigned URLs whose
X-Amz-Expires is out of 1..604800 are refused with 403 like expired ones.
"""

from __future__ import annotations

import http.client
import urllib.parse
import urllib.request

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from helpers import error_code, raw_request


def _utf8_request(endpoint, method: str, path: str, headers: dict[str, str], body: bytes = b""):
    """Sign with the headers' real (Unicode) values, then put their UTF-8 bytes on the wire, as SDKs that
    allow non-ASCII metadata do (http.client writes header strings as latin-1: one char per byte)."""
    req = AWSRequest(method=method, url=endpoint.url + path, data=body, headers=headers)
    S3SigV4Auth(Credentials(endpoint.access_key, endpoint.secret_key), "s3", "us-east-1").add_auth(req)
    wire = {k: v.encode().decode("latin-1") for k, v in req.headers.items()}
    u = urllib.parse.urlsplit(endpoint.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=wire)
        r = conn.getresponse()
        return r.status, [(k.lower(), v.encode("latin-1").decode()) for k, v in r.getheaders()], r.read()
    finally:
        conn.close()


def test_non_ascii_user_metadata_round_trips(s3, endpoint, bucket):
    value = "café 日本語 ✓"
    status, _, body = _utf8_request(endpoint, "PUT", f"/{bucket}/m", {"x-amz-meta-name": value}, b"x")
    assert status == 200, body
    for method in ("HEAD", "GET"):
        status, headers, _ = _utf8_request(endpoint, method, f"/{bucket}/m", {})
        assert status == 200 and ("x-amz-meta-name", value) in headers
    # boto3 decodes response headers as latin-1: the same bytes, seen through its lens
    assert s3.head_object(Bucket=bucket, Key="m")["Metadata"]["name"] == value.encode().decode("latin-1")


def test_key_that_is_not_utf8_is_refused(endpoint, bucket):
    resp = raw_request(endpoint, "PUT", f"/{bucket}/bad%FF%FEkey", body=b"x")
    assert resp.status == 400 and error_code(resp.body) in ("InvalidURI", "InvalidArgument")


@pytest.mark.parametrize("sent, stored", [("gzip", "gzip"), ("aws-chunked,gzip", "gzip"),
                                          ("gzip, aws-chunked", "gzip"), ("aws-chunked", None)])
def test_content_encoding_stored_without_aws_chunked(s3, endpoint, bucket, sent, stored):
    assert raw_request(endpoint, "PUT", f"/{bucket}/ce", headers={"Content-Encoding": sent}, body=b"x").status == 200
    assert s3.head_object(Bucket=bucket, Key="ce").get("ContentEncoding") == stored


@pytest.mark.parametrize("prefix", ["a b+c", "dir/x&y", "ünï", "%41", "line\nbreak"])
def test_listings_echo_prefix(s3, endpoint, bucket, prefix):
    s3.put_object(Bucket=bucket, Key=prefix + "/k", Body=b"x")
    v1 = s3.list_objects(Bucket=bucket, Prefix=prefix)  # botocore asks for encoding-type=url itself
    assert v1["Prefix"] == prefix and [o["Key"] for o in v1["Contents"]] == [prefix + "/k"]
    v2 = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    assert v2["Prefix"] == prefix and [o["Key"] for o in v2["Contents"]] == [prefix + "/k"]
    assert v1["EncodingType"] == v2["EncodingType"] == "url"
    for query in ("list-type=2&prefix=a%20b", "prefix=a%20b"):  # not asked for: nothing encoded, nothing said
        plain = raw_request(endpoint, "GET", f"/{bucket}?{query}")
        assert plain.status == 200 and b"<EncodingType>" not in plain.body and b"<Prefix>a b</Prefix>" in plain.body


def _fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.parametrize("expires", [0, -7, 604801, 609901])
def test_presigned_expires_out_of_range_is_403(s3, bucket, expires):
    s3.put_object(Bucket=bucket, Key="p", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=3600)
    url = url.replace("X-Amz-Expires=3600", f"X-Amz-Expires={expires}")
    status, body = _fetch(url)
    assert (status, error_code(body)) == (403, "AccessDenied")
    assert _fetch(url.replace(f"X-Amz-Expires={expires}", "X-Amz-Expires=604800"))[0] == 403  # signature changed
    good = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=604800)
    assert _fetch(good) == (200, b"x")
