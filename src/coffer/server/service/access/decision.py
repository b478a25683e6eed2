"""Authorization: may this caller do this action on this bucket or object?

This module owns the decision for one request and where its inputs live: a bucket's policy
(``props["policy"]``, the document as sent), ACL (``props["acl"]``, :func:`acl.acl_to_json` form),
object ownership setting (``props["ownership"]``) and public access block (``props["pab"]``); an
object's ACL (``ObjectRecord.props["acl"]``). The front calls :meth:`Access.authorize` once per
request, with the permission its router endpoint declares.

The hot path is cheap on purpose: a bucket without a policy costs its owner one point lookup of the
bucket row and no evaluation; a non-owner is answered from the bucket ACL, and an object ACL is read
only if the bucket is flagged as holding objects with ACLs of their own (``props["object_acls"]``).
Parsed policies are cached per worker, keyed by the document text, so a changed policy is never
served stale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coffer.protocol.errors import S3Error
from coffer.server.meta import interface as mi
from coffer.server.meta.model import Bucket, ObjectRecord
from coffer.server.service.access import acl as acls
from coffer.server.service.access.bucket_policy import (
    Decision,
    Policy,
    Request,
    evaluate,
    is_public,
    parse_policy,
    principal_ids,
    resource_arn,
)
from coffer.server.service.core import Core, Principal, grant

ANONYMOUS = Principal("", "anonymous")
OWNERSHIP = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")
# Buckets created without x-amz-object-ownership keep ACLs enabled (S3 before April 2023, and what
# S3-compatible stores do): clients that send x-amz-acl keep working. See docs/access-control.md.
DEFAULT_OWNERSHIP = "ObjectWriter"
PAB_FIELDS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
# The bucket owner (and an admin) can always manage the policy, even one that denies them: the way
# out of a lock-out, as the account root has in S3.
POLICY_ACTIONS = frozenset({"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"})

ContextFn = Callable[[], dict[str, Any]]


def patch(changes: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A modify_bucket_props function: set the keys given a value, remove those given None."""
    return lambda props: {k: v for k, v in {**props, **changes}.items() if v is not None}


def denied() -> S3Error:
    return S3Error("AccessDenied", "Access Denied")


def ownership_of(bucket: Bucket) -> str:
    return bucket.props.get("ownership") or DEFAULT_OWNERSHIP


def pab_of(bucket: Bucket) -> dict[str, bool]:
    return bucket.props.get("pab") or {}


def bucket_acl(bucket: Bucket, owner_name: str = "") -> acls.Acl:
    """The bucket's ACL: the stored one, or private (the owner holds FULL_CONTROL)."""
    raw = bucket.props.get("acl")
    if raw and ownership_of(bucket) != "BucketOwnerEnforced":
        return acls.acl_from_json(raw)
    return acls.Acl(bucket.owner, owner_name, (acls.Grant(acls.user(bucket.owner, owner_name or None),
                                                          "FULL_CONTROL"),))


def object_acl(bucket: Bucket, rec: ObjectRecord, owner_name: str = "") -> acls.Acl:
    raw = rec.props.get("acl")
    if raw and ownership_of(bucket) != "BucketOwnerEnforced":
        return acls.acl_from_json(raw)
    owner = bucket.owner if ownership_of(bucket) == "BucketOwnerEnforced" else rec.owner
    return acls.Acl(owner, owner_name, (acls.Grant(acls.user(owner, owner_name or None), "FULL_CONTROL"),))


# object actions the bucket owner may not do on an object owned by someone else without a grant
OWNER_NEEDS_GRANT = frozenset({"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAcl", "s3:GetObjectVersionAcl",
                               "s3:PutObjectAcl", "s3:PutObjectVersionAcl"})


def _may_be_foreign(action: str, bucket: Bucket, key: str | None) -> bool:
    """Could this object action by the bucket owner address an object another user owns? Only in a
    bucket where such objects were written (the object_acls flag) and ACLs are enabled."""
    return key is not None and action in OWNER_NEEDS_GRANT and bool(bucket.props.get("object_acls")) \
        and ownership_of(bucket) != "BucketOwnerEnforced"


def owner_only(a: acls.Acl) -> bool:
    """Does the ACL grant nothing to anyone but its owner (the default, private ACL)?"""
    return all(g.grantee.type == "CanonicalUser" and g.grantee.id == a.owner_id for g in a.grants)


def without_public(a: acls.Acl) -> acls.Acl:
    """IgnorePublicAcls: the ACL as if its AllUsers/AuthenticatedUsers grants were not there."""
    keep = tuple(g for g in a.grants
                 if not (g.grantee.type == "Group" and g.grantee.uri in (acls.ALL_USERS, acls.AUTHENTICATED_USERS)))
    return acls.Acl(a.owner_id, a.owner_name, keep)


class Access:
    def __init__(self, core: Core) -> None:
        self.core = core
        self._policies: dict[tuple[str, str], Policy] = {}
        self._tag_policies: set[tuple[str, str]] = set()  # policies that read s3:ExistingObjectTag

    def policy_of(self, bucket: Bucket) -> Policy | None:
        raw = bucket.props.get("policy")
        if not raw:
            return None
        key = (bucket.name, raw)
        policy = self._policies.get(key)
        if policy is None:
            policy = parse_policy(raw, bucket.name)  # validated when stored: cannot fail here
            if len(self._policies) > 1000:
                self._policies.clear()
                self._tag_policies.clear()
            self._policies[key] = policy
            if "s3:existingobjecttag/" in raw.lower():
                self._tag_policies.add(key)
        return policy

    async def authorize(
        self, who: Principal, action: str, bucket_name: str | None, key: str | None, context: ContextFn
    ) -> Bucket | None:
        """Raise AccessDenied unless the request may proceed; return the bucket row it looked up.

        A missing bucket is not decided here: the service answers NoSuchBucket, as S3 does."""
        if bucket_name is None or action == "s3:CreateBucket":
            if not who.user_id:
                raise denied()
            return None
        bucket = await self.core.meta.get_bucket(bucket_name)
        if bucket is None:
            return None
        if (who.admin or (who.user_id and who.user_id == bucket.owner and not _may_be_foreign(action, bucket, key))) \
                and "policy" not in bucket.props:
            return bucket  # the hot path: the owner of a bucket without a policy, no further call
        await self.check(who, action, bucket, key, context)
        return bucket

    async def check(self, who: Principal, action: str, bucket: Bucket, key: str | None, context: ContextFn) -> None:
        """Raise AccessDenied, or note the bucket as granted for this request (Core.bucket_for)."""
        await self._decide(who, action, bucket, key, context)
        grant(bucket.name)

    async def allows(self, who: Principal, action: str, bucket: Bucket, key: str | None, context: ContextFn) -> bool:
        """Would `action` be allowed? (A question only: nothing is granted for the request.)"""
        if who.admin or (who.user_id and who.user_id == bucket.owner and "policy" not in bucket.props):
            return True
        try:
            await self._decide(who, action, bucket, key, context)
        except S3Error:
            return False
        return True

    async def _decide(self, who: Principal, action: str, bucket: Bucket, key: str | None,
                      context: ContextFn) -> None:
        owner = bool(who.user_id) and who.user_id == bucket.owner
        if owner and _may_be_foreign(action, bucket, key):
            # S3: the bucket owner does not own an object another user wrote (ObjectWriter, or
            # BucketOwnerPreferred without bucket-owner-full-control): reading it, or its ACL, needs
            # a grant in the object's ACL or the policy. Deleting it does not (bucket WRITE).
            rec = await self.core.meta.get_object(bucket.name, key or "")
            owner = rec is None or not rec.owner or rec.owner == bucket.owner
        policy = self.policy_of(bucket)
        if policy is None:  # the common case: no evaluation at all for the owner
            if owner or who.admin or await self._acl_allows(who, action, bucket, key):
                return
            raise denied()
        ctx = context()
        if who.user_id:
            ctx.setdefault("aws:userid", who.user_id)
            ctx.setdefault("aws:username", who.display_name)
            ctx.setdefault("aws:principalarn", f"arn:aws:iam::{who.user_id}:user/{who.display_name}")
            ctx.setdefault("aws:principaltype", "User")
        else:
            ctx.setdefault("aws:principaltype", "Anonymous")
        if key is not None and (bucket.name, policy.raw) in self._tag_policies:
            rec = await self.core.meta.get_object(bucket.name, key)
            for k, v in ((rec.props.get("tags") or {}) if rec else {}).items():
                ctx["s3:existingobjecttag/" + k] = v  # norm_key form: tag keys keep their case
        req = Request(principal_ids(who.user_id, who.display_name), action, resource_arn(bucket.name, key), ctx)
        decision = evaluate(policy, req)
        if decision is Decision.DENY:
            if (owner or who.admin) and action in POLICY_ACTIONS:
                return
            raise denied()
        if decision is Decision.ALLOW:
            restricted = pab_of(bucket).get("RestrictPublicBuckets") and is_public(policy)
            if not restricted or owner or who.admin:
                return
        if owner or who.admin or await self._acl_allows(who, action, bucket, key):
            return
        raise denied()

    async def _acl_allows(self, who: Principal, action: str, bucket: Bucket, key: str | None) -> bool:
        if ownership_of(bucket) == "BucketOwnerEnforced":
            return False  # ACLs are disabled: only ownership and the policy decide
        need = acls.ACTION_PERMISSIONS.get(action)
        if need is None:
            return False
        where, permission = need
        if where == "bucket":
            a = bucket_acl(bucket)
        else:
            if key is None or not bucket.props.get("object_acls"):
                return False  # every object is private to the bucket owner: no lookup needed
            rec = await self.core.meta.get_object(bucket.name, key)
            if rec is None:
                return False
            a = object_acl(bucket, rec)
        if pab_of(bucket).get("IgnorePublicAcls"):
            a = without_public(a)
        return acls.allows(a, permission, who.user_id or None)

    # -- new objects -------------------------------------------------------------------------------
    async def resolvers(self) -> tuple[acls.Resolver, acls.Resolver]:
        """Grant resolvers (canonical id / email -> (id, display name)) over the user table."""
        users = await self.core.meta.list_users()
        by_id = {u.id: (u.id, u.display_name) for u in users}
        by_email = {u.email.lower(): (u.id, u.display_name) for u in users if u.email}
        return by_id.get, lambda e: by_email.get(e.lower())

    async def new_object(self, who: Principal, bucket: Bucket | None, headers: Any) -> tuple[str | None, dict]:
        """(owner id, props) for an object written with these request headers (x-amz-acl, x-amz-grant-*).

        None as owner means "the writer". Sets the bucket's object_acls flag when the object will be
        readable by someone other than the bucket owner through its own ACL."""
        has_acl = "x-amz-acl" in headers or any(h in headers for h in acls.GRANT_HEADERS)
        if bucket is None or (not has_acl and who.user_id == bucket.owner and "ownership" not in bucket.props):
            return None, {}
        mode = ownership_of(bucket)
        canned = headers.get("x-amz-acl")
        if mode == "BucketOwnerEnforced":
            if has_acl and canned not in ("bucket-owner-full-control", "private"):
                raise S3Error("AccessControlListNotSupported", "The bucket does not allow ACLs")
            return bucket.owner, {}
        writer = who.user_id or bucket.owner  # an anonymous writer's object belongs to the bucket owner
        owner = bucket.owner if mode == "BucketOwnerPreferred" and canned == "bucket-owner-full-control" else writer
        props: dict = {}
        if has_acl:
            lowered = {k.lower(): v for k, v in headers.items()}
            grants = any(h in lowered for h in acls.GRANT_HEADERS)
            # Only grant headers name other users; a canned ACL needs no user lookup (display names
            # are filled in when the ACL is read back).
            by_id, by_email = await self.resolvers() if grants else (None, None)
            a = acls.acl_from_headers(lowered, (owner, ""), (bucket.owner, ""), by_id=by_id, by_email=by_email)
            if a is not None:
                if pab_of(bucket).get("BlockPublicAcls") and acls.is_public(a):
                    raise denied()
                if not (owner_only(a) and owner == bucket.owner):  # private to the bucket owner is the default
                    props["acl"] = acls.acl_to_json(a)
        if (props or owner != bucket.owner) and not bucket.props.get("object_acls"):
            await self.set_bucket_props(bucket, object_acls=True)
        return owner, props

    async def set_bucket_props(self, bucket: Bucket, **changes: Any) -> None:
        """Set (value) or remove (None) bucket settings in one atomic metadata update, so settings
        changed at the same time (by any worker) are all kept."""
        try:
            bucket.props = await self.core.meta.modify_bucket_props(bucket.name, patch(changes))
        except mi.NoSuchBucket:
            raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=bucket.name) from None
