"""S3's per-item access checks, beyond the gate every request passes (http/common/gate.py):
the keys of a DeleteObjects the caller may delete, and the source of a copy.
"""

from __future__ import annotations

from coffer.protocol.errors import S3Error
from coffer.server.http.common.context import Ctx
from coffer.server.http.common.gate import request_context


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
