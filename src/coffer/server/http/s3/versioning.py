"""Versioning endpoints: Put/GetBucketVersioning and ListObjectVersions."""

from __future__ import annotations

from aiohttp import web

from coffer.protocol import xmlutil
from coffer.protocol.errors import S3Error, parse_document
from coffer.server.http.common.body import read_small_body
from coffer.server.http.common.context import Ctx, handles
from coffer.server.http.common.respond import iso, xml_response
from coffer.server.http.s3.buckets import url_encoded as _url
from coffer.server.meta.model import CommonPrefix, VersionEntry


@handles("PutBucketVersioning")
async def put_versioning(ctx: Ctx) -> web.StreamResponse:
    root = parse_document(await read_small_body(ctx.request, ctx.plan, 64 * 1024), "VersioningConfiguration")
    status = xmlutil.child_text(root, "Status")
    if status is None:
        raise S3Error("IllegalVersioningConfigurationException",
                      "The Versioning element must be specified")
    await ctx.svc.versioning.put(ctx.who, ctx.bucket, status, xmlutil.child_text(root, "MfaDelete"))
    return web.Response(status=200)


@handles("GetBucketVersioning")
async def get_versioning(ctx: Ctx) -> web.StreamResponse:
    status = await ctx.svc.versioning.get(ctx.who, ctx.bucket)
    return xml_response("VersioningConfiguration", {"Status": status} if status else {})


@handles("ListObjectVersions")
async def list_versions(ctx: Ctx) -> web.StreamResponse:
    q = ctx.query
    enc = q.get("encoding-type")
    if enc not in (None, "url"):
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request",
                      ArgumentName="encoding-type", ArgumentValue=enc)
    url = enc == "url"
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter") or None
    max_keys = ctx.int_arg("max-keys", 1000, lo=0, hi=2**31 - 1)
    limit = min(max_keys, ctx.cfg.limits.max_list_keys)
    page = await ctx.svc.versioning.list(ctx.who, ctx.bucket, prefix, delimiter, q.get("key-marker"),
                                         q.get("version-id-marker"), limit)
    items: list[tuple[str, object]] = [
        ("Name", ctx.bucket), ("Prefix", _url(prefix, url)), ("KeyMarker", _url(q.get("key-marker", ""), url)),
        ("VersionIdMarker", q.get("version-id-marker", "")),
    ]
    if page.truncated:
        items.append(("NextKeyMarker", _url(page.next_key_marker, url)))
        if page.next_version_id_marker is not None:
            items.append(("NextVersionIdMarker", page.next_version_id_marker))
    items += [("MaxKeys", max_keys), ("Delimiter", _url(delimiter, url)), ("EncodingType", enc),
              ("IsTruncated", page.truncated)]
    names: dict[str, str] = {}
    for e in page.entries:
        if isinstance(e, CommonPrefix):
            items.append(("CommonPrefixes", {"Prefix": _url(e.prefix, url)}))
            continue
        items.append(await _entry(ctx, e, url, names))
    return xml_response("ListVersionsResult", xmlutil.pairs(*items))


async def _entry(ctx: Ctx, e: VersionEntry, url: bool, names: dict[str, str]) -> tuple[str, dict]:
    r = e.record
    if r.owner not in names:
        names[r.owner] = await ctx.svc.users.display_name(r.owner)
    owner = {"ID": r.owner, "DisplayName": names[r.owner]}
    common = {"Key": _url(r.key, url), "VersionId": r.version_id or "null", "IsLatest": e.is_latest,
              "LastModified": iso(r.last_modified)}
    if r.delete_marker:
        return "DeleteMarker", {**common, "Owner": owner}
    body = {**common, "ETag": f'"{r.etag}"', "Size": r.size, "StorageClass": r.storage_class, "Owner": owner}
    if r.checksums:
        body["ChecksumAlgorithm"] = next(iter(r.checksums))
        body["ChecksumType"] = r.checksum_type or "FULL_OBJECT"
    return "Version", body
