"""WORM endpoints: S3 Object Lock (configuration, retention, legal hold) and IBM COS immutable
storage (bucket protection, named legal holds, retention extension); and the response headers both
dialects put on ordinary object answers (`version_headers`; the request side, `lock_request`, is in
http/common/write_headers.py).

The wire formats: S3's from the S3 API reference; IBM's from the ibm-cos-sdk service model
(`ibm_botocore/data/s3/*/service-2.json`): ProtectionConfiguration documents, `Retention-*` headers,
`?legalHold&add=ID`, `?extendRetention` with its four headers.
"""

from __future__ import annotations

from aiohttp import web

from coffer.protocol import xmlutil
from coffer.protocol.errors import MALFORMED_XML, S3Error, parse_document
from coffer.protocol.timeutil import iso8601
from coffer.server.http.common.body import read_small_body
from coffer.server.http.common.context import Ctx, handles
from coffer.server.http.common.respond import xml_response
from coffer.server.http.common.write_headers import header_date as _date
from coffer.server.http.common.write_headers import header_int as _int
from coffer.server.http.s3.lock_integrity import require_for_config
from coffer.server.meta.model import ObjectRecord
from coffer.server.service.worm.rule import lock_headers


def version_headers(rec: ObjectRecord) -> dict[str, str]:
    """x-amz-version-id (versioned writes), protection, and the tag count for GET/HEAD."""
    out = lock_headers(rec.props) if rec.props else {}
    if rec.version_id is not None:
        out["x-amz-version-id"] = rec.version_id
    tags = rec.props.get("tags")
    if tags:
        out["x-amz-tagging-count"] = str(len(tags))
    return out


def bypass(ctx: Ctx) -> bool:
    return (ctx.header("x-amz-bypass-governance-retention") or "").lower() == "true"


# -- S3 Object Lock --------------------------------------------------------------------------------


@handles("PutObjectLockConfiguration")
async def put_lock_config(ctx: Ctx) -> web.StreamResponse:
    require_for_config(ctx.request.headers)
    root = parse_document(await read_small_body(ctx.request, ctx.plan, 64 * 1024), "ObjectLockConfiguration")
    enabled = xmlutil.child_text(root, "ObjectLockEnabled") == "Enabled"
    rule = None
    r = xmlutil.find(root, "Rule")
    if r is not None:
        d = xmlutil.find(r, "DefaultRetention")
        if d is None:
            raise S3Error("MalformedXML", MALFORMED_XML)
        rule = {"mode": xmlutil.child_text(d, "Mode"), "days": _int(xmlutil.child_text(d, "Days"), "Days"),
                "years": _int(xmlutil.child_text(d, "Years"), "Years")}
    await ctx.svc.retention.put_config(ctx.who, ctx.bucket, enabled, rule)
    return web.Response(status=200)


@handles("GetObjectLockConfiguration")
async def get_lock_config(ctx: Ctx) -> web.StreamResponse:
    cfg = await ctx.svc.retention.get_config(ctx.who, ctx.bucket)
    body: dict = {"ObjectLockEnabled": "Enabled"}
    if cfg.get("mode"):
        unit = {"Days": cfg["days"]} if "days" in cfg else {"Years": cfg["years"]}
        body["Rule"] = {"DefaultRetention": {"Mode": cfg["mode"], **unit}}
    return xml_response("ObjectLockConfiguration", body)


@handles("PutObjectRetention")
async def put_retention(ctx: Ctx) -> web.StreamResponse:
    require_for_config(ctx.request.headers)
    root = parse_document(await read_small_body(ctx.request, ctx.plan, 64 * 1024), "Retention")
    mode = xmlutil.child_text(root, "Mode")
    until = _date(xmlutil.child_text(root, "RetainUntilDate"), "RetainUntilDate")
    await ctx.svc.retention.put_retention(ctx.who, ctx.bucket, ctx.key, ctx.query.get("versionId"), mode, until,
                                          bypass(ctx))
    return web.Response(status=200)


@handles("GetObjectRetention")
async def get_retention(ctx: Ctx) -> web.StreamResponse:
    ret = await ctx.svc.retention.get_retention(ctx.who, ctx.bucket, ctx.key, ctx.query.get("versionId"))
    return xml_response("Retention", {"Mode": ret["mode"], "RetainUntilDate": iso8601(float(ret["until"]))})


@handles("PutObjectLegalHold")
async def put_legal_hold(ctx: Ctx) -> web.StreamResponse:
    require_for_config(ctx.request.headers)
    root = parse_document(await read_small_body(ctx.request, ctx.plan, 64 * 1024), "LegalHold")
    status = xmlutil.child_text(root, "Status")
    if status not in ("ON", "OFF"):
        raise S3Error("MalformedXML", MALFORMED_XML)
    await ctx.svc.retention.put_legal_hold(ctx.who, ctx.bucket, ctx.key, ctx.query.get("versionId"), status == "ON")
    return web.Response(status=200)


@handles("GetObjectLegalHold")
async def get_legal_hold(ctx: Ctx) -> web.StreamResponse:
    on = await ctx.svc.retention.get_legal_hold(ctx.who, ctx.bucket, ctx.key, ctx.query.get("versionId"))
    return xml_response("LegalHold", {"Status": "ON" if on else "OFF"})


# -- IBM COS immutable storage ---------------------------------------------------------------------


def _days(root: xmlutil.Element, name: str) -> int:
    el = xmlutil.find(root, name)
    days = None if el is None else _int(xmlutil.child_text(el, "Days"), name)
    if days is None:
        raise S3Error("MalformedXML", MALFORMED_XML)
    return days


@handles("PutBucketProtectionConfiguration")
async def put_protection(ctx: Ctx) -> web.StreamResponse:
    root = parse_document(await read_small_body(ctx.request, ctx.plan, 64 * 1024), "ProtectionConfiguration")
    status = xmlutil.child_text(root, "Status") or ""
    permanent = (xmlutil.child_text(root, "EnablePermanentRetention") or "false").lower() == "true"
    await ctx.svc.ibm.put_protection(ctx.who, ctx.bucket, status, _days(root, "MinimumRetention"),
                                     _days(root, "DefaultRetention"), _days(root, "MaximumRetention"), permanent)
    return web.Response(status=200)


@handles("GetBucketProtectionConfiguration")
async def get_protection(ctx: Ctx) -> web.StreamResponse:
    p = await ctx.svc.ibm.get_protection(ctx.who, ctx.bucket)
    if not p:
        return xml_response("ProtectionConfiguration", {"Status": "Disabled"})
    body: dict = {"Status": p["status"], "MinimumRetention": {"Days": p["min"]},
                  "DefaultRetention": {"Days": p["default"]}, "MaximumRetention": {"Days": p["max"]}}
    if p.get("permanent"):
        body["EnablePermanentRetention"] = True
    return xml_response("ProtectionConfiguration", body)


@handles("IbmLegalHold")
async def legal_hold_change(ctx: Ctx) -> web.StreamResponse:
    add, remove = ctx.query.get("add"), ctx.query.get("remove")
    if (add is None) == (remove is None):
        raise S3Error("InvalidArgument", "Give exactly one of add=ID or remove=ID.", ArgumentName="legalHold")
    if add is not None:
        await ctx.svc.ibm.add_hold(ctx.who, ctx.bucket, ctx.key, add)
    else:
        await ctx.svc.ibm.remove_hold(ctx.who, ctx.bucket, ctx.key, remove or "")
    return web.Response(status=200)


@handles("ListLegalHolds")
async def list_legal_holds(ctx: Ctx) -> web.StreamResponse:
    rec, ibm = await ctx.svc.ibm.list_holds(ctx.who, ctx.bucket, ctx.key)
    body: dict = {"CreateTime": iso8601(rec.last_modified),
                  # the SDK's model names list items "member" (no locationName)
                  "LegalHolds": {"member": [{"ID": h["id"], "Date": iso8601(h["date"])}
                                            for h in ibm.get("holds", [])]},
                  "RetentionPeriod": ibm.get("period", 0)}
    if ibm.get("until") is not None:
        body["RetentionPeriodExpirationDate"] = iso8601(float(ibm["until"]))
    return xml_response("RetentionState", body)


@handles("ExtendObjectRetention")
async def extend_retention(ctx: Ctx) -> web.StreamResponse:
    h = ctx.request.headers
    await ctx.svc.ibm.extend(
        ctx.who, ctx.bucket, ctx.key,
        additional=_int(h.get("Additional-Retention-Period"), "Additional-Retention-Period"),
        from_now=_int(h.get("Extend-Retention-From-Current-Time"), "Extend-Retention-From-Current-Time"),
        new_period=_int(h.get("New-Retention-Period"), "New-Retention-Period"),
        new_until=_date(h.get("New-Retention-Expiration-Date"), "New-Retention-Expiration-Date"),
    )
    return web.Response(status=200)
