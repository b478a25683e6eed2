"""S3's conditional writes (2024) on PutObject, CopyObject and CompleteMultipartUpload: If-None-Match
`*` or an ETag, If-Match an ETag (412 on mismatch, 404 NoSuchKey with no object), checked in the
transaction that commits the write, so of racing writers exactly one creates the key.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError
from helpers import quoted_md5, s3_error


def test_put_if_none_match_etag(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["ETag"]
    with s3_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="k", Body=b"v2", IfNoneMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v1"
    other = quoted_md5(b"something else")
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"v2", IfNoneMatch=other)["ETag"] == quoted_md5(b"v2")
    s3.put_object(Bucket=bucket, Key="fresh", Body=b"x", IfNoneMatch=other)  # no object: the write goes on


def test_copy_conditional_writes(s3, bucket):
    src = s3.put_object(Bucket=bucket, Key="src", Body=b"source")["ETag"]
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", IfNoneMatch="*")
    with s3_error("PreconditionFailed", 412):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", IfNoneMatch="*")
    with s3_error("PreconditionFailed", 412):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", IfNoneMatch=src)
    with s3_error("PreconditionFailed", 412):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", IfMatch=quoted_md5(b"stale"))
    with s3_error("NoSuchKey", 404):
        s3.copy_object(Bucket=bucket, Key="absent", CopySource=f"{bucket}/src", IfMatch=src)
    s3.put_object(Bucket=bucket, Key="dst", Body=b"changed")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", IfMatch=quoted_md5(b"changed"))
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"source"


def _complete(s3, bucket, key, body, **kw):
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=body)["ETag"]
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}, **kw)


def test_complete_if_match(s3, bucket):
    with s3_error("NoSuchKey", 404):
        _complete(s3, bucket, "m", b"one", IfMatch=quoted_md5(b"x"))
    first = _complete(s3, bucket, "m", b"one")["ETag"]
    with s3_error("PreconditionFailed", 412):
        _complete(s3, bucket, "m", b"two", IfMatch=quoted_md5(b"x"))
    with s3_error("PreconditionFailed", 412):
        _complete(s3, bucket, "m", b"two", IfNoneMatch=first)
    _complete(s3, bucket, "m", b"three", IfMatch=first)
    assert s3.get_object(Bucket=bucket, Key="m")["Body"].read() == b"three"


def test_racing_creators_one_wins(s3, bucket):
    def put(i):
        try:
            s3.put_object(Bucket=bucket, Key="lock", Body=f"writer {i}".encode(), IfNoneMatch="*")
            return i
        except ClientError as e:
            assert e.response["Error"]["Code"] in ("PreconditionFailed", "ConditionalRequestConflict")
            return None

    with ThreadPoolExecutor(8) as pool:
        winners = [w for w in pool.map(put, range(16)) if w is not None]
    assert len(winners) == 1
    assert s3.get_object(Bucket=bucket, Key="lock")["Body"].read() == f"writer {winners[0]}".encode()
