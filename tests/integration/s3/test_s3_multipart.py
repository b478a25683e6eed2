"""Integration tests for S3 multipart uploads: create/upload/complete and the multipart ETag, the
completion errors (EntityTooSmall, InvalidPart, InvalidPartOrder, NoSuchUpload), ListParts and
ListMultipartUploads paging, UploadPartCopy, part overwrite and subset completion, and boto3's
managed transfers (upload_file / download_file) with checksums on and off.
"""

from __future__ import annotations

import hashlib

import pytest
from boto3.s3.transfer import TransferConfig
from helpers import MiB, data, md5_hex, multipart_etag, quoted_md5, s3_error, skip_on_moto


def _create(s3, bucket, key, **kw) -> str:
    return s3.create_multipart_upload(Bucket=bucket, Key=key, **kw)["UploadId"]


def _part(s3, bucket, key, upload_id, n, body) -> dict:
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=body)["ETag"]
    return {"PartNumber": n, "ETag": etag}


def _complete(s3, bucket, key, upload_id, parts, **kw) -> dict:
    return s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, **kw
    )


def test_complete_upload_and_etag(s3, bucket):
    bodies = [data(5 * MiB, seed=1), data(5 * MiB, seed=2), data(1234, seed=3)]
    uid = _create(s3, bucket, "mp", ContentType="application/x-mp", Metadata={"m": "v"})
    parts = [_part(s3, bucket, "mp", uid, n, b) for n, b in enumerate(bodies, 1)]
    assert [p["ETag"] for p in parts] == [quoted_md5(b) for b in bodies]
    # Not visible before completion.
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    done = _complete(s3, bucket, "mp", uid, parts)
    assert done["ETag"] == multipart_etag(bodies)
    assert done["Key"] == "mp" and done["Bucket"] == bucket
    head = s3.head_object(Bucket=bucket, Key="mp")
    assert head["ETag"] == multipart_etag(bodies)
    assert head["ContentLength"] == sum(map(len, bodies))
    assert head["ContentType"] == "application/x-mp"
    assert head["Metadata"] == {"m": "v"}
    got = s3.get_object(Bucket=bucket, Key="mp")["Body"].read()
    assert md5_hex(got) == md5_hex(b"".join(bodies))
    # The upload is gone once completed.
    with s3_error("NoSuchUpload", 404):
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)


def test_entity_too_small(s3, bucket):
    uid = _create(s3, bucket, "small")
    parts = [_part(s3, bucket, "small", uid, n, b"x" * 1024) for n in (1, 2)]
    with s3_error("EntityTooSmall", 400):
        _complete(s3, bucket, "small", uid, parts)
    # A single small part is fine: only non-last parts have a minimum.
    one = _create(s3, bucket, "one")
    done = _complete(s3, bucket, "one", one, [_part(s3, bucket, "one", one, 1, b"tiny")])
    assert done["ETag"] == multipart_etag([b"tiny"])


def test_invalid_part_and_order(s3, endpoint, bucket):
    uid = _create(s3, bucket, "k")
    p1 = _part(s3, bucket, "k", uid, 1, data(5 * MiB))
    p2 = _part(s3, bucket, "k", uid, 2, b"tail")
    with s3_error("InvalidPart", 400):
        _complete(s3, bucket, "k", uid, [p1, {"PartNumber": 2, "ETag": quoted_md5(b"other")}])
    with s3_error("InvalidPart", 400):
        _complete(s3, bucket, "k", uid, [p1, p2, {"PartNumber": 3, "ETag": quoted_md5(b"never")}])
    skip_on_moto(endpoint, "moto checks part sizes before part order (EntityTooSmall)")
    with s3_error("InvalidPartOrder", 400):
        _complete(s3, bucket, "k", uid, [p2, p1])
    # The failed attempts leave the upload usable.
    assert _complete(s3, bucket, "k", uid, [p1, p2])["ETag"] == multipart_etag([data(5 * MiB), b"tail"])


def test_part_number_limits(s3, endpoint, bucket):
    skip_on_moto(endpoint, "moto accepts part numbers outside 1..10000")
    uid = _create(s3, bucket, "k")
    for n in (0, 10001):
        with s3_error("InvalidArgument", 400):
            s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=n, Body=b"x")


def test_no_such_upload(s3, endpoint, bucket):
    uid = _create(s3, bucket, "gone")
    _part(s3, bucket, "gone", uid, 1, b"x")
    assert (
        s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=uid)["ResponseMetadata"]["HTTPStatusCode"] == 204
    )
    with s3_error("NoSuchUpload", 404):
        s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=uid)
    with s3_error("NoSuchUpload", 404):
        s3.list_parts(Bucket=bucket, Key="gone", UploadId=uid)
    skip_on_moto(endpoint, "moto answers 500 to UploadPart/Complete on an aborted upload")
    with s3_error("NoSuchUpload", 404):
        _complete(s3, bucket, "gone", uid, [{"PartNumber": 1, "ETag": quoted_md5(b"x")}])
    with s3_error("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key="gone", UploadId=uid, PartNumber=2, Body=b"y")
    with s3_error("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key="gone", UploadId="not-an-upload-id", PartNumber=1, Body=b"z")


def test_list_parts_paging(s3, bucket):
    uid = _create(s3, bucket, "lp")
    bodies = {n: f"part-{n}".encode() * n for n in range(1, 6)}
    for n, b in bodies.items():
        _part(s3, bucket, "lp", uid, n, b)
    first = s3.list_parts(Bucket=bucket, Key="lp", UploadId=uid, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["IsTruncated"] is True
    assert first["NextPartNumberMarker"] == 2
    assert first["MaxParts"] == 2
    assert first["UploadId"] == uid and first["Key"] == "lp"
    assert [p["ETag"] for p in first["Parts"]] == [quoted_md5(bodies[1]), quoted_md5(bodies[2])]
    assert [p["Size"] for p in first["Parts"]] == [len(bodies[1]), len(bodies[2])]
    rest = s3.list_parts(Bucket=bucket, Key="lp", UploadId=uid, PartNumberMarker=2)
    assert [p["PartNumber"] for p in rest["Parts"]] == [3, 4, 5]
    assert rest["IsTruncated"] is False
    paged = s3.get_paginator("list_parts").paginate(
        Bucket=bucket, Key="lp", UploadId=uid, PaginationConfig={"PageSize": 1}
    )
    assert [p["PartNumber"] for page in paged for p in page["Parts"]] == [1, 2, 3, 4, 5]


def test_list_multipart_uploads(s3, endpoint, bucket):
    made = []
    for key in ("a/1", "a/1", "a/2", "b/1", "c"):
        made.append((key, _create(s3, bucket, key)))
    everything = s3.list_multipart_uploads(Bucket=bucket)
    assert sorted((u["Key"], u["UploadId"]) for u in everything["Uploads"]) == sorted(made)
    keys = [u["Key"] for u in everything["Uploads"]]
    assert keys == sorted(keys)
    assert everything["Uploads"][0]["Initiated"]

    prefixed = s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")
    assert sorted(u["Key"] for u in prefixed["Uploads"]) == ["a/1", "a/1", "a/2"]
    skip_on_moto(endpoint, "moto ignores Delimiter, MaxUploads and the key/upload-id markers")
    rolled = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["a/", "b/"]
    assert [u["Key"] for u in rolled["Uploads"]] == ["c"]
    after_key = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="a/1")
    assert [u["Key"] for u in after_key["Uploads"]] == ["a/2", "b/1", "c"]
    seen, kw = [], {}
    for _ in range(10):
        page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=1, **kw)
        assert len(page["Uploads"]) == 1
        seen += [(u["Key"], u["UploadId"]) for u in page["Uploads"]]
        if not page["IsTruncated"]:
            break
        kw = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(set(seen)) == 5


def test_upload_part_copy_with_range(s3, bucket):
    src = data(6 * MiB, seed=9)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    uid = _create(s3, bucket, "dst")
    cut = 5 * MiB
    parts = []
    for n, rng in ((1, f"bytes=0-{cut - 1}"), (2, f"bytes={cut}-{len(src) - 1}")):
        r = s3.upload_part_copy(
            Bucket=bucket,
            Key="dst",
            UploadId=uid,
            PartNumber=n,
            CopySource={"Bucket": bucket, "Key": "src"},
            CopySourceRange=rng,
        )
        parts.append({"PartNumber": n, "ETag": r["CopyPartResult"]["ETag"]})
    assert [p["ETag"] for p in parts] == [quoted_md5(src[:cut]), quoted_md5(src[cut:])]
    done = _complete(s3, bucket, "dst", uid, parts)
    assert done["ETag"] == multipart_etag([src[:cut], src[cut:]])
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == src


def test_overwrite_part_before_complete(s3, bucket):
    uid = _create(s3, bucket, "ow")
    old = _part(s3, bucket, "ow", uid, 1, b"first version")
    new = _part(s3, bucket, "ow", uid, 1, b"second version")
    listed = s3.list_parts(Bucket=bucket, Key="ow", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in listed] == [(1, new["ETag"])]
    with s3_error("InvalidPart", 400):
        _complete(s3, bucket, "ow", uid, [old])
    _complete(s3, bucket, "ow", uid, [new])
    assert s3.get_object(Bucket=bucket, Key="ow")["Body"].read() == b"second version"


def test_complete_with_subset_of_parts(s3, bucket):
    bodies = {1: data(5 * MiB, seed=4), 2: b"skipped part", 3: b"last part"}
    uid = _create(s3, bucket, "sub")
    parts = {n: _part(s3, bucket, "sub", uid, n, b) for n, b in bodies.items()}
    done = _complete(s3, bucket, "sub", uid, [parts[1], parts[3]])
    assert done["ETag"] == multipart_etag([bodies[1], bodies[3]])
    got = s3.get_object(Bucket=bucket, Key="sub")["Body"].read()
    assert got == bodies[1] + bodies[3]
    assert s3.head_object(Bucket=bucket, Key="sub")["ContentLength"] == len(bodies[1]) + len(bodies[3])
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_complete_with_no_parts_is_malformed(s3, bucket):
    uid = _create(s3, bucket, "none")
    with s3_error("MalformedXML", 400):
        _complete(s3, bucket, "none", uid, [])


@pytest.mark.parametrize("checksums", [True, False], ids=["checksums", "nochecksums"])
def test_managed_upload_and_download(s3, s3_nochecksum, bucket, tmp_path, checksums):
    client = s3 if checksums else s3_nochecksum
    body = data(20 * MiB, seed=20)
    src, dst = tmp_path / "src.bin", tmp_path / "dst.bin"
    src.write_bytes(body)
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)
    client.upload_file(str(src), bucket, "managed", Config=cfg)
    head = client.head_object(Bucket=bucket, Key="managed")
    assert head["ContentLength"] == len(body)
    chunks = [body[i : i + 5 * MiB] for i in range(0, len(body), 5 * MiB)]
    assert head["ETag"] == multipart_etag(chunks)
    client.download_file(bucket, "managed", str(dst), Config=cfg)
    assert hashlib.md5(dst.read_bytes()).hexdigest() == md5_hex(body)
