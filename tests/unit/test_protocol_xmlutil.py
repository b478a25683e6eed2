"""XML parsing safety and the response builder: well-formed output for any text, attacks refused."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.protocol import xmlutil
from coffer.protocol.xmlutil import S3_NS, XmlError, child_text, children, local_name, pairs, parse, to_xml


def test_builder_shapes() -> None:
    body = {
        "Name": "bkt",
        "Prefix": "",
        "Marker": None,
        "IsTruncated": False,
        "MaxKeys": 1000,
        "Contents": [{"Key": "a", "Size": 1}, {"Key": "b", "Size": 2, "Owner": {"ID": "o"}}],
        "CommonPrefixes": [{"Prefix": "p/"}],
    }
    out = to_xml("ListBucketResult", body)
    assert out.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="' + S3_NS.encode()
    )
    root = parse(out)
    assert local_name(root) == "ListBucketResult"
    assert root.tag == "{" + S3_NS + "}ListBucketResult"
    assert child_text(root, "Name") == "bkt"
    assert child_text(root, "Prefix") == ""
    assert child_text(root, "Marker") is None  # None is skipped
    assert child_text(root, "IsTruncated") == "false"
    assert [child_text(c, "Key") for c in children(root, "Contents")] == ["a", "b"]
    owner = xmlutil.find(children(root, "Contents")[1], "Owner")
    assert owner is not None and child_text(owner, "ID") == "o"


def test_pairs_keep_order_and_attributes_work() -> None:
    body = pairs(("Contents", {"Key": "a"}), ("CommonPrefixes", {"Prefix": "b/"}), ("Contents", {"Key": "c"}))
    root = parse(to_xml("R", body, ns=None))
    assert [local_name(c) for c in root] == ["Contents", "CommonPrefixes", "Contents"]
    grant = {
        "Grantee": {
            "@xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "@xsi:type": 'Canonical"User',
            "ID": "x",
        }
    }
    out = to_xml("AccessControlPolicy", {"AccessControlList": {"Grant": [grant]}})
    el = parse(out)
    g = el.find(f"{{{S3_NS}}}AccessControlList/{{{S3_NS}}}Grant/{{{S3_NS}}}Grantee")
    assert g is not None
    assert g.get("{http://www.w3.org/2001/XMLSchema-instance}type") == 'Canonical"User'


def test_empty_and_none_bodies() -> None:
    assert parse(to_xml("VersioningConfiguration", {})).text is None
    assert parse(to_xml("VersioningConfiguration", None)).text is None


def expected_text(s: str) -> str:
    return "".join(c if not xmlutil.has_invalid_chars(c) else "\ufffd" for c in s)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_gives_well_formed_xml_that_round_trips(s: str) -> None:
    out = to_xml("Error", {"Key": s, "Message": [s, s]})
    root = parse(out)
    assert child_text(root, "Key") == expected_text(s)
    # Carriage returns survive (written as &#13; so parsers do not fold them into LF).
    assert ("\r" in s) == ("\r" in (child_text(root, "Key") or ""))


def test_control_characters_are_flagged() -> None:
    assert xmlutil.has_invalid_chars("a\x01b")
    assert not xmlutil.has_invalid_chars("tab\tnl\ncr\r é 😀")
    assert xmlutil.escape_text("<&>\x00\r") == "&lt;&amp;&gt;\ufffd&#13;"


def test_builder_is_fast_enough_for_listing_pages() -> None:
    entries = [
        {
            "Key": f"photos/2025/{i:06d} & more.jpg",
            "LastModified": "2025-01-01T00:00:00.000Z",
            "ETag": '"d41d8cd98f00b204e9800998ecf8427e"',
            "Size": i,
            "StorageClass": "STANDARD",
        }
        for i in range(1000)
    ]
    start = time.perf_counter()
    out = to_xml("ListBucketResult", {"Name": "b", "Contents": entries})
    elapsed = time.perf_counter() - start
    assert len(children(parse(out), "Contents")) == 1000
    assert elapsed < 0.25, elapsed  # typically a few ms; generous for a shared 2-core box


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"<a>",
        b"<a></b>",
        b"not xml",
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>',
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        b"<lolz>&lol2;</lolz>",
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
        b'<!DOCTYPE a SYSTEM "http://127.0.0.1:1/x.dtd"><a/>',
        b"<a>\x00</a>",
    ],
)
def test_parse_refuses_malformed_and_hostile_documents(body: bytes) -> None:
    with pytest.raises(XmlError):
        parse(body)


def test_parse_size_limit() -> None:
    doc = b"<Delete>" + b"<Object><Key>k</Key></Object>" * 100 + b"</Delete>"
    assert len(children(parse(doc), "Object")) == 100
    with pytest.raises(XmlError):
        parse(doc, max_bytes=len(doc) - 1)


def test_namespace_insensitive_helpers() -> None:
    with_ns = parse(b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet></Delete>')
    without = parse(b"<Delete><Quiet>true</Quiet><!-- c --></Delete>")
    for root in (with_ns, without):
        assert local_name(root) == "Delete"
        assert child_text(root, "Quiet") == "true"
        assert child_text(root, "Object") is None
        assert children(root, "Quiet")[0].text == "true"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(lambda s: ("<a>" + s).encode())))
def test_parse_fuzz_only_raises_xml_error(body: bytes) -> None:
    try:
        root = parse(body)
    except XmlError:
        return
    assert isinstance(root, ET.Element)
