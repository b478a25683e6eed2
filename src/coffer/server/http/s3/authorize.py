"""S3's per-item access checks, beyond the gate every request passes (http/common/gate.py):
the keys of a DeleteObjects the caller may delete, and the source of a copy.
"""

from __future__ import annotations

from coffer.protocol.errors import S3Error
from coffer.server.http.common.context import Ctx
from coffer.server.http.common.gate import VERSION_ACTIONS, may_list, request_context, request_tag_context
from coffer.server.service.core import BUCKET_HINT


async def allowed_keys(ctx: Ctx, permission: str, keys: list[str]) -> set[str]:
    """The keys of a multi-object request the caller may act on (DeleteObjects answers the others
    with a per-key AccessDenied, as S3 does)."""
    bucket = ctx.bucket_rec or await ctx.svc.core.meta.get_bucket(ctx.bucket)
    if bucket is None:
        return set(keys)  # the service answers NoSuchBucket
    ctx.bucket_rec = bucket
    out: set[str] = set()
    for k in keys:
        try:
            await ctx.svc.access.check(ctx.who, permission, bucket, k, lambda: request_context(ctx))
        except S3Error:
            continue
        out.add(k)
    return out


async def authorize_source(ctx: Ctx, bucket: str, key: str) -> None:
    """CopyObject / UploadPartCopy also need s3:GetObject on their source."""
    await ctx.svc.access.authorize(ctx.who, "s3:GetObject", bucket, key, lambda: request_context(ctx))


async def hide_missing(ctx: Ctx, err: S3Error) -> S3Error:
    """NoSuchKey for a caller allowed to list the bucket (policy or ACL); 403 AccessDenied to any other, so
    keys' existence does not leak to callers who may only read objects."""
    if err.code != "NoSuchKey" or ctx.who.admin:
        return err
    bucket = ctx.bucket_rec or await ctx.svc.core.meta.get_bucket(ctx.bucket)
    if bucket is None or await may_list(ctx, bucket):
        return err
    return S3Error("AccessDenied", "Access Denied")


async def authorize_with_tags(ctx: Ctx, tags: dict[str, str]) -> None:
    """The gate's decision for PutObjectTagging when it deferred it (gate.decides_with_body_tags)."""
    if ctx.bucket_rec is not None:
        return  # decided by the gate
    permission = ctx.route.endpoint.permission
    if "versionId" in ctx.query and permission in VERSION_ACTIONS:
        permission = VERSION_ACTIONS[permission]
    ctx.bucket_rec = await ctx.svc.access.authorize(
        ctx.who, permission, ctx.route.bucket, ctx.route.key,
        lambda: {**request_context(ctx), **request_tag_context(tags)})
    BUCKET_HINT.set(ctx.bucket_rec)
