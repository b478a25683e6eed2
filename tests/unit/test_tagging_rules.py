"""Tag rules (service/objects/tagging.py): the x-amz-tagging header parser and S3's tag limits."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coffer.protocol.errors import S3Error
from coffer.server.service.objects.tagging import BUCKET_TAG_LIMIT, OBJECT_TAG_LIMIT, check_tags, parse_tagging_header

_CHARS = st.sampled_from("abcXYZ019 +-=._:/@éß")
KEYS = st.text(_CHARS, min_size=1, max_size=128)
VALUES = st.text(_CHARS, max_size=256)


@given(st.dictionaries(KEYS, VALUES, max_size=OBJECT_TAG_LIMIT))
def test_header_roundtrip(tags):
    assert parse_tagging_header(urlencode(tags)) == tags


@pytest.mark.parametrize("value, code", [
    ("%ff=1", "InvalidArgument"),  # not UTF-8
    ("a=1&a=2", "InvalidTag"),
    ("=v", "InvalidTag"),
    ("aws%3Ax=1", "InvalidTag"),
    ("k=%E2%82%AC", "InvalidTag"),  # a currency sign is neither letter nor allowed symbol
    ("&".join(f"k{i}=v" for i in range(OBJECT_TAG_LIMIT + 1)), "InvalidTag"),
])
def test_header_refusals(value, code):
    with pytest.raises(S3Error) as ei:
        parse_tagging_header(value)
    assert ei.value.code == code and ei.value.status == 400


def test_bare_key_is_empty_value():
    assert parse_tagging_header("a&b=2") == {"a": "", "b": "2"}


def test_bucket_limit():
    check_tags([(f"k{i}", "v") for i in range(BUCKET_TAG_LIMIT)], BUCKET_TAG_LIMIT)
    with pytest.raises(S3Error):
        check_tags([(f"k{i}", "v") for i in range(BUCKET_TAG_LIMIT + 1)], BUCKET_TAG_LIMIT)
