"""Browser-based uploads (POST Object): forms signed with boto3's generate_presigned_post (SigV4 and
SigV2), conditions, content-length-range, success_action_redirect/status, x-amz-meta fields, ACLs,
anonymous forms; every refusal with its code, and nothing stored after a refusal."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any

import pytest
import urllib3
from access_users import new_user
from helpers import client, s3_error, skip_if_external, unsigned_client

from coffer.protocol import xmlutil


def post(url: str, fields: dict[str, str] | list[tuple[str, str]], data: bytes = b"hello",
         filename: str = "local.txt", file: bool = True) -> urllib3.BaseHTTPResponse:
    items: list[tuple[str, Any]] = list(fields.items() if isinstance(fields, dict) else fields)
    if file:
        items.append(("file", (filename, data, "application/octet-stream")))
    body, ctype = urllib3.encode_multipart_formdata(items)
    return urllib3.request("POST", url, body=body, headers={"Content-Type": ctype}, redirect=False, timeout=30)


def code(resp: urllib3.BaseHTTPResponse) -> str | None:
    root = xmlutil.parse(resp.data)
    return xmlutil.child_text(root, "Code")


def presigned(s3, bucket: str, key: str, fields: dict | None = None, conditions: list | None = None,
              expires: int = 300) -> dict:
    return s3.generate_presigned_post(bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=expires)


def test_sigv4_form_upload_with_metadata(endpoint, s3, bucket):
    skip_if_external(endpoint)
    f = {"x-amz-meta-color": "blue", "Content-Type": "text/plain"}
    p = presigned(s3, bucket, "up/a.txt", f, [{"x-amz-meta-color": "blue"}, ["starts-with", "$Content-Type", "text/"]])
    r = post(p["url"], p["fields"], b"form data")
    assert r.status == 204, r.data
    assert r.headers["ETag"].strip('"') and "/up/a.txt" in r.headers["Location"]
    got = s3.get_object(Bucket=bucket, Key="up/a.txt")
    assert got["Body"].read() == b"form data"
    assert got["Metadata"] == {"color": "blue"} and got["ContentType"] == "text/plain"


def test_success_action_status_and_redirect(s3, bucket):
    p = presigned(s3, bucket, "s201", {"success_action_status": "201"}, [{"success_action_status": "201"}])
    r = post(p["url"], p["fields"])
    assert r.status == 201
    root = xmlutil.parse(r.data)
    assert xmlutil.local_name(root) == "PostResponse" and xmlutil.child_text(root, "Key") == "s201"
    assert xmlutil.child_text(root, "Bucket") == bucket
    p = presigned(s3, bucket, "s200", {"success_action_status": "200"}, [{"success_action_status": "200"}])
    assert post(p["url"], p["fields"]).status == 200
    target = "https://example.com/done?x=1"
    p = presigned(s3, bucket, "redir", {"success_action_redirect": target}, [{"success_action_redirect": target}])
    r = post(p["url"], p["fields"])
    assert r.status == 303
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert q["bucket"] == [bucket] and q["key"] == ["redir"] and q["x"] == ["1"]
    assert q["etag"][0].strip('"') == s3.head_object(Bucket=bucket, Key="redir")["ETag"].strip('"')


def test_content_length_range(s3, bucket):
    p = presigned(s3, bucket, "sized", conditions=[["content-length-range", 10, 20]])
    r = post(p["url"], p["fields"], b"x" * 21)
    assert (r.status, code(r)) == (400, "EntityTooLarge")
    r = post(p["url"], p["fields"], b"x" * 9)
    assert (r.status, code(r)) == (400, "EntityTooSmall")
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="sized")
    assert post(p["url"], p["fields"], b"x" * 15).status == 204


def test_filename_variable(s3, bucket):
    p = presigned(s3, bucket, "in/${filename}", conditions=[["starts-with", "$key", "in/"]])
    assert post(p["url"], p["fields"], b"abc", filename="photo.jpg").status == 204
    assert s3.get_object(Bucket=bucket, Key="in/photo.jpg")["Body"].read() == b"abc"


def test_condition_failures(s3, bucket):
    p = presigned(s3, bucket, "ok/${filename}", conditions=[["starts-with", "$key", "ok/"]])
    fields = dict(p["fields"], key="elsewhere/x")
    r = post(p["url"], fields)
    assert (r.status, code(r)) == (403, "AccessDenied") and b"Policy Condition failed" in r.data
    r = post(p["url"], dict(p["fields"], **{"x-amz-meta-sneaky": "1"}))
    assert (r.status, code(r)) == (403, "AccessDenied") and b"Extra input fields" in r.data
    p = presigned(s3, bucket, "late", expires=-10)
    r = post(p["url"], p["fields"])
    assert (r.status, code(r)) == (403, "AccessDenied") and b"Policy expired" in r.data
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="late")


def test_bad_signature_and_malformed_forms(s3, bucket):
    p = presigned(s3, bucket, "sig")
    r = post(p["url"], dict(p["fields"], **{"x-amz-signature": "0" * 64}))
    assert (r.status, code(r)) == (403, "SignatureDoesNotMatch")
    r = post(p["url"], dict(p["fields"], **{"x-amz-date": "20000101T000000Z"}))
    assert (r.status, code(r)) == (400, "InvalidArgument")
    cred = p["fields"]["x-amz-credential"].replace("/us-east-1/", "/eu-west-3/")
    r = post(p["url"], dict(p["fields"], **{"x-amz-credential": cred}))
    assert (r.status, code(r)) == (400, "AuthorizationHeaderMalformed")
    r = post(p["url"], {k: v for k, v in p["fields"].items() if k != "key"})
    assert (r.status, code(r)) == (400, "InvalidArgument")
    r = post(p["url"], p["fields"], file=False)
    assert (r.status, code(r)) == (400, "InvalidArgument")
    r = post(p["url"], dict(p["fields"], policy="!!!not base64"))
    assert r.status in (400, 403)
    r = urllib3.request("POST", p["url"], body=b"key=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 412


def test_sigv2_form(endpoint, bucket):
    v2 = client(endpoint.url, endpoint.access_key, endpoint.secret_key, signature_version="s3")
    p = presigned(v2, bucket, "v2.txt")
    assert "signature" in p["fields"] and "AWSAccessKeyId" in p["fields"]
    r = post(p["url"], p["fields"], b"v2 body")
    assert r.status == 204, r.data
    assert v2.get_object(Bucket=bucket, Key="v2.txt")["Body"].read() == b"v2 body"
    r = post(p["url"], dict(p["fields"], signature="AAAA"))
    assert (r.status, code(r)) == (403, "SignatureDoesNotMatch")


def test_form_acl_field(endpoint, s3, bucket):
    p = presigned(s3, bucket, "pub", {"acl": "public-read"}, [{"acl": "public-read"}])
    assert post(p["url"], p["fields"], b"shared").status == 204
    assert unsigned_client(endpoint.url).get_object(Bucket=bucket, Key="pub")["Body"].read() == b"shared"


def test_anonymous_and_unauthorized_forms(endpoint, s3, bucket):
    url = f"{endpoint.url}/{bucket}"
    r = post(url, {"key": "anon"})
    assert (r.status, code(r)) == (403, "AccessDenied")
    u = new_user(endpoint)
    p = presigned(u.s3, bucket, "by-other")
    r = post(p["url"], p["fields"])
    assert (r.status, code(r)) == (403, "AccessDenied")
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    assert post(url, {"key": "anon"}, b"dropped").status == 204
    assert s3.get_object(Bucket=bucket, Key="anon")["Body"].read() == b"dropped"
    assert post(p["url"], p["fields"]).status == 204  # now the other user may write too


@pytest.mark.parametrize("size", [0, 300 * 1024])
def test_sizes(s3, bucket, size):
    p = presigned(s3, bucket, f"size-{size}-{uuid.uuid4().hex[:6]}")
    body = bytes(range(256)) * (size // 256)
    assert post(p["url"], p["fields"], body).status == 204
    assert s3.get_object(Bucket=bucket, Key=p["fields"]["key"])["Body"].read() == body


def test_oversized_form_fields(s3, bucket):
    p = presigned(s3, bucket, "big-fields")
    r = post(p["url"], dict(p["fields"], **{"x-ignore-pad": "y" * (21 * 1024)}))
    assert (r.status, code(r)) == (400, "MaxPostPreDataLengthExceeded")


def test_form_encryption_fields(s3, bucket):
    f = {"x-amz-server-side-encryption": "AES256"}
    p = presigned(s3, bucket, "sealed", f, [f])
    assert post(p["url"], p["fields"], b"secret form").status == 204
    head = s3.head_object(Bucket=bucket, Key="sealed")
    assert head["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="sealed")["Body"].read() == b"secret form"
    f = {"x-amz-server-side-encryption": "rot13"}
    p = presigned(s3, bucket, "bad-sse", f, [f])
    r = post(p["url"], p["fields"])
    assert r.status == 400


def test_form_upload_sends_a_post_event(s3, bucket):
    from webhook_receiver import Receiver, notification_config

    from ports import free_port

    receiver = Receiver(free_port())
    receiver.start()
    try:
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration=notification_config(receiver.url, ["s3:ObjectCreated:*"]))
        p = presigned(s3, bucket, "evented")
        assert post(p["url"], p["fields"], b"12345").status == 204
        records = receiver.wait_for(1)
    finally:
        receiver.stop()
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert [(r["eventName"], r["s3"]["object"]["key"], r["s3"]["object"].get("size")) for r in records] == [
        ("ObjectCreated:Post", "evented", 5)]


def _signed_policy_form(s3, bucket: str, doc: dict, secret: str) -> tuple[str, dict]:
    """A SigV4 form whose policy document is written here (boto3 only writes well-formed ones)."""
    import base64
    import hashlib
    import hmac
    import json

    p = presigned(s3, bucket, "x")
    fields = dict(p["fields"])
    pol = base64.b64encode(json.dumps(doc).encode()).decode()

    def h(k: bytes, m: str) -> bytes:
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    key = h(h(h(h(("AWS4" + secret).encode(), fields["x-amz-date"][:8]), "us-east-1"), "s3"), "aws4_request")
    fields.update(policy=pol, **{"x-amz-signature": hmac.new(key, pol.encode(), hashlib.sha256).hexdigest()})
    return p["url"], fields


@pytest.mark.parametrize("expiration", ["not-a-date", "2030-13-45T00:00:00Z", "2030/01/01", 12345])
def test_malformed_expiration_is_400(endpoint, s3, bucket, expiration):
    url, fields = _signed_policy_form(s3, bucket, {"expiration": expiration, "conditions": [
        {"bucket": bucket}, ["starts-with", "$key", ""]]}, endpoint.secret_key)
    r = post(url, fields)
    assert (r.status, code(r)) == (400, "InvalidPolicyDocument")
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="x")


def test_form_checksum_fields(s3, bucket):
    import base64
    import zlib

    crc = base64.b64encode(zlib.crc32(b"hello").to_bytes(4, "big")).decode()
    f = {"x-amz-checksum-crc32": crc}
    p = presigned(s3, bucket, "ck", f, [f])
    assert post(p["url"], p["fields"], b"hello").status == 204
    head = s3.head_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc and head["ChecksumType"] == "FULL_OBJECT"
    f = {"x-amz-checksum-crc32": base64.b64encode(b"\0\0\0\0").decode()}
    p = presigned(s3, bucket, "ck-bad", f, [f])
    r = post(p["url"], p["fields"], b"hello")
    assert (r.status, code(r)) == (400, "BadDigest")
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="ck-bad")
    f = {"x-amz-checksum-algorithm": "SHA256"}
    p = presigned(s3, bucket, "ck-alg", f, [f])
    assert post(p["url"], p["fields"], b"hello").status == 204
    want = base64.b64encode(__import__("hashlib").sha256(b"hello").digest()).decode()
    assert s3.head_object(Bucket=bucket, Key="ck-alg", ChecksumMode="ENABLED")["ChecksumSHA256"] == want


def test_form_tagging_field(s3, bucket):
    t = ("<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value></Value></Tag>"
         "</TagSet></Tagging>")
    p = presigned(s3, bucket, "tagged", {"tagging": t}, [{"tagging": t}])
    assert post(p["url"], p["fields"]).status == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == [{"Key": "a", "Value": "1"},
                                                                             {"Key": "b", "Value": ""}]
    p = presigned(s3, bucket, "badtag", {"tagging": "<Tagging>"}, [{"tagging": "<Tagging>"}])
    r = post(p["url"], p["fields"])
    assert (r.status, code(r)) == (400, "MalformedXML")


def test_bucket_default_encryption_applies_to_forms(s3, bucket):
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    p = presigned(s3, bucket, "defenc")
    assert post(p["url"], p["fields"], b"sealed by default").status == 204
    assert s3.head_object(Bucket=bucket, Key="defenc")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="defenc")["Body"].read() == b"sealed by default"
