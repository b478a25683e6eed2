"""SSE-C and SSE-KMS multipart uploads answer keyed part ETags (never the plaintext's MD5, so the
multipart ETag is not the MD5 of plaintext MD5s either), and S3's bucket-key-enabled response header
on every response about an SSE-KMS object written with a bucket key.
"""

from __future__ import annotations

import hashlib
import uuid

import pytest
from helpers import MiB, data, multipart_etag
from sse_support import KEY_A, ssec

BK = "x-amz-server-side-encryption-bucket-key-enabled"


@pytest.fixture
def bkt(c):
    name = f"sse-{uuid.uuid4().hex[:16]}"
    c.create_bucket(Bucket=name)
    return name


def _upload(c, bkt, key, parts, sse):
    customer = {k: v for k, v in sse.items() if k.startswith("SSECustomer")}
    up = c.create_multipart_upload(Bucket=bkt, Key=key, **sse)["UploadId"]
    etags = [c.upload_part(Bucket=bkt, Key=key, UploadId=up, PartNumber=i, Body=p, **customer)["ETag"]
             for i, p in enumerate(parts, 1)]
    listed = [p["ETag"] for p in c.list_parts(Bucket=bkt, Key=key, UploadId=up)["Parts"]]
    done = c.complete_multipart_upload(Bucket=bkt, Key=key, UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": i, "ETag": e} for i, e in enumerate(etags, 1)]}, **customer)
    return etags, listed, done["ETag"]


@pytest.mark.parametrize("mode", ["SSE-C", "aws:kms", "AES256"])
def test_multipart_part_etags(c, bkt, mode):
    sse = ssec(KEY_A) if mode == "SSE-C" else {"ServerSideEncryption": mode}
    parts = [data(5 * MiB, 1), data(1000, 2)]
    etags, listed, whole = _upload(c, bkt, "mp", parts, sse)
    plain = [f'"{hashlib.md5(p).hexdigest()}"' for p in parts]
    assert listed == etags
    if mode == "AES256":  # SSE-S3: S3 answers the plaintext MD5s
        assert etags == plain and whole == multipart_etag(parts)
    else:
        assert not set(etags) & set(plain)
        assert whole != multipart_etag(parts) and whole.endswith('-2"')
    customer = {k: v for k, v in sse.items() if k.startswith("SSECustomer")}
    got = c.get_object(Bucket=bkt, Key="mp", **customer)
    assert got["ETag"] == whole and got["Body"].read() == b"".join(parts)


def test_bucket_key_header(c, bkt):
    h = c.put_object(Bucket=bkt, Key="bk", Body=b"x", ServerSideEncryption="aws:kms",
                     BucketKeyEnabled=True)["ResponseMetadata"]["HTTPHeaders"]
    assert h.get(BK) == "true"
    for resp in (c.head_object(Bucket=bkt, Key="bk"), c.get_object(Bucket=bkt, Key="bk")):
        assert resp["BucketKeyEnabled"] is True
    plain_kms = c.put_object(Bucket=bkt, Key="nk", Body=b"x", ServerSideEncryption="aws:kms")
    assert "BucketKeyEnabled" not in plain_kms
    assert "BucketKeyEnabled" not in c.head_object(Bucket=bkt, Key="nk")
    # the bucket's default rule: SSE-KMS with BucketKeyEnabled applies to writes that do not say
    c.put_bucket_encryption(Bucket=bkt, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]})
    assert c.put_object(Bucket=bkt, Key="d", Body=b"x").get("BucketKeyEnabled") is True
    assert "BucketKeyEnabled" not in c.put_object(Bucket=bkt, Key="off", Body=b"x", BucketKeyEnabled=False)
    up = c.create_multipart_upload(Bucket=bkt, Key="m")
    assert up["BucketKeyEnabled"] is True
    part = c.upload_part(Bucket=bkt, Key="m", UploadId=up["UploadId"], PartNumber=1, Body=b"p")
    assert part["BucketKeyEnabled"] is True
    done = c.complete_multipart_upload(Bucket=bkt, Key="m", UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert done["BucketKeyEnabled"] is True
    cp = c.copy_object(Bucket=bkt, Key="cp", CopySource={"Bucket": bkt, "Key": "bk"})
    assert cp["BucketKeyEnabled"] is True
    assert c.head_object(Bucket=bkt, Key="cp")["BucketKeyEnabled"] is True
