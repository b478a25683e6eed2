"""SigV2 against botocore's HmacV1Auth / HmacV1QueryAuth: what boto3 sends must verify through our
server-side string to sign."""

from __future__ import annotations

from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.protocol import sigv2
from coffer.protocol.sigv2 import (
    SigV2ParseError,
    canonical_resource,
    parse_authorization,
    parse_query_auth,
    query_string_to_sign,
    sign,
    string_to_sign,
)
from coffer.protocol.sigv4 import parse_query

AK, SK = "COFFERV2KEY", "v2/secret+key"


class _EmptyRaw:
    def stream(self, *args: object, **kwargs: object):
        return iter([b""])

    def read(self, *args: object, **kwargs: object) -> bytes:
        return b""


@pytest.fixture(scope="module")
def client():
    c = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        region_name="us-east-1",
        config=Config(signature_version="s3", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    sent: list = []

    def capture(request, **kwargs):
        sent.append(request)
        return AWSResponse(request.url, 200, {}, _EmptyRaw())

    c.meta.events.register("before-send.s3", capture)
    c.sent = sent
    return c


def send(client, operation: str, **params: object):
    client.sent.clear()
    try:
        getattr(client, operation)(**params)
    except Exception:  # the canned empty answer may not parse; the request was captured
        pass
    req = client.sent[-1]
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in req.headers.items()}
    return req.method, req.url, headers


def verify_header_auth(method: str, url: str, headers: dict[str, str]) -> None:
    access_key, sig = parse_authorization(headers["Authorization"])
    parts = urlsplit(url)
    query = dict(parse_query(parts.query))
    assert access_key == AK
    assert any(
        sigv2.signatures_equal(sign(SK, string_to_sign(method, path, query, headers)), sig)
        for path in sigv2.resource_paths(parts.path)
    )


@pytest.mark.parametrize("key", ["plain", "with space", "a+b", "ü/日本", "x" * 1024, "q?acl=1"])
def test_boto3_v2_requests_verify(client, key: str) -> None:
    for op, params in (
        ("put_object", {"Body": b"data", "ContentType": "text/plain", "Metadata": {"m": "v"}}),
        ("get_object", {"VersionId": "v1", "ResponseContentType": "a/b", "Range": "bytes=1-2"}),
        ("put_object_acl", {"ACL": "public-read"}),
        ("get_object_tagging", {}),
        ("create_multipart_upload", {}),
        ("upload_part", {"UploadId": "u1", "PartNumber": 2, "Body": b"p"}),
        ("delete_object", {}),
    ):
        verify_header_auth(*send(client, op, Bucket="bkt", Key=key, **params))


@settings(max_examples=30, deadline=None)
@given(prefix=st.text(st.characters(blacklist_categories=["Cs"]), max_size=30))
def test_boto3_v2_listing_verifies(client, prefix: str) -> None:
    verify_header_auth(*send(client, "list_objects", Bucket="bkt", Prefix=prefix, Delimiter="/"))
    verify_header_auth(*send(client, "list_object_versions", Bucket="bkt", Prefix=prefix))


def test_tampering_is_detected(client) -> None:
    method, url, headers = send(client, "put_object", Bucket="bkt", Key="k", Body=b"x", ContentType="a/b")
    tampered = dict(headers, **{"Content-Type": "c/d"})
    with pytest.raises(AssertionError):
        verify_header_auth(method, url, tampered)
    with pytest.raises(AssertionError):
        verify_header_auth(method, url.replace("/k", "/other"), headers)


@pytest.mark.parametrize("key", ["plain", "sp ace", "plus+"])
def test_boto3_v2_presigned_urls_verify(client, key: str) -> None:
    url = client.generate_presigned_url(
        "get_object",
        Params={"Bucket": "bkt", "Key": key, "ResponseContentDisposition": "inline"},
        ExpiresIn=60,
    )
    parts = urlsplit(url)
    query = dict(parse_query(parts.query))
    access_key, sig, expires = parse_query_auth(query)
    assert access_key == AK
    assert sign(SK, query_string_to_sign("GET", parts.path, query, {}, expires)) == sig


def test_x_amz_date_replaces_the_date_line() -> None:
    headers = {"Date": "ignored", "X-Amz-Date": "Tue, 27 Mar 2007 19:42:41 +0000", "X-Amz-Meta-B": " 2 "}
    sts = string_to_sign("get", "/b/k", {"acl": ""}, headers)
    assert sts == "GET\n\n\n\nx-amz-date:Tue, 27 Mar 2007 19:42:41 +0000\nx-amz-meta-b:2\n/b/k?acl"


def test_aws_documentation_examples() -> None:
    # The "Object GET" and "List" examples of the S3 V2 REST authentication documentation.
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    get = string_to_sign(
        "GET",
        "/awsexamplebucket1/photos/puppy.jpg",
        {},
        {
            "Host": "awsexamplebucket1.s3.us-west-1.amazonaws.com",
            "Date": "Tue, 27 Mar 2007 19:36:42 +0000",
        },
    )
    assert get == "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
    assert sign(secret, get) == "qgk2+6Sv9/oM7G3qLEjTH1a1l1g="


def test_canonical_resource_subresources() -> None:
    q = {"versionId": "v1", "prefix": "p", "acl": "", "uploadId": "u", "response-expires": "x y"}
    assert canonical_resource("/b/k", q) == "/b/k?acl&response-expires=x y&uploadId=u&versionId=v1"
    assert canonical_resource("/b/k", {"max-keys": "1"}) == "/b/k"


def test_resource_paths() -> None:
    assert sigv2.resource_paths("/bkt") == ("/bkt", "/bkt/")
    assert sigv2.resource_paths("/bkt/") == ("/bkt", "/bkt/")
    assert sigv2.resource_paths("/bkt/key") == ("/bkt/key",)
    assert sigv2.resource_paths("/") == ("/",)


def test_parse_authorization() -> None:
    assert parse_authorization("AWS AKID:abc/+=") == ("AKID", "abc/+=")
    for bad in ("", "AWS", "AWS AKID", "AWS4-HMAC-SHA256 x", "AWS :sig", "AWS AKID:"):
        with pytest.raises(SigV2ParseError):
            parse_authorization(bad)


def test_parse_query_auth() -> None:
    assert parse_query_auth({"AWSAccessKeyId": "a", "Signature": "s", "Expires": "12"}) == ("a", "s", 12)
    base = {"AWSAccessKeyId": "a", "Signature": "s"}
    bads = (base, dict(base, Expires="x"), dict(base, Expires="-1"), dict(base, Expires="1", Signature=""))
    for bad in bads:
        with pytest.raises(SigV2ParseError):
            parse_query_auth(bad)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=100))
def test_parse_authorization_fuzz(value: str) -> None:
    try:
        parse_authorization(value)
    except SigV2ParseError:
        pass


class _MultiDict(dict):
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self._pairs = pairs

    def items(self):  # type: ignore[override]
        return list(self._pairs)


def test_repeated_amz_headers_are_comma_joined() -> None:
    headers = _MultiDict([("X-Amz-Meta-A", " 1 "), ("Date", "D"), ("x-amz-meta-a", "2")])
    assert string_to_sign("PUT", "/b/k", {}, headers) == "PUT\n\n\nD\nx-amz-meta-a:1,2\n/b/k"
