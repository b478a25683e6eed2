"""The access gate between authentication and the endpoint handler, for the S3-signed fronts
(S3 and OpenIO): `guard` runs once per request: it authorizes the endpoint's declared permission on
the addressed bucket/object (service.access), checks the bucket owner's quota before a write is
accepted, and keeps the bucket row it looked up on the context for the handler. The policy condition
context (source IP, TLS, headers, s3:prefix, ...) is built only when a bucket policy is there to
read it (`context_of`, also what the website front asks with, `website_readable`). Four endpoints
decide in their handler: DeleteObjects and the batch GET (each key), PostObject (the form's own signature names the
caller) and IamToken (the API key in the form).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.http.common.context import Ctx
from coffer.server.meta.model import Bucket
from coffer.server.service import ANONYMOUS, Service
from coffer.server.service.access.policy_conditions import utc_now_context
from coffer.server.service.core import BUCKET_HINT

# IamToken: the form's API key decides; BatchGet: each key (its bucket is in the body), service/objects/batch_reads.py
DEFERRED = frozenset({"DeleteObjects", "PostObject", "IamToken", "BatchGet"})
WRITES = frozenset({"PutObject", "UploadPart", "AppendObject", "CompleteMultipartUpload"})
_HEADER_KEYS = (
    "x-amz-acl", "x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp",
    "x-amz-grant-full-control", "x-amz-copy-source", "x-amz-metadata-directive", "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-storage-class", "x-amz-content-sha256",
)


# Acting on a specific version is its own permission in S3 (s3:GetObjectVersion, ...).
VERSION_ACTIONS = {a: a.replace("Object", "ObjectVersion", 1) for a in (
    "s3:GetObject", "s3:DeleteObject", "s3:GetObjectAcl", "s3:PutObjectAcl", "s3:GetObjectTagging",
    "s3:PutObjectTagging", "s3:DeleteObjectTagging", "s3:GetObjectAttributes")}


def request_context(ctx: Ctx) -> dict[str, Any]:
    return context_of(ctx.request, ctx.query)


def context_of(r: web.BaseRequest, query: dict[str, str]) -> dict[str, Any]:
    """Condition keys of this request, names normalised (lowercase before any '/')."""
    h = r.headers
    c: dict[str, Any] = utc_now_context()
    peer = r.remote
    if peer:
        c["aws:sourceip"] = peer
    c["aws:securetransport"] = "true" if r.secure else "false"
    for name, key in (("User-Agent", "aws:useragent"), ("Referer", "aws:referer")):
        if name in h:
            c[key] = h[name]
    auth = h.get("Authorization") or ""
    if auth:
        c["s3:authtype"] = "REST-HEADER"
        c["s3:signatureversion"] = "AWS4-HMAC-SHA256" if auth.startswith("AWS4") else "AWS"
    elif "X-Amz-Signature" in query or "Signature" in query:
        c["s3:authtype"] = "REST-QUERY-STRING"
        c["s3:signatureversion"] = "AWS4-HMAC-SHA256" if "X-Amz-Signature" in query else "AWS"
    for q in ("prefix", "delimiter", "max-keys"):
        if q in query:
            c["s3:" + q] = query[q]
    if "versionId" in query:
        c["s3:versionid"] = query["versionId"]
    for name in _HEADER_KEYS:
        if name in h:
            c["s3:" + name] = h[name]
    if "x-amz-tagging" in h:  # PutObject, CreateMultipartUpload, CopyObject: the tags the request sets
        try:
            c.update(request_tag_context(dict(parse_qsl(h["x-amz-tagging"], keep_blank_values=True,
                                                         errors="strict"))))
        except (ValueError, UnicodeDecodeError):
            pass  # the handler answers the malformed header
    return c


def request_tag_context(tags: dict[str, str]) -> dict[str, Any]:
    """s3:RequestObjectTag/<key> and s3:RequestObjectTagKeys of a request that sets these object tags."""
    out: dict[str, Any] = {"s3:requestobjecttag/" + k: v for k, v in tags.items()}
    out["s3:requestobjecttagkeys"] = list(tags)
    return out


def decides_with_body_tags(ctx: Ctx, bucket: Bucket | None) -> bool:
    """PutObjectTagging under a policy that reads the request's tags: they are in the body, so the
    handler authorizes once it has read them (s3/authorize.py authorize_with_tags)."""
    return ctx.route.endpoint.name == "PutObjectTagging" and bucket is not None \
        and "requestobjecttag" in (bucket.props.get("policy") or "").lower()


# Reads of one object whose "no such key" S3 tells only to callers allowed to list the bucket.
ONE_OBJECT_READS = frozenset({"GetObject", "HeadObject", "GetObjectAttributes"})


async def may_list(ctx: Ctx, bucket: Bucket) -> bool:
    return await ctx.svc.access.allows(ctx.who, "s3:ListBucket", bucket, None, lambda: request_context(ctx))


async def _missing_to_lister(ctx: Ctx) -> None:
    """A read refused because there is no object to grant it (no object ACL, no tags): S3 answers 404
    NoSuchKey instead when the caller could have seen the key's absence in a listing."""
    bucket = await ctx.svc.core.meta.get_bucket(ctx.route.bucket or "")
    if bucket is None or ctx.route.key is None:
        return
    if await ctx.svc.core.meta.get_object(bucket.name, ctx.route.key) is None and await may_list(ctx, bucket):
        raise S3Error("NoSuchKey", "The specified key does not exist.", Key=ctx.route.key)


async def website_readable(service: Service, request: web.BaseRequest, bucket: Bucket, key: str) -> bool:
    """A website (anonymous by nature) serves only objects anonymous callers may read."""
    try:
        await service.access.check(ANONYMOUS, "s3:GetObject", bucket, key, lambda: context_of(request, {}))
    except S3Error:
        return False
    return True


def incoming_size(ctx: Ctx) -> int:
    h = ctx.request.headers
    raw = h.get("x-amz-decoded-content-length") or h.get("Content-Length") or "0"
    return int(raw) if raw.isdigit() else 0


async def guard(ctx: Ctx) -> None:
    """Raise AccessDenied / QuotaExceeded / TooManyBuckets, or let the handler run."""
    ep = ctx.route.endpoint
    if ep.name in DEFERRED:
        return
    if ep.name == "PutObjectTagging" and decides_with_body_tags(
            ctx, await ctx.svc.core.meta.get_bucket(ctx.route.bucket or "")):
        return  # authorize_with_tags, in the handler
    permission = ep.permission
    if "versionId" in ctx.query and permission in VERSION_ACTIONS:
        permission = VERSION_ACTIONS[permission]
    try:
        ctx.bucket_rec = await ctx.svc.access.authorize(
            ctx.who, permission, ctx.route.bucket, ctx.route.key, lambda: request_context(ctx))
    except S3Error as e:
        if e.code == "AccessDenied" and ep.name in ONE_OBJECT_READS and "versionId" not in ctx.query:
            await _missing_to_lister(ctx)
        raise
    BUCKET_HINT.set(ctx.bucket_rec)
    expected = ctx.request.headers.get("x-amz-expected-bucket-owner")
    if expected is not None and ctx.bucket_rec is not None and expected != ctx.bucket_rec.owner:
        raise S3Error("AccessDenied", "Access Denied")  # S3's answer when the bucket has another owner
    if ep.name == "CreateBucket":
        await ctx.svc.admin.check_new_bucket(ctx.who)
    elif ep.name in WRITES and ctx.bucket_rec is not None:
        parts = ep.name in ("UploadPart", "AppendObject")  # bytes, but no new object yet
        size = 0 if ep.name == "CompleteMultipartUpload" else incoming_size(ctx)  # its body is XML
        await ctx.svc.admin.check_write(ctx.bucket_rec, size, new_object=not parts)
