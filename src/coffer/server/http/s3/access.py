"""Access-control endpoints: Get/Put Bucket/Object Acl, Put/Get/DeleteBucketPolicy,
GetBucketPolicyStatus, Get/Put/DeleteBucketOwnershipControls, Get/Put/DeletePublicAccessBlock. The
rules are in service.access_config; this module only turns XML/JSON bodies and headers into calls and
answers (CreateBucket's ACL and ownership headers: service.access_config.new_bucket_props).
"""

from __future__ import annotations

from aiohttp import web

from coffer.protocol import xmlutil
from coffer.protocol.errors import MALFORMED_XML, S3Error, parse_document
from coffer.server.http.common.body import read_small_body
from coffer.server.http.common.context import Ctx, handles
from coffer.server.http.common.respond import xml_response
from coffer.server.service.access import acl as acls
from coffer.server.service.access.decision import PAB_FIELDS

MAX_POLICY_BODY = 20 * 1024 + 1  # one byte more than S3's limit, so the limit's own message answers


def _malformed_xml() -> S3Error:
    return S3Error("MalformedXML", MALFORMED_XML)


def lower_headers(ctx: Ctx) -> dict[str, str]:
    return {k.lower(): v for k, v in ctx.request.headers.items()}


def _key(ctx: Ctx) -> str | None:
    return ctx.route.key


@handles("GetBucketAcl", "GetObjectAcl")
async def get_acl(ctx: Ctx) -> web.StreamResponse:
    a = await ctx.svc.access_config.get_acl(ctx.bucket, _key(ctx))
    return web.Response(body=acls.acl_to_xml(a), content_type="application/xml")


@handles("PutBucketAcl", "PutObjectAcl")
async def put_acl(ctx: Ctx) -> web.StreamResponse:
    body = await read_small_body(ctx.request, ctx.plan, ctx.cfg.limits.max_xml_body)
    await ctx.svc.access_config.put_acl(ctx.bucket, _key(ctx), lower_headers(ctx), body)
    return web.Response(status=200)


# -- policy ----------------------------------------------------------------------------------------
@handles("GetBucketPolicy")
async def get_policy(ctx: Ctx) -> web.StreamResponse:
    raw = await ctx.svc.access_config.get_policy(ctx.bucket)
    return web.Response(body=raw.encode("utf-8"), content_type="application/json")


@handles("PutBucketPolicy")
async def put_policy(ctx: Ctx) -> web.StreamResponse:
    try:
        body = await read_small_body(ctx.request, ctx.plan, MAX_POLICY_BODY)
    except S3Error as e:
        if e.code not in ("EntityTooLarge", "MaxMessageLengthExceeded"):
            raise
        raise S3Error("MalformedPolicy", "Policies must be no larger than 20 KB") from None
    if not body.strip():
        raise S3Error("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'")
    await ctx.svc.access_config.put_policy(ctx.bucket, body)
    return web.Response(status=204)


@handles("DeleteBucketPolicy")
async def delete_policy(ctx: Ctx) -> web.StreamResponse:
    await ctx.svc.access_config.delete_policy(ctx.bucket)
    return web.Response(status=204)


@handles("GetBucketPolicyStatus")
async def policy_status(ctx: Ctx) -> web.StreamResponse:
    public = await ctx.svc.access_config.policy_status(ctx.bucket)
    return xml_response("PolicyStatus", {"IsPublic": public})


# -- ownership controls ----------------------------------------------------------------------------
@handles("GetBucketOwnershipControls")
async def get_ownership(ctx: Ctx) -> web.StreamResponse:
    mode = await ctx.svc.access_config.get_ownership(ctx.bucket)
    return xml_response("OwnershipControls", {"Rule": {"ObjectOwnership": mode}})


@handles("PutBucketOwnershipControls")
async def put_ownership(ctx: Ctx) -> web.StreamResponse:
    root = parse_document(await read_small_body(ctx.request, ctx.plan, ctx.cfg.limits.max_xml_body),
                          "OwnershipControls")
    rules = xmlutil.children(root, "Rule")
    if len(rules) != 1:
        raise _malformed_xml()
    await ctx.svc.access_config.put_ownership(ctx.bucket, xmlutil.child_text(rules[0], "ObjectOwnership") or "")
    return web.Response(status=200)


@handles("DeleteBucketOwnershipControls")
async def delete_ownership(ctx: Ctx) -> web.StreamResponse:
    await ctx.svc.access_config.put_ownership(ctx.bucket, None)
    return web.Response(status=204)


# -- public access block ---------------------------------------------------------------------------
@handles("GetPublicAccessBlock")
async def get_pab(ctx: Ctx) -> web.StreamResponse:
    conf = await ctx.svc.access_config.get_pab(ctx.bucket)
    return xml_response("PublicAccessBlockConfiguration", dict(conf))


@handles("PutPublicAccessBlock")
async def put_pab(ctx: Ctx) -> web.StreamResponse:
    root = parse_document(await read_small_body(ctx.request, ctx.plan, ctx.cfg.limits.max_xml_body),
                          "PublicAccessBlockConfiguration")
    conf: dict[str, bool] = {}
    for name in PAB_FIELDS:
        text = xmlutil.child_text(root, name)
        if text is None:
            continue
        if text.strip().lower() not in ("true", "false"):
            raise _malformed_xml()
        conf[name] = text.strip().lower() == "true"
    await ctx.svc.access_config.put_pab(ctx.bucket, conf)
    return web.Response(status=200)


@handles("DeletePublicAccessBlock")
async def delete_pab(ctx: Ctx) -> web.StreamResponse:
    await ctx.svc.access_config.put_pab(ctx.bucket, None)
    return web.Response(status=204)
