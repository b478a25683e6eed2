"""Multipart endpoints: Create, UploadPart(Copy), ListParts, ListMultipartUploads, Complete, Abort."""

from __future__ import annotations

import re

from aiohttp import web

from coffer.protocol import checksums as ck
from coffer.protocol import xmlutil
from coffer.protocol.errors import S3Error
from coffer.server.http.common.body import body_stream, integrity_for, read_small_body
from coffer.server.http.common.context import Ctx, handles
from coffer.server.http.common.respond import iso, quoted, xml_response
from coffer.server.http.common.sse import copy_source_customer, request_customer, request_sse, response_headers
from coffer.server.http.common.write_headers import lock_request, put_params, write_expect
from coffer.server.http.s3.authorize import authorize_source
from coffer.server.http.s3.lock_integrity import has_integrity_header, require_for_put
from coffer.server.http.s3.objects import expiration_headers, parse_copy_source_version, read_conditions
from coffer.server.service import CompletedPart

_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")


def _upload_id(ctx: Ctx) -> str:
    uid = ctx.query.get("uploadId", "")
    if not uid:
        raise S3Error("InvalidArgument", "This operation requires an uploadId.", ArgumentName="uploadId")
    return uid


@handles("CreateMultipartUpload")
async def create_upload(ctx: Ctx) -> web.StreamResponse:
    params = put_params(ctx)
    params.expect = None
    params.owner, params.props = await ctx.svc.access.new_object(ctx.who, ctx.bucket_rec, ctx.request.headers)
    params.sse = request_sse(ctx)
    algo = ctx.header("x-amz-checksum-algorithm")
    if algo is not None and algo.upper() not in ck.ALGORITHMS:
        raise S3Error("InvalidRequest", "Checksum algorithm provided is unsupported.")
    up = await ctx.svc.multipart.create(ctx.who, ctx.bucket, ctx.key, params, algo.upper() if algo else None,
                                        ctx.header("x-amz-checksum-type"))
    headers = response_headers(up.props.get("sse"))
    if up.checksum_algorithm:
        headers["x-amz-checksum-algorithm"] = up.checksum_algorithm
        headers["x-amz-checksum-type"] = up.checksum_type or "COMPOSITE"
    return xml_response("InitiateMultipartUploadResult",
                        {"Bucket": ctx.bucket, "Key": ctx.key, "UploadId": up.upload_id}, headers=headers)


@handles("UploadPart")
async def upload_part(ctx: Ctx) -> web.StreamResponse:
    uid = _upload_id(ctx)
    if "partNumber" not in ctx.query:
        raise S3Error("InvalidArgument", "partNumber is required", ArgumentName="partNumber")
    number = ctx.int_arg("partNumber", 0, lo=1, hi=ctx.cfg.limits.max_parts)
    source = ctx.header("x-amz-copy-source")
    if source is not None:
        src_bucket, src_key, src_version = parse_copy_source_version(source)
        await authorize_source(ctx, src_bucket, src_key)
        rng = None
        raw_range = ctx.header("x-amz-copy-source-range")
        if raw_range is not None:
            m = _RANGE.match(raw_range.strip())
            if not m:
                raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the form "
                              "bytes=first-last where first and last are the zero-based offsets of the first and "
                              "last bytes to copy", ArgumentName="x-amz-copy-source-range", ArgumentValue=raw_range)
            rng = (int(m.group(1)), int(m.group(2)))
        part, _src = await ctx.svc.multipart.upload_part_copy(
            ctx.who, ctx.bucket, ctx.key, uid, number, src_bucket, src_key, rng,
            read_conditions(ctx, "x-amz-copy-source-"), src_version=src_version,
            customer=request_customer(ctx), src_customer=copy_source_customer(ctx))
        body: dict = {"LastModified": iso(part.last_modified), "ETag": quoted(part.etag)}
        body.update({"Checksum" + a: v for a, v in part.checksums.items()})
        return xml_response("CopyPartResult", body, headers=await _upload_sse(ctx, uid))
    up = await ctx.svc.core.meta.get_upload(uid)  # one read serves the lock rule and the SSE headers
    if not has_integrity_header(ctx.request.headers):  # a locked object's parts need one (lock_integrity)
        require_for_put(ctx.request.headers, ctx.bucket_rec, None, ctx.plan,
                        upload_locked=up is not None and bool(up.props.get("lock")))
    integ = integrity_for(ctx.request, ctx.plan, require_length=True)
    part = await ctx.svc.multipart.upload_part(ctx.who, ctx.bucket, ctx.key, uid, number,
                                               body_stream(ctx.request, ctx.plan, integ), integ,
                                               request_customer(ctx))
    headers = {"ETag": quoted(part.etag), **response_headers(up.props.get("sse") if up else None)}
    for algo, value in part.checksums.items():
        headers["x-amz-checksum-" + algo.lower()] = value
    return web.Response(status=200, headers=headers)


async def _upload_sse(ctx: Ctx, upload_id: str) -> dict[str, str]:
    up = await ctx.svc.core.meta.get_upload(upload_id)
    return response_headers(up.props.get("sse") if up else None)


async def _people(ctx: Ctx, up, names: dict[str, str] | None = None) -> tuple[dict, dict]:
    """Initiator (who started the upload) and Owner (who will own the object: the bucket owner under
    BucketOwnerEnforced/Preferred, else the initiator), with their display names (`names`: a cache
    for a listing, one user lookup per distinct id)."""
    names = {} if names is None else names
    names.setdefault(ctx.who.user_id, ctx.who.display_name)
    owner = (up.props.get("object") or {}).get("owner") or up.owner
    out = []
    for uid in (up.owner, owner):
        if uid not in names:
            names[uid] = await ctx.svc.users.display_name(uid)
        out.append({"ID": uid, "DisplayName": names[uid] or uid})
    return out[0], out[1]


@handles("ListParts")
async def list_parts(ctx: Ctx) -> web.StreamResponse:
    uid = _upload_id(ctx)
    max_parts = ctx.int_arg("max-parts", 1000, lo=0, hi=2**31 - 1)
    marker = ctx.int_arg("part-number-marker", 0, lo=0, hi=2**31 - 1)
    up, parts, truncated = await ctx.svc.multipart.list_parts(ctx.who, ctx.bucket, ctx.key, uid, marker,
                                                             min(max_parts, 1000))
    initiator, owner = await _people(ctx, up)
    items = []
    for p in parts:
        d: dict = {"PartNumber": p.number, "LastModified": iso(p.last_modified), "ETag": quoted(p.etag),
                   "Size": p.size}
        d.update({"Checksum" + a: v for a, v in p.checksums.items()})
        items.append(d)
    body = {
        "Bucket": ctx.bucket, "Key": ctx.key, "UploadId": uid,
        "Initiator": initiator, "Owner": owner,
        "StorageClass": up.storage_class, "PartNumberMarker": marker,
        "NextPartNumberMarker": parts[-1].number if parts else marker,
        "MaxParts": max_parts, "IsTruncated": truncated,
        "ChecksumAlgorithm": up.checksum_algorithm, "ChecksumType": up.checksum_type, "Part": items,
    }
    return xml_response("ListPartsResult", body)


@handles("ListMultipartUploads")
async def list_uploads(ctx: Ctx) -> web.StreamResponse:
    q = ctx.query
    max_uploads = ctx.int_arg("max-uploads", 1000, lo=0, hi=2**31 - 1)
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter") or None
    page = await ctx.svc.multipart.list_uploads(ctx.who, ctx.bucket, prefix, delimiter, q.get("key-marker") or None,
                                                q.get("upload-id-marker") or None, min(max_uploads, 1000))
    uploads = []
    names: dict[str, str] = {}
    for u in page.uploads:
        initiator, owner = await _people(ctx, u, names)
        uploads.append({
            "Key": u.key, "UploadId": u.upload_id, "Initiator": initiator, "Owner": owner,
            "StorageClass": u.storage_class, "Initiated": iso(u.initiated),
            "ChecksumAlgorithm": u.checksum_algorithm, "ChecksumType": u.checksum_type,
        })
    body = {
        "Bucket": ctx.bucket, "KeyMarker": q.get("key-marker", ""), "UploadIdMarker": q.get("upload-id-marker", ""),
        "NextKeyMarker": page.next_key_marker, "NextUploadIdMarker": page.next_upload_id_marker,
        "Prefix": prefix, "Delimiter": delimiter, "MaxUploads": max_uploads, "IsTruncated": page.truncated,
        "Upload": uploads, "CommonPrefixes": [{"Prefix": p} for p in page.prefixes],
    }
    return xml_response("ListMultipartUploadsResult", body)


@handles("CompleteMultipartUpload")
async def complete(ctx: Ctx) -> web.StreamResponse:
    uid = _upload_id(ctx)
    body = await read_small_body(ctx.request, ctx.plan, ctx.cfg.limits.max_xml_body, checksum_headers=False)
    try:
        root = xmlutil.parse(body)
        wanted = []
        for p in xmlutil.children(root, "Part"):
            num = int(xmlutil.child_text(p, "PartNumber") or "")
            etag = xmlutil.child_text(p, "ETag")
            if etag is None:
                raise ValueError("ETag")
            sums = {a: v for a in ck.ALGORITHMS if (v := xmlutil.child_text(p, "Checksum" + a))}
            wanted.append(CompletedPart(num, etag.strip().strip('"'), sums))
        if xmlutil.local_name(root) != "CompleteMultipartUpload":
            raise ValueError("root")
    except (xmlutil.XmlError, ValueError):
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                      "published schema") from None
    h = ctx.request.headers
    expect = write_expect(ctx)
    full = {}
    for a in ck.ALGORITHMS:
        v = h.get("x-amz-checksum-" + a.lower())
        if v:
            full[a] = v
    rec = await ctx.svc.multipart.complete(ctx.who, ctx.bucket, ctx.key, uid, wanted, expect, full,
                                           lock=lock_request(ctx))
    out: dict = {"Location": f"/{ctx.bucket}/{ctx.key}", "Bucket": ctx.bucket, "Key": ctx.key,
                 "ETag": quoted(rec.etag)}
    out.update({"Checksum" + a: v for a, v in rec.checksums.items()})
    if rec.checksum_type:
        out["ChecksumType"] = rec.checksum_type
    headers = response_headers(rec.props.get("sse")) or {}
    if rec.version_id:
        headers["x-amz-version-id"] = rec.version_id
    headers.update(expiration_headers(ctx, rec))
    return xml_response("CompleteMultipartUploadResult", out, headers=headers or None)


@handles("AbortMultipartUpload")
async def abort(ctx: Ctx) -> web.StreamResponse:
    await ctx.svc.multipart.abort(ctx.who, ctx.bucket, ctx.key, _upload_id(ctx))
    return web.Response(status=204)


# -- append sessions (Coffer's API for AIStore-style appends; see service/objects/appends.py) -------------
APPEND_HANDLE = "x-coffer-append-handle"


@handles("AppendObject")
async def append(ctx: Ctx) -> web.StreamResponse:
    base = ctx.query.get("base", "")
    if base not in ("", "new", "existing"):
        raise S3Error("InvalidArgument", "base must be 'new' or 'existing'", ArgumentName="base", ArgumentValue=base)
    integ = integrity_for(ctx.request, ctx.plan, require_length=True)
    handle = await ctx.svc.appends.append(ctx.who, ctx.bucket, ctx.key, ctx.query.get("handle") or None,
                                          base == "existing", body_stream(ctx.request, ctx.plan, integ), integ)
    return web.Response(status=200, headers={APPEND_HANDLE: handle})


@handles("FlushAppend")
async def flush_append(ctx: Ctx) -> web.StreamResponse:
    handle = ctx.query.get("handle") or ctx.header(APPEND_HANDLE) or ""
    if "flush" not in ctx.query or not handle:
        raise S3Error("InvalidArgument", "POST ?append needs flush and handle", ArgumentName="handle")
    rec = await ctx.svc.appends.flush(ctx.who, ctx.bucket, ctx.key, handle)
    headers = {"ETag": quoted(rec.etag), APPEND_HANDLE: handle}
    if rec.version_id:
        headers["x-amz-version-id"] = rec.version_id
    return web.Response(status=200, headers=headers)


@handles("AbortAppend")
async def abort_append(ctx: Ctx) -> web.StreamResponse:
    handle = ctx.query.get("handle") or ctx.header(APPEND_HANDLE) or ""
    await ctx.svc.appends.abort(ctx.who, ctx.bucket, ctx.key, handle)
    return web.Response(status=204)
