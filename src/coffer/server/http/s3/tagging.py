"""Tagging and lifecycle endpoints: object and bucket tagging, bucket lifecycle configuration.

Lifecycle XML <-> the service's rule dicts (service/objects/lifecycle.py) is translated here: Filter with
Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan or And (and the legacy rule-level Prefix);
Expiration (Days, Date, ExpiredObjectDeleteMarker); NoncurrentVersionExpiration (NoncurrentDays,
NewerNoncurrentVersions); AbortIncompleteMultipartUpload (DaysAfterInitiation).
"""

from __future__ import annotations

import base64
import os
from typing import Any

from aiohttp import web

from coffer.protocol import xmlutil
from coffer.protocol.errors import MALFORMED_XML, S3Error, parse_document
from coffer.protocol.timeutil import iso8601, parse_iso8601
from coffer.server.http.common.body import read_small_body
from coffer.server.http.common.context import Ctx, handles
from coffer.server.http.common.respond import xml_response
from coffer.server.http.s3.authorize import authorize_with_tags
from coffer.server.service.objects.tagging import BUCKET_TAG_LIMIT, OBJECT_TAG_LIMIT, check_tags


def _tag_pairs(el: xmlutil.Element) -> list[tuple[str, str]]:
    pairs = []
    for t in xmlutil.children(el, "Tag"):
        k, v = xmlutil.child_text(t, "Key"), xmlutil.child_text(t, "Value")
        if k is None:
            raise S3Error("MalformedXML", MALFORMED_XML)
        pairs.append((k, v or ""))
    return pairs


def tagging_document(body: bytes | str, limit: int = OBJECT_TAG_LIMIT) -> dict[str, str]:
    """A <Tagging><TagSet>... document (PutObjectTagging's body, a POST form's `tagging` field)."""
    root = parse_document(body.encode() if isinstance(body, str) else body, "Tagging")
    ts = xmlutil.find(root, "TagSet")
    if ts is None:
        raise S3Error("MalformedXML", MALFORMED_XML)
    return check_tags(_tag_pairs(ts), limit)


async def _tagset(ctx: Ctx, limit: int) -> dict[str, str]:
    root = parse_document(await read_small_body(ctx.request, ctx.plan, 64 * 1024), "Tagging")
    ts = xmlutil.find(root, "TagSet")
    if ts is None:
        raise S3Error("MalformedXML", MALFORMED_XML)
    return check_tags(_tag_pairs(ts), limit)


def _tagging_doc(tags: dict[str, str], headers: dict | None = None) -> web.Response:
    return xml_response("Tagging", {"TagSet": {"Tag": [{"Key": k, "Value": v} for k, v in tags.items()]}},
                        headers=headers)


@handles("PutObjectTagging")
async def put_object_tagging(ctx: Ctx) -> web.StreamResponse:
    tags = await _tagset(ctx, OBJECT_TAG_LIMIT)
    await authorize_with_tags(ctx, tags)
    rec = await ctx.svc.tagging.put_object_tags(ctx.who, ctx.bucket, ctx.key, ctx.query.get("versionId"), tags)
    return web.Response(status=200, headers={"x-amz-version-id": rec.version_id} if rec.version_id else None)


@handles("GetObjectTagging")
async def get_object_tagging(ctx: Ctx) -> web.StreamResponse:
    rec = await ctx.svc.tagging.get_object_tags(ctx.who, ctx.bucket, ctx.key, ctx.query.get("versionId"))
    return _tagging_doc(rec.props.get("tags") or {}, {"x-amz-version-id": rec.version_id} if rec.version_id else None)


@handles("DeleteObjectTagging")
async def delete_object_tagging(ctx: Ctx) -> web.StreamResponse:
    rec = await ctx.svc.tagging.put_object_tags(ctx.who, ctx.bucket, ctx.key, ctx.query.get("versionId"), None)
    return web.Response(status=204, headers={"x-amz-version-id": rec.version_id} if rec.version_id else None)


@handles("PutBucketTagging")
async def put_bucket_tagging(ctx: Ctx) -> web.StreamResponse:
    await ctx.svc.tagging.put_bucket_tags(ctx.who, ctx.bucket, await _tagset(ctx, BUCKET_TAG_LIMIT))
    return web.Response(status=204)


@handles("GetBucketTagging")
async def get_bucket_tagging(ctx: Ctx) -> web.StreamResponse:
    return _tagging_doc(await ctx.svc.tagging.get_bucket_tags(ctx.who, ctx.bucket))


@handles("DeleteBucketTagging")
async def delete_bucket_tagging(ctx: Ctx) -> web.StreamResponse:
    await ctx.svc.tagging.put_bucket_tags(ctx.who, ctx.bucket, None)
    return web.Response(status=204)


# -- lifecycle -----------------------------------------------------------------------------------


def _num(el: xmlutil.Element, name: str) -> int | None:
    text = xmlutil.child_text(el, name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise S3Error("MalformedXML", MALFORMED_XML) from None


def _filter(rule: xmlutil.Element) -> dict[str, Any]:
    f = xmlutil.find(rule, "Filter")
    legacy = xmlutil.child_text(rule, "Prefix")
    if f is None:  # the legacy rule-level <Prefix> (or none at all): rendered back the same way
        return {"prefix": legacy or "", "form": "legacy" if legacy is not None else "none"}
    if legacy is not None:
        raise S3Error("MalformedXML", MALFORMED_XML)
    scope = xmlutil.find(f, "And")
    several = sum(1 for c in f if isinstance(c.tag, str)) > 1
    if scope is not None and several:
        raise S3Error("MalformedXML", MALFORMED_XML)
    src = scope if scope is not None else f
    out: dict[str, Any] = {"prefix": xmlutil.child_text(src, "Prefix") or "",
                           "form": "and" if scope is not None else "filter",
                           "has_prefix": xmlutil.find(src, "Prefix") is not None}
    tags = _tag_pairs(src)
    if tags:
        out["tags"] = check_tags(tags, OBJECT_TAG_LIMIT)
    out["gt"], out["lt"] = _num(src, "ObjectSizeGreaterThan"), _num(src, "ObjectSizeLessThan")
    if several:
        raise S3Error("MalformedXML", MALFORMED_XML)  # several conditions need <And>
    return out


def parse_rule(r: xmlutil.Element) -> dict[str, Any]:
    # S3 names a rule sent without an ID itself (and answers that name from then on)
    rule: dict[str, Any] = {"id": xmlutil.child_text(r, "ID") or base64.b32encode(os.urandom(30)).decode(),
                            "status": xmlutil.child_text(r, "Status"), "filter": _filter(r)}
    e = xmlutil.find(r, "Expiration")
    if e is not None:
        exp: dict[str, Any] = {}
        if (d := _num(e, "Days")) is not None:
            exp["days"] = d
        if (date := xmlutil.child_text(e, "Date")) is not None:
            ts = parse_iso8601(date)
            if ts is None:
                raise S3Error("InvalidArgument", "'Date' must be in ISO 8601 format", ArgumentName="Date")
            exp["date"] = ts
        if (m := xmlutil.child_text(e, "ExpiredObjectDeleteMarker")) is not None:
            exp["expired_marker"] = m.strip().lower() == "true"
        if not exp:
            raise S3Error("MalformedXML", MALFORMED_XML)
        rule["expiration"] = exp
    n = xmlutil.find(r, "NoncurrentVersionExpiration")
    if n is not None:
        rule["noncurrent"] = {"days": _num(n, "NoncurrentDays") or 0, "newer": _num(n, "NewerNoncurrentVersions")}
    a = xmlutil.find(r, "AbortIncompleteMultipartUpload")
    if a is not None:
        rule["abort_mpu"] = _num(a, "DaysAfterInitiation") or 0
    for t in xmlutil.children(r, "Transition"):  # a bad transition is the client's error before our 501
        date = xmlutil.child_text(t, "Date")
        ts = parse_iso8601(date) if date is not None else None
        if date is not None and (ts is None or ts % 86400):
            raise S3Error("InvalidArgument", "'Date' must be at midnight GMT", ArgumentName="Date")
        days = xmlutil.child_text(t, "Days")
        if days is not None and (not days.strip().isdigit()):
            raise S3Error("InvalidArgument", "'Days' for Transition action must be a non-negative integer",
                          ArgumentName="Days")
    for unsupported in ("Transition", "NoncurrentVersionTransition"):
        if xmlutil.find(r, unsupported) is not None:
            raise S3Error("NotImplemented", f"{unsupported} is not implemented (Coffer has one storage tier).")
    return rule


def render_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A stored rule as it was sent: rule-level Prefix, Filter, or Filter/And (rules stored before the form
    was recorded come back as a Filter)."""
    f = rule.get("filter") or {}
    form = f.get("form", "filter")
    conds: list[tuple[str, Any]] = []
    if f.get("prefix") or f.get("has_prefix"):
        conds.append(("Prefix", f.get("prefix", "")))
    conds += [("Tag", {"Key": k, "Value": v}) for k, v in (f.get("tags") or {}).items()]
    if f.get("gt") is not None:
        conds.append(("ObjectSizeGreaterThan", f["gt"]))
    if f.get("lt") is not None:
        conds.append(("ObjectSizeLessThan", f["lt"]))
    flt: Any = xmlutil.pairs(("And", xmlutil.pairs(*conds))) if len(conds) > 1 or form == "and" \
        else xmlutil.pairs(*conds)
    if not conds and "has_prefix" not in f:  # stored before the form was recorded
        flt = {"Prefix": ""}
    where: list[tuple[str, Any]] = [("Filter", flt)]
    if form == "legacy":
        where = [("Prefix", f.get("prefix", ""))]
    elif form == "none":
        where = []
    out: list[tuple[str, Any]] = [("ID", rule.get("id") or None), *where, ("Status", rule["status"])]
    exp = rule.get("expiration")
    if exp:
        out.append(("Expiration", {"Days": exp.get("days"), "Date": iso8601(exp["date"]) if "date" in exp else None,
                                   "ExpiredObjectDeleteMarker": exp.get("expired_marker")}))
    nc = rule.get("noncurrent")
    if nc:
        out.append(("NoncurrentVersionExpiration", {"NoncurrentDays": nc["days"],
                                                    "NewerNoncurrentVersions": nc.get("newer")}))
    if rule.get("abort_mpu") is not None:
        out.append(("AbortIncompleteMultipartUpload", {"DaysAfterInitiation": rule["abort_mpu"]}))
    return xmlutil.pairs(*out)


@handles("PutBucketLifecycleConfiguration")
async def put_lifecycle(ctx: Ctx) -> web.StreamResponse:
    root = parse_document(await read_small_body(ctx.request, ctx.plan, ctx.cfg.limits.max_xml_body),
                 "LifecycleConfiguration")
    rules = [parse_rule(r) for r in xmlutil.children(root, "Rule")]
    await ctx.svc.lifecycle.put(ctx.who, ctx.bucket, rules)
    return web.Response(status=200)


@handles("GetBucketLifecycleConfiguration")
async def get_lifecycle(ctx: Ctx) -> web.StreamResponse:
    rules = await ctx.svc.lifecycle.get(ctx.who, ctx.bucket)
    return xml_response("LifecycleConfiguration", {"Rule": [render_rule(r) for r in rules]})


@handles("DeleteBucketLifecycle")
async def delete_lifecycle(ctx: Ctx) -> web.StreamResponse:
    await ctx.svc.lifecycle.delete(ctx.who, ctx.bucket)
    return web.Response(status=204)
