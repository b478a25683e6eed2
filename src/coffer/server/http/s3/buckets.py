"""Bucket endpoints: ListBuckets, Create/Head/DeleteBucket, location, listings, DeleteObjects."""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import quote
from xml.sax.saxutils import escape

from aiohttp import web

from coffer.protocol import xmlutil
from coffer.protocol.errors import S3Error
from coffer.server.http.common.body import read_small_body
from coffer.server.http.common.context import Ctx, handles
from coffer.server.http.common.respond import iso, xml_response
from coffer.server.http.common.sse import key_protect_headers, key_protect_props
from coffer.server.http.s3.access import lower_headers
from coffer.server.http.s3.authorize import allowed_keys
from coffer.server.meta.model import CommonPrefix, ObjectEntry
from coffer.server.service import Principal
from coffer.server.service.storage import policies as storage


async def _owner(ctx: Ctx, user_id: str, cache: dict[str, str]) -> dict:
    if user_id not in cache:
        cache[user_id] = await ctx.svc.users.display_name(user_id)
    return {"ID": user_id, "DisplayName": cache[user_id]}


async def instance_account(ctx: Ctx) -> Principal:
    """The account an IBM `ibm-service-instance-id` header names (ibm_boto3 sends it on CreateBucket
    and ListBuckets): a user's service instance id is their user id. Absent or the caller's own: the
    caller; an admin may name another user's account and act for it. A request signed with HMAC keys
    is the keys' account whatever instance it names (as IBM COS treats HMAC credentials: code written
    for IBM passes its resource CRN here); a bearer token (IBM API key) naming another account is refused."""
    instance = ctx.header("ibm-service-instance-id")
    if instance is None or instance == ctx.who.user_id:
        return ctx.who
    user = await ctx.svc.core.meta.get_user(instance) if ctx.who.admin else None
    if user is not None:
        return Principal(user.id, user.display_name, admin=bool(user.props.get("admin")))
    if not (ctx.header("Authorization") or "").startswith("Bearer "):
        return ctx.who
    raise S3Error("AccessDenied", "The ibm-service-instance-id does not name an account you may act for.")


@handles("ListBuckets")
async def list_buckets(ctx: Ctx) -> web.StreamResponse:
    who = await instance_account(ctx)
    buckets = await ctx.svc.buckets.list(who)
    prefix = ctx.query.get("prefix", "")
    if prefix:
        buckets = [b for b in buckets if b.name.startswith(prefix)]
    token = ctx.query.get("continuation-token")
    if token is not None:  # the token is the last name of the previous page (base64)
        try:
            after = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                          ArgumentName="continuation-token") from None
        buckets = [b for b in buckets if b.name > after]
    limit = ctx.int_arg("max-buckets", 10000, lo=1, hi=10000) if "max-buckets" in ctx.query else None
    next_token = None
    if limit is not None and len(buckets) > limit:
        buckets = buckets[:limit]
        next_token = base64.urlsafe_b64encode(buckets[-1].name.encode()).decode()
    body: dict = {
        "Owner": {"ID": who.user_id, "DisplayName": who.display_name},
        "Buckets": {"Bucket": [
            {"Name": b.name, "CreationDate": iso(b.created), "BucketRegion": b.region} for b in buckets
        ]},
    }
    if next_token:
        body["ContinuationToken"] = next_token
    if "prefix" in ctx.query:
        body["Prefix"] = prefix
    return xml_response("ListAllMyBucketsResult", body)


@handles("CreateBucket")
async def create_bucket(ctx: Ctx) -> web.StreamResponse:
    body = await read_small_body(ctx.request, ctx.plan, 64 * 1024)
    location = None
    if body.strip():
        try:
            root = xmlutil.parse(body)
        except xmlutil.XmlError:
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate "
                          "against our published schema") from None
        location = xmlutil.child_text(root, "LocationConstraint") or None
    if location is not None and location != ctx.cfg.region and not _region_like(location):
        raise S3Error("InvalidLocationConstraint", "The specified location-constraint is not valid",
                      LocationConstraint=location)
    lock = (ctx.header("x-amz-bucket-object-lock-enabled") or "").lower() == "true"
    # a bucket created with object lock is versioned from its first write
    props = {"versioning": "Enabled", "object_lock": {"enabled": True}} if lock else {}
    props.update(await ctx.svc.access_config.new_bucket_props(ctx.who, lower_headers(ctx)))  # ACL, ownership
    props.update(key_protect_props(ctx) or {})  # IBM Key Protect-style bucket
    policy = storage.checked(ctx.svc.core.data, ctx.header(storage.HEADER))  # default storage policy
    if policy is not None:
        props[storage.BUCKET_PROP] = policy.name
    await ctx.svc.buckets.create(await instance_account(ctx), ctx.bucket, location, props,
                                 ds3_names=_ds3_signed(ctx), us_east_1_recreate=True)
    return web.Response(status=200, headers={"Location": "/" + ctx.bucket})


def _ds3_signed(ctx: Ctx) -> bool:
    """A Spectra DS3 SDK's request (its `AWS id:sig` without a User-Agent, as the DS3 front tells them):
    DS3's bucket naming rules and its multi-object delete without Content-MD5 apply."""
    return ctx.request.headers.get("Authorization", "").startswith("AWS ") and "User-Agent" not in ctx.request.headers


def _region_like(s: str) -> bool:
    return 1 <= len(s) <= 64 and all(c.isalnum() or c == "-" for c in s)


@handles("HeadBucket")
async def head_bucket(ctx: Ctx) -> web.StreamResponse:
    b = await ctx.svc.buckets.head(ctx.who, ctx.bucket)
    return web.Response(status=200, headers={"x-amz-bucket-region": b.region, **key_protect_headers(b)})


@handles("DeleteBucket")
async def delete_bucket(ctx: Ctx) -> web.StreamResponse:
    await ctx.svc.buckets.delete(ctx.who, ctx.bucket)
    return web.Response(status=204)


@handles("GetBucketLocation")
async def bucket_location(ctx: Ctx) -> web.StreamResponse:
    b = await ctx.svc.buckets.head(ctx.who, ctx.bucket)
    # us-east-1 answers an empty LocationConstraint, as S3 does
    region = "" if b.region == "us-east-1" else escape(b.region)
    doc = (f'<?xml version="1.0" encoding="UTF-8"?>\n'
           f'<LocationConstraint xmlns="{xmlutil.S3_NS}">{region}</LocationConstraint>')
    return web.Response(body=doc.encode(), content_type="application/xml")




def url_encoded(value: str | None, url: bool) -> str | None:
    """A listing field as sent back: URL-encoded when the request asked for encoding-type=url."""
    if value is None:
        return None
    return quote(value, safe="/") if url else value


def _token(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode()).decode()


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                      ArgumentName="continuation-token") from None


@handles("ListObjects")
async def list_objects(ctx: Ctx) -> web.StreamResponse:
    q = ctx.query
    v2 = q.get("list-type") == "2"
    if "list-type" in q and not v2:
        raise S3Error("InvalidArgument", "Invalid List Type specified", ArgumentName="list-type")
    enc = q.get("encoding-type")
    if enc not in (None, "url"):
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request",
                      ArgumentName="encoding-type", ArgumentValue=enc)
    url = enc == "url"
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter") or None
    max_keys = ctx.int_arg("max-keys", 1000, lo=0, hi=2**31 - 1)
    limit = min(max_keys, ctx.cfg.limits.max_list_keys)
    if v2:
        token = q.get("continuation-token")
        after = _untoken(token) if token is not None else (q.get("start-after") or None)
    else:
        after = q.get("marker") or None
    page = await ctx.svc.objects.list(ctx.who, ctx.bucket, prefix, delimiter, after, limit)
    fetch_owner = (not v2) or q.get("fetch-owner") == "true"
    names: dict[str, str] = {}
    pieces: list[str] = []  # Contents and CommonPrefixes, pre-rendered in listing order
    for e in page.entries:
        if isinstance(e, CommonPrefix):
            pieces.append(f"<CommonPrefixes><Prefix>{_text(e.prefix, url)}</Prefix></CommonPrefixes>")
        else:
            owner = await _owner(ctx, e.owner, names) if fetch_owner else None
            pieces.append(_contents(e, url, owner))
    # V2 url-encodes Prefix like the keys; V1 echoes it as sent (botocore, like S3's other clients, decodes
    # only Delimiter, Marker, NextMarker and the keys of a V1 answer)
    body: dict = {"Name": ctx.bucket, "Prefix": url_encoded(prefix, url and v2)}
    if v2:
        body["KeyCount"] = len(page.entries)
        if q.get("continuation-token") is not None:
            body["ContinuationToken"] = q["continuation-token"]
        if page.truncated and page.next_marker is not None:
            body["NextContinuationToken"] = _token(page.next_marker)
        if "start-after" in q:
            body["StartAfter"] = url_encoded(q["start-after"], url)
    else:
        body["Marker"] = url_encoded(q.get("marker", ""), url)
        if page.truncated and delimiter and page.next_marker is not None:
            body["NextMarker"] = url_encoded(page.next_marker, url)
    body["MaxKeys"] = max_keys
    body["Delimiter"] = url_encoded(delimiter, url)
    body["EncodingType"] = enc
    body["IsTruncated"] = page.truncated
    doc = xmlutil.to_xml("ListBucketResult", body)
    # Splice the entries in before the closing tag: a page of 1000 keys rendered through the
    # generic builder cost ~15 ms, the direct f-strings below a fraction of that.
    close = b"</ListBucketResult>"
    return web.Response(body=doc[: -len(close)] + "".join(pieces).encode() + close, content_type="application/xml")


# Anything escape_text would change: markup characters, CR, and what XML 1.0 cannot carry.
_UNSAFE = re.compile("[&<>\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str, url: bool) -> str:
    if url:
        return quote(value, safe="/")
    # one regex scan per key instead of four substring/regex scans (keys are rendered 1000 a page)
    return xmlutil.escape_text(value) if _UNSAFE.search(value) else value


def _contents(o: ObjectEntry, url: bool, owner: dict | None) -> str:
    checksum = ""
    if o.checksum_algorithm:
        checksum = (f"<ChecksumAlgorithm>{o.checksum_algorithm}</ChecksumAlgorithm>"
                    f"<ChecksumType>{o.checksum_type or 'FULL_OBJECT'}</ChecksumType>")
    who = ""
    if owner is not None:
        who = f"<Owner><ID>{_text(owner['ID'], False)}</ID><DisplayName>{_text(owner['DisplayName'], False)}" \
              "</DisplayName></Owner>"
    return (f"<Contents><Key>{_text(o.key, url)}</Key><LastModified>{iso(o.last_modified)}</LastModified>"
            f"<ETag>&quot;{o.etag}&quot;</ETag>{checksum}<Size>{o.size}</Size>"
            f"<StorageClass>{o.storage_class}</StorageClass>{who}</Contents>")


@handles("DeleteObjects")
async def delete_objects(ctx: Ctx) -> web.StreamResponse:
    if ctx.header("Content-MD5") is None and not _ds3_signed(ctx) and not any(
        k.lower().startswith("x-amz-checksum-") or k.lower() in ("x-amz-sdk-checksum-algorithm", "x-amz-trailer")
        for k in ctx.request.headers
    ):
        raise S3Error("InvalidRequest", "Missing required header for this request: Content-MD5")
    body = await read_small_body(ctx.request, ctx.plan, ctx.cfg.limits.max_xml_body)
    try:
        root = xmlutil.parse(body)
        objs = xmlutil.children(root, "Object")
        quiet = (xmlutil.child_text(root, "Quiet") or "false").strip().lower() == "true"
        keys = [xmlutil.child_text(o, "Key") for o in objs]
        versions = [xmlutil.child_text(o, "VersionId") for o in objs]
    except xmlutil.XmlError:
        keys, objs, quiet = [], [], False
        root = None
    if root is None or xmlutil.local_name(root) != "Delete" or not objs \
            or len(objs) > ctx.cfg.limits.max_delete_keys or any(k is None for k in keys):
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                      "our published schema")
    from coffer.server.http.s3.worm import bypass

    pairs = list(zip(keys, versions, strict=True))
    ok = await allowed_keys(ctx, "s3:DeleteObject", [k for k in keys if k])  # decided per key
    asked = [(k, v) for k, v in pairs if not k or k in ok]
    if (intend := ctx.request.get("coffer.intend")) is not None and asked:  # notifications' crash window
        await intend([k for k, _v in asked if k])
    results = await ctx.svc.versioning.delete_many(ctx.who, ctx.bucket, asked, bypass(ctx)) if asked else []
    deleted, errors = [], []
    for (key, vid), res in zip(asked, results, strict=True):
        if isinstance(res, S3Error):
            errors.append({"Key": key, "VersionId": vid, "Code": res.code, "Message": res.message})
        elif not quiet:
            d: dict = {"Key": key, "VersionId": vid}
            if res.delete_marker:
                d["DeleteMarker"] = True
                d["DeleteMarkerVersionId"] = res.version_id
            deleted.append(d)
    errors += [{"Key": k, "VersionId": v, "Code": "AccessDenied", "Message": "Access Denied"}
               for k, v in pairs if k and k not in ok]
    # for bucket notification events (common.hooks.around_write): each key deleted, and whether as a marker
    ctx.request["coffer.deleted"] = [(key, res.delete_marker) for (key, _v), res in zip(asked, results, strict=True)
                                     if key and not isinstance(res, S3Error)]
    if _ds3_signed(ctx):  # the DS3 SDK's parser finds children by plain tag name: no namespace
        return web.Response(body=xmlutil.to_xml("DeleteResult", {"Deleted": deleted, "Error": errors}, ns=None),
                            content_type="application/xml")
    return xml_response("DeleteResult", {"Deleted": deleted, "Error": errors})
