"""Bucket policy documents: S3's validation messages and the Deny > Allow > implicit-deny evaluation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.protocol.errors import S3Error
from coffer.server.service.access.bucket_policy import (
    Decision,
    Request,
    build_context,
    combine,
    evaluate,
    is_public,
    parse_policy,
    principal_ids,
    resource_arn,
)

B = "photos"
ALICE = principal_ids("alice-id", "alice")
BOB = principal_ids("bob-id", "bob")
ANON: frozenset[str] = frozenset()


def doc(*statements: dict[str, Any], version: str = "2012-10-17") -> str:
    return json.dumps({"Version": version, "Statement": list(statements)})


def stmt(**kw: Any) -> dict[str, Any]:
    base = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{B}/*"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def req(who: frozenset[str], action: str, key: str | None = "a.jpg", **ctx: Any) -> Request:
    return Request(
        who, action, resource_arn(B, key), build_context(*((k.replace("_", ":", 1), v) for k, v in ctx.items()))
    )


# -- validation ----------------------------------------------------------------------------------------
MALFORMED = [
    ("[]", "Policies must be valid JSON and the first byte must be '{'"),
    ("{nope", "This policy contains invalid Json"),
    ('{"Version": "2012-10-17"}', "Missing required field Statement"),
    ('{"Version": "2012-10-17", "Statement": [], "Foo": 1}', "Unknown field Foo"),
    (doc(stmt(), version="2012-10-18"), "Document is invalid: Invalid Version 2012-10-18"),
    (doc(stmt(Effect=None)), "Missing required field Effect"),
    (doc(stmt(Effect="Alow")), "Invalid effect: Alow"),
    (doc(stmt(Principal=None)), "Missing required field Principal"),
    (doc(stmt(Action=None)), "Missing required field Action"),
    (doc(stmt(Resource=None)), "Missing required field Resource"),
    (doc(stmt(Bogus=1)), "Unknown field Bogus"),
    (doc(stmt(Principal={"AWS": []})), "Invalid principal in policy"),
    (doc(stmt(Principal={"Group": "x"})), "Invalid principal in policy"),
    (doc(stmt(Principal={"AWS": "arn:aws:iam::*:root"})), "Invalid principal in policy"),
    (doc(stmt(Action="s3:GetObjekt")), "Policy has invalid action"),
    (doc(stmt(Action="ec2:RunInstances")), "Policy has invalid action"),
    (doc(stmt(Action="s3:Frob*")), "Policy has invalid action"),
    (doc(stmt(Resource="arn:aws:s3:::other/*")), "Policy has invalid resource"),
    (doc(stmt(Resource="photos/*")), "Policy has invalid resource"),
    (doc(stmt(Resource=f"arn:aws:s3:::{B}")), "Action does not apply to any resource(s) in statement"),
    (doc(stmt(Action="s3:ListBucket")), "Action does not apply to any resource(s) in statement"),
    (doc(stmt(Condition={"StringEqualz": {"s3:prefix": "a"}})), "Invalid Condition type : StringEqualz"),
    (doc(stmt(Condition={"StringEquals": {"s3:colour": "a"}})), "Policy has an invalid condition key"),
    (doc(stmt(Condition={"IpAddress": {"aws:SourceIp": "300.0.0.0/8"}})), "Invalid IP address or CIDR 300.0.0.0/8"),
    (doc(stmt(Sid="x"), stmt(Sid="x")), "Statement IDs (SID) in a single policy must be unique."),
    (doc(), "Could not parse the policy: Statement is empty!"),
    ("{" + " " * 20480 + "}", "Policies must be no larger than 20 KB"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_policies(text: str, message: str) -> None:
    with pytest.raises(S3Error) as info:
        parse_policy(text, B)
    assert info.value.code == "MalformedPolicy"
    assert info.value.status == 400
    assert info.value.message == message


def test_valid_shapes_parse() -> None:
    single = json.dumps({"Version": "2012-10-17", "Id": "p1", "Statement": stmt(Sid="one")})
    p = parse_policy(single.encode(), B)
    assert p.id == "p1" and len(p.statements) == 1 and p.statements[0].sid == "one"
    p = parse_policy(
        doc(
            stmt(Action=["s3:GetObject", "s3:ListBucket"], Resource=[f"arn:aws:s3:::{B}", f"arn:aws:s3:::{B}/*"]),
            stmt(Principal={"AWS": ["alice-id", "arn:aws:iam::bob-id:root"], "CanonicalUser": "c1"}),
            stmt(NotAction="s3:DeleteObject", Action=None, Effect="Deny"),
            stmt(Action="s3:*", Resource=f"arn:aws:s3:::{B}*"),
            stmt(Condition={"Bool": {"aws:SecureTransport": False}, "NumericLessThan": {"s3:max-keys": 10}}),
        ),
        B,
    )
    assert p.statements[2].not_actions == ("s3:DeleteObject",) and p.statements[2].actions is None
    assert p.statements[4].conditions[0].values == ("false",)
    assert p.statements[4].conditions[1].values == ("10",)


# -- evaluation ----------------------------------------------------------------------------------------
PUBLIC_READ = doc(stmt())
DENY_UNLESS_TLS = doc(
    stmt(Principal={"AWS": "alice-id"}, Action="s3:*", Resource=[f"arn:aws:s3:::{B}", f"arn:aws:s3:::{B}/*"]),
    stmt(
        Effect="Deny",
        Action="s3:*",
        Resource=f"arn:aws:s3:::{B}/*",
        Condition={"Bool": {"aws:SecureTransport": "false"}},
    ),
)
HOME_DIRS = doc(
    stmt(
        Principal={"AWS": ["alice-id", "bob-id"]},
        Action="s3:ListBucket",
        Resource=f"arn:aws:s3:::{B}",
        Condition={"StringLike": {"s3:prefix": ["home/${aws:username}/*", ""]}},
    ),
    stmt(
        Principal={"AWS": ["alice-id", "bob-id"]},
        Action=["s3:GetObject", "s3:PutObject"],
        Resource=f"arn:aws:s3:::{B}/home/${{aws:username}}/*",
    ),
)
NOT_PRINCIPAL = doc(stmt(Effect="Deny", Principal=None, NotPrincipal={"AWS": "alice-id"}, Action="s3:*"))
NOT_RESOURCE = doc(stmt(Effect="Deny", Action="s3:GetObject", Resource=None, NotResource=f"arn:aws:s3:::{B}/pub/*"))
IP_ONLY = doc(stmt(Condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}))
ACL_GUARD = doc(
    stmt(
        Effect="Deny",
        Action="s3:PutObject",
        Condition={"StringNotEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
    )
)
TAGGED = doc(stmt(Condition={"StringEquals": {"s3:ExistingObjectTag/class": "public"}}))
V2008 = doc(stmt(Resource=f"arn:aws:s3:::{B}/${{aws:username}}"), version="2008-10-17")

EVAL = [
    (PUBLIC_READ, req(ANON, "s3:GetObject"), Decision.ALLOW),
    (PUBLIC_READ, req(ANON, "s3:getobject"), Decision.ALLOW),  # action names are case-insensitive
    (PUBLIC_READ, req(ANON, "s3:PutObject"), Decision.NONE),
    (PUBLIC_READ, req(ANON, "s3:ListBucket", None), Decision.NONE),
    (DENY_UNLESS_TLS, req(ALICE, "s3:GetObject", aws_SecureTransport="true"), Decision.ALLOW),
    (DENY_UNLESS_TLS, req(ALICE, "s3:GetObject", aws_SecureTransport="false"), Decision.DENY),
    (DENY_UNLESS_TLS, req(ALICE, "s3:ListBucket", None, aws_SecureTransport="false"), Decision.ALLOW),
    (DENY_UNLESS_TLS, req(BOB, "s3:GetObject", aws_SecureTransport="true"), Decision.NONE),
    (DENY_UNLESS_TLS, req(BOB, "s3:GetObject", aws_SecureTransport="false"), Decision.DENY),
    (HOME_DIRS, req(ALICE, "s3:ListBucket", None, s3_prefix="home/alice/", aws_username="alice"), Decision.ALLOW),
    (HOME_DIRS, req(ALICE, "s3:ListBucket", None, s3_prefix="home/bob/", aws_username="alice"), Decision.NONE),
    (HOME_DIRS, req(ALICE, "s3:ListBucket", None, s3_prefix="", aws_username="alice"), Decision.ALLOW),
    (HOME_DIRS, req(BOB, "s3:PutObject", "home/bob/x", aws_username="bob"), Decision.ALLOW),
    (HOME_DIRS, req(BOB, "s3:PutObject", "home/alice/x", aws_username="bob"), Decision.NONE),
    (HOME_DIRS, req(ANON, "s3:GetObject", "home//x"), Decision.NONE),
    (NOT_PRINCIPAL, req(ALICE, "s3:DeleteObject"), Decision.NONE),
    (NOT_PRINCIPAL, req(BOB, "s3:DeleteObject"), Decision.DENY),
    (NOT_PRINCIPAL, req(ANON, "s3:GetObject"), Decision.DENY),
    (NOT_RESOURCE, req(ANON, "s3:GetObject", "pub/a"), Decision.NONE),
    (NOT_RESOURCE, req(ANON, "s3:GetObject", "private/a"), Decision.DENY),
    (IP_ONLY, req(ANON, "s3:GetObject", aws_SourceIp="10.9.9.9"), Decision.ALLOW),
    (IP_ONLY, req(ANON, "s3:GetObject", aws_SourceIp="2001:db8::5"), Decision.ALLOW),
    (IP_ONLY, req(ANON, "s3:GetObject", aws_SourceIp="192.168.1.1"), Decision.NONE),
    (IP_ONLY, req(ANON, "s3:GetObject"), Decision.NONE),
    (ACL_GUARD, req(BOB, "s3:PutObject", **{"s3_x-amz-acl": "bucket-owner-full-control"}), Decision.NONE),
    (ACL_GUARD, req(BOB, "s3:PutObject", **{"s3_x-amz-acl": "public-read"}), Decision.DENY),
    (ACL_GUARD, req(BOB, "s3:PutObject"), Decision.DENY),  # header absent: StringNotEquals is true
    (TAGGED, req(ANON, "s3:GetObject", **{"s3_ExistingObjectTag/class": "public"}), Decision.ALLOW),
    (TAGGED, req(ANON, "s3:GetObject", **{"s3_ExistingObjectTag/class": "secret"}), Decision.NONE),
    (V2008, req(ANON, "s3:GetObject", "${aws:username}", aws_username="x"), Decision.ALLOW),  # no variables
    (V2008, req(ANON, "s3:GetObject", "x", aws_username="x"), Decision.NONE),
]


@pytest.mark.parametrize(("text", "request_", "expected"), EVAL)
def test_evaluation_table(text: str, request_: Request, expected: Decision) -> None:
    assert evaluate(parse_policy(text, B), request_) is expected


def test_no_policy_is_silent() -> None:
    assert evaluate(None, req(ANON, "s3:GetObject")) is Decision.NONE


@pytest.mark.parametrize(
    ("decision", "acl", "owner", "allowed"),
    [
        (Decision.DENY, True, True, False),  # explicit deny beats ACL grants and ownership
        (Decision.ALLOW, False, False, True),
        (Decision.NONE, True, False, True),
        (Decision.NONE, False, True, True),
        (Decision.NONE, False, False, False),  # implicit deny
    ],
)
def test_combine(decision: Decision, acl: bool, owner: bool, allowed: bool) -> None:
    assert combine(decision, acl_allows=acl, is_owner=owner) is allowed


@pytest.mark.parametrize(
    ("text", "public"),
    [
        (PUBLIC_READ, True),
        (IP_ONLY, False),  # pinned to two networks
        (HOME_DIRS, False),  # named principals
        (DENY_UNLESS_TLS, False),  # the Allow names alice; the Deny never makes anything public
        (NOT_PRINCIPAL, False),  # a Deny
        (doc(stmt(Effect="Allow", Principal=None, NotPrincipal={"AWS": "bob-id"})), True),
        (doc(stmt(Condition={"Bool": {"aws:SecureTransport": "true"}})), True),  # TLS does not narrow callers
        (doc(stmt(Condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})), True),
        (doc(stmt(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/7"}})), True),
        (doc(stmt(Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})), True),
        (doc(stmt(Condition={"StringEquals": {"aws:SourceAccount": "111122223333"}})), False),
        (doc(stmt(Condition={"StringLike": {"aws:SourceArn": "arn:*"}})), True),
    ],
)
def test_policy_status(text: str, public: bool) -> None:
    assert is_public(parse_policy(text, B)) is public


def test_no_policy_is_not_public() -> None:
    assert not is_public(None)


def test_keys_with_wildcard_characters_are_literal_in_requests() -> None:
    policy = parse_policy(doc(stmt(Resource=f"arn:aws:s3:::{B}/a?c/*")), B)
    assert evaluate(policy, req(ANON, "s3:GetObject", "a*c/x y%20")) is Decision.ALLOW
    assert evaluate(policy, req(ANON, "s3:GetObject", "ac/x")) is Decision.NONE
    assert resource_arn(B) == f"arn:aws:s3:::{B}" and resource_arn(B, "") == f"arn:aws:s3:::{B}/"


def test_principal_ids() -> None:
    assert principal_ids(None) == frozenset()
    assert {"u1", "arn:aws:iam::u1:root", "arn:aws:iam::u1:user/ann"} <= principal_ids("u1", "ann")


# -- untrusted documents -------------------------------------------------------------------------------
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
_field_values = {
    "Effect": st.sampled_from(["Allow", "Deny", "allow", 1]),
    "Principal": st.sampled_from(["*", {"AWS": "*"}, {"AWS": ["alice-id"]}, {"CanonicalUser": "c"}, {}, "x"]),
    "Action": st.sampled_from(["s3:*", "s3:Get*", "s3:GetObject", ["s3:ListBucket"], "s3:Nope", []]),
    "Resource": st.sampled_from([f"arn:aws:s3:::{B}/*", f"arn:aws:s3:::{B}", "*", f"arn:aws:s3:::{B}*", "x"]),
    "Condition": st.sampled_from(
        [
            {"StringLike": {"s3:prefix": ["a*", "${aws:username}/*"]}},
            {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            {"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["a"]}},
            {"NumericLessThanIfExists": {"s3:max-keys": 5}},
            {"Null": {"s3:x-amz-acl": True}},
            {"Bool": {"aws:SecureTransport": "maybe"}},
        ]
    ),
}
_statement = st.fixed_dictionaries({}, optional={k: v for k, v in _field_values.items()})


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        _json, st.fixed_dictionaries({"Version": st.just("2012-10-17"), "Statement": st.lists(_statement, max_size=3)})
    )
)
def test_untrusted_documents_parse_or_fail_cleanly(document: Any) -> None:
    try:
        policy = parse_policy(json.dumps(document), B)
    except S3Error as exc:
        assert exc.code == "MalformedPolicy" and exc.status == 400
        return
    # A policy that parsed always evaluates, for any caller and context.
    for who in (ANON, ALICE):
        for action, key in (("s3:GetObject", "a"), ("s3:ListBucket", None)):
            r = req(who, action, key, s3_prefix="a/b", aws_SourceIp="10.1.1.1", aws_username="alice")
            assert evaluate(policy, r) in Decision


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_are_refused_cleanly(raw: bytes) -> None:
    try:
        parse_policy(raw, B)
    except S3Error as exc:
        assert exc.code == "MalformedPolicy"
