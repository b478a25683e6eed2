"""Object endpoints: Put/Get/Head/Delete/CopyObject and GetObjectAttributes."""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.http.common.body import body_stream, integrity_for
from coffer.server.http.common.context import Ctx, handles
from coffer.server.http.common.respond import apply_range, iso, object_headers, quoted, send_range, xml_response
from coffer.server.http.common.sse import (
    check_read,
    copy_source_customer,
    object_sse_headers,
    request_sse,
    send_encrypted,
)
from coffer.server.http.common.write_headers import lock_request, put_params, write_expect
from coffer.server.http.s3.archive import get_archived
from coffer.server.http.s3.authorize import authorize_source, hide_missing
from coffer.server.http.s3.lock_integrity import require_for_put
from coffer.server.http.s3.snowball import is_snowball, put_snowball
from coffer.server.http.s3.worm import bypass, version_headers
from coffer.server.meta.model import ObjectRecord
from coffer.server.service import ReadConditions
from coffer.server.service.objects.lifecycle import expiration_header
from coffer.server.service.objects.tagging import parse_tagging_header

_OVERRIDES = {
    "response-content-type": "Content-Type", "response-content-language": "Content-Language",
    "response-expires": "Expires", "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition", "response-content-encoding": "Content-Encoding",
}


def read_conditions(ctx: Ctx, prefix: str = "") -> ReadConditions:
    h = ctx.request.headers
    return ReadConditions(h.get(prefix + "If-Match"), h.get(prefix + "If-None-Match"),
                          h.get(prefix + "If-Modified-Since"), h.get(prefix + "If-Unmodified-Since"))


def put_result_headers(rec: ObjectRecord) -> dict[str, str]:
    out = {"ETag": quoted(rec.etag)}
    if rec.version_id is not None:
        out["x-amz-version-id"] = rec.version_id
    for algo, value in rec.checksums.items():
        out["x-amz-checksum-" + algo.lower()] = value
    if rec.checksum_type:
        out["x-amz-checksum-type"] = rec.checksum_type
    out.update(object_sse_headers(rec))
    return out


@handles("PutObject")
async def put_object(ctx: Ctx) -> web.StreamResponse:
    if ctx.header("x-amz-copy-source") is not None:
        return await copy_object(ctx)
    if is_snowball(ctx):
        return await put_snowball(ctx)
    params = put_params(ctx)
    require_for_put(ctx.request.headers, ctx.bucket_rec, params.lock, ctx.plan)
    params.owner, params.props = await ctx.svc.access.new_object(ctx.who, ctx.bucket_rec, ctx.request.headers)
    params.sse = request_sse(ctx)
    integ = integrity_for(ctx.request, ctx.plan, require_length=True)
    if integ.content_length is not None and integ.content_length > ctx.cfg.limits.max_put_size:
        raise S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                      ProposedSize=str(integ.content_length), MaxSizeAllowed=str(ctx.cfg.limits.max_put_size))
    rec = await ctx.svc.objects.put(ctx.who, ctx.bucket, ctx.key, body_stream(ctx.request, ctx.plan, integ),
                                    params, integ)
    return web.Response(status=200, headers={**put_result_headers(rec), **expiration_headers(ctx, rec)})


def expiration_headers(ctx: Ctx, rec: ObjectRecord) -> dict[str, str]:
    """`x-amz-expiration` when an enabled expiration rule of the bucket matches the (current) object."""
    b = ctx.bucket_rec
    if b is None or not b.props.get("lifecycle") or "versionId" in ctx.query:
        return {}
    value = expiration_header(b, rec.key, rec.size, rec.props.get("tags") or {}, rec.last_modified,
                              ctx.cfg.lifecycle_day_seconds)
    return {"x-amz-expiration": value} if value else {}


def parse_copy_source(value: str) -> tuple[str, str]:
    return parse_copy_source_version(value)[:2]  # type: ignore[return-value]


def parse_copy_source_version(value: str) -> tuple[str, str, str | None]:
    """x-amz-copy-source: bucket/key[?versionId=id] -> (bucket, key, version id or None)."""
    raw, _, version = value.partition("?versionId=")
    src = unquote(raw).lstrip("/")
    bucket, _, key = src.partition("/")
    if not bucket or not key:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: "
                      "sourcebucket/sourcekey", ArgumentName="x-amz-copy-source", ArgumentValue=value)
    return bucket, key, (unquote(version) if version else None)


async def copy_object(ctx: Ctx) -> web.StreamResponse:
    src_bucket, src_key, src_version = parse_copy_source_version(ctx.header("x-amz-copy-source") or "")
    await authorize_source(ctx, src_bucket, src_key)
    owner, props = await ctx.svc.access.new_object(ctx.who, ctx.bucket_rec, ctx.request.headers)
    directive = (ctx.header("x-amz-metadata-directive") or "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.", ArgumentName="x-amz-metadata-directive",
                      ArgumentValue=directive)
    replace = put_params(ctx) if directive == "REPLACE" else None
    if replace is not None:
        replace.expect = None
    tagging_directive = (ctx.header("x-amz-tagging-directive") or "COPY").upper()
    retention_directive = (ctx.header("Retention-Directive") or "COPY").upper()
    if tagging_directive not in ("COPY", "REPLACE") or retention_directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown tagging or retention directive.",
                      ArgumentName="x-amz-tagging-directive", ArgumentValue=tagging_directive)
    tagging = ctx.header("x-amz-tagging")
    tags = (parse_tagging_header(tagging or "") if tagging_directive == "REPLACE" else None)
    lock = lock_request(ctx)
    rec, src = await ctx.svc.objects.copy(
        ctx.who, src_bucket, src_key, ctx.bucket, ctx.key, cond=read_conditions(ctx, "x-amz-copy-source-"),
        replace=replace, storage_class=ctx.header("x-amz-storage-class"), src_version=src_version,
        tags=tags, lock=lock, copy_retention=retention_directive == "COPY" and (lock is None or not lock.any_ibm()),
        sse=request_sse(ctx), src_customer=copy_source_customer(ctx),
        owner=owner, props=props, expect=write_expect(ctx),
    )
    hdrs = {"x-amz-version-id": rec.version_id} if rec.version_id else {}
    if src.version_id is not None:
        hdrs["x-amz-copy-source-version-id"] = src.version_id
    body: dict = {"LastModified": iso(rec.last_modified), "ETag": quoted(rec.etag)}
    for algo, value in rec.checksums.items():
        body["Checksum" + algo] = value
    if rec.checksum_type:
        body["ChecksumType"] = rec.checksum_type
    hdrs.update(object_sse_headers(rec))
    hdrs.update(expiration_headers(ctx, rec))
    return xml_response("CopyObjectResult", body, headers=hdrs)


def _part_range(rec: ObjectRecord, number: int) -> tuple[int, int]:
    if not rec.parts:
        if number == 1:
            return 0, rec.size
        raise S3Error("InvalidPartNumber", "The requested partnumber is not satisfiable",
                      PartNumberRequested=str(number),
                      ActualPartCount="1")
    if number > len(rec.parts):
        raise S3Error("InvalidPartNumber", "The requested partnumber is not satisfiable",
                      PartNumberRequested=str(number), ActualPartCount=str(len(rec.parts)))
    start = sum(p.size for p in rec.parts[: number - 1])
    return start, rec.parts[number - 1].size


@handles("GetObject", "HeadObject")
async def get_object(ctx: Ctx) -> web.StreamResponse:
    head = ctx.request.method == "HEAD"
    if ctx.header("x-amz-server-side-encryption") is not None:  # S3: only writes choose SSE-S3/SSE-KMS
        raise S3Error("InvalidArgument", "x-amz-server-side-encryption header is not supported for this operation.",
                      ArgumentName="x-amz-server-side-encryption")
    try:
        rec = await ctx.svc.objects.get(ctx.who, ctx.bucket, ctx.key, read_conditions(ctx),
                                        version_id=ctx.query.get("versionId"))
    except S3Error as e:
        raise await hide_missing(ctx, e) from None
    customer = check_read(ctx, rec)
    if ctx.query.get("archpath"):  # one member of a tar/zip object
        if rec.props.get("sse"):
            raise S3Error("InvalidRequest", "archpath is not supported on encrypted objects.")
        return await get_archived(ctx, rec, ctx.query["archpath"])
    checksum_mode = (ctx.header("x-amz-checksum-mode") or "").upper() == "ENABLED"
    headers = object_headers(rec, checksum_mode=checksum_mode)
    headers.update(version_headers(rec))
    headers.update(object_sse_headers(rec))
    headers.update(expiration_headers(ctx, rec))
    for q, h in _OVERRIDES.items():
        if q in ctx.query:
            headers[h] = ctx.query[q]
    status, start, length = 200, 0, rec.size
    part_number = ctx.query.get("partNumber")
    if part_number is not None:
        n = ctx.int_arg("partNumber", 1, lo=1, hi=10000)
        if ctx.header("Range"):
            raise S3Error("InvalidRequest", "Cannot specify both Range header and partNumber query parameter")
        start, length = _part_range(rec, n)
        if rec.parts:
            status = 206
            headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{rec.size}" if length else \
                f"bytes */{rec.size}"
            # the part's own checksum, not the object's
            if checksum_mode:
                for k in [k for k in headers if k.startswith("x-amz-checksum-")]:
                    del headers[k]
                for algo, v in rec.parts[n - 1].checksums.items():
                    headers["x-amz-checksum-" + algo.lower()] = v
    elif ctx.header("Range"):
        status, start, length = apply_range(ctx.header("Range"), rec.size, headers)
        if status == 206 and length != rec.size and rec.checksum_type != "COMPOSITE":
            # a whole-object checksum does not describe a range
            for k in [k for k in headers if k.startswith("x-amz-checksum-")]:
                del headers[k]
    headers["Content-Length"] = str(length)
    if head:
        return web.Response(status=status, headers=headers)
    if rec.props.get("sse"):
        return await send_encrypted(ctx, rec, customer, status, headers, start, length)
    return await send_range(ctx.request, ctx.svc, rec, status, headers, start, length)


@handles("DeleteObject")
async def delete_object(ctx: Ctx) -> web.StreamResponse:
    out = await ctx.svc.objects.delete(ctx.who, ctx.bucket, ctx.key, ctx.query.get("versionId"), bypass(ctx))
    headers = {}
    if out.delete_marker:
        headers["x-amz-delete-marker"] = "true"
    if out.version_id is not None:
        headers["x-amz-version-id"] = out.version_id
    return web.Response(status=204, headers=headers)


@handles("GetObjectAttributes")
async def get_object_attributes(ctx: Ctx) -> web.StreamResponse:
    wanted = {a.strip() for a in (ctx.header("x-amz-object-attributes") or "").split(",") if a.strip()}
    valid = {"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"}
    if not wanted or wanted - valid:
        raise S3Error("InvalidArgument", "Invalid attribute name specified.", ArgumentName="x-amz-object-attributes")
    try:
        rec = await ctx.svc.objects.get(ctx.who, ctx.bucket, ctx.key, read_conditions(ctx),
                                        version_id=ctx.query.get("versionId"))
    except S3Error as e:
        raise await hide_missing(ctx, e) from None
    check_read(ctx, rec)  # SSE-C objects: the key again, as S3 asks
    body: dict = {}
    if "ETag" in wanted:
        body["ETag"] = rec.etag
    if "Checksum" in wanted and rec.checksums:
        # the composite value without its "-N" suffix, as S3 answers here
        c = {"Checksum" + a: v.split("-")[0] for a, v in rec.checksums.items()}
        c["ChecksumType"] = rec.checksum_type or "FULL_OBJECT"
        body["Checksum"] = c
    if "ObjectParts" in wanted and rec.parts:
        max_parts = int(ctx.header("x-amz-max-parts") or 1000)
        marker = int(ctx.header("x-amz-part-number-marker") or 0)
        chosen = [p for p in rec.parts if p.number > marker][:max_parts]
        truncated = bool(chosen) and chosen[-1].number < rec.parts[-1].number
        parts = []
        for p in chosen:
            d: dict = {"PartNumber": p.number, "Size": p.size}
            if rec.checksum_type == "COMPOSITE":
                d.update({"Checksum" + a: v for a, v in p.checksums.items()})
            parts.append(d)
        body["ObjectParts"] = {
            "PartsCount": len(rec.parts), "PartNumberMarker": marker,
            "NextPartNumberMarker": chosen[-1].number if chosen else marker, "MaxParts": max_parts,
            "IsTruncated": truncated, "Part": parts,
        }
    if "StorageClass" in wanted:
        body["StorageClass"] = rec.storage_class
    if "ObjectSize" in wanted:
        body["ObjectSize"] = rec.size
    from coffer.protocol.timeutil import http_date

    out = {"Last-Modified": http_date(rec.last_modified)}
    if rec.version_id is not None:  # versioned buckets only: S3 names the version it described
        out["x-amz-version-id"] = rec.version_id
    return xml_response("GetObjectAttributesResponse", body, headers=out)
