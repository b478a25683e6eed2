"""Access control lists: canned ACLs, x-amz-grant-* headers, the AccessControlPolicy XML, permission checks.

This module owns the ACL model of buckets and objects (an owner and a list of grants), how S3's inputs
become one (a canned ``x-amz-acl``, ``x-amz-grant-*`` headers, a PutBucketAcl/PutObjectAcl body), how it
is answered (GetBucketAcl/GetObjectAcl XML), how it is stored (compact JSON), and what it allows: which
permission an action needs and whether a caller holds it directly or through the AllUsers and
AuthenticatedUsers groups.  Who the caller is and whether a bucket policy overrides are decided
elsewhere (:mod:`policy` combines the two).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from coffer.protocol import xmlutil
from coffer.protocol.errors import S3Error

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = (ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY)
XSI = "http://www.w3.org/2001/XMLSchema-instance"
PERMISSIONS = ("READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL")
CANNED = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
    "aws-exec-read",
)
GRANT_HEADERS = {
    "x-amz-grant-read": "READ",
    "x-amz-grant-write": "WRITE",
    "x-amz-grant-read-acp": "READ_ACP",
    "x-amz-grant-write-acp": "WRITE_ACP",
    "x-amz-grant-full-control": "FULL_CONTROL",
}
# Which resource's ACL an action consults, and the permission it needs there.
ACTION_PERMISSIONS: dict[str, tuple[str, str]] = {
    "s3:ListBucket": ("bucket", "READ"),
    "s3:ListBucketVersions": ("bucket", "READ"),
    "s3:ListBucketMultipartUploads": ("bucket", "READ"),
    "s3:PutObject": ("bucket", "WRITE"),
    "s3:DeleteObject": ("bucket", "WRITE"),
    "s3:DeleteObjectVersion": ("bucket", "WRITE"),
    "s3:AbortMultipartUpload": ("bucket", "WRITE"),
    "s3:GetBucketAcl": ("bucket", "READ_ACP"),
    "s3:PutBucketAcl": ("bucket", "WRITE_ACP"),
    "s3:GetObject": ("object", "READ"),
    "s3:GetObjectVersion": ("object", "READ"),
    "s3:GetObjectAcl": ("object", "READ_ACP"),
    "s3:GetObjectVersionAcl": ("object", "READ_ACP"),
    "s3:PutObjectAcl": ("object", "WRITE_ACP"),
    "s3:PutObjectVersionAcl": ("object", "WRITE_ACP"),
}


@dataclass(frozen=True)
class Grantee:
    type: str  # CanonicalUser | Group | AmazonCustomerByEmail (resolved to CanonicalUser before storing)
    id: str | None = None
    display_name: str | None = None
    uri: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Grant:
    grantee: Grantee
    permission: str


@dataclass(frozen=True)
class Acl:
    owner_id: str
    owner_name: str = ""
    grants: tuple[Grant, ...] = field(default_factory=tuple)


def user(user_id: str, name: str | None = None) -> Grantee:
    return Grantee("CanonicalUser", id=user_id, display_name=name)


def group(uri: str) -> Grantee:
    return Grantee("Group", uri=uri)


def canned_acl(name: str, owner: tuple[str, str], bucket_owner: tuple[str, str] | None = None) -> Acl:
    """The ACL a canned name stands for; ``owner`` is (id, display name) of the resource's owner.

    bucket-owner-read/-full-control only add a grant on objects (``bucket_owner`` given and different
    from the object's owner); on a bucket they are the same as private, as in S3.
    """
    if name not in CANNED:
        raise S3Error("InvalidArgument", None, ArgumentName="x-amz-acl", ArgumentValue=name)
    grants = [Grant(user(*owner), "FULL_CONTROL")]
    if name == "public-read":
        grants.append(Grant(group(ALL_USERS), "READ"))
    elif name == "public-read-write":
        grants += [Grant(group(ALL_USERS), "READ"), Grant(group(ALL_USERS), "WRITE")]
    elif name == "authenticated-read":
        grants.append(Grant(group(AUTHENTICATED_USERS), "READ"))
    elif name == "log-delivery-write":
        grants += [Grant(group(LOG_DELIVERY), "WRITE"), Grant(group(LOG_DELIVERY), "READ_ACP")]
    elif name in ("bucket-owner-read", "bucket-owner-full-control") and bucket_owner and bucket_owner[0] != owner[0]:
        perm = "READ" if name == "bucket-owner-read" else "FULL_CONTROL"
        grants.append(Grant(user(*bucket_owner), perm))
    return Acl(owner[0], owner[1], tuple(grants))


# -- x-amz-grant-* headers -----------------------------------------------------------------------------
_GRANT_ITEM = re.compile(r'\s*(id|emailAddress|uri)\s*=\s*(?:"([^"]*)"|([^,\s"]+))\s*(?:,|$)', re.IGNORECASE)

Resolver = Callable[[str], "tuple[str, str] | None"]  # id or email -> (canonical id, display name)


def _resolve(kind: str, value: str, by_id: Resolver | None, by_email: Resolver | None) -> Grantee:
    if kind == "uri":
        if value not in GROUPS:
            raise S3Error("InvalidArgument", "Invalid group uri", ArgumentName="uri", ArgumentValue=value)
        return group(value)
    if kind == "emailaddress":
        found = by_email(value) if by_email else None
        if found is None:
            raise S3Error("UnresolvableGrantByEmailAddress", None, ArgumentName="emailAddress")
        return user(*found)
    found = by_id(value) if by_id else (value, "")
    if found is None:
        raise S3Error("InvalidArgument", "Invalid id", ArgumentName="CanonicalUser/ID", ArgumentValue=value)
    return user(*found)


def parse_grant_value(value: str) -> list[tuple[str, str]]:
    """``id="a", uri="http://...", emailAddress="x@y"`` -> [(kind lowercased, value)]; strict."""
    out: list[tuple[str, str]] = []
    pos = 0
    text = value.strip()
    while pos < len(text):
        m = _GRANT_ITEM.match(text, pos)
        if m is None or m.end() == pos:
            raise S3Error("InvalidArgument", None, ArgumentName="x-amz-grant", ArgumentValue=value)
        item = m.group(2) if m.group(2) is not None else m.group(3)
        if not item:
            raise S3Error("InvalidArgument", None, ArgumentName="x-amz-grant", ArgumentValue=value)
        out.append((m.group(1).lower(), item))
        pos = m.end()
    if not out:
        raise S3Error("InvalidArgument", None, ArgumentName="x-amz-grant", ArgumentValue=value)
    return out


def acl_from_headers(
    headers: Mapping[str, str],
    owner: tuple[str, str],
    bucket_owner: tuple[str, str] | None = None,
    *,
    by_id: Resolver | None = None,
    by_email: Resolver | None = None,
) -> Acl | None:
    """The ACL a request's ``x-amz-acl`` or ``x-amz-grant-*`` headers ask for (lowercase names); None if
    it has neither.  Explicit grants replace the default: the owner keeps FULL_CONTROL only if granted."""
    canned = headers.get("x-amz-acl")
    explicit = {h: headers[h] for h in GRANT_HEADERS if h in headers}
    if canned is not None and explicit:
        raise S3Error("InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed")
    if canned is not None:
        return canned_acl(canned, owner, bucket_owner)
    if not explicit:
        return None
    grants = [
        Grant(_resolve(kind, value, by_id, by_email), GRANT_HEADERS[h])
        for h, text in explicit.items()
        for kind, value in parse_grant_value(text)
    ]
    return Acl(owner[0], owner[1], tuple(grants))


# -- AccessControlPolicy XML ---------------------------------------------------------------------------
def _malformed() -> S3Error:
    return S3Error("MalformedACLError")


def acl_from_xml(
    body: bytes,
    owner: tuple[str, str],
    *,
    by_id: Resolver | None = None,
    by_email: Resolver | None = None,
) -> Acl:
    """Parse a PutBucketAcl/PutObjectAcl body.  The Owner must be the resource's owner: an ACL cannot
    change ownership (S3 answers AccessDenied)."""
    try:
        root = xmlutil.parse(body)
    except xmlutil.XmlError:
        raise _malformed() from None
    if xmlutil.local_name(root) != "AccessControlPolicy":
        raise _malformed()
    owner_el = xmlutil.find(root, "Owner")
    if owner_el is None or not xmlutil.child_text(owner_el, "ID"):
        raise _malformed()
    if xmlutil.child_text(owner_el, "ID") != owner[0]:
        raise S3Error("AccessDenied", "Access Denied")
    acl_el = xmlutil.find(root, "AccessControlList")
    grants: list[Grant] = []
    for g in xmlutil.children(acl_el, "Grant") if acl_el is not None else []:
        grantee_el = xmlutil.find(g, "Grantee")
        permission = xmlutil.child_text(g, "Permission")
        if grantee_el is None or permission not in PERMISSIONS:
            raise _malformed()
        kind = grantee_el.get(f"{{{XSI}}}type")
        field_name = {"CanonicalUser": "ID", "Group": "URI", "AmazonCustomerByEmail": "EmailAddress"}.get(kind or "")
        value = xmlutil.child_text(grantee_el, field_name) if field_name else None
        if not value:
            raise _malformed()
        resolver_kind = {"ID": "id", "URI": "uri", "EmailAddress": "emailaddress"}[field_name or ""]
        grants.append(Grant(_resolve(resolver_kind, value.strip(), by_id, by_email), permission))
    return Acl(owner[0], owner[1], tuple(grants))


def _grantee_xml(g: Grantee) -> dict:
    body: dict = {"@xmlns:xsi": XSI, "@xsi:type": g.type}
    if g.type == "Group":
        body["URI"] = g.uri
    else:
        body["ID"] = g.id
        body["DisplayName"] = g.display_name or None
    return body


def acl_to_xml(acl: Acl) -> bytes:
    """The GetBucketAcl/GetObjectAcl answer."""
    grants = [{"Grantee": _grantee_xml(g.grantee), "Permission": g.permission} for g in acl.grants]
    return xmlutil.to_xml(
        "AccessControlPolicy",
        {"Owner": {"ID": acl.owner_id, "DisplayName": acl.owner_name or None}, "AccessControlList": {"Grant": grants}},
    )


# -- storage -------------------------------------------------------------------------------------------
def acl_to_json(acl: Acl) -> str:
    """Compact form for the metadata store: {"o": [id, name], "g": [[type, id|uri, name, permission]...]}."""
    rows = [
        [g.grantee.type, g.grantee.uri or g.grantee.id, g.grantee.display_name or "", g.permission] for g in acl.grants
    ]
    return json.dumps({"o": [acl.owner_id, acl.owner_name], "g": rows}, separators=(",", ":"))


def acl_from_json(text: str) -> Acl:
    doc = json.loads(text)
    grants = tuple(
        Grant(group(ref) if kind == "Group" else user(ref, name or None), perm) for kind, ref, name, perm in doc["g"]
    )
    return Acl(doc["o"][0], doc["o"][1], grants)


# -- checks --------------------------------------------------------------------------------------------
def _holds(g: Grantee, user_id: str | None) -> bool:
    if g.type == "Group":
        return g.uri == ALL_USERS or (g.uri == AUTHENTICATED_USERS and user_id is not None)
    return user_id is not None and g.id == user_id


def allows(acl: Acl, permission: str, user_id: str | None) -> bool:
    """Whether the caller (None: anonymous) holds ``permission`` on a resource with this ACL.

    FULL_CONTROL implies every permission; the owner can always read and write the ACL itself (S3 keeps
    the owner from locking themselves out of their own resource).
    """
    if permission not in PERMISSIONS:
        raise ValueError(permission)
    if user_id is not None and user_id == acl.owner_id and permission in ("READ_ACP", "WRITE_ACP"):
        return True
    return any(g.permission in (permission, "FULL_CONTROL") and _holds(g.grantee, user_id) for g in acl.grants)


def action_allowed(action: str, bucket_acl: Acl, object_acl: Acl | None, user_id: str | None) -> bool:
    """The ACL side of an authorisation decision for an S3 action; actions ACLs cannot grant say no."""
    need = ACTION_PERMISSIONS.get(action)
    if need is None:
        return False
    where, permission = need
    acl = bucket_acl if where == "bucket" else object_acl
    return acl is not None and allows(acl, permission, user_id)


def is_public(acl: Acl) -> bool:
    """PublicAccessBlock/GetBucketPolicyStatus view: any grant to AllUsers or AuthenticatedUsers."""
    return any(g.grantee.type == "Group" and g.grantee.uri in (ALL_USERS, AUTHENTICATED_USERS) for g in acl.grants)
