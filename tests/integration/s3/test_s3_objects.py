"""Integration tests for S3 object operations: put/get/head/delete, sizes, metadata and standard
headers, storage class, Range reads (including a property test against an RFC 7233 model),
response-* overrides, partNumber reads, GetObjectAttributes, DeleteObjects and key edge cases.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from botocore.exceptions import ParamValidationError
from helpers import (
    MiB,
    checksum_b64,
    data,
    error_headers,
    is_moto,
    md5_hex,
    multipart_etag,
    quoted_md5,
    s3_error,
    skip_on_moto,
    unique,
)
from hypothesis import given, settings
from hypothesis import strategies as st

EXPIRES = dt.datetime(2031, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_put_get_head_delete(s3, bucket):
    body = b"hello coffer"
    put = s3.put_object(Bucket=bucket, Key="a.txt", Body=body)
    assert put["ETag"] == quoted_md5(body)
    got = s3.get_object(Bucket=bucket, Key="a.txt")
    assert got["Body"].read() == body
    assert got["ContentLength"] == len(body)
    assert got["ETag"] == quoted_md5(body)
    # No Content-Type was sent: S3's default is binary/octet-stream.
    assert got["ContentType"] == "binary/octet-stream"
    head = s3.head_object(Bucket=bucket, Key="a.txt")
    assert head["ContentLength"] == len(body)
    assert head["LastModified"] == got["LastModified"]
    assert head["AcceptRanges"] == "bytes"
    assert s3.delete_object(Bucket=bucket, Key="a.txt")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="a.txt")
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="a.txt")


def test_delete_missing_key_is_204(s3, bucket):
    resp = s3.delete_object(Bucket=bucket, Key="never-was")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_overwrite_replaces_body_and_metadata(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"one", Metadata={"a": "1"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"second", Metadata={"b": "2"})
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"second"
    assert got["Metadata"] == {"b": "2"}


def test_empty_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentLength"] == 0
    assert got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'


@pytest.mark.parametrize("size", [1 * MiB, 20 * MiB], ids=["1MiB", "20MiB"])
def test_large_objects_round_trip(s3, bucket, size):
    body = data(size, seed=size)
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    got = s3.get_object(Bucket=bucket, Key="big")
    back = got["Body"].read()
    assert len(back) == size
    assert hashlib.md5(back).hexdigest() == md5_hex(body)
    assert got["ETag"] == quoted_md5(body)


def test_metadata_and_standard_headers_echoed(s3, bucket):
    meta = {"Mixed-Case": "Value With Spaces", "plain": "x=1;y=2"}
    s3.put_object(
        Bucket=bucket,
        Key="m",
        Body=b"payload",
        Metadata=meta,
        ContentType="text/plain; charset=utf-8",
        ContentEncoding="gzip",
        ContentDisposition='attachment; filename="m.txt"',
        ContentLanguage="de-CH",
        CacheControl="max-age=60, private",
        Expires=EXPIRES,
    )
    for resp in (s3.head_object(Bucket=bucket, Key="m"), s3.get_object(Bucket=bucket, Key="m")):
        # S3 lower-cases metadata names and keeps values as sent.
        assert resp["Metadata"] == {"mixed-case": "Value With Spaces", "plain": "x=1;y=2"}
        assert resp["ContentType"] == "text/plain; charset=utf-8"
        assert resp["ContentEncoding"] == "gzip"
        assert resp["ContentDisposition"] == 'attachment; filename="m.txt"'
        assert resp["ContentLanguage"] == "de-CH"
        assert resp["CacheControl"] == "max-age=60, private"
        assert resp["ExpiresString"] == "Thu, 02 Jan 2031 03:04:05 GMT"
    # Content-Encoding is a stored label only: the bytes come back as they were sent.
    assert s3.get_object(Bucket=bucket, Key="m")["Body"].read() == b"payload"


def test_boto3_refuses_non_ascii_metadata(s3, bucket):
    # What a server can receive from boto3: ASCII only, enforced client-side.
    with pytest.raises(ParamValidationError):
        s3.put_object(Bucket=bucket, Key="u", Body=b"x", Metadata={"k": "héllo"})


def test_storage_class_echoed(s3, bucket):
    s3.put_object(Bucket=bucket, Key="std", Body=b"1")
    s3.put_object(Bucket=bucket, Key="ia", Body=b"2", StorageClass="STANDARD_IA")
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="std")
    assert s3.head_object(Bucket=bucket, Key="ia")["StorageClass"] == "STANDARD_IA"
    assert s3.get_object(Bucket=bucket, Key="ia")["StorageClass"] == "STANDARD_IA"
    listed = {o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed == {"ia": "STANDARD_IA", "std": "STANDARD"}
    v1 = {o["Key"]: o["StorageClass"] for o in s3.list_objects(Bucket=bucket)["Contents"]}
    assert v1 == listed


BODY100 = bytes(range(100))


@pytest.mark.parametrize(
    ("spec", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=5-9", 5, 9),
        ("bytes=10-", 10, 99),
        ("bytes=-5", 95, 99),
        ("bytes=90-500", 90, 99),  # past the end: clipped
        ("bytes=0-99", 0, 99),
        ("bytes=-500", 0, 99),  # suffix longer than the object: the whole object, still 206
    ],
)
def test_range_reads(s3, bucket, spec, first, last):
    s3.put_object(Bucket=bucket, Key="r", Body=BODY100)
    got = s3.get_object(Bucket=bucket, Key="r", Range=spec)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes {first}-{last}/100"
    assert got["ContentLength"] == last - first + 1
    assert got["Body"].read() == BODY100[first : last + 1]


@pytest.mark.parametrize("spec", ["bytes=100-", "bytes=100-200", "bytes=1000-1001"])
def test_unsatisfiable_range_is_416(s3, endpoint, bucket, spec):
    s3.put_object(Bucket=bucket, Key="r", Body=BODY100)
    with s3_error("InvalidRange", 416) as ei:
        s3.get_object(Bucket=bucket, Key="r", Range=spec)
    skip_on_moto(endpoint, "moto sends no Content-Range with 416")
    assert error_headers(ei).get("content-range") == "bytes */100"


def test_multiple_ranges_return_whole_object(s3, bucket):
    # S3 does not do multipart/byteranges: it ignores a multi-range header and answers 200.
    s3.put_object(Bucket=bucket, Key="r", Body=BODY100)
    got = s3.get_object(Bucket=bucket, Key="r", Range="bytes=0-1,5-6")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["Body"].read() == BODY100


def _expected_range(spec: tuple[str, int, int], size: int) -> tuple[int, int] | None:
    """RFC 7233 byte-range semantics for one range; None = unsatisfiable."""
    kind, a, b = spec
    if kind == "suffix":
        return (max(0, size - a), size - 1)
    if a >= size:
        return None
    return (a, size - 1) if kind == "open" else (a, min(b, size - 1))


def test_range_property(s3, bucket):
    size = 37
    body = data(size, seed=7)
    s3.put_object(Bucket=bucket, Key="p", Body=body)
    specs = st.one_of(
        st.tuples(st.just("closed"), st.integers(0, 60), st.integers(0, 60)).filter(lambda t: t[1] <= t[2]),
        st.tuples(st.just("open"), st.integers(0, 60), st.just(0)),
        st.tuples(st.just("suffix"), st.integers(1, 60), st.just(0)),
    )

    @settings(max_examples=40, deadline=None)
    @given(spec=specs)
    def check(spec):
        kind, a, b = spec
        header = {"closed": f"bytes={a}-{b}", "open": f"bytes={a}-", "suffix": f"bytes=-{a}"}[kind]
        want = _expected_range(spec, size)
        if want is None:
            with s3_error("InvalidRange", 416):
                s3.get_object(Bucket=bucket, Key="p", Range=header)
            return
        got = s3.get_object(Bucket=bucket, Key="p", Range=header)
        assert got["ContentRange"] == f"bytes {want[0]}-{want[1]}/{size}", header
        assert got["Body"].read() == body[want[0] : want[1] + 1], header

    check()


def test_response_header_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o", Body=b"data", ContentType="text/plain")
    got = s3.get_object(
        Bucket=bucket,
        Key="o",
        ResponseContentType="application/x-override",
        ResponseContentLanguage="fr",
        ResponseExpires=EXPIRES,
        ResponseCacheControl="no-store",
        ResponseContentDisposition='inline; filename="o.bin"',
        ResponseContentEncoding="identity",
    )
    assert got["ContentType"] == "application/x-override"
    assert got["ContentLanguage"] == "fr"
    assert got["ExpiresString"] == "Thu, 02 Jan 2031 03:04:05 GMT"
    assert got["CacheControl"] == "no-store"
    assert got["ContentDisposition"] == 'inline; filename="o.bin"'
    assert got["ContentEncoding"] == "identity"
    assert got["Body"].read() == b"data"
    # Overrides change only that response: the stored object keeps its own Content-Type.
    assert s3.head_object(Bucket=bucket, Key="o")["ContentType"] == "text/plain"


def _two_part_object(s3, bucket: str, key: str) -> list[bytes]:
    parts = [data(5 * MiB, seed=1), data(1000, seed=2)]
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32")
    done = []
    for n, p in enumerate(parts, 1):
        r = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=n, Body=p, ChecksumAlgorithm="CRC32"
        )
        done.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up["UploadId"], MultipartUpload={"Parts": done})
    return parts


def test_get_by_part_number(s3, endpoint, bucket):
    parts = _two_part_object(s3, bucket, "mp")
    total = sum(map(len, parts))
    first = s3.get_object(Bucket=bucket, Key="mp", PartNumber=1)
    skip_on_moto(endpoint, "moto ignores partNumber and answers 200 with the whole object")
    assert first["PartsCount"] == 2
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert first["Body"].read() == parts[0]
    assert first["ContentRange"] == f"bytes 0-{len(parts[0]) - 1}/{total}"
    second = s3.head_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert second["PartsCount"] == 2
    assert second["ContentLength"] == len(parts[1])
    assert second["ContentRange"] == f"bytes {len(parts[0])}-{total - 1}/{total}"
    assert second["ETag"] == multipart_etag(parts)


def test_get_object_attributes(s3, endpoint, bucket):
    body = b"attributes"
    s3.put_object(Bucket=bucket, Key="single", Body=body, ChecksumAlgorithm="CRC32")
    attrs = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
    one = s3.get_object_attributes(Bucket=bucket, Key="single", ObjectAttributes=attrs)
    assert one["ETag"] == md5_hex(body)  # unquoted here, unlike every other ETag in S3
    assert one["ObjectSize"] == len(body)
    assert one["StorageClass"] == "STANDARD"
    assert one["Checksum"]["ChecksumCRC32"] == checksum_b64("CRC32", body)
    assert "ObjectParts" not in one

    skip_on_moto(endpoint, "moto leaves out ObjectParts")
    parts = _two_part_object(s3, bucket, "multi")
    page1 = s3.get_object_attributes(Bucket=bucket, Key="multi", ObjectAttributes=attrs, MaxParts=1)
    assert page1["ETag"] == multipart_etag(parts).strip('"')
    assert page1["ObjectSize"] == sum(map(len, parts))
    op = page1["ObjectParts"]
    assert op["TotalPartsCount"] == 2
    assert op["IsTruncated"] is True
    assert op["NextPartNumberMarker"] == 1
    assert [(p["PartNumber"], p["Size"]) for p in op["Parts"]] == [(1, len(parts[0]))]
    assert op["Parts"][0]["ChecksumCRC32"] == checksum_b64("CRC32", parts[0])
    page2 = s3.get_object_attributes(Bucket=bucket, Key="multi", ObjectAttributes=attrs, MaxParts=1, PartNumberMarker=1)
    op2 = page2["ObjectParts"]
    assert op2["IsTruncated"] is False
    assert [(p["PartNumber"], p["Size"]) for p in op2["Parts"]] == [(2, len(parts[1]))]
    with s3_error("NoSuchKey", 404):
        s3.get_object_attributes(Bucket=bucket, Key="nope", ObjectAttributes=attrs)


def test_delete_objects(s3, endpoint, bucket):
    present = [f"d/{i}" for i in range(3)]
    for k in present:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    keys = present + [f"missing/{i:04d}" for i in range(997)]
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    # Keys that did not exist are reported deleted too: DeleteObjects is idempotent.
    assert sorted(d["Key"] for d in resp["Deleted"]) == sorted(keys)
    assert not resp.get("Errors")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0

    s3.put_object(Bucket=bucket, Key="q", Body=b"x")
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "q"}], "Quiet": True})
    assert not quiet.get("Errors")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    skip_on_moto(endpoint, "moto lists successful deletions in quiet mode")
    assert not quiet.get("Deleted")  # quiet mode reports errors only

    with s3_error("MalformedXML", 400):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": f"k{i}"} for i in range(1001)]})


SPECIAL_KEYS = [
    "with space",
    "plus+sign",
    "per%cent",
    "quest?ion",
    "hash#tag",
    "double//slash",
    "trailing/",
    "/leading-slash",
    "emoji-😀",
    "ünïcödé/中文/日本語",
    "a&b<c>d'e\"f",
    "tilde~star*paren()",
]


def test_special_keys_round_trip(s3, bucket):
    for i, key in enumerate(SPECIAL_KEYS):
        s3.put_object(Bucket=bucket, Key=key, Body=str(i).encode())
    for i, key in enumerate(SPECIAL_KEYS):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == str(i).encode(), key
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(str(i)), key
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(SPECIAL_KEYS, key=lambda k: k.encode())


def test_control_character_keys(s3, endpoint, bucket):
    # Legal in S3 keys (listings escape them with encoding-type=url); a router whose patterns do
    # not match newlines would lose these.
    skip_on_moto(endpoint, "moto's HTTP layer 404s keys with control characters")
    keys = ["new\nline", "\n", "tab\there", "cr\rhere", "bell\x07", "del\x7f"]
    for i, key in enumerate(keys):
        s3.put_object(Bucket=bucket, Key=key, Body=bytes([i]))
    for i, key in enumerate(keys):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == bytes([i]), repr(key)
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(keys, key=lambda k: k.encode())


def test_key_length_limit(s3, endpoint, bucket):
    for key in ("k" * 1024, "é" * 512):  # 1024 UTF-8 bytes either way
        s3.put_object(Bucket=bucket, Key=key, Body=b"ok")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"ok"
    skip_on_moto(endpoint, "moto does not limit key length")
    for key in ("k" * 1025, "é" * 512 + "x"):
        with s3_error("KeyTooLongError", 400):
            s3.put_object(Bucket=bucket, Key=key, Body=b"no")


def _key_text(control_chars: bool) -> st.SearchStrategy[str]:
    """Keys from untrusted clients: any Unicode scalar except NUL; "." and ".." path segments are
    left out because HTTP clients normalise them away before the request is sent."""
    excluded = ("Cs",) if control_chars else ("Cs", "Cc")
    chars = st.characters(blacklist_categories=excluded, blacklist_characters="\x00")
    return st.text(chars, min_size=1, max_size=60).filter(
        lambda k: len(k.encode()) <= 1024 and not {".", ".."} & set(k.split("/"))
    )


def test_arbitrary_keys_round_trip(s3, endpoint, bucket):
    # moto's HTTP layer 404s keys with control characters; S3 (and Coffer) must take them.
    @settings(max_examples=30, deadline=None)
    @given(key=_key_text(control_chars=not is_moto(endpoint)))
    def check(key):
        body = key.encode()
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=key)
        assert key in [o["Key"] for o in listed.get("Contents", [])]
        s3.delete_object(Bucket=bucket, Key=key)

    check()


def test_unique_keys_do_not_collide(s3, bucket):
    # Keys differing only in case or Unicode normalisation are distinct objects.
    keys = ["Case", "case", "caf\u00e9", "cafe\u0301", unique()]
    for i, k in enumerate(keys):
        s3.put_object(Bucket=bucket, Key=k, Body=bytes([i]))
    for i, k in enumerate(keys):
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == bytes([i])
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == len(keys)
