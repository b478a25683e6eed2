"""Pure pieces of the AIStore API: template expansion and the MessagePack encoder (property tests)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.protocol import template as tpl
from coffer.protocol.msgpack import packb


@pytest.mark.parametrize(("template", "names"), [
    ("shard-{000..003}.tar", ["shard-000.tar", "shard-001.tar", "shard-002.tar", "shard-003.tar"]),
    ("x{0..10..5}", ["x0", "x5", "x10"]),
    ("{5..1..2}", ["5", "3", "1"]),
    ("{a,b}-{1..2}", ["a-1", "a-2", "b-1", "b-2"]),
    ("{a,{b,c}}d", ["ad", "bd", "cd"]),
    ("a{b}c", ["a{b}c"]),
    ("plain", ["plain"]),
    ("p{-2..1}", ["p-2", "p-1", "p0", "p1"]),
    ("n{8..11}", ["n8", "n9", "n10", "n11"]),
])
def test_expand(template, names):
    assert list(tpl.expand(template)) == names
    assert tpl.count(template) == len(names)


@pytest.mark.parametrize("bad", ["", "a{1..2", "a}b", "{1..5..0}"])
def test_bad_templates(bad):
    with pytest.raises(tpl.TemplateError):
        list(tpl.expand(bad))


def test_limit_is_checked_before_expanding():
    with pytest.raises(tpl.TemplateError):
        tpl.expand("{0..999}{0..999}{0..9}", limit=1_000_000)
    assert tpl.count("{0..999}{0..999}") == 1_000_000


_piece = st.one_of(
    st.text(alphabet="abc-_./", min_size=1, max_size=3),
    st.builds(lambda lo, n, pad, step: f"{{{lo:0{pad}d}..{lo + n:0{pad}d}..{step}}}",
              st.integers(0, 30), st.integers(0, 12), st.integers(1, 4), st.integers(1, 3)),
    st.lists(st.text(alphabet="xyz", min_size=1, max_size=2), min_size=2, max_size=3).map(
        lambda xs: "{" + ",".join(xs) + "}"),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_piece, min_size=1, max_size=4).map("".join))
def test_same_names_as_the_aistore_sdk(template):
    braceexpand = pytest.importorskip("braceexpand")  # what the AIStore SDK expands templates with
    assert list(tpl.expand(template)) == list(braceexpand.braceexpand(template))


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text() | st.binary(),
    lambda children: st.lists(children, max_size=20) | st.dictionaries(st.text(), children, max_size=20),
    max_leaves=60,
)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_msgpack_roundtrip(value):
    msgspec = pytest.importorskip("msgspec")  # the AIStore SDK decodes listings with msgspec
    assert msgspec.msgpack.decode(packb(value)) == value


def test_msgpack_sizes():
    msgspec = pytest.importorskip("msgspec")
    for n in (15, 16, 65535, 65536):
        v = {"k": list(range(n)), "s": "x" * n, "m": {str(i): i for i in range(min(n, 70000))}}
        assert msgspec.msgpack.decode(packb(v)) == v
