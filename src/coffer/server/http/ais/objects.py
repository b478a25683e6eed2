"""AIStore object endpoints: `/v1/objects/{bucket}/{object}`.

PUT (whole object; `append_type=append|flush&append_handle=H` for handle-based appends, answered
with `Ais-Append-Handle`; `object_to=ais/@#/BUCKET/OBJ` to copy), GET (Range, `archpath` to read
one member of a tar/zip object), HEAD (`props`), PATCH (custom properties, `set-new-custom` to
replace them), DELETE. The answer headers are those the AIStore SDK's ObjectAttributes reads:
Content-Length, ais-checksum-type/-value, ais-atime, ais-version, ais-custom-md, ais-present,
ETag, Last-Modified.

Appends are Coffer's append sessions (`service.appends`): each append stores one more piece, the
stored object is unchanged until the flush, and the flush never copies stored bytes.
"""

from __future__ import annotations

import base64

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.protocol.timeutil import http_date
from coffer.server.http.ais.front import AisCtx, AisError, ais_handles
from coffer.server.http.common.auth import BodyPlan
from coffer.server.http.common.body import body_stream, integrity_for
from coffer.server.http.common.hooks import around_write
from coffer.server.http.common.respond import apply_range, send_member, send_range
from coffer.server.http.common.sse import send_encrypted
from coffer.server.meta.model import ObjectRecord
from coffer.server.service import PutParams, ReadConditions

HANDLE_HEADER = "Ais-Append-Handle"


def attr_headers(rec: ObjectRecord) -> dict[str, str]:
    """An object's properties as AIStore answers them in GET and HEAD headers."""
    if "-" not in rec.etag:
        ck_type, ck_value = "md5", rec.etag
    elif "CRC32C" in rec.checksums and "-" not in rec.checksums["CRC32C"]:
        ck_type, ck_value = "crc32c", base64.b64decode(rec.checksums["CRC32C"]).hex()
    else:
        ck_type, ck_value = "none", ""
    h = {
        "ais-name": rec.key,
        "ais-bucket-name": rec.bucket,
        "ais-bucket-provider": "ais",
        "ais-checksum-type": ck_type,
        "ais-checksum-value": ck_value,
        "ais-atime": str(int(rec.last_modified * 1e9)),
        "ais-version": rec.etag,
        "ais-present": "true",
        "ETag": f'"{rec.etag}"',
        "Last-Modified": http_date(rec.last_modified),
        "Accept-Ranges": "bytes",
        "Content-Type": rec.content_type or "application/octet-stream",
    }
    if rec.user_meta:
        h["ais-custom-md"] = ",".join(f"{k}={v}" for k, v in rec.user_meta.items())
    return h


def _plain_integrity(ctx: AisCtx):
    # AIStore bodies are plain HTTP bodies (no aws-chunked framing, no signed payload hash)
    return integrity_for(ctx.request, BodyPlan(), require_length=False)


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes", "y")


@ais_handles("PUT", "objects")
async def put_object(ctx: AisCtx) -> web.StreamResponse:
    assert ctx.key is not None
    q = ctx.query
    if "object_to" in q:
        return await _copy(ctx, q["object_to"])
    append_type = q.get("append_type")
    if append_type is not None:
        return await _append(ctx, append_type, q.get("append_handle", ""))
    integ = _plain_integrity(ctx)
    lim = ctx.svc.limits
    if integ.content_length is not None and integ.content_length > lim.max_put_size:
        raise AisError(413, f"object size {integ.content_length} exceeds the maximum {lim.max_put_size}")
    rec = await ctx.svc.objects.put(ctx.who, ctx.bucket, ctx.key, body_stream(ctx.request, BodyPlan(), integ),
                                    PutParams(), integ)
    return web.Response(status=200, headers={"ETag": f'"{rec.etag}"'})


async def _append(ctx: AisCtx, append_type: str, handle: str) -> web.StreamResponse:
    assert ctx.key is not None
    if append_type not in ("append", "flush"):
        raise AisError(400, f"invalid append_type {append_type!r}: expecting 'append' or 'flush'")
    integ = _plain_integrity(ctx)
    has_body = (integ.content_length or 0) > 0 or "chunked" in ctx.request.headers.get("Transfer-Encoding", "")
    if append_type == "append" or has_body:
        handle = await ctx.svc.appends.append(ctx.who, ctx.bucket, ctx.key, handle or None, True,
                                              body_stream(ctx.request, BodyPlan(), integ), integ)
    if append_type == "flush":
        if not handle:
            raise AisError(400, "flush needs the append handle (append_handle) that the appends answered")
        rec = await ctx.svc.appends.flush(ctx.who, ctx.bucket, ctx.key, handle)
        return web.Response(status=200, headers={"ETag": f'"{rec.etag}"'})
    return web.Response(status=200, headers={HANDLE_HEADER: handle})


async def _copy(ctx: AisCtx, dest: str) -> web.StreamResponse:
    assert ctx.key is not None
    # uname: PROVIDER/NAMESPACE/BUCKET/OBJECT, e.g. "ais/@#/dst/name"
    parts = dest.split("/", 3)
    if len(parts) != 4 or parts[0] not in ("ais", "") or parts[1] not in ("@#", "") or not parts[2] or not parts[3]:
        raise AisError(400, f"invalid object_to {dest!r}: expecting ais/@#/BUCKET/OBJECT")
    src_key = ctx.key

    async def call() -> web.StreamResponse:
        await ctx.svc.objects.copy(ctx.who, ctx.bucket, src_key, parts[2], parts[3], cond=ReadConditions(),
                                   replace=None, storage_class=None)
        return web.Response(status=200)

    # the destination is what is written: a frozen destination refuses, its notifications get the Copy
    return await around_write(ctx.svc, parts[2], parts[3], "s3:ObjectCreated:Copy", ctx.who.user_id, ctx.rid,
                              ctx.request, call)


@ais_handles("GET", "objects")
@ais_handles("HEAD", "objects")
async def get_object(ctx: AisCtx) -> web.StreamResponse:
    assert ctx.key is not None
    head = ctx.request.method == "HEAD"
    q = ctx.query
    for unsupported in ("archregx", "archmode", "etl_name", "etl_pipeline"):
        if q.get(unsupported):
            raise AisError(501, f"{unsupported} is not supported by Coffer")
    rec = await ctx.svc.objects.get(ctx.who, ctx.bucket, ctx.key)
    headers = attr_headers(rec)
    archpath = q.get("archpath", "")
    if archpath:
        if rec.props.get("sse"):
            raise AisError(501, "archpath is not supported on encrypted objects")
        return await _get_member(ctx, rec, archpath, headers, head)
    status, start, length = apply_range(None if head else ctx.request.headers.get("Range"), rec.size, headers)
    if head:
        return web.Response(status=200, headers=headers)
    if rec.props.get("sse"):  # encrypted at rest (SSE-S3/KMS; SSE-C needs its key: refused there)
        return await send_encrypted(ctx, rec, None, status, headers, start, length)  # type: ignore[arg-type]
    return await send_range(ctx.request, ctx.svc, rec, status, headers, start, length)


async def _get_member(ctx: AisCtx, rec: ObjectRecord, archpath: str, headers: dict[str, str],
                      head: bool) -> web.StreamResponse:
    member = await ctx.svc.archives.locate(rec, archpath)
    headers = {k: v for k, v in headers.items() if not k.startswith("ais-checksum") and k != "ETag"}
    headers["ais-archpath"] = member.name
    status, start, length = apply_range(None if head else ctx.request.headers.get("Range"), member.size, headers)
    if head:
        return web.Response(status=200, headers=headers)
    return await send_member(ctx.request, ctx.svc, rec, member, status, headers, start, length)


@ais_handles("DELETE", "objects")
async def delete_object(ctx: AisCtx) -> web.StreamResponse:
    assert ctx.key is not None
    try:
        await ctx.svc.objects.get(ctx.who, ctx.bucket, ctx.key)
    except S3Error as exc:
        if exc.code == "NoSuchKey":
            raise AisError(404, f"ais://{ctx.bucket}/{ctx.key} does not exist") from None
        raise
    # DeleteObject's rule: a versioned bucket keeps the object as a noncurrent version behind a delete marker
    await ctx.svc.objects.delete(ctx.who, ctx.bucket, ctx.key)
    return web.Response(status=200)


@ais_handles("PATCH", "objects")
async def patch_object(ctx: AisCtx) -> web.StreamResponse:
    assert ctx.key is not None
    msg = await ctx.action()
    value = msg.get("value")
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise AisError(400, "custom properties must be a JSON object of string values (the action's value)")
    await ctx.svc.ais.set_custom(ctx.who, ctx.bucket, ctx.key, value, _bool(ctx.query.get("set-new-custom")))
    return web.Response(status=200)
