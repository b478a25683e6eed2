"""Integration tests for S3 object listings: ListObjects (v1) and ListObjectsV2, markers and
continuation tokens, delimiters and CommonPrefixes, URL encoding, UTF-8 byte ordering, pagination
over thousands of keys, and a property test comparing listings against a model.
"""

from __future__ import annotations

import urllib.parse
import uuid

import pytest
from helpers import empty_bucket, is_moto, put_many, s3_error, skip_on_moto
from hypothesis import given, settings
from hypothesis import strategies as st

MANY = 2500


def _utf8_sorted(keys):
    return sorted(keys, key=lambda k: k.encode("utf-8"))


@pytest.fixture(scope="module")
def many_keys(s3):
    """A bucket holding 2,500 keys, filled once for the pagination tests."""
    name = f"t-many-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    keys = [f"p/{i:05d}" for i in range(MANY - 100)] + [f"q/{i:03d}/x" for i in range(100)]
    put_many(s3, name, keys)
    yield name, _utf8_sorted(keys)
    empty_bucket(s3, name)
    s3.delete_bucket(Bucket=name)


def _fill(s3, bucket, keys):
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")


def test_v1_marker_and_max_keys(s3, endpoint, bucket):
    keys = [f"k{i}" for i in range(5)]
    _fill(s3, bucket, keys)
    first = s3.list_objects(Bucket=bucket, MaxKeys=2)
    assert [o["Key"] for o in first["Contents"]] == ["k0", "k1"]
    assert first["IsTruncated"] is True
    assert first["MaxKeys"] == 2
    rest = s3.list_objects(Bucket=bucket, Marker="k1")
    assert [o["Key"] for o in rest["Contents"]] == ["k2", "k3", "k4"]
    assert rest["IsTruncated"] is False
    obj = rest["Contents"][0]
    assert obj["Size"] == 0 and obj["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert obj["Owner"]["ID"]  # v1 always lists owners
    skip_on_moto(endpoint, "moto sends NextMarker without a delimiter and does not echo Marker")
    assert rest["Marker"] == "k1"
    # Without a delimiter S3 leaves NextMarker out: the client continues from the last key.
    assert "NextMarker" not in first


def test_v1_next_marker_with_delimiter(s3, endpoint, bucket):
    _fill(s3, bucket, ["a/1", "a/2", "b", "c/1", "d"])
    skip_on_moto(endpoint, "moto does not count CommonPrefixes against MaxKeys")
    page = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["a/"]
    assert [o["Key"] for o in page["Contents"]] == ["b"]
    assert page["IsTruncated"] is True
    assert page["NextMarker"] == "b"
    nxt = s3.list_objects(Bucket=bucket, Delimiter="/", Marker=page["NextMarker"])
    assert [p["Prefix"] for p in nxt["CommonPrefixes"]] == ["c/"]
    assert [o["Key"] for o in nxt["Contents"]] == ["d"]
    assert nxt["IsTruncated"] is False


def test_encoding_type_url(s3, endpoint, bucket):
    keys = ["a b", "a+b", "ctl\x01char", "ü/x", "dir one/file"]
    _fill(s3, bucket, keys)
    for call in (s3.list_objects, s3.list_objects_v2):
        # An explicit EncodingType makes botocore hand back the raw, still-encoded values.
        resp = call(Bucket=bucket, EncodingType="url", Delimiter="/")
        assert resp["EncodingType"] == "url"
        raw_keys = [o["Key"] for o in resp["Contents"]]
        raw_prefixes = [p["Prefix"] for p in resp["CommonPrefixes"]]
        for value in raw_keys:
            assert value.isascii() and " " not in value and "\x01" not in value, value
        assert {urllib.parse.unquote_plus(v) for v in raw_keys} == {"a b", "a+b", "ctl\x01char"}
        if not is_moto(endpoint):  # moto leaves CommonPrefixes unencoded
            for value in raw_prefixes:
                assert value.isascii() and " " not in value, value
        assert {urllib.parse.unquote_plus(v) for v in raw_prefixes} == {"ü/", "dir one/"}
    # With botocore's default (it asks for url encoding itself and decodes), keys come back exact.
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == _utf8_sorted(keys)


def test_v2_continuation_start_after_and_key_count(s3, endpoint, bucket):
    keys = [f"k{i}" for i in range(5)]
    _fill(s3, bucket, keys)
    first = s3.list_objects_v2(Bucket=bucket, MaxKeys=2)
    assert first["KeyCount"] == 2
    assert first["IsTruncated"] is True
    token = first["NextContinuationToken"]
    second = s3.list_objects_v2(Bucket=bucket, MaxKeys=2, ContinuationToken=token)
    assert [o["Key"] for o in second["Contents"]] == ["k2", "k3"]
    last = s3.list_objects_v2(Bucket=bucket, MaxKeys=2, ContinuationToken=second["NextContinuationToken"])
    assert [o["Key"] for o in last["Contents"]] == ["k4"]
    assert last["IsTruncated"] is False
    assert "NextContinuationToken" not in last

    after = s3.list_objects_v2(Bucket=bucket, StartAfter="k2")
    assert after["StartAfter"] == "k2"
    assert [o["Key"] for o in after["Contents"]] == ["k3", "k4"]
    assert after["KeyCount"] == 2
    # StartAfter need not name an existing key.
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, StartAfter="k10")["Contents"]] == [
        "k2",
        "k3",
        "k4",
    ]
    skip_on_moto(endpoint, "moto does not echo ContinuationToken")
    assert second["ContinuationToken"] == token


def test_v2_fetch_owner(s3, endpoint, bucket):
    _fill(s3, bucket, ["o"])
    plain = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert "Owner" not in plain
    owned = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"][0]
    assert owned["Owner"]["ID"]
    skip_on_moto(endpoint, "moto's object owner id differs from ListBuckets' owner id")
    assert owned["Owner"]["ID"] == s3.list_buckets()["Owner"]["ID"]


def test_v2_max_keys_zero(s3, bucket):
    _fill(s3, bucket, ["a", "b"])
    resp = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert resp["KeyCount"] == 0
    assert "Contents" not in resp
    assert resp["MaxKeys"] == 0


def test_delimiters_and_common_prefixes(s3, bucket):
    keys = ["photos/2024/a.jpg", "photos/2024/b.jpg", "photos/2025/c.jpg", "photos/top.jpg", "readme"]
    _fill(s3, bucket, keys)
    root = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in root["CommonPrefixes"]] == ["photos/"]
    assert [o["Key"] for o in root["Contents"]] == ["readme"]
    assert root["KeyCount"] == 2  # common prefixes count as keys
    sub = s3.list_objects_v2(Bucket=bucket, Delimiter="/", Prefix="photos/")
    assert [p["Prefix"] for p in sub["CommonPrefixes"]] == ["photos/2024/", "photos/2025/"]
    assert [o["Key"] for o in sub["Contents"]] == ["photos/top.jpg"]
    assert sub["Prefix"] == "photos/" and sub["Delimiter"] == "/"


def test_multi_character_delimiter(s3, bucket):
    _fill(s3, bucket, ["x--y--z", "x--w", "x-v", "plain"])
    resp = s3.list_objects_v2(Bucket=bucket, Delimiter="--")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["x--"]
    assert [o["Key"] for o in resp["Contents"]] == ["plain", "x-v"]
    deeper = s3.list_objects_v2(Bucket=bucket, Delimiter="--", Prefix="x--")
    assert [p["Prefix"] for p in deeper["CommonPrefixes"]] == ["x--y--"]
    assert [o["Key"] for o in deeper["Contents"]] == ["x--w"]


def test_order_is_utf8_bytes(s3, bucket):
    # U+FB00 sorts before U+1F600 in UTF-8 but after it in UTF-16: catches the wrong collation.
    keys = ["😀", "中", "é", "b", "a", "Z", "aa", "a/b", "\ufb00"]
    _fill(s3, bucket, keys)
    want = ["Z", "a", "a/b", "aa", "b", "é", "中", "\ufb00", "😀"]
    assert _utf8_sorted(keys) == want
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == want
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == want
    # Paging one key at a time must walk the same order.
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 1})
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == want


def test_paginate_2500_keys_v2(s3, many_keys):
    name, keys = many_keys
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=name))
    assert [p["KeyCount"] for p in pages] == [1000, 1000, 500]
    assert [o["Key"] for p in pages for o in p["Contents"]] == keys


def test_paginate_2500_keys_v1(s3, many_keys):
    name, keys = many_keys
    pages = list(s3.get_paginator("list_objects").paginate(Bucket=name))
    assert [len(p["Contents"]) for p in pages] == [1000, 1000, 500]
    assert [o["Key"] for p in pages for o in p["Contents"]] == keys


def test_paginate_with_delimiter(s3, many_keys):
    name, _ = many_keys
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=name, Prefix="q/", Delimiter="/", PaginationConfig={"PageSize": 30}
    )
    prefixes = [cp["Prefix"] for p in pages for cp in p.get("CommonPrefixes", [])]
    assert prefixes == [f"q/{i:03d}/" for i in range(100)]


def test_list_missing_bucket(s3):
    with s3_error("NoSuchBucket", 404):
        s3.list_objects(Bucket=f"t-missing-{uuid.uuid4().hex[:12]}")


def _model(keys, prefix, delimiter):
    """What S3 must list: keys under prefix, rolled up at the first delimiter after it."""
    contents, prefixes = [], set()
    for k in _utf8_sorted(keys):
        if not k.startswith(prefix):
            continue
        rest = k[len(prefix) :]
        if delimiter and delimiter in rest:
            prefixes.add(prefix + rest[: rest.index(delimiter) + len(delimiter)])
        else:
            contents.append(k)
    return contents, _utf8_sorted(prefixes)


def test_listing_matches_model(s3, endpoint, bucket):
    # moto's v1 listing overruns MaxKeys once CommonPrefixes appear; check v2 only there.
    ops = ["list_objects_v2"] if is_moto(endpoint) else ["list_objects_v2", "list_objects"]
    alphabet = st.sampled_from(["a", "b", "/", "é", "-", "z"])
    keys_st = st.sets(st.text(alphabet, min_size=1, max_size=5), min_size=1, max_size=6)

    @settings(max_examples=20, deadline=None)
    @given(
        keys=keys_st,
        prefix=st.text(alphabet, max_size=2),
        delimiter=st.sampled_from(["", "/", "a", "-/"]),
        page=st.integers(1, 4),
    )
    def check(keys, prefix, delimiter, page):
        empty_bucket(s3, bucket)
        _fill(s3, bucket, keys)
        want = _model(keys, prefix, delimiter)
        kw = {"Bucket": bucket, "Prefix": prefix, "PaginationConfig": {"PageSize": page}}
        if delimiter:
            kw["Delimiter"] = delimiter
        for op in ops:
            pages = list(s3.get_paginator(op).paginate(**kw))
            got_keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
            got_prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
            assert (got_keys, got_prefixes) == want, op

    check()
