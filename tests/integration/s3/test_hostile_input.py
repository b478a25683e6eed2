"""Hostile input: forged or broken requests get the precise S3 error and leave the store unharmed.

Every case here starts from a request that works (signed by botocore, framed by botocore or by our
encoder checked against the AWS documentation's example) and changes exactly one thing. Each
asserts the HTTP status, the XML <Code>, that <RequestId> equals the x-amz-request-id header, that
the answer came within a few seconds, and afterwards that the store is unharmed: the object that
was there ("victim") still has its bytes, no other object appeared, and the server still answers.
Expected codes follow the Amazon S3 API reference and what S3 itself answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import pytest
from helpers import checksum_b64, content_md5, data, is_moto, skip_on_moto
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawhttp import (
    STREAMING_SIGNED,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    Response,
    Signed,
    Signer,
    decode_aws_chunked,
    exchange,
    frame_signed,
    send_and_close,
    signed_chunks,
    unsigned_trailer_body,
)

FEW_SECONDS = 5.0
EVIL = b"evil bytes that must never be stored"


@dataclass
class Victim:
    bucket: str
    key: str
    body: bytes = field(repr=False)

    def __repr__(self) -> str:  # hypothesis prints fixtures in failure reports: keep it short
        return f"Victim({self.bucket}/{self.key}, {len(self.body)} bytes)"


@pytest.fixture(scope="module")
def signer(endpoint) -> Signer:
    return Signer(endpoint.url, endpoint.access_key, endpoint.secret_key)


@pytest.fixture
def victim(s3, bucket) -> Victim:
    body = data(3000, seed=7)
    s3.put_object(Bucket=bucket, Key="victim", Body=body)
    return Victim(bucket, "victim", body)


def send(endpoint, req: Signed | bytes, **kw) -> Response:
    raw = req.to_bytes() if isinstance(req, Signed) else req
    resp = exchange(endpoint.url, raw, timeout=FEW_SECONDS, **kw)
    assert resp is not None, "the server closed the connection without an answer"
    assert resp.elapsed < FEW_SECONDS
    return resp


def assert_no_server_error(resp: Response) -> None:
    """Below 500, or S3's own 501 for a header or subresource it does not implement."""
    assert resp.status < 500 or (resp.status == 501 and resp.code == "NotImplemented"), resp.describe()


def assert_unharmed(s3, v: Victim, *extra_keys: str) -> None:
    got = s3.get_object(Bucket=v.bucket, Key=v.key)["Body"].read()
    assert got == v.body, "the previous object changed"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=v.bucket).get("Contents", []))
    assert keys == sorted([v.key, *extra_keys]), f"unexpected objects: {keys}"


def put_victim(signer: Signer, v: Victim, body: bytes = EVIL, **kw) -> Signed:
    return signer.sign("PUT", f"/{v.bucket}/{v.key}", body=body, **kw)


def with_auth(req: Signed, fn) -> Signed:
    return req.with_header("Authorization", fn(req.header("Authorization")))


# ---------------------------------------------------------------------------------------------
# Signatures, dates, payload hashes
# ---------------------------------------------------------------------------------------------


def test_control_signed_put_works(endpoint, s3, signer, victim):
    """The unmodified request succeeds: each failure below differs from it by one thing."""
    resp = send(endpoint, put_victim(signer, victim, body=b"fine"))
    assert resp.status == 200, resp.describe()
    victim.body = b"fine"
    assert_unharmed(s3, victim)


def test_signature_one_byte_changed(endpoint, s3, signer, victim):
    skip_on_moto(endpoint, "moto does not verify signatures")
    flip = {"0": "1"}.get
    req = with_auth(put_victim(signer, victim), lambda a: a[:-1] + (flip(a[-1]) or "0"))
    send(endpoint, req).assert_error(403, "SignatureDoesNotMatch")
    assert_unharmed(s3, victim)


def test_signature_over_other_payload_hash(endpoint, s3, signer, victim):
    skip_on_moto(endpoint, "moto does not verify signatures")
    req = put_victim(signer, victim, payload_hash=hashlib.sha256(b"other").hexdigest())
    req = req.with_header("X-Amz-Content-SHA256", hashlib.sha256(EVIL).hexdigest())
    send(endpoint, req).assert_error(403, "SignatureDoesNotMatch")
    assert_unharmed(s3, victim)


@pytest.mark.parametrize("minutes", [-20, 20, -60 * 24 * 8])
def test_request_time_too_skewed(endpoint, s3, signer, victim, minutes):
    skip_on_moto(endpoint, "moto does not check x-amz-date")
    when = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    send(endpoint, put_victim(signer, victim, when=when)).assert_error(403, "RequestTimeTooSkewed")
    assert_unharmed(s3, victim)


MALFORMED_AUTH = {
    "no-signature": lambda a: a[: a.index(", Signature=")],
    "credential-3-parts": lambda a: a.replace("/s3/aws4_request", "/s3"),
    "wrong-region": lambda a: a.replace("/us-east-1/", "/eu-west-1/"),
    "garbage": lambda a: "AWS4-HMAC-SHA256 garbage",
}


@pytest.mark.parametrize("case", sorted(MALFORMED_AUTH))
def test_authorization_header_malformed(endpoint, s3, signer, victim, case):
    skip_on_moto(endpoint, "moto does not parse the Authorization header")
    req = with_auth(put_victim(signer, victim), MALFORMED_AUTH[case])
    send(endpoint, req).assert_error(400, "AuthorizationHeaderMalformed")
    assert_unharmed(s3, victim)


def test_unknown_algorithm(endpoint, s3, signer, victim):
    skip_on_moto(endpoint, "moto does not parse the Authorization header")
    req = with_auth(put_victim(signer, victim), lambda a: a.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"))
    send(endpoint, req).assert_error(400, "InvalidArgument")  # S3: "Unsupported Authorization Type"
    assert_unharmed(s3, victim)


def test_missing_content_sha256(endpoint, s3, signer, victim):
    skip_on_moto(endpoint, "moto does not require x-amz-content-sha256")
    req = put_victim(signer, victim, content_sha256_header=False)
    assert req.header("X-Amz-Content-SHA256") is None
    send(endpoint, req).assert_error(400, "InvalidRequest")  # "Missing required header ..."
    assert_unharmed(s3, victim)


def test_content_sha256_not_matching_body(endpoint, s3, signer, victim):
    skip_on_moto(endpoint, "moto does not verify the payload hash")
    req = put_victim(signer, victim).with_body(EVIL.upper())  # same length, other bytes
    send(endpoint, req).assert_error(400, "XAmzContentSHA256Mismatch")
    assert_unharmed(s3, victim)


# ---------------------------------------------------------------------------------------------
# Presigned URLs
# ---------------------------------------------------------------------------------------------


def presigned_get(signer: Signer, target: str) -> Signed:
    return Signed("GET", target, [("Host", signer.netloc)], b"")


def test_presigned_url_control_and_tampered_query(endpoint, s3, signer, victim):
    target = signer.presign("GET", f"/{victim.bucket}/{victim.key}", expires=3600)
    ok = send(endpoint, presigned_get(signer, target))
    assert ok.status == 200 and ok.body == victim.body, ok.describe()
    skip_on_moto(endpoint, "moto does not verify presigned signatures")
    tampered = target.replace("X-Amz-Expires=3600", "X-Amz-Expires=3601")
    send(endpoint, presigned_get(signer, tampered)).assert_error(403, "SignatureDoesNotMatch")
    assert_unharmed(s3, victim)


def test_presigned_url_expired(endpoint, s3, signer, victim):
    skip_on_moto(endpoint, "moto does not check presigned expiry")
    when = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    target = signer.presign("GET", f"/{victim.bucket}/{victim.key}", expires=60, when=when)
    send(endpoint, presigned_get(signer, target)).assert_error(403, "AccessDenied")
    assert_unharmed(s3, victim)


def test_presigned_expires_over_seven_days(endpoint, s3, signer, victim):
    week = 7 * 24 * 3600
    ok = signer.presign("GET", f"/{victim.bucket}/{victim.key}", expires=week)
    assert send(endpoint, presigned_get(signer, ok)).status == 200
    skip_on_moto(endpoint, "moto does not limit X-Amz-Expires")
    bad = signer.presign("GET", f"/{victim.bucket}/{victim.key}", expires=week + 1)
    send(endpoint, presigned_get(signer, bad)).assert_error(403, "AccessDenied")  # as S3 (and s3-tests) answer
    assert_unharmed(s3, victim)


# ---------------------------------------------------------------------------------------------
# XML documents: DeleteObjects and CompleteMultipartUpload
# ---------------------------------------------------------------------------------------------

BROKEN_XML = {
    "truncated": b"<Delete><Object><Key>victim</Key></Object>",
    "not-xml": b"this is not xml at all",
    "mismatched": b"<Delete><Object><Key>victim</Object></Key></Delete>",
}
BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(b'<!ENTITY %c "%s">' % (98 + i, b"&%c;" % (97 + i) * 10) for i in range(9))
    + b"]><Delete><Object><Key>&j;</Key></Object></Delete>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b"<Delete><Object><Key>&e;</Key></Object></Delete>"
)


def delete_objects(signer: Signer, v: Victim, body: bytes) -> Signed:
    return signer.sign("POST", f"/{v.bucket}?delete", body=body, headers=[("Content-MD5", content_md5(body))])


def test_delete_objects_control(endpoint, s3, signer, victim):
    body = b"<Delete><Quiet>true</Quiet><Object><Key>nothing-here</Key></Object></Delete>"
    resp = send(endpoint, delete_objects(signer, victim, body))
    assert resp.status == 200, resp.describe()
    assert_unharmed(s3, victim)


@pytest.mark.parametrize("case", sorted(BROKEN_XML))
def test_delete_objects_malformed_xml(endpoint, s3, signer, victim, case):
    skip_on_moto(endpoint, "moto answers malformed XML with a 500")
    send(endpoint, delete_objects(signer, victim, BROKEN_XML[case])).assert_error(400, "MalformedXML")
    assert_unharmed(s3, victim)


@pytest.mark.parametrize("doc", [BOMB, XXE], ids=["billion-laughs", "external-entity"])
def test_delete_objects_entities_refused(endpoint, s3, signer, victim, doc):
    skip_on_moto(endpoint, "moto answers malformed XML with a 500")
    resp = send(endpoint, delete_objects(signer, victim, doc))
    resp.assert_error(400, "MalformedXML")
    assert resp.elapsed < 2.0
    assert b"root:" not in resp.body
    assert_unharmed(s3, victim)


def test_delete_objects_oversize_body(endpoint, s3, signer, victim):
    skip_on_moto(endpoint, "moto has no XML size limit")
    body = b"<Delete>" + b" " * (3 * 1024 * 1024) + b"<Object><Key>victim</Key></Object></Delete>"
    resp = send(endpoint, delete_objects(signer, victim, body))
    resp.assert_error(400, "MaxMessageLengthExceeded", "MalformedXML")
    assert_unharmed(s3, victim)


@pytest.mark.parametrize(
    "doc",
    [BROKEN_XML["truncated"], b"<CompleteMultipartUpload><Part>", BOMB],
    ids=["wrong-root", "truncated", "billion-laughs"],
)
def test_complete_multipart_malformed_xml(endpoint, s3, signer, victim, doc):
    skip_on_moto(endpoint, "moto answers malformed XML with a 500")
    up = s3.create_multipart_upload(Bucket=victim.bucket, Key="mpu")["UploadId"]
    s3.upload_part(Bucket=victim.bucket, Key="mpu", UploadId=up, PartNumber=1, Body=b"part one")
    req = signer.sign("POST", f"/{victim.bucket}/mpu?uploadId={up}", body=doc)
    resp = send(endpoint, req)
    resp.assert_error(400, "MalformedXML")
    assert resp.elapsed < 2.0
    assert_unharmed(s3, victim)
    uploads = s3.list_multipart_uploads(Bucket=victim.bucket).get("Uploads", [])
    assert [u["UploadId"] for u in uploads] == [up], "the upload must survive a bad complete"


# ---------------------------------------------------------------------------------------------
# Body length: truncated, over-long, missing Content-Length
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["close", "half-close"])
def test_truncated_body_stores_nothing(endpoint, s3, signer, victim, how):
    full = data(200_000, seed=3)
    req = put_victim(signer, victim, body=full)
    raw = req.to_bytes()[: -len(full) // 2]  # Content-Length says 200 000; half arrives
    if how == "close":
        send_and_close(endpoint.url, raw)
    else:
        resp = exchange(endpoint.url, raw, timeout=FEW_SECONDS, half_close=True)
        if resp is not None and not is_moto(endpoint):  # answering is optional: the client gave up
            resp.assert_error(400, "IncompleteBody")
    assert_unharmed(s3, victim)


@pytest.mark.parametrize("pause", [0.0, 0.3], ids=["same-write", "extra-later"])
def test_overlong_body_extra_not_stored(endpoint, s3, signer, victim, pause):
    body = b"exactly these bytes"
    req = signer.sign("PUT", f"/{victim.bucket}/overlong", body=body)
    extra = b"AND-SOME-EXTRA-BYTES-THAT-ARE-NOT-THE-OBJECT"
    resp = exchange(endpoint.url, [req.to_bytes(), extra] if pause else req.to_bytes() + extra,
                    timeout=FEW_SECONDS, pause=pause)
    assert resp is not None and resp.elapsed < FEW_SECONDS
    # The extra bytes are the start of a next (garbage) request on the same connection. When they
    # arrive with the PUT, a server may refuse them first and drop the connection; the PUT is then
    # either done or not, but never stored with the extra bytes.
    assert resp.status == 200 or (not pause and resp.status == 400), resp.describe()
    listed = s3.list_objects_v2(Bucket=victim.bucket, Prefix="overlong").get("Contents", [])
    if resp.status == 200 or listed:
        assert s3.get_object(Bucket=victim.bucket, Key="overlong")["Body"].read() == body
        assert_unharmed(s3, victim, "overlong")
    else:
        assert_unharmed(s3, victim)


def test_put_without_content_length(endpoint, s3, signer, victim):
    skip_on_moto(endpoint, "moto accepts a PUT without Content-Length")
    req = put_victim(signer, victim, body=b"", content_length=False, payload_hash=UNSIGNED_PAYLOAD)
    assert req.header("Content-Length") is None and req.header("Transfer-Encoding") is None
    send(endpoint, req).assert_error(411, "MissingContentLength")
    assert_unharmed(s3, victim)


# ---------------------------------------------------------------------------------------------
# aws-chunked framing
# ---------------------------------------------------------------------------------------------

CHUNK = 8192  # S3's minimum signed chunk size (all but the last)
PAYLOAD = data(20_000, seed=11)  # chunks of 8192, 8192, 3616 (0xe20)


def chunked_put(
    signer: Signer,
    v: Victim,
    mode: str,
    *,
    decoded: int | None = None,
    trailer_header: str | None = "x-amz-checksum-crc32",
    body: bytes | None = None,
    mutate=None,
) -> Signed:
    """A PUT of PAYLOAD in aws-chunked `mode` ("signed" or "trailer"), optionally with one change."""
    headers = [
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", str(len(PAYLOAD) if decoded is None else decoded)),
    ]
    if mode == "trailer" and trailer_header:
        headers.append(("x-amz-trailer", trailer_header))
    hash_ = STREAMING_SIGNED if mode == "signed" else STREAMING_UNSIGNED_TRAILER
    # Content-Length is left unsigned (S3 allows it) so a mutation can change the body's length.
    req = signer.sign("PUT", f"/{v.bucket}/{v.key}", headers=headers, payload_hash=hash_, content_length=False)
    if body is None and mode == "signed":
        chunks = signed_chunks(
            PAYLOAD, CHUNK, key=req.key, timestamp=req.timestamp, scope=req.scope, seed=req.signature
        )
        body = frame_signed(mutate(chunks) if mutate else chunks)
    elif body is None:
        body = unsigned_trailer_body(PAYLOAD, chunk_size=CHUNK)
    return req.with_body(body).with_header("Content-Length", str(len(body)))


@pytest.mark.parametrize("mode", ["signed", "trailer"])
def test_chunked_control(endpoint, s3, signer, victim, mode):
    resp = send(endpoint, chunked_put(signer, victim, mode))
    assert resp.status == 200, resp.describe()
    victim.body = PAYLOAD
    assert_unharmed(s3, victim)


def _size_line_end(body: bytes, nth: int) -> tuple[int, int]:
    """Start and end of the nth chunk-size field (0-based) in an aws-chunked body."""
    pos = 0
    for _ in range(nth):
        eol = body.index(b"\r\n", pos)
        size = int(body[pos:eol].split(b";")[0], 16)
        pos = eol + 2 + size + 2
    end = min(i for i in (body.find(b";", pos), body.find(b"\r\n", pos)) if i >= 0)
    return pos, end


def _bad_hex(b: bytes) -> bytes:
    s, e = _size_line_end(b, 0)
    return b[:s] + b"2g00" + b[e:]


def _size_beyond_data(b: bytes) -> bytes:
    s, e = _size_line_end(b, 2)  # the last data chunk claims far more than the body holds
    return b[:s] + b"fff0" + b[e:]


def _missing_crlf(b: bytes) -> bytes:
    s, _ = _size_line_end(b, 1)
    return b[: s - 2] + b[s:]  # drop the CRLF that ends chunk 0's data


def _missing_final(b: bytes) -> bytes:
    s, _ = _size_line_end(b, 3)
    return b[:s]


FRAMING = {
    "bad-hex": _bad_hex,
    "size-beyond-data": _size_beyond_data,
    "missing-crlf": _missing_crlf,
    "missing-final-chunk": _missing_final,
}


@pytest.mark.parametrize("mode", ["signed", "trailer"])
@pytest.mark.parametrize("case", sorted(FRAMING))
def test_chunked_framing_broken(endpoint, s3, signer, victim, mode, case):
    skip_on_moto(endpoint, "moto does not validate aws-chunked framing")
    good = chunked_put(signer, victim, mode)
    send(
        endpoint,
        good.with_body(FRAMING[case](good.body)).with_header("Content-Length", str(len(FRAMING[case](good.body)))),
    ).assert_error(400, "IncompleteBody")
    assert_unharmed(s3, victim)


@pytest.mark.parametrize("mode", ["signed", "trailer"])
@pytest.mark.parametrize("delta", [-1, 1])
def test_chunked_decoded_length_mismatch(endpoint, s3, signer, victim, mode, delta):
    skip_on_moto(endpoint, "moto does not check x-amz-decoded-content-length")
    req = chunked_put(signer, victim, mode, decoded=len(PAYLOAD) + delta)
    send(endpoint, req).assert_error(400, "IncompleteBody")
    assert_unharmed(s3, victim)


def test_chunked_wrong_chunk_signature(endpoint, s3, signer, victim):
    skip_on_moto(endpoint, "moto does not verify chunk signatures")

    def forge(chunks):
        (c, sig), rest = chunks[1], chunks[2:]
        return [chunks[0], (c, ("0" if sig[0] != "0" else "1") + sig[1:]), *rest]

    send(endpoint, chunked_put(signer, victim, "signed", mutate=forge)).assert_error(403, "SignatureDoesNotMatch")
    assert_unharmed(s3, victim)


def test_chunked_wrong_trailer_checksum(endpoint, s3, signer, victim):
    skip_on_moto(endpoint, "moto does not verify trailing checksums")
    good = unsigned_trailer_body(PAYLOAD, chunk_size=CHUNK)
    body = good.replace(checksum_b64("CRC32", PAYLOAD).encode(), checksum_b64("CRC32", b"x").encode())
    assert body != good
    send(endpoint, chunked_put(signer, victim, "trailer", body=body)).assert_error(400, "BadDigest")
    assert_unharmed(s3, victim)


@pytest.mark.parametrize("declared", [None, "x-amz-checksum-crc32c"], ids=["absent", "other"])
def test_chunked_undeclared_trailer(endpoint, s3, signer, victim, declared):
    skip_on_moto(endpoint, "moto does not check x-amz-trailer")
    req = chunked_put(signer, victim, "trailer", trailer_header=declared)
    send(endpoint, req).assert_error(400, "MalformedTrailerError")
    assert_unharmed(s3, victim)


# ---------------------------------------------------------------------------------------------
# Names, headers, metadata, subresources, methods
# ---------------------------------------------------------------------------------------------

BAD_BUCKETS = [
    "ab",
    "a" * 64,
    "Upper-case",
    "under_score",
    "-leading",
    "trailing-",
    "192.168.5.4",
    "double..dot",
    "xn--punycode",
    "name-s3alias",
    "bang%21name",
]


@pytest.mark.parametrize("name", BAD_BUCKETS)
def test_invalid_bucket_name(endpoint, s3, signer, victim, name):
    skip_on_moto(endpoint, "moto accepts most invalid names and sends no x-amz-request-id")
    send(endpoint, signer.sign("PUT", f"/{name}")).assert_error(400, "InvalidBucketName")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert_unharmed(s3, victim)


def test_key_too_long(endpoint, s3, signer, victim):
    ok = send(endpoint, signer.sign("PUT", f"/{victim.bucket}/{'k' * 1024}", body=b"x"))
    assert ok.status == 200, ok.describe()
    skip_on_moto(endpoint, "moto accepts keys over 1024 bytes")
    resp = send(endpoint, signer.sign("PUT", f"/{victim.bucket}/{'k' * 1025}", body=EVIL))
    resp.assert_error(400, "KeyTooLongError")
    assert_unharmed(s3, victim, "k" * 1024)


@pytest.mark.parametrize("method", ["PUT", "GET"])
def test_invalid_utf8_key(endpoint, s3, signer, victim, method):
    skip_on_moto(endpoint, "moto accepts invalid UTF-8 in keys")
    body = EVIL if method == "PUT" else b""
    send(endpoint, signer.sign(method, f"/{victim.bucket}/bad%FF%FEkey", body=body)).assert_error(400, "InvalidURI")
    assert_unharmed(s3, victim)


@pytest.mark.parametrize("shape", ["one-64KiB-header", "2000-headers"])
def test_oversized_header_section(endpoint, s3, signer, victim, shape):
    req = put_victim(signer, victim)
    if shape == "one-64KiB-header":
        req = req.with_header("X-Junk", "j" * 65536)
    else:
        req.headers += [(f"X-Junk-{i}", "j") for i in range(2000)]
    resp = send(endpoint, req)
    assert resp.status in (400, 431), resp.describe()
    if resp.code is not None:  # an S3 error document: then it must be the precise one
        resp.assert_error(resp.status, "RequestHeaderSectionTooLarge")
    assert_unharmed(s3, victim)


def test_metadata_too_large(endpoint, s3, signer, victim):
    small = [(f"x-amz-meta-m{i}", "v" * 400) for i in range(3)]  # ~1.2 KiB: allowed
    ok = send(endpoint, signer.sign("PUT", f"/{victim.bucket}/meta-ok", body=b"x", headers=small))
    assert ok.status == 200, ok.describe()
    skip_on_moto(endpoint, "moto does not limit metadata size")
    big = [(f"x-amz-meta-m{i}", "v" * 900) for i in range(3)]  # ~2.7 KiB
    send(endpoint, put_victim(signer, victim, headers=big)).assert_error(400, "MetadataTooLarge")
    assert_unharmed(s3, victim, "meta-ok")


@pytest.mark.parametrize("method,query", [("GET", "torrent"), ("POST", "select&select-type=2")])
def test_unknown_subresource(endpoint, s3, signer, victim, method, query):
    skip_on_moto(endpoint, "moto implements or ignores these subresources")
    req = signer.sign(method, f"/{victim.bucket}/{victim.key}?{query}")
    send(endpoint, req).assert_error(501, "NotImplemented")
    assert_unharmed(s3, victim)


@pytest.mark.parametrize("method", ["PATCH", "PROPFIND"])
def test_unsupported_method(endpoint, s3, signer, victim, method):
    skip_on_moto(endpoint, "moto answers unknown methods differently")
    send(
        endpoint,
        put_victim(signer, victim)._replace_method(method)
        if False
        else signer.sign(method, f"/{victim.bucket}/{victim.key}", body=EVIL),
    ).assert_error(405, "MethodNotAllowed")
    assert_unharmed(s3, victim)


# ---------------------------------------------------------------------------------------------
# Properties: random chunked bodies and random header values
# ---------------------------------------------------------------------------------------------

PROPERTY = settings(max_examples=50, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def chunked_bodies(draw) -> tuple[bytes, int]:
    """(aws-chunked body, declared decoded length): random bytes, or a valid body with one defect."""
    if draw(st.booleans()):
        body = draw(st.binary(max_size=400))
        return body, draw(st.integers(0, 500))
    payload = draw(st.binary(max_size=300))
    body = bytearray(unsigned_trailer_body(payload, chunk_size=draw(st.integers(1, 128))))
    pos = draw(st.integers(0, len(body)))
    match draw(st.sampled_from(["flip", "cut", "insert", "truncate", "none"])):
        case "flip" if pos < len(body):
            body[pos] ^= 1 << draw(st.integers(0, 7))
        case "cut":
            del body[pos : pos + draw(st.integers(1, 8))]
        case "insert":
            body[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        case "truncate":
            del body[pos:]
    declared = len(payload) + draw(st.sampled_from([0, 0, 0, -1, 1]))
    return bytes(body), max(declared, 0)


@PROPERTY
@given(case=chunked_bodies())
def test_property_random_chunked_body(endpoint, s3, signer, victim, case):
    skip_on_moto(endpoint, "moto answers odd aws-chunked bodies with a 500")
    body, declared = case
    key = "fuzz-chunked"
    req = signer.sign("PUT", f"/{victim.bucket}/{key}", payload_hash=STREAMING_UNSIGNED_TRAILER,
                      content_length=False,
                      headers=[("Content-Encoding", "aws-chunked"), ("x-amz-trailer", "x-amz-checksum-crc32"),
                               ("x-amz-decoded-content-length", str(declared))])
    resp = send(endpoint, req.with_body(body).with_header("Content-Length", str(len(body))))
    assert_no_server_error(resp)
    stored = s3.list_objects_v2(Bucket=victim.bucket, Prefix=key).get("Contents", [])
    if resp.status >= 300:
        assert not stored, f"a refused request left an object behind: {resp.describe()}"
    else:
        # Accepted: then the body must really have been well-formed, and stored decoded.
        decoded = decode_aws_chunked(body, trailers=True)
        assert decoded is not None and len(decoded[0]) == declared, f"accepted a bad body {body!r}"
        assert decoded[1].get("x-amz-checksum-crc32") == checksum_b64("CRC32", decoded[0])
        assert s3.get_object(Bucket=victim.bucket, Key=key)["Body"].read() == decoded[0]
        s3.delete_object(Bucket=victim.bucket, Key=key)
    assert s3.get_object(Bucket=victim.bucket, Key=victim.key)["Body"].read() == victim.body


PUT_HEADERS = ["Content-Type", "Content-MD5", "Content-Encoding", "Content-Disposition", "Cache-Control",
               "Expires", "x-amz-meta-fuzz", "x-amz-storage-class", "x-amz-checksum-crc32",
               "x-amz-checksum-sha256", "x-amz-sdk-checksum-algorithm", "x-amz-tagging", "x-amz-acl",
               "If-Match", "If-None-Match", "x-amz-server-side-encryption", "x-amz-decoded-content-length",
               "x-amz-website-redirect-location", "x-amz-object-lock-mode", "x-amz-trailer"]
GET_HEADERS = ["Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
               "x-amz-checksum-mode", "x-amz-expected-bucket-owner"]
# Bytes a header value may legally hold (visible ASCII, space, tab, obs-text); CR/LF would end it.
HEADER_TEXT = st.text(st.characters(codec="latin-1", exclude_categories=["Cc"]) | st.just("\t"), max_size=80)


@PROPERTY
@given(put_header=st.sampled_from(PUT_HEADERS), get_header=st.sampled_from(GET_HEADERS),
       value=HEADER_TEXT)
def test_property_random_header_values(endpoint, s3, signer, victim, put_header, get_header, value):
    skip_on_moto(endpoint, "moto answers odd header values with a 500")
    key = "fuzz-header"
    req = signer.sign("PUT", f"/{victim.bucket}/{key}", body=b"fuzz body", headers=[(put_header, value)])
    resp = send(endpoint, req)
    assert_no_server_error(resp)
    stored = s3.list_objects_v2(Bucket=victim.bucket, Prefix=key).get("Contents", [])
    if resp.status >= 300:
        assert not stored, f"a refused request left an object behind: {resp.describe()}"
    else:
        s3.delete_object(Bucket=victim.bucket, Key=key)
    got = send(endpoint, signer.sign("GET", f"/{victim.bucket}/{victim.key}", headers=[(get_header, value)]))
    assert_no_server_error(got)
    if got.status == 200 and "Range" not in get_header:
        assert got.body == victim.body
    assert s3.get_object(Bucket=victim.bucket, Key=victim.key)["Body"].read() == victim.body
