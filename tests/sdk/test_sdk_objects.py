"""Buckets, objects, readers and writers against live servers (Coffer and SeaweedFS)."""

from __future__ import annotations

import io
import os
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from coffer import (
    BucketNotEmpty,
    NoSuchBucket,
    NoSuchKey,
    ObjectInfo,
    PreconditionFailed,
    Prefix,
)


def test_bucket_lifecycle(any_client):
    import uuid

    b = any_client.bucket(f"sdk-life-{uuid.uuid4().hex[:10]}")
    assert not b.exists()
    b.create()
    assert b.exists()
    b.create(exist_ok=True)
    assert b.name in [x.name for x in any_client.list_buckets()]
    b.object("k").put(b"v")
    if any_client.is_coffer():  # SeaweedFS deletes non-empty buckets, unlike S3
        with pytest.raises(BucketNotEmpty):
            b.delete()
    b.delete(force=True)
    assert not b.exists()
    with pytest.raises(NoSuchBucket):
        b.object("k").read()


def test_put_head_read_delete(bkt):
    obj = bkt.object("dir/a b+c&ü.txt")
    res = obj.put(b"hello world", content_type="text/plain", metadata={"Owner": "Ann"})
    props = obj.head()
    assert (props.size, props.etag, props.content_type) == (11, res.etag, "text/plain")
    assert props.custom == {"owner": "Ann"}
    assert props.last_modified is not None
    assert obj.read() == b"hello world"
    assert obj.read("bytes=0-4") == b"hello" and obj.read("-5") == b"world" and obj.read((6, None)) == b"world"
    obj.delete()
    assert not obj.exists()
    with pytest.raises(NoSuchKey) as info:
        obj.read()
    assert info.value.status == 404 and info.value.code == "NoSuchKey"


def test_listing_is_lazy_and_paginates(bkt):
    keys = [f"p/{i:03d}" for i in range(7)] + ["p/sub/x", "p/sub/y", "q"]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: bkt.object(k).put(k.encode()), keys))
    listed = list(bkt.list_objects(page_size=3))
    assert [e.key for e in listed] == sorted(keys)
    assert all(isinstance(e, ObjectInfo) and e.size == len(e.key) for e in listed)
    top = list(bkt.list_objects(prefix="p/", delimiter="/", page_size=2))
    assert [e.key for e in top] == [f"p/{i:03d}" for i in range(7)] + ["p/sub/"]
    assert isinstance(top[-1], Prefix)
    assert [e.key for e in bkt.list_objects(prefix="p/", start_after="p/005")] == ["p/006", "p/sub/x", "p/sub/y"]
    gen = bkt.list_objects(page_size=1)
    assert next(gen).key == "p/000"  # one page fetched, not the whole bucket


def test_delete_objects_batches(bkt):
    keys = [f"many/{i:05d}" for i in range(1005)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: bkt.object(k).put(b""), keys))
    results = bkt.delete_objects([*keys, "never-existed"])
    assert len(results) == 1006 and all(r.deleted for r in results)
    assert list(bkt.list_objects(prefix="many/")) == []


def test_conditional_writes(bkt):
    obj = bkt.object("cond")
    first = obj.put(b"1")
    with pytest.raises(PreconditionFailed):
        obj.put(b"2", if_match="00000000000000000000000000000000")
    obj.put(b"3", if_match=first.etag)
    assert obj.read() == b"3"


def test_copy_and_custom_props(bkt):
    src = bkt.object("src.txt")
    src.put(b"payload", content_type="text/x-a", metadata={"a": "1"})
    src.copy_to(bkt, "kept")
    kept = bkt.object("kept").head()
    assert kept.custom == {"a": "1"} and kept.content_type == "text/x-a"
    src.copy_to(bkt.name, "replaced", metadata={"b": "2"})
    replaced = bkt.object("replaced").head()
    assert replaced.custom == {"b": "2"} and replaced.content_type == "text/x-a"
    assert bkt.object("replaced").read() == b"payload"
    w = src.get_writer()
    w.set_custom_props({"c": "3"})
    assert src.head().custom == {"a": "1", "c": "3"}
    w.set_custom_props({"d": "4"}, replace_existing=True)
    props = src.head()
    assert props.custom == {"d": "4"} and props.content_type == "text/x-a"
    assert src.read() == b"payload"


def test_presigned_get_and_put(bkt):
    obj = bkt.object("shared/file.bin")
    put_url = obj.presign("PUT", expires=300)
    req = urllib.request.Request(put_url, data=b"via presigned put", method="PUT")
    with urllib.request.urlopen(req) as r:
        assert r.status == 200
    with urllib.request.urlopen(obj.presign(expires=60)) as r:
        assert r.read() == b"via presigned put"


def test_reader_forms(bkt):
    data = os.urandom(3 * 1024 * 1024 + 17)
    obj = bkt.object("r.bin")
    obj.put(data)
    reader = obj.get_reader()
    assert reader.read_all() == data
    chunks = list(reader.iter_content(1 << 20))
    assert b"".join(chunks) == data and len(chunks) == 4
    with obj.get_reader().as_file() as f:
        f.seek(1000)
        assert f.read(10) == data[1000:1010]
        f.seek(-5, io.SEEK_END)
        assert f.read() == data[-5:]
        f.seek(0)
        assert f.read() == data
    with obj.get_reader((100, 199)).as_file() as f:
        assert f.read() == data[100:200]
        f.seek(50)
        assert f.read(5) == data[150:155]


def test_writer_bodies(bkt, tmp_path):
    obj = bkt.object("w.bin")
    w = obj.get_writer()
    w.put_content("text body")
    assert obj.read() == b"text body"
    w.put_content(io.BytesIO(b"file body"))
    assert obj.read() == b"file body"
    big = os.urandom(11 * 1024 * 1024)
    # An iterator of unknown size becomes a multipart upload, two 8 MiB-ish parts at most in memory.
    res = w.put_content(big[i:i + 65536] for i in range(0, len(big), 65536))
    assert obj.read() == big and res.etag.endswith("-2")
    path = tmp_path / "local.json"
    path.write_bytes(b'{"a": 1}')
    w.put_file(path)
    props = obj.head()
    assert obj.read() == b'{"a": 1}' and props.content_type == "application/json"


def test_writer_as_file_and_abort(bkt):
    obj = bkt.object("stream.bin")
    data = os.urandom(12 * 1024 * 1024)
    with obj.get_writer().as_file("w", part_size=5 * 1024 * 1024) as f:
        for i in range(0, len(data), 300_000):
            f.write(data[i:i + 300_000])
    assert f.result is not None and f.result.etag.endswith("-3")
    assert obj.read() == data
    with pytest.raises(RuntimeError), obj.get_writer().as_file("w", part_size=5 * 1024 * 1024) as f:
        f.write(os.urandom(6 * 1024 * 1024))
        raise RuntimeError("boom")
    assert obj.read() == data  # untouched
    assert list(bkt.list_uploads()) == []  # and the half-written upload is gone


def test_appends_small_and_large(bkt):
    obj = bkt.object("log.txt")
    w = obj.get_writer()
    obj.put(b"old")
    h = w.append_content(b"first")
    h = w.append_content(b"second", handle=h)
    assert obj.read() == b"old"  # nothing visible before the flush
    assert w.append_content(b"", handle=h, flush=True) == ""
    assert obj.read() == b"firstsecond"
    with w.as_file("a") as f:
        f.write(b"-third")
    assert obj.read() == b"firstsecond-third"
    big = [os.urandom(3 * 1024 * 1024) for _ in range(3)]
    h = w.append_content(big[0], append_to_existing=True)
    for piece in big[1:]:
        h = w.append_content(piece, handle=h)
    w.append_content(b"!", handle=h, flush=True)
    assert obj.read() == b"firstsecond-third" + b"".join(big) + b"!"
    h = w.append_content(b"dropped")
    w.abort_append(h)
    assert obj.head().size == len(b"firstsecond-third") + 9 * 1024 * 1024 + 1


def test_whole_object_puts_carry_a_crc_and_pass_object_lock(coffer_client, s3, tmp_path):
    """S3 refuses writes into a bucket with default retention unless they carry Content-MD5 or an
    x-amz-checksum-*: the SDK's whole-object PUTs (bytes, small files, as_file) attach a CRC32C."""
    name = f"sdk-lock-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    bucket = coffer_client.bucket(name)
    bucket.object("a").get_writer().put_content(b"locked bytes")
    (tmp_path / "f.txt").write_bytes(b"file bytes" * 100)
    bucket.object("b").get_writer().put_file(tmp_path / "f.txt")
    with bucket.object("c").get_writer().as_file("w") as f:
        f.write(b"streamed")
    for key, data in (("a", b"locked bytes"), ("b", b"file bytes" * 100), ("c", b"streamed")):
        assert bucket.object(key).get_reader().read_all() == data
        assert "CRC32C" in bucket.object(key).head().checksums
    head = s3.head_object(Bucket=name, Key="a")
    assert head["ObjectLockMode"] == "GOVERNANCE"
