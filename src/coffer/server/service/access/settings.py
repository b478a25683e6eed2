"""Access-control settings of buckets and objects: ACLs, bucket policy, ownership controls, public
access block.

Owns the Get/Put/Delete operations and their S3 rules: a policy is validated (MalformedPolicy)
before it is stored; BlockPublicPolicy and BlockPublicAcls refuse public documents with AccessDenied;
BucketOwnerEnforced disables ACLs (AccessControlListNotSupported); an ACL can never change an owner.
Who may call these operations is decided before, by :mod:`access` (their permissions are never
granted by an ACL, except Get/PutBucketAcl and Get/PutObjectAcl). Parsing of the XML and headers
is in :mod:`acl`; the HTTP front only moves bytes.
"""

from __future__ import annotations

from coffer.protocol.errors import MALFORMED_XML, S3Error
from coffer.server.meta import interface as mi
from coffer.server.meta.model import Bucket, ObjectRecord
from coffer.server.service.access import acl as acls
from coffer.server.service.access.bucket_policy import is_public, parse_policy
from coffer.server.service.access.decision import (
    OWNERSHIP,
    PAB_FIELDS,
    Access,
    bucket_acl,
    object_acl,
    owner_only,
    ownership_of,
    pab_of,
)
from coffer.server.service.core import Core, Principal


def _no_acls() -> S3Error:
    return S3Error("AccessControlListNotSupported", "The bucket does not allow ACLs")


class AccessConfig:
    def __init__(self, core: Core, access: Access) -> None:
        self.core = core
        self.access = access

    async def _bucket(self, name: str) -> Bucket:
        b = await self.core.meta.get_bucket(name)
        if b is None:
            raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=name)
        return b

    async def _object(self, bucket: str, key: str) -> ObjectRecord:
        rec = await self.core.meta.get_object(bucket, key)
        if rec is None:
            raise S3Error("NoSuchKey", "The specified key does not exist.", Key=key)
        return rec

    async def _name(self, user_id: str) -> str:
        u = await self.core.meta.get_user(user_id)
        return u.display_name if u else user_id

    # -- ACLs --------------------------------------------------------------------------------------
    async def get_acl(self, bucket_name: str, key: str | None) -> acls.Acl:
        b = await self._bucket(bucket_name)
        if key is None:
            a = bucket_acl(b, await self._name(b.owner))
        else:
            rec = await self._object(bucket_name, key)
            a = object_acl(b, rec)
            a = acls.Acl(a.owner_id, await self._name(a.owner_id), a.grants)
        grants = []
        for g in a.grants:  # display names as they are now, not as they were when granted
            if g.grantee.type == "CanonicalUser" and g.grantee.id:
                g = acls.Grant(acls.user(g.grantee.id, await self._name(g.grantee.id)), g.permission)
            grants.append(g)
        return acls.Acl(a.owner_id, a.owner_name or await self._name(a.owner_id), tuple(grants))

    async def put_acl(self, bucket_name: str, key: str | None, headers: dict[str, str], body: bytes) -> None:
        """PutBucketAcl / PutObjectAcl from a canned/grant header or an AccessControlPolicy body."""
        b = await self._bucket(bucket_name)
        rec = await self._object(bucket_name, key) if key is not None else None
        owner_id = b.owner if rec is None else object_acl(b, rec).owner_id
        owner = (owner_id, await self._name(owner_id))
        by_id, by_email = await self.access.resolvers()
        has_headers = "x-amz-acl" in headers or any(h in headers for h in acls.GRANT_HEADERS)
        if has_headers and body.strip():
            raise S3Error("UnexpectedContent", "This request does not support content")
        if has_headers:
            a = acls.acl_from_headers(headers, owner, (b.owner, await self._name(b.owner)),
                                      by_id=by_id, by_email=by_email)
        elif body.strip():
            a = acls.acl_from_xml(body, owner, by_id=by_id, by_email=by_email)
        else:
            raise S3Error("MissingSecurityHeader", "Your request was missing a required header",
                          MissingHeaderName="x-amz-acl")
        assert a is not None
        if ownership_of(b) == "BucketOwnerEnforced":
            if not owner_only(a):
                raise _no_acls()
            return  # accepted and meaningless, as in S3: the owner already has full control
        if pab_of(b).get("BlockPublicAcls") and acls.is_public(a):
            raise S3Error("AccessDenied", "Access Denied")
        if rec is None:
            await self.access.set_bucket_props(b, acl=acls.acl_to_json(a))
            return
        if not b.props.get("object_acls"):  # the flag first: an object ACL is never stored unread
            await self.access.set_bucket_props(b, object_acls=True)
        for _ in range(3):  # the object may be overwritten meanwhile: never put old metadata on new data
            rec.props = {**rec.props, "acl": acls.acl_to_json(a)}
            try:
                await self.core.meta.update_object(rec, expect_etag=rec.etag)
                break
            except mi.PreconditionFailed:
                rec = await self._object(bucket_name, key or "")
        else:
            raise S3Error("ConditionalRequestConflict", "The object changed while its ACL was being set; retry.")

    async def new_bucket_props(self, who: Principal, headers: dict[str, str]) -> dict:
        """CreateBucket's x-amz-object-ownership and x-amz-acl / x-amz-grant-* headers (lowercase names)
        as the new bucket's props, so the bucket is created with them in one commit (a crash never
        leaves it with an ACL or ownership setting it was not asked for)."""
        props: dict = {}
        mode = headers.get("x-amz-object-ownership")
        if mode is not None:
            if mode not in OWNERSHIP:
                raise S3Error("InvalidArgument", "Invalid x-amz-object-ownership header",
                              ArgumentName="x-amz-object-ownership", ArgumentValue=mode)
            props["ownership"] = mode
        if "x-amz-acl" in headers or any(h in headers for h in acls.GRANT_HEADERS):
            by_id, by_email = await self.access.resolvers()
            a = acls.acl_from_headers(headers, (who.user_id, ""), by_id=by_id, by_email=by_email)
            assert a is not None
            if mode == "BucketOwnerEnforced" and not owner_only(a):
                raise S3Error("InvalidBucketAclWithObjectOwnership", "Bucket cannot have ACLs set with "
                              "ObjectOwnership's BucketOwnerEnforced setting")
            if not owner_only(a):
                props["acl"] = acls.acl_to_json(a)
        return props

    # -- policy ------------------------------------------------------------------------------------
    async def get_policy(self, bucket_name: str) -> str:
        b = await self._bucket(bucket_name)
        raw = b.props.get("policy")
        if not raw:
            raise S3Error("NoSuchBucketPolicy", "The bucket policy does not exist", BucketName=bucket_name)
        return raw

    async def put_policy(self, bucket_name: str, document: bytes) -> None:
        b = await self._bucket(bucket_name)
        policy = parse_policy(document, bucket_name)
        if pab_of(b).get("BlockPublicPolicy") and is_public(policy):
            raise S3Error("AccessDenied", "Access Denied")
        await self.access.set_bucket_props(b, policy=policy.raw)

    async def delete_policy(self, bucket_name: str) -> None:
        await self.access.set_bucket_props(await self._bucket(bucket_name), policy=None)

    async def policy_status(self, bucket_name: str) -> bool:
        """GetBucketPolicyStatus: IsPublic. S3 answers NoSuchBucketPolicy for a bucket without one."""
        b = await self._bucket(bucket_name)
        policy = self.access.policy_of(b)
        if policy is None:
            raise S3Error("NoSuchBucketPolicy", "The bucket policy does not exist", BucketName=bucket_name)
        return is_public(policy)

    # -- ownership controls ------------------------------------------------------------------------
    async def get_ownership(self, bucket_name: str) -> str:
        b = await self._bucket(bucket_name)
        mode = b.props.get("ownership")
        if not mode:
            raise S3Error("OwnershipControlsNotFoundError", "The bucket ownership controls were not found",
                          BucketName=bucket_name)
        return mode

    async def put_ownership(self, bucket_name: str, mode: str | None) -> None:
        if mode is not None and mode not in OWNERSHIP:
            raise S3Error("MalformedXML", MALFORMED_XML)
        b = await self._bucket(bucket_name)
        if mode == "BucketOwnerEnforced" and b.props.get("acl") and not owner_only(acls.acl_from_json(b.props["acl"])):
            raise S3Error("InvalidBucketAclWithObjectOwnership", "Bucket cannot have ACLs set with ObjectOwnership's "
                          "BucketOwnerEnforced setting")
        await self.access.set_bucket_props(b, ownership=mode)

    # -- public access block -----------------------------------------------------------------------
    async def get_pab(self, bucket_name: str) -> dict[str, bool]:
        b = await self._bucket(bucket_name)
        if "pab" not in b.props:
            raise S3Error("NoSuchPublicAccessBlockConfiguration", "The public access block configuration was "
                          "not found", BucketName=bucket_name)
        return {f: bool(pab_of(b).get(f)) for f in PAB_FIELDS}

    async def put_pab(self, bucket_name: str, config: dict[str, bool] | None) -> None:
        await self.access.set_bucket_props(await self._bucket(bucket_name), pab=config)
