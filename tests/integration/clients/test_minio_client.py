"""Integration tests with a second S3 client, minio-py: it signs every payload with its SHA-256,
splits unknown-length streams into multipart uploads itself, and parses responses with its own XML
code, so it catches wire details boto3 happens to tolerate.
"""

from __future__ import annotations

import datetime as dt
import io
import urllib.parse
import urllib.request
import uuid

import pytest
from helpers import MiB, data, md5_hex, multipart_etag
from minio import Minio
from minio.commonconfig import ComposeSource, CopySource
from minio.deleteobjects import DeleteObject
from minio.error import S3Error


@pytest.fixture
def mc(endpoint) -> Minio:
    u = urllib.parse.urlsplit(endpoint.url)
    return Minio(
        u.netloc,
        access_key=endpoint.access_key,
        secret_key=endpoint.secret_key,
        secure=u.scheme == "https",
        region="us-east-1",
    )


@pytest.fixture
def mbucket(mc, s3):
    name = f"t-minio-{uuid.uuid4().hex[:16]}"
    mc.make_bucket(name)
    yield name
    for o in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=o["Key"])
    for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    s3.delete_bucket(Bucket=name)


def _read(resp) -> bytes:
    try:
        return resp.read()
    finally:
        resp.close()
        resp.release_conn()


def test_make_bucket_and_exists(mc, endpoint, mbucket):
    assert mc.bucket_exists(mbucket)
    assert not mc.bucket_exists(f"t-nope-{uuid.uuid4().hex[:12]}")
    assert mbucket in [b.name for b in mc.list_buckets()]
    mc.make_bucket(mbucket)  # S3's legacy us-east-1 rule: re-creating your own bucket answers 200


def test_put_and_get_object(mc, mbucket):
    body = b"hello from minio-py"
    res = mc.put_object(
        mbucket, "dir/small.txt", io.BytesIO(body), len(body), content_type="text/plain", metadata={"x-k": "v"}
    )
    assert res.etag == md5_hex(body)
    assert _read(mc.get_object(mbucket, "dir/small.txt")) == body
    st = mc.stat_object(mbucket, "dir/small.txt")
    assert st.size == len(body)
    assert st.content_type == "text/plain"
    assert st.metadata.get("x-amz-meta-x-k") == "v"
    # Ranged read through minio's offset/length.
    assert _read(mc.get_object(mbucket, "dir/small.txt", offset=6, length=4)) == body[6:10]


def test_put_unknown_length_becomes_multipart(mc, s3, mbucket):
    body = data(11 * MiB, seed=31)
    # length=-1: minio-py cannot know the size, so it uploads part_size pieces as a multipart upload.
    mc.put_object(mbucket, "stream", io.BytesIO(body), length=-1, part_size=5 * MiB)
    chunks = [body[i : i + 5 * MiB] for i in range(0, len(body), 5 * MiB)]
    st = mc.stat_object(mbucket, "stream")
    assert st.size == len(body)
    assert f'"{st.etag}"' == multipart_etag(chunks)
    assert md5_hex(_read(mc.get_object(mbucket, "stream"))) == md5_hex(body)
    assert s3.head_object(Bucket=mbucket, Key="stream")["ETag"] == multipart_etag(chunks)


def test_list_objects(mc, mbucket):
    keys = ["a/1", "a/2", "b/3", "c", "ü/ñ"]
    for k in keys:
        mc.put_object(mbucket, k, io.BytesIO(b"x"), 1)
    flat = [o.object_name for o in mc.list_objects(mbucket, recursive=True)]
    assert flat == sorted(keys, key=lambda k: k.encode())
    # minio-py yields a page's Contents before its CommonPrefixes, as they appear in the XML.
    top = sorted((o.object_name, o.is_dir) for o in mc.list_objects(mbucket))
    assert top == [("a/", True), ("b/", True), ("c", False), ("ü/", True)]
    under_a = [o.object_name for o in mc.list_objects(mbucket, prefix="a/")]
    assert under_a == ["a/1", "a/2"]
    v1 = [o.object_name for o in mc.list_objects(mbucket, recursive=True, use_api_v1=True)]
    assert v1 == flat


def test_fput_fget_12mib(mc, mbucket, tmp_path):
    body = data(12 * MiB, seed=32)
    src, dst = tmp_path / "up.bin", tmp_path / "down.bin"
    src.write_bytes(body)
    mc.fput_object(mbucket, "file.bin", str(src), part_size=5 * MiB)
    chunks = [body[i : i + 5 * MiB] for i in range(0, len(body), 5 * MiB)]
    assert f'"{mc.stat_object(mbucket, "file.bin").etag}"' == multipart_etag(chunks)
    mc.fget_object(mbucket, "file.bin", str(dst))
    assert md5_hex(dst.read_bytes()) == md5_hex(body)


def test_remove_objects(mc, mbucket):
    keys = [f"rm/{i}" for i in range(25)]
    for k in keys:
        mc.put_object(mbucket, k, io.BytesIO(b"x"), 1)
    mc.put_object(mbucket, "keep", io.BytesIO(b"x"), 1)
    # remove_objects is lazy: its errors only exist once the iterator is consumed.
    errors = list(mc.remove_objects(mbucket, [DeleteObject(k) for k in [*keys, "rm/never-existed"]]))
    assert errors == []
    assert [o.object_name for o in mc.list_objects(mbucket, recursive=True)] == ["keep"]
    mc.remove_object(mbucket, "keep")
    assert list(mc.list_objects(mbucket, recursive=True)) == []


def test_presigned_get_object(mc, mbucket):
    body = b"minio presigned"
    mc.put_object(mbucket, "p q/r", io.BytesIO(body), len(body))
    url = mc.presigned_get_object(mbucket, "p q/r", expires=dt.timedelta(minutes=5))
    with urllib.request.urlopen(url, timeout=30) as r:
        assert (r.status, r.read()) == (200, body)


def test_missing_object_error(mc, mbucket):
    with pytest.raises(S3Error) as ei:
        mc.stat_object(mbucket, "absent")
    assert ei.value.code in ("NoSuchKey", "ResourceNotFound")  # HEAD has no body: minio names it
    with pytest.raises(S3Error) as ei:
        mc.get_object(mbucket, "absent")
    assert ei.value.code == "NoSuchKey"


def test_copy_and_compose(mc, mbucket):
    body = b"copied by minio"
    mc.put_object(mbucket, "src one", io.BytesIO(body), len(body), metadata={"x-a": "1"})
    mc.copy_object(mbucket, "copy", CopySource(mbucket, "src one"))
    assert _read(mc.get_object(mbucket, "copy")) == body
    assert mc.stat_object(mbucket, "copy").metadata.get("x-amz-meta-x-a") == "1"
    # compose_object drives UploadPartCopy (with x-amz-copy-source-range when a source has an
    # offset) and CompleteMultipartUpload.
    big = data(5 * MiB + 100, seed=33)
    mc.put_object(mbucket, "big", io.BytesIO(big), len(big))
    mc.compose_object(
        mbucket,
        "composed",
        [ComposeSource(mbucket, "big", offset=100, length=5 * MiB), ComposeSource(mbucket, "src one")],
    )
    assert md5_hex(_read(mc.get_object(mbucket, "composed"))) == md5_hex(big[100:] + body)
