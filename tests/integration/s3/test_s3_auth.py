"""Integration tests for S3 authentication: SigV4 failures (wrong secret, unknown key, tampering),
anonymous requests, presigned GET/PUT URLs (SigV4 and SigV2) used from plain urllib, URL expiry,
SigV2 header signing, the request-id headers on every response, and the unauthenticated health
endpoints.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import pytest
from helpers import client, s3_error, skip_on_moto, unsigned_client


def _urlopen(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, dict, bytes]:
    # urllib would label a body as a form post; say what it is.
    headers = {"Content-Type": "application/octet-stream"} if data is not None else {}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def _error(body: bytes) -> tuple[str | None, str | None]:
    root = ET.fromstring(body)
    return root.findtext("Code"), root.findtext("Message")


def test_wrong_secret_is_signature_mismatch(endpoint, bucket):
    skip_on_moto(endpoint, "moto accepts any credentials")
    bad = client(endpoint.url, endpoint.access_key, endpoint.secret_key + "x")
    with s3_error("SignatureDoesNotMatch", 403):
        bad.list_buckets()
    with s3_error("SignatureDoesNotMatch", 403):
        bad.put_object(Bucket=bucket, Key="k", Body=b"x")


def test_unknown_access_key(endpoint, bucket):
    skip_on_moto(endpoint, "moto accepts any credentials")
    stranger = client(endpoint.url, "AKIDUNKNOWNUNKNOWN00", "whatever-secret")
    with s3_error("InvalidAccessKeyId", 403):
        stranger.list_buckets()
    with s3_error("InvalidAccessKeyId", 403):
        stranger.get_object(Bucket=bucket, Key="k")


def test_anonymous_is_denied(s3, endpoint, bucket):
    skip_on_moto(endpoint, "moto serves anonymous requests")
    s3.put_object(Bucket=bucket, Key="private", Body=b"secret")
    anon = unsigned_client(endpoint.url)
    with s3_error("AccessDenied", 403):
        anon.list_objects_v2(Bucket=bucket)
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bucket, Key="private")
    with s3_error("AccessDenied", 403):
        anon.put_object(Bucket=bucket, Key="intruder", Body=b"x")
    with s3_error("AccessDenied", 403):
        anon.list_buckets()
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="intruder")


def test_presigned_get_and_put(s3, bucket):
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre/sig ned"}, ExpiresIn=300)
    status, _, body = _urlopen(put_url, "PUT", b"uploaded via presigned PUT")
    assert status == 200, body
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/sig ned"}, ExpiresIn=300)
    status, headers, body = _urlopen(get_url)
    assert (status, body) == (200, b"uploaded via presigned PUT")
    assert headers["etag"] == s3.head_object(Bucket=bucket, Key="pre/sig ned")["ETag"]


def test_presigned_url_tampering(s3, endpoint, bucket):
    skip_on_moto(endpoint, "moto does not check presigned signatures")
    s3.put_object(Bucket=bucket, Key="t", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "t"}, ExpiresIn=300)
    # Point the same signature at another key.
    status, _, body = _urlopen(url.replace(f"/{bucket}/t?", f"/{bucket}/u?"))
    assert (status, _error(body)[0]) == (403, "SignatureDoesNotMatch")


def test_expired_presigned_url(s3, endpoint, bucket):
    skip_on_moto(endpoint, "moto does not check presigned expiry")
    s3.put_object(Bucket=bucket, Key="e", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "e"}, ExpiresIn=1)
    time.sleep(2.1)
    status, _, body = _urlopen(url)
    code, message = _error(body)
    assert (status, code) == (403, "AccessDenied")
    assert message == "Request has expired"


def test_sigv2_header_signing(endpoint, bucket):
    v2 = client(endpoint.url, endpoint.access_key, endpoint.secret_key, signature_version="s3")
    v2.put_object(Bucket=bucket, Key="v2/key one", Body=b"signed the old way", Metadata={"m": "1"})
    got = v2.get_object(Bucket=bucket, Key="v2/key one")
    assert got["Body"].read() == b"signed the old way"
    assert got["Metadata"] == {"m": "1"}
    assert [o["Key"] for o in v2.list_objects(Bucket=bucket)["Contents"]] == ["v2/key one"]
    assert [o["Key"] for o in v2.list_objects_v2(Bucket=bucket, Prefix="v2/")["Contents"]] == ["v2/key one"]
    v2.delete_object(Bucket=bucket, Key="v2/key one")
    assert v2.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_sigv2_wrong_secret(endpoint, bucket):
    skip_on_moto(endpoint, "moto accepts any credentials")
    bad = client(endpoint.url, endpoint.access_key, "not-the-secret", signature_version="s3")
    with s3_error("SignatureDoesNotMatch", 403):
        bad.list_objects(Bucket=bucket)


def test_sigv2_presigned_get(s3, endpoint, bucket):
    s3.put_object(Bucket=bucket, Key="v2p", Body=b"v2 presigned")
    v2 = client(endpoint.url, endpoint.access_key, endpoint.secret_key, signature_version="s3")
    url = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v2p"}, ExpiresIn=300)
    assert "Signature=" in url and "AWSAccessKeyId=" in url
    status, _, body = _urlopen(url)
    assert (status, body) == (200, b"v2 presigned")


def _ids(headers: dict) -> tuple[str | None, str | None]:
    return headers.get("x-amz-request-id"), headers.get("x-amz-id-2")


def test_request_id_headers_everywhere(s3, endpoint, bucket):
    skip_on_moto(endpoint, "moto sends x-amzn-requestid instead")
    responses = [
        s3.put_object(Bucket=bucket, Key="r", Body=b"x"),
        s3.get_object(Bucket=bucket, Key="r"),
        s3.head_object(Bucket=bucket, Key="r"),
        s3.list_objects_v2(Bucket=bucket),
        s3.list_buckets(),
        s3.delete_object(Bucket=bucket, Key="r"),
    ]
    for resp in responses:
        rid, id2 = _ids(resp["ResponseMetadata"]["HTTPHeaders"])
        assert rid and id2, resp["ResponseMetadata"]
    with s3_error("NoSuchKey", 404) as ei:
        s3.get_object(Bucket=bucket, Key="missing")
    err = ei.value.response
    rid, id2 = _ids(err["ResponseMetadata"]["HTTPHeaders"])
    assert rid and id2
    # The error document repeats the request id.
    assert err["Error"].get("RequestId", err["ResponseMetadata"].get("RequestId")) == rid
    with s3_error("404", 404) as ei:
        s3.head_object(Bucket=bucket, Key="missing")
    assert all(_ids(ei.value.response["ResponseMetadata"]["HTTPHeaders"]))
    # Two requests never share an id.
    assert len({_ids(r["ResponseMetadata"]["HTTPHeaders"])[0] for r in responses}) == len(responses)


@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
def test_health_endpoints_need_no_auth(endpoint, path):
    skip_on_moto(endpoint, "moto has no health endpoints")
    status, _, _ = _urlopen(endpoint.url + path)
    assert status == 200
