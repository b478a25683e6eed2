"""Integration tests for S3 data integrity: flexible checksums (CRC32, CRC32C, CRC64NVME, SHA1,
SHA256) sent as headers or as aws-chunked trailers, Content-MD5, and multipart checksums of both
types (COMPOSITE "-N" values and FULL_OBJECT CRCs) as returned by Get/Head/GetObjectAttributes.
Every expected value is computed here, independently of the server.
"""

from __future__ import annotations

import io
import urllib.parse

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, CrtCrc32Checksum, CrtCrc64NvmeChecksum
from helpers import (
    MiB,
    checksum_b64,
    composite_checksum,
    content_md5,
    data,
    error_code,
    is_moto,
    raw_request,
    s3_error,
    skip_on_moto,
)

ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]


def _field(alg: str) -> str:
    return f"Checksum{alg}"


def test_boto3_default_checksum_is_stored(s3, endpoint, bucket):
    body = data(3000, seed=1)
    sent: list[dict] = []
    s3.meta.events.register("before-send.s3.PutObject", lambda request, **_: sent.append(request.headers))
    put = s3.put_object(Bucket=bucket, Key="d", Body=body)
    alg = sent[0]["x-amz-sdk-checksum-algorithm"].decode()
    assert alg in ("CRC32", "CRC64NVME")
    assert put[_field(alg)] == checksum_b64(alg, body)
    for resp in (
        s3.head_object(Bucket=bucket, Key="d", ChecksumMode="ENABLED"),
        s3.get_object(Bucket=bucket, Key="d", ChecksumMode="ENABLED"),
    ):
        assert resp[_field(alg)] == checksum_b64(alg, body)
        if not is_moto(endpoint):  # moto sends no x-amz-checksum-type
            assert resp["ChecksumType"] == "FULL_OBJECT"


def _chunked_put(endpoint, bucket, key, body, trailer_name, trailer_value=None, content_encoding=None):
    """PUT `body` the way boto3 does over HTTPS: aws-chunked with an unsigned checksum trailer,
    itself sent with HTTP chunked transfer coding. trailer_value overrides the computed value."""
    cls = {"x-amz-checksum-crc32": CrtCrc32Checksum, "x-amz-checksum-crc64nvme": CrtCrc64NvmeChecksum}
    if trailer_value is None:
        wire = AwsChunkedWrapper(
            io.BytesIO(body), checksum_cls=cls[trailer_name], checksum_name=trailer_name, chunk_size=64 * 1024
        ).read()
    else:
        wire = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n"
        wire += f"{trailer_name}:{trailer_value}\r\n\r\n".encode()
    headers = {
        "Content-Encoding": f"{content_encoding},aws-chunked" if content_encoding else "aws-chunked",
        "X-Amz-Trailer": trailer_name,
        "X-Amz-Decoded-Content-Length": str(len(body)),
        "X-Amz-Sdk-Checksum-Algorithm": trailer_name.rsplit("-", 1)[1].upper(),
    }
    path = f"/{bucket}/{urllib.parse.quote(key)}"
    return raw_request(
        endpoint,
        "PUT",
        path,
        headers=headers,
        body=wire,
        payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        http_chunked=True,
    )


@pytest.mark.parametrize("alg", ["CRC32", "CRC64NVME"])
def test_aws_chunked_trailer_checksum(s3, endpoint, bucket, alg):
    body = data(200 * 1024 + 17, seed=2)  # several 64 KiB chunks and a short last one
    resp = _chunked_put(endpoint, bucket, "t", body, f"x-amz-checksum-{alg.lower()}", content_encoding="gzip")
    assert resp.status == 200, resp.body[:400]
    head = s3.head_object(Bucket=bucket, Key="t", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(body)
    assert head[_field(alg)] == checksum_b64(alg, body)
    # aws-chunked is transport framing: only the client's own coding is stored.
    assert head["ContentEncoding"] == "gzip"
    assert s3.get_object(Bucket=bucket, Key="t")["Body"].read() == body


def test_aws_chunked_wrong_trailer_is_bad_digest(s3, endpoint, bucket):
    body = b"trailer mismatch" * 100
    wrong = checksum_b64("CRC32", b"something else")
    skip_on_moto(endpoint, "moto does not verify checksums")
    resp = _chunked_put(endpoint, bucket, "bad", body, "x-amz-checksum-crc32", trailer_value=wrong)
    assert (resp.status, error_code(resp.body)) == (400, "BadDigest"), resp.body[:400]
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="bad")


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_put_with_each_algorithm(s3, bucket, alg):
    body = data(5000, seed=3)
    put = s3.put_object(Bucket=bucket, Key=alg, Body=body, ChecksumAlgorithm=alg)
    want = checksum_b64(alg, body)
    assert put[_field(alg)] == want
    head = s3.head_object(Bucket=bucket, Key=alg, ChecksumMode="ENABLED")
    assert head[_field(alg)] == want
    got = s3.get_object(Bucket=bucket, Key=alg, ChecksumMode="ENABLED")
    assert got[_field(alg)] == want
    assert got["Body"].read() == body  # botocore also validates the checksum while reading
    attrs = s3.get_object_attributes(Bucket=bucket, Key=alg, ObjectAttributes=["Checksum"])
    assert attrs["Checksum"][_field(alg)] == want


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_wrong_checksum_header_is_bad_digest(s3, endpoint, bucket, alg):
    body = b"the real body"
    # The right value, sent the same way, is accepted.
    s3.put_object(Bucket=bucket, Key="y", Body=body, **{_field(alg): checksum_b64(alg, body)})
    skip_on_moto(endpoint, "moto does not verify checksums")
    with s3_error("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="x", Body=body, **{_field(alg): checksum_b64(alg, b"other")})
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="x")


def test_content_md5(s3_nochecksum, endpoint, bucket):
    s3 = s3_nochecksum
    body = b"md5 checked body"
    s3.put_object(Bucket=bucket, Key="ok", Body=body, ContentMD5=content_md5(body))
    assert s3.get_object(Bucket=bucket, Key="ok")["Body"].read() == body
    skip_on_moto(endpoint, "moto does not verify Content-MD5")
    with s3_error("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="bad", Body=body, ContentMD5=content_md5(b"different"))
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="bad")
    for malformed in ("not-base64!!", "AAAA"):  # bad base64; valid base64 but not 16 bytes
        with s3_error("InvalidDigest", 400):
            s3.put_object(Bucket=bucket, Key="bad", Body=body, ContentMD5=malformed)


def test_wrong_part_checksum_is_bad_digest(s3, endpoint, bucket):
    skip_on_moto(endpoint, "moto does not verify checksums")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="p", ChecksumAlgorithm="CRC32")["UploadId"]
    with s3_error("BadDigest", 400):
        s3.upload_part(
            Bucket=bucket,
            Key="p",
            UploadId=uid,
            PartNumber=1,
            Body=b"part body",
            ChecksumCRC32=checksum_b64("CRC32", b"not the part"),
        )
    assert s3.list_parts(Bucket=bucket, Key="p", UploadId=uid).get("Parts", []) == []


def _multipart_with_checksums(s3, bucket, key, alg, bodies, checksum_type=None, full=None):
    extra = {"ChecksumType": checksum_type} if checksum_type else {}
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=alg, **extra)
    uid = up["UploadId"]
    parts = []
    for n, body in enumerate(bodies, 1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=body, ChecksumAlgorithm=alg)
        assert r[_field(alg)] == checksum_b64(alg, body)
        parts.append({"PartNumber": n, "ETag": r["ETag"], _field(alg): r[_field(alg)]})
    kw = dict(extra)
    if full is not None:
        kw[_field(alg)] = full
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": parts}, **kw)


@pytest.mark.parametrize("alg", ["CRC32", "SHA256"])
def test_multipart_composite_checksum(s3, endpoint, bucket, alg):
    bodies = [data(5 * MiB, seed=5), data(777, seed=6)]
    want = composite_checksum(alg, bodies)
    done = _multipart_with_checksums(s3, bucket, "comp", alg, bodies)
    skip_on_moto(endpoint, "moto keeps no multipart object checksums")
    assert done[_field(alg)] == want
    assert done["ChecksumType"] == "COMPOSITE"
    head = s3.head_object(Bucket=bucket, Key="comp", ChecksumMode="ENABLED")
    assert head[_field(alg)] == want
    assert head["ChecksumType"] == "COMPOSITE"
    got = s3.get_object(Bucket=bucket, Key="comp", ChecksumMode="ENABLED")
    assert got[_field(alg)] == want
    assert got["Body"].read() == b"".join(bodies)
    attrs = s3.get_object_attributes(Bucket=bucket, Key="comp", ObjectAttributes=["Checksum", "ObjectParts"])
    # GetObjectAttributes gives the composite value without its "-N" suffix.
    assert attrs["Checksum"][_field(alg)] == want.rsplit("-", 1)[0]
    assert attrs["Checksum"]["ChecksumType"] == "COMPOSITE"
    assert [p[_field(alg)] for p in attrs["ObjectParts"]["Parts"]] == [checksum_b64(alg, b) for b in bodies]


def test_multipart_full_object_crc64nvme(s3, endpoint, bucket):
    bodies = [data(5 * MiB, seed=7), data(4321, seed=8)]
    whole = b"".join(bodies)
    want = checksum_b64("CRC64NVME", whole)
    done = _multipart_with_checksums(s3, bucket, "full", "CRC64NVME", bodies, "FULL_OBJECT", full=want)
    skip_on_moto(endpoint, "moto keeps no multipart object checksums")
    assert done["ChecksumCRC64NVME"] == want  # a full-object CRC carries no "-N"
    assert done["ChecksumType"] == "FULL_OBJECT"
    for resp in (
        s3.head_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED"),
        s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED"),
    ):
        assert resp["ChecksumCRC64NVME"] == want
        assert resp["ChecksumType"] == "FULL_OBJECT"
    attrs = s3.get_object_attributes(Bucket=bucket, Key="full", ObjectAttributes=["Checksum"])
    assert attrs["Checksum"]["ChecksumCRC64NVME"] == want
    assert attrs["Checksum"]["ChecksumType"] == "FULL_OBJECT"


def test_multipart_full_object_checksum_mismatch(s3, endpoint, bucket):
    bodies = [data(5 * MiB, seed=9), b"tail"]
    wrong = checksum_b64("CRC64NVME", b"not the object")
    skip_on_moto(endpoint, "moto does not verify checksums")
    with s3_error("BadDigest", 400):
        _multipart_with_checksums(s3, bucket, "fx", "CRC64NVME", bodies, "FULL_OBJECT", full=wrong)
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="fx")
