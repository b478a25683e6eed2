"""Multipart behaviours clients rely on when things go wrong: a retried CompleteMultipartUpload of an
upload that already completed answers the object (S3 does; clients retry completions whose answer was
lost), a part uploaded twice at once is the last one stored, and `partNumber` reads beyond the parts
answer 400 InvalidPartNumber.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from helpers import MiB, data, multipart_etag, s3_error


def _parts(s3, bucket, key, bodies) -> tuple[str, list[dict]]:
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n,
                                                      Body=b)["ETag"]}
             for n, b in enumerate(bodies, 1)]
    return uid, parts


def test_retried_complete_answers_the_object(s3, bucket):
    bodies = [data(5 * MiB, 1), b"tail"]
    uid, parts = _parts(s3, bucket, "retry", bodies)
    first = s3.complete_multipart_upload(Bucket=bucket, Key="retry", UploadId=uid, MultipartUpload={"Parts": parts})
    again = s3.complete_multipart_upload(Bucket=bucket, Key="retry", UploadId=uid, MultipartUpload={"Parts": parts})
    assert first["ETag"] == again["ETag"] == multipart_etag(bodies)
    assert again["Key"] == "retry"
    # other parts than the completed ones: the upload is gone
    with s3_error("NoSuchUpload", 404):
        s3.complete_multipart_upload(Bucket=bucket, Key="retry", UploadId=uid,
                                     MultipartUpload={"Parts": parts[:1]})
    # once the object is replaced, the upload no longer names it
    s3.put_object(Bucket=bucket, Key="retry", Body=b"new")
    with s3_error("NoSuchUpload", 404):
        s3.complete_multipart_upload(Bucket=bucket, Key="retry", UploadId=uid, MultipartUpload={"Parts": parts})


def test_retried_complete_with_if_none_match(s3, bucket):
    uid, parts = _parts(s3, bucket, "once", [b"only"])
    kw = {"Bucket": bucket, "Key": "once", "UploadId": uid, "MultipartUpload": {"Parts": parts}, "IfNoneMatch": "*"}
    assert s3.complete_multipart_upload(**kw)["ETag"] == s3.complete_multipart_upload(**kw)["ETag"]


def test_part_uploaded_twice_in_parallel_last_wins(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="race")["UploadId"]
    bodies = [data(MiB, seed) for seed in range(4)]

    def put(body):
        return s3.upload_part(Bucket=bucket, Key="race", UploadId=uid, PartNumber=1, Body=body)["ETag"]

    with ThreadPoolExecutor(4) as pool:
        etags = list(pool.map(put, bodies))
    listed = s3.list_parts(Bucket=bucket, Key="race", UploadId=uid)["Parts"]
    assert len(listed) == 1 and listed[0]["ETag"] in etags
    winner = etags.index(listed[0]["ETag"])
    for i, etag in enumerate(etags):
        if i != winner and etag != listed[0]["ETag"]:
            with s3_error("InvalidPart", 400):
                s3.complete_multipart_upload(Bucket=bucket, Key="race", UploadId=uid,
                                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    s3.complete_multipart_upload(Bucket=bucket, Key="race", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": listed[0]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="race")["Body"].read() == bodies[winner]


def test_part_number_beyond_count_is_invalid(s3, bucket):
    uid, parts = _parts(s3, bucket, "mp", [data(5 * MiB, 2), b"end"])
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)["Body"].read() == b"end"
    with s3_error("InvalidPartNumber", 400):
        s3.get_object(Bucket=bucket, Key="mp", PartNumber=3)
    with s3_error("400", 400):
        s3.head_object(Bucket=bucket, Key="mp", PartNumber=3)
    s3.put_object(Bucket=bucket, Key="plain", Body=b"abc")
    assert s3.get_object(Bucket=bucket, Key="plain", PartNumber=1)["Body"].read() == b"abc"
    with s3_error("InvalidPartNumber", 400):
        s3.get_object(Bucket=bucket, Key="plain", PartNumber=2)
    with s3_error("400", 400):
        s3.head_object(Bucket=bucket, Key="plain", PartNumber=2)
