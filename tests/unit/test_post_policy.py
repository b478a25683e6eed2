"""POST Object policy documents: parsing, conditions, length ranges and signatures (pure functions)."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coffer.protocol import post_policy as pp
from coffer.protocol import sigv4
from coffer.protocol.errors import S3Error


def b64(doc: object) -> str:
    return base64.b64encode(json.dumps(doc).encode()).decode()


def parse(conditions: list, expiration: str = "2030-01-01T00:00:00Z") -> pp.PostPolicy:
    return pp.parse_post_policy(b64({"expiration": expiration, "conditions": conditions}))


def test_parse_all_condition_forms():
    p = parse([{"bucket": "b"}, ["starts-with", "$key", "user/"], ["eq", "$acl", "private"],
               ["content-length-range", 1, 100], {"x-amz-meta-Tag": "v"}])
    assert p.length_range == (1, 100)
    assert [(c.op, c.field, c.value) for c in p.conditions] == [
        ("eq", "bucket", "b"), ("starts-with", "key", "user/"), ("eq", "acl", "private"),
        ("eq", "x-amz-meta-tag", "v")]
    assert p.expiration == 1893456000.0


@pytest.mark.parametrize("doc", [
    "not base64!!", base64.b64encode(b"[1, 2]").decode(), b64({"conditions": []}),
    b64({"expiration": "soon", "conditions": []}), b64({"expiration": "2030-01-01T00:00:00Z"}),
    b64({"expiration": "2030-01-01T00:00:00Z", "conditions": [["between", "$key", "a"]]}),
    b64({"expiration": "2030-01-01T00:00:00Z", "conditions": [["content-length-range", 5, 1]]}),
    b64({"expiration": "2030-01-01T00:00:00Z", "conditions": [{"a": "1", "b": "2"}]}),
    b64({"expiration": "2030-01-01T00:00:00Z", "conditions": [["eq", "key", "no-dollar"]]}),
])
def test_invalid_documents(doc):
    with pytest.raises(S3Error) as ei:
        pp.parse_post_policy(doc)
    assert ei.value.code == "InvalidPolicyDocument" and ei.value.status == 400


def test_conditions_and_extra_fields():
    p = parse([{"bucket": "b"}, ["starts-with", "$key", "in/"], ["starts-with", "$content-type", "image/"]])
    ok = {"bucket": "b", "key": "in/x", "content-type": "image/png", "policy": "...", "x-amz-signature": "s",
          "x-ignore-me": "1"}
    pp.check_fields(p, ok, now=0)
    for bad in ({**ok, "key": "out/x"}, {**ok, "bucket": "c"}, {**ok, "content-type": "text/plain"},
                {k: v for k, v in ok.items() if k != "content-type"}):
        with pytest.raises(S3Error) as ei:
            pp.check_fields(p, bad, now=0)
        assert ei.value.code == "AccessDenied" and "Policy Condition failed" in ei.value.message
    with pytest.raises(S3Error) as ei:
        pp.check_fields(p, {**ok, "acl": "public-read"}, now=0)
    assert "Extra input fields: acl" in ei.value.message
    with pytest.raises(S3Error) as ei:
        pp.check_fields(p, ok, now=2e9)
    assert "Policy expired" in ei.value.message


def test_starts_with_empty_matches_anything_and_content_type_lists():
    p = parse([["starts-with", "$key", ""], ["starts-with", "$content-type", "image/"]])
    pp.check_fields(p, {"key": "anything", "content-type": "image/png, image/jpeg"}, now=0)
    with pytest.raises(S3Error):
        pp.check_fields(p, {"key": "k", "content-type": "image/png, text/html"}, now=0)


def test_length_range():
    p = parse([["content-length-range", 2, 4]])
    pp.check_length(p, 1, final=False)  # still streaming: only the upper bound applies
    pp.check_length(p, 3, final=True)
    with pytest.raises(S3Error) as ei:
        pp.check_length(p, 5, final=False)
    assert ei.value.code == "EntityTooLarge"
    with pytest.raises(S3Error) as ei:
        pp.check_length(p, 1, final=True)
    assert ei.value.code == "EntityTooSmall"
    pp.check_length(None, 10**12, final=True)


def test_signatures_are_the_documented_hmacs():
    # SigV4: hex HMAC-SHA256 of the base64 policy with the signing key; SigV2: base64 HMAC-SHA1 with the secret
    import hashlib
    import hmac

    policy = b64({"expiration": "2030-01-01T00:00:00Z", "conditions": []})
    key = sigv4.signing_key("secret", "20300101", "us-east-1", "s3")
    assert pp.sign_v4(key, policy) == hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()
    want = base64.b64encode(hmac.new(b"secret", policy.encode(), hashlib.sha1).digest()).decode()
    assert pp.sign_v2("secret", policy) == want


@given(st.binary(max_size=200))
def test_parser_never_crashes(raw):
    try:
        pp.parse_post_policy(base64.b64encode(raw).decode())
    except S3Error as e:
        assert e.code == "InvalidPolicyDocument"


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                    max_leaves=12))
def test_any_json_conditions_are_parsed_or_refused(conditions):
    try:
        p = parse(conditions if isinstance(conditions, list) else [conditions])
    except S3Error as e:
        assert e.code == "InvalidPolicyDocument"
        return
    pp.check_length(p, 0, final=False)
