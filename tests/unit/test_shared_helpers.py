"""The helpers that replaced code written twice: template.batches (server and SDK group operations),
errors.parse_document (every Put*Configuration's MalformedXML rule), respond.apply_range (S3 archpath
and the AIStore API)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coffer.protocol import template as tpl
from coffer.protocol.errors import S3Error, parse_document
from coffer.server.http.common.respond import apply_range


@given(st.lists(st.text(max_size=3), max_size=50), st.integers(1, 7))
def test_batches_keep_order_and_bound_size(names, n):
    out = list(tpl.batches(iter(names), n))
    assert [x for b in out for x in b] == names
    assert all(1 <= len(b) <= n for b in out)
    assert all(len(b) == n for b in out[:-1])


def test_batches_are_lazy():
    def endless():
        i = 0
        while True:
            yield str(i)
            i += 1

    first = next(tpl.batches(endless(), 3))
    assert first == ["0", "1", "2"]


def test_parse_document_checks_root_and_syntax():
    root = parse_document(b'<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet/></Tagging>', "Tagging")
    assert root is not None
    for bad in (b"<Tagging>", b"<Other/>", b""):
        with pytest.raises(S3Error) as e:
            parse_document(bad, "Tagging")
        assert e.value.code == "MalformedXML"


def test_apply_range():
    h: dict[str, str] = {}
    assert apply_range(None, 10, h) == (200, 0, 10) and h == {"Content-Length": "10"}
    h = {}
    assert apply_range("bytes=2-4", 10, h) == (206, 2, 3)
    assert h == {"Content-Range": "bytes 2-4/10", "Content-Length": "3"}
    h = {}
    assert apply_range("bytes=-4", 10, h) == (206, 6, 4)
    h = {}
    assert apply_range("bytes=1-2,4-5", 10, h) == (200, 0, 10) and "Content-Range" not in h  # several: whole
    with pytest.raises(S3Error) as e:
        apply_range("bytes=10-", 10, {})
    assert e.value.code == "InvalidRange"
