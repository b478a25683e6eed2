"""ACLs: canned ACLs, x-amz-grant-* headers, the XML document both ways, and permission checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.protocol import xmlutil
from coffer.protocol.errors import S3Error
from coffer.server.service.access.acl import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    LOG_DELIVERY,
    PERMISSIONS,
    Acl,
    Grant,
    acl_from_headers,
    acl_from_json,
    acl_from_xml,
    acl_to_json,
    acl_to_xml,
    action_allowed,
    allows,
    canned_acl,
    group,
    is_public,
    parse_grant_value,
    user,
)

OWNER = ("owner-id", "owner")
BUCKET_OWNER = ("bucket-owner-id", "bo")
USERS = {"owner-id": "owner", "bob-id": "bob", "bucket-owner-id": "bo"}
EMAILS = {"bob@example.com": ("bob-id", "bob")}


def by_id(i: str) -> tuple[str, str] | None:
    return (i, USERS[i]) if i in USERS else None


def by_email(e: str) -> tuple[str, str] | None:
    return EMAILS.get(e)


def grants(acl: Acl) -> set[tuple[str, str]]:
    return {(g.grantee.uri or g.grantee.id or "", g.permission) for g in acl.grants}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("private", {("owner-id", "FULL_CONTROL")}),
        ("public-read", {("owner-id", "FULL_CONTROL"), (ALL_USERS, "READ")}),
        ("public-read-write", {("owner-id", "FULL_CONTROL"), (ALL_USERS, "READ"), (ALL_USERS, "WRITE")}),
        ("authenticated-read", {("owner-id", "FULL_CONTROL"), (AUTHENTICATED_USERS, "READ")}),
        ("bucket-owner-read", {("owner-id", "FULL_CONTROL"), ("bucket-owner-id", "READ")}),
        ("bucket-owner-full-control", {("owner-id", "FULL_CONTROL"), ("bucket-owner-id", "FULL_CONTROL")}),
        ("log-delivery-write", {("owner-id", "FULL_CONTROL"), (LOG_DELIVERY, "WRITE"), (LOG_DELIVERY, "READ_ACP")}),
    ],
)
def test_canned_acls(name: str, expected: set[tuple[str, str]]) -> None:
    assert grants(canned_acl(name, OWNER, BUCKET_OWNER)) == expected


def test_bucket_owner_canned_on_bucket_is_private() -> None:
    assert grants(canned_acl("bucket-owner-full-control", OWNER)) == {("owner-id", "FULL_CONTROL")}
    assert grants(canned_acl("bucket-owner-read", OWNER, OWNER)) == {("owner-id", "FULL_CONTROL")}


def test_unknown_canned_acl() -> None:
    with pytest.raises(S3Error) as info:
        canned_acl("public", OWNER)
    assert info.value.code == "InvalidArgument" and info.value.extra["ArgumentName"] == "x-amz-acl"


def test_grant_headers() -> None:
    acl = acl_from_headers(
        {
            "x-amz-grant-read": f'uri="{ALL_USERS}", id="bob-id"',
            "x-amz-grant-full-control": 'emailAddress="bob@example.com"',
            "x-amz-grant-write-acp": "id=owner-id",
        },
        OWNER,
        by_id=by_id,
        by_email=by_email,
    )
    assert acl is not None
    assert grants(acl) == {
        (ALL_USERS, "READ"),
        ("bob-id", "READ"),
        ("bob-id", "FULL_CONTROL"),
        ("owner-id", "WRITE_ACP"),
    }
    assert acl_from_headers({}, OWNER) is None
    assert acl_from_headers({"x-amz-acl": "public-read"}, OWNER) == canned_acl("public-read", OWNER)


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"x-amz-acl": "private", "x-amz-grant-read": 'id="bob-id"'}, "InvalidRequest"),
        ({"x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/Everyone"'}, "InvalidArgument"),
        ({"x-amz-grant-read": 'id="nobody"'}, "InvalidArgument"),
        ({"x-amz-grant-read": 'emailAddress="who@example.com"'}, "UnresolvableGrantByEmailAddress"),
        ({"x-amz-grant-read": 'name="bob"'}, "InvalidArgument"),
        ({"x-amz-grant-read": 'id=""'}, "InvalidArgument"),
        ({"x-amz-grant-read": 'id="bob-id" id="x"'}, "InvalidArgument"),
        ({"x-amz-grant-read": ""}, "InvalidArgument"),
    ],
)
def test_grant_header_errors(headers: dict[str, str], code: str) -> None:
    with pytest.raises(S3Error) as info:
        acl_from_headers(headers, OWNER, by_id=by_id, by_email=by_email)
    assert info.value.code == code and info.value.status == 400


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_grant_value_parser_never_crashes(text: str) -> None:
    try:
        items = parse_grant_value(text)
    except S3Error as exc:
        assert exc.code == "InvalidArgument"
    else:
        assert items and all(k in ("id", "emailaddress", "uri") and v for k, v in items)


def test_xml_roundtrip() -> None:
    acl = Acl(
        "owner-id",
        "owner",
        (
            Grant(user("owner-id", "owner"), "FULL_CONTROL"),
            Grant(group(ALL_USERS), "READ"),
            Grant(user("bob-id"), "WRITE"),
        ),
    )
    body = acl_to_xml(acl)
    root = xmlutil.parse(body)
    assert xmlutil.local_name(root) == "AccessControlPolicy"
    assert b'xsi:type="Group"' in body and b"<URI>" + ALL_USERS.encode() + b"</URI>" in body
    assert acl_from_xml(body, OWNER, by_id=by_id) == Acl(
        "owner-id",
        "owner",
        (
            Grant(user("owner-id", "owner"), "FULL_CONTROL"),
            Grant(group(ALL_USERS), "READ"),
            Grant(user("bob-id", "bob"), "WRITE"),
        ),
    )


def test_xml_email_grantee_is_resolved() -> None:
    body = (
        b'<AccessControlPolicy xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><Owner><ID>owner-id</ID></Owner>'
        b'<AccessControlList><Grant><Grantee xsi:type="AmazonCustomerByEmail"><EmailAddress>bob@example.com'
        b"</EmailAddress></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"
    )
    assert grants(acl_from_xml(body, OWNER, by_email=by_email)) == {("bob-id", "READ")}


_GRANT = (
    b'<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="%s"><%s>%s</%s></Grantee>'
    b"<Permission>%s</Permission></Grant>"
)


def _doc(owner: bytes = b"owner-id", *gs: bytes) -> bytes:
    return (
        b"<AccessControlPolicy><Owner><ID>"
        + owner
        + b"</ID></Owner><AccessControlList>"
        + b"".join(gs)
        + b"</AccessControlList></AccessControlPolicy>"
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<AccessControlPolicy>", "MalformedACLError"),
        (b"<Other/>", "MalformedACLError"),
        (b"<AccessControlPolicy><AccessControlList/></AccessControlPolicy>", "MalformedACLError"),
        (_doc(b"bob-id"), "AccessDenied"),
        (_doc(b"owner-id", _GRANT % (b"CanonicalUser", b"ID", b"bob-id", b"ID", b"READ_ALL")), "MalformedACLError"),
        (_doc(b"owner-id", _GRANT % (b"Martian", b"ID", b"bob-id", b"ID", b"READ")), "MalformedACLError"),
        (
            _doc(b"owner-id", _GRANT % (b"CanonicalUser", b"URI", ALL_USERS.encode(), b"URI", b"READ")),
            "MalformedACLError",
        ),
        (_doc(b"owner-id", _GRANT % (b"CanonicalUser", b"ID", b"ghost", b"ID", b"READ")), "InvalidArgument"),
        (_doc(b"owner-id", _GRANT % (b"Group", b"URI", b"http://x/y", b"URI", b"READ")), "InvalidArgument"),
    ],
)
def test_xml_errors(body: bytes, code: str) -> None:
    with pytest.raises(S3Error) as info:
        acl_from_xml(body, OWNER, by_id=by_id)
    assert info.value.code == code


def test_json_roundtrip() -> None:
    acl = acl_from_headers(
        {"x-amz-grant-read": f'uri="{ALL_USERS}"', "x-amz-grant-write": 'id="bob-id"'}, OWNER, by_id=by_id
    )
    assert acl is not None and acl_from_json(acl_to_json(acl)) == acl


CHECKS = [
    # canned, permission, caller (None = anonymous), allowed
    ("private", "READ", None, False),
    ("private", "READ", "bob-id", False),
    ("private", "READ", "owner-id", True),
    ("private", "WRITE_ACP", "owner-id", True),
    ("public-read", "READ", None, True),
    ("public-read", "WRITE", None, False),
    ("public-read", "READ_ACP", None, False),
    ("public-read-write", "WRITE", None, True),
    ("authenticated-read", "READ", None, False),
    ("authenticated-read", "READ", "bob-id", True),
    ("authenticated-read", "WRITE", "bob-id", False),
    ("log-delivery-write", "WRITE", "bob-id", False),
]


@pytest.mark.parametrize(("name", "permission", "caller", "expected"), CHECKS)
def test_permission_checks(name: str, permission: str, caller: str | None, expected: bool) -> None:
    assert allows(canned_acl(name, OWNER), permission, caller) is expected


def test_owner_keeps_acp_even_without_grants() -> None:
    bare = Acl("owner-id", "owner", ())
    assert allows(bare, "READ_ACP", "owner-id") and allows(bare, "WRITE_ACP", "owner-id")
    assert not allows(bare, "READ", "owner-id")


@pytest.mark.parametrize("permission", PERMISSIONS)
def test_full_control_implies_everything(permission: str) -> None:
    acl = Acl("owner-id", "owner", (Grant(user("bob-id"), "FULL_CONTROL"),))
    assert allows(acl, permission, "bob-id") and not allows(acl, permission, "eve-id")


def test_action_allowed_uses_the_right_acl() -> None:
    bucket = canned_acl("public-read-write", OWNER)
    obj = canned_acl("private", OWNER)
    assert action_allowed("s3:PutObject", bucket, None, None)
    assert action_allowed("s3:ListBucket", bucket, None, None)
    assert not action_allowed("s3:GetObject", bucket, obj, None)
    assert not action_allowed("s3:GetObject", bucket, None, None)
    assert action_allowed("s3:GetObject", obj, canned_acl("public-read", OWNER), None)
    assert not action_allowed("s3:PutBucketPolicy", bucket, None, "bob-id")  # ACLs never grant this


def test_is_public() -> None:
    assert is_public(canned_acl("public-read", OWNER)) and is_public(canned_acl("authenticated-read", OWNER))
    assert not is_public(canned_acl("log-delivery-write", OWNER)) and not is_public(canned_acl("private", OWNER))


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=80),
        st.builds(
            lambda owner, kind, tag, value, perm: _doc(owner, _GRANT % (kind, tag, value, tag, perm)),
            st.sampled_from([b"owner-id", b"", b"bob-id"]),
            st.sampled_from([b"CanonicalUser", b"Group", b"AmazonCustomerByEmail", b""]),
            st.sampled_from([b"ID", b"URI", b"EmailAddress", b"Other"]),
            st.sampled_from([b"bob-id", ALL_USERS.encode(), b"bob@example.com", b"", b"&amp;"]),
            st.sampled_from([p.encode() for p in PERMISSIONS] + [b"ALL"]),
        ),
    )
)
def test_untrusted_acl_bodies_parse_or_fail_cleanly(body: bytes) -> None:
    try:
        acl = acl_from_xml(body, OWNER, by_id=by_id, by_email=by_email)
    except S3Error as exc:
        assert exc.code in ("MalformedACLError", "AccessDenied", "InvalidArgument", "UnresolvableGrantByEmailAddress")
    else:
        assert acl_from_xml(acl_to_xml(acl), OWNER, by_id=by_id) == acl  # what parsed also round-trips
