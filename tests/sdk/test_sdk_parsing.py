"""Pure SDK logic fed untrusted input: ranges, Content-Range, append handles, error bodies, listings,
local paths built from keys. Property tests check that hostile values fail only in the documented way."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer import CofferError, NoSuchBucket, NoSuchKey, NotFound, PreconditionFailed, ServerError, SlowDown
from coffer.protocol import xmlutil
from coffer.sdk._append import MultipartState, decode_handle
from coffer.sdk._errors import ProtocolError, error_from_response, is_retryable
from coffer.sdk._reader import parse_byte_range, parse_content_range, range_header
from coffer.sdk._transfer._directory import key_for, local_path_for
from coffer.sdk._types import parse_delete_result, parse_list_v2, props_from_headers, unquote_etag


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, (None, None)),
        ("bytes=0-99", (0, 99)),
        ("0-99", (0, 99)),
        ("bytes=100-", (100, None)),
        ("-5", (None, 5)),
        ((3, 7), (3, 7)),
        ((3, None), (3, None)),
    ],
)
def test_byte_range_forms(spec, expected):
    assert parse_byte_range(spec) == expected


@pytest.mark.parametrize("bad", ["", "-", "bytes=5-1", "-0", "abc", "0-1,3-4", (5, 1), (-1, 3), (1, 2, 3)])
def test_byte_range_rejects(bad):
    with pytest.raises(ValueError):
        parse_byte_range(bad)


@given(st.one_of(st.text(max_size=30), st.tuples(st.integers(-5, 50), st.one_of(st.none(), st.integers(-5, 50)))))
def test_byte_range_never_crashes_and_roundtrips(spec):
    try:
        first, last = parse_byte_range(spec)
    except ValueError:
        return
    header = range_header(first, last)
    assert header is None or parse_byte_range(header) == (first, last)
    if first is not None and last is not None:
        assert 0 <= first <= last


@given(st.text(max_size=40))
def test_content_range_is_strict(value):
    parsed = parse_content_range(value)
    if parsed is not None:
        first, last, _total = parsed
        assert first <= last
        assert value.strip().startswith("bytes ")


def test_content_range_values():
    assert parse_content_range("bytes 0-9/100") == (0, 9, 100)
    assert parse_content_range("bytes 5-9/*") == (5, 9, None)
    assert parse_content_range("bytes 9-5/100") is None


def test_multipart_handle_roundtrip():
    state = MultipartState("up-1", [(1, "abc", 5 << 20), (2, "def", 7 << 20)], 12)
    kind, back = decode_handle(state.encode())
    assert kind == "multipart" and back == state
    assert decode_handle("cn1.server-handle") == ("native", "server-handle")


@given(st.text(max_size=200))
def test_append_handle_garbage_is_value_error(handle):
    try:
        kind, _ = decode_handle(handle)
    except ValueError:
        return
    assert kind in ("native", "multipart")


@given(st.binary(max_size=300), st.sampled_from([200, 301, 400, 403, 404, 409, 412, 416, 500, 503]))
def test_error_bodies_always_give_a_coffer_error(body, status):
    err = error_from_response(status, body, {}, not_found=NoSuchKey)
    assert isinstance(err, CofferError)
    assert err.status == status
    assert err.code


def test_error_mapping():
    body = b"<Error><Code>NoSuchBucket</Code><Message>gone</Message><RequestId>r1</RequestId></Error>"
    err = error_from_response(404, body, {})
    assert isinstance(err, NoSuchBucket) and err.request_id == "r1" and err.message == "gone"
    assert isinstance(error_from_response(404, b"", {}, not_found=NoSuchKey), NoSuchKey)
    assert isinstance(error_from_response(412, b"", {}), PreconditionFailed)
    slow = error_from_response(503, b"<Error><Code>SlowDown</Code></Error>", {"x-amz-request-id": "r2"})
    assert isinstance(slow, SlowDown) and isinstance(slow, ServerError) and slow.request_id == "r2"
    assert is_retryable(slow)
    assert not is_retryable(error_from_response(400, b"<Error><Code>InternalError</Code></Error>", {}))
    assert isinstance(error_from_response(404, b"<Error><Code>Weird</Code></Error>", {}), NotFound)


@given(st.binary(max_size=500))
@settings(max_examples=200, deadline=None)
def test_listing_parser_only_raises_typed_errors(body):
    try:
        parse_list_v2("b", body)
    except ProtocolError as e:  # an unreadable page: typed, so the caller can ask again
        assert "not readable XML" in str(e)
    try:
        parse_delete_result(body)
    except xmlutil.XmlError:
        pass


def test_listing_decodes_url_encoding_and_merges_prefixes():
    body = (b"<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
            b"<NextContinuationToken>t2</NextContinuationToken>"
            b"<Contents><Key>a+b%2Fc</Key><Size>3</Size><ETag>&quot;x&quot;</ETag></Contents>"
            b"<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes></ListBucketResult>")
    page = parse_list_v2("b", body)
    assert [e.key for e in page.entries] == ["a b/c", "a/"]
    assert page.entries[0].etag == "x" and page.next_token == "t2"


@given(st.dictionaries(st.sampled_from(["content-length", "etag", "last-modified", "x-amz-meta-a",
                                        "content-range", "x-amz-checksum-crc32", "x-amz-mp-parts-count"]),
                       st.text(max_size=40)))
def test_props_from_any_headers(headers):
    props = props_from_headers(headers)
    assert props.size >= 0
    length = headers.get("content-length", "")
    if "content-range" not in headers and length.isascii() and length.isdigit():
        assert props.size == int(length)


def test_unquote_etag():
    assert unquote_etag('"abc"') == "abc"
    assert unquote_etag('W/"abc"') == "abc"
    assert unquote_etag(None) == ""


@given(st.text(max_size=60))
def test_local_paths_never_escape(rel_key):
    root = Path("/tmp/sdk-root")
    path = local_path_for(root, rel_key)
    if path is not None:
        assert root in path.parents
        assert ".." not in path.relative_to(root).parts


def test_local_path_examples():
    root = Path("/r")
    assert local_path_for(root, "a/b.txt") == Path("/r/a/b.txt")
    assert local_path_for(root, "dir/") is None
    assert local_path_for(root, "../etc/passwd") is None
    assert local_path_for(root, "/abs") == Path("/r/abs")
    assert key_for("p", ("a", "b")) == "p/a/b" and key_for("p/", ("a",)) == "p/a" and key_for("", ("a",)) == "a"
