"""Condition operators and wildcard matching: AWS's documented semantics, and a regex model for globs."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.server.service.access.policy_conditions import (
    ConditionError,
    evaluate_condition,
    expand_variables,
    glob_match,
    match_tokens,
    norm_key,
    split_operator,
    validate_values,
)


def _regex_model(pattern: str, text: str, fold: bool = False) -> bool:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, text, re.DOTALL | (re.IGNORECASE if fold else 0)) is not None


_ALPHA = st.sampled_from("ab/*?.")


@settings(max_examples=400, deadline=None)
@given(st.text(_ALPHA, max_size=10), st.text(st.sampled_from("ab/.*?"), max_size=12))
def test_glob_matches_regex_model(pattern: str, text: str) -> None:
    assert glob_match(pattern, text) == _regex_model(pattern, text)


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from("aAbB*?"), max_size=8), st.text(st.sampled_from("aAbB"), max_size=10))
def test_glob_fold_matches_regex_model(pattern: str, text: str) -> None:
    assert glob_match(pattern, text, fold=True) == _regex_model(pattern, text, fold=True)


def test_glob_is_not_exponential() -> None:
    # A pathological pattern for backtracking matchers finishes at once with the two-pointer scan.
    assert not glob_match("*a" * 30 + "b", "a" * 5000)


@pytest.mark.parametrize(
    ("pattern", "ctx", "text", "expected"),
    [
        ("home/${aws:username}/*", {"aws:username": "alice"}, "home/alice/x", True),
        ("home/${aws:username}/*", {"aws:username": "alice"}, "home/bob/x", False),
        ("home/${aws:username}/*", {}, "home//x", False),  # absent variable: the value matches nothing
        ("a${*}b", {}, "a*b", True),  # ${*} is a literal star
        ("a${*}b", {}, "axxb", False),
        ("q${?}", {}, "q?", True),
        ("d${$}", {}, "d$", True),
        ("u/${aws:username, 'anon'}", {}, "u/anon", True),
    ],
)
def test_policy_variables(pattern: str, ctx: dict, text: str, expected: bool) -> None:
    toks = expand_variables(pattern, {norm_key(k): v for k, v in ctx.items()}, wildcards=True)
    assert (toks is not None and match_tokens(toks, text)) is expected


CASES = [
    # operator, key, policy values, context, expected
    ("StringEquals", "s3:prefix", ["home/"], {"s3:prefix": "home/"}, True),
    ("StringEquals", "s3:prefix", ["home/"], {"s3:prefix": "Home/"}, False),
    ("StringEquals", "s3:prefix", ["home/"], {}, False),  # missing key: positive operator false
    ("StringNotEquals", "s3:prefix", ["home/"], {}, True),  # missing key: negated operator true
    ("StringNotEquals", "s3:prefix", ["a", "b"], {"s3:prefix": "b"}, False),
    ("StringNotEquals", "s3:prefix", ["a", "b"], {"s3:prefix": "c"}, True),
    ("StringEqualsIgnoreCase", "s3:prefix", ["HOME/"], {"s3:prefix": "home/"}, True),
    ("StringLike", "s3:prefix", ["home/*", "pub/*"], {"s3:prefix": "pub/x"}, True),
    ("StringNotLike", "s3:prefix", ["home/*"], {"s3:prefix": "pub/x"}, True),
    ("StringEqualsIfExists", "s3:x-amz-acl", ["private"], {}, True),
    ("StringEqualsIfExists", "s3:x-amz-acl", ["private"], {"s3:x-amz-acl": "public-read"}, False),
    ("StringNotLikeIfExists", "s3:prefix", ["x*"], {"s3:prefix": "xy"}, False),
    ("IpAddress", "aws:SourceIp", ["10.0.0.0/8"], {"aws:sourceip": "10.1.2.3"}, True),
    ("IpAddress", "aws:SourceIp", ["10.0.0.0/8"], {"aws:sourceip": "11.1.2.3"}, False),
    ("IpAddress", "aws:SourceIp", ["10.0.0.0/8"], {"aws:sourceip": "::ffff:10.0.0.1"}, True),
    ("IpAddress", "aws:SourceIp", ["2001:db8::/32"], {"aws:sourceip": "2001:db8::1"}, True),
    ("IpAddress", "aws:SourceIp", ["2001:db8::/32"], {"aws:sourceip": "10.0.0.1"}, False),
    ("IpAddress", "aws:SourceIp", ["192.0.2.7"], {"aws:sourceip": "192.0.2.7"}, True),
    ("NotIpAddress", "aws:SourceIp", ["10.0.0.0/8"], {"aws:sourceip": "11.1.2.3"}, True),
    ("NotIpAddress", "aws:SourceIp", ["10.0.0.0/8"], {"aws:sourceip": "10.1.2.3"}, False),
    ("Bool", "aws:SecureTransport", ["false"], {"aws:securetransport": "false"}, True),
    ("Bool", "aws:SecureTransport", ["false"], {"aws:securetransport": "true"}, False),
    ("Bool", "aws:SecureTransport", ["True"], {"aws:securetransport": "true"}, True),
    ("NumericLessThan", "s3:max-keys", ["10"], {"s3:max-keys": "9"}, True),
    ("NumericLessThan", "s3:max-keys", ["10"], {"s3:max-keys": "10"}, False),
    ("NumericLessThanEquals", "s3:max-keys", ["10"], {"s3:max-keys": "10"}, True),
    ("NumericGreaterThan", "s3:max-keys", ["10"], {"s3:max-keys": "11"}, True),
    ("NumericGreaterThanEquals", "s3:max-keys", ["10"], {"s3:max-keys": "9"}, False),
    ("NumericEquals", "s3:max-keys", ["10"], {"s3:max-keys": "10.0"}, True),
    ("NumericNotEquals", "s3:max-keys", ["10"], {"s3:max-keys": "10"}, False),
    ("NumericLessThan", "s3:max-keys", ["10"], {"s3:max-keys": "lots"}, False),
    ("DateLessThan", "aws:CurrentTime", ["2030-01-01T00:00:00Z"], {"aws:currenttime": "2026-01-01T00:00:00Z"}, True),
    ("DateGreaterThan", "aws:CurrentTime", ["2030-01-01"], {"aws:currenttime": "2026-01-01T00:00:00Z"}, False),
    ("DateLessThanEquals", "aws:EpochTime", ["1700000000"], {"aws:epochtime": "1700000000"}, True),
    ("DateEquals", "aws:CurrentTime", ["2026-01-01T00:00:00Z"], {"aws:currenttime": "2026-01-01T01:00:00+01:00"}, True),
    ("Null", "s3:x-amz-acl", ["true"], {}, True),
    ("Null", "s3:x-amz-acl", ["true"], {"s3:x-amz-acl": "private"}, False),
    ("Null", "s3:x-amz-acl", ["false"], {"s3:x-amz-acl": "private"}, True),
    ("StringEquals", "s3:ExistingObjectTag/Env", ["prod"], {"s3:existingobjecttag/Env": "prod"}, True),
    ("StringEquals", "s3:ExistingObjectTag/Env", ["prod"], {"s3:existingobjecttag/env": "prod"}, False),
    ("ForAllValues:StringEquals", "s3:RequestObjectTagKeys", ["a", "b"], {"s3:requestobjecttagkeys": ["a"]}, True),
    ("ForAllValues:StringEquals", "s3:RequestObjectTagKeys", ["a"], {"s3:requestobjecttagkeys": ["a", "c"]}, False),
    ("ForAllValues:StringEquals", "s3:RequestObjectTagKeys", ["a"], {}, True),
    ("ForAnyValue:StringEquals", "s3:RequestObjectTagKeys", ["a"], {"s3:requestobjecttagkeys": ["c", "a"]}, True),
    ("ForAnyValue:StringEquals", "s3:RequestObjectTagKeys", ["a"], {}, False),
    ("StringEquals", "aws:username", ["${aws:userid}"], {"aws:username": "u1", "aws:userid": "u1"}, True),
]


@pytest.mark.parametrize(("op", "key", "values", "ctx", "expected"), CASES)
def test_operator_table(op: str, key: str, values: list[str], ctx: dict, expected: bool) -> None:
    assert evaluate_condition(op, key, values, ctx) is expected


@pytest.mark.parametrize(
    ("op", "values"),
    [
        ("IpAddress", ["10.0.0.0/33"]),
        ("IpAddress", ["nope"]),
        ("NumericLessThan", ["ten"]),
        ("DateLessThan", ["yesterday"]),
        ("Bool", ["maybe"]),
        ("Null", ["1"]),
    ],
)
def test_bad_values_refused(op: str, values: list[str]) -> None:
    with pytest.raises(ConditionError):
        validate_values(split_operator(op)[1], values)


@pytest.mark.parametrize("op", ["StringEqualz", "NullIfExists", "ForSomeValues:StringEquals", "IfExists"])
def test_unknown_operators(op: str) -> None:
    with pytest.raises(ConditionError, match="Invalid Condition type"):
        split_operator(op)


def test_norm_key_keeps_tag_key_case() -> None:
    assert norm_key("S3:ExistingObjectTag/Env") == "s3:existingobjecttag/Env"
    assert norm_key("AWS:SourceIp") == "aws:sourceip"
