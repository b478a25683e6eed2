"""Coffer's OpenIO extension endpoints: `/_coffer/oio/v1/<operation>` (JSON in, JSON out).

Owns the wire form of the operations `coffer.compat.oio.ObjectStorageApi` needs beyond plain S3
(account usage and properties, container properties/statistics/snapshot/flush, object properties,
head with a trust level, locate, truncate, drain, link, rich listings). The prefix cannot collide
with S3: `_coffer` is not a valid bucket name. Requests are signed like any S3 request (SigV4/V2
over the path and query as sent); errors are ordinary S3 XML errors. The container is the `container`
query argument, the object the `obj` argument; the body, when there is one, is a JSON object.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.http.common.body import read_json_object
from coffer.server.http.common.context import Ctx, handles
from coffer.server.http.common.endpoint import Endpoint, Route
from coffer.server.service.compat import oio_maintenance

PREFIX = "/_coffer/oio/v1/"
_MAX_BODY = 256 * 1024

# (method, operation) -> (endpoint name, permission)
OPERATIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "account"): ("OioAccountShow", "s3:ListAllMyBuckets"),
    ("POST", "account-props"): ("OioAccountProps", "coffer:SetAccountProperties"),
    ("GET", "containers"): ("OioContainerList", "s3:ListAllMyBuckets"),
    ("GET", "container"): ("OioContainerShow", "s3:ListBucket"),
    ("POST", "container-props"): ("OioContainerProps", "coffer:SetContainerProperties"),
    ("POST", "container-snapshot"): ("OioContainerSnapshot", "s3:CreateBucket"),
    ("POST", "container-flush"): ("OioContainerFlush", "s3:DeleteObject"),
    ("GET", "objects"): ("OioObjectList", "s3:ListBucket"),
    ("GET", "object"): ("OioObjectShow", "s3:GetObject"),
    ("POST", "object-props"): ("OioObjectProps", "s3:PutObject"),
    ("GET", "object-head"): ("OioObjectHead", "s3:GetObject"),
    ("GET", "object-locate"): ("OioObjectLocate", "s3:GetObject"),
    ("POST", "object-truncate"): ("OioObjectTruncate", "s3:PutObject"),
    ("POST", "object-drain"): ("OioObjectDrain", "s3:PutObject"),
    ("POST", "object-link"): ("OioObjectLink", "s3:PutObject"),
    # h_oio_maintenance.py: touch, refresh, purge, account delete, policy change
    ("POST", "object-touch"): ("OioObjectTouch", "s3:GetObject"),
    ("POST", "object-policy"): ("OioObjectPolicy", "s3:PutObject"),
    ("POST", "container-refresh"): ("OioContainerRefresh", "s3:ListBucket"),
    ("POST", "container-purge"): ("OioContainerPurge", "s3:DeleteObjectVersion"),
    ("POST", "account-delete"): ("OioAccountDelete", "coffer:DeleteAccount"),
}


def ext_route(method: str, raw_path: str, query: dict[str, str]) -> Route:
    if not raw_path.startswith(PREFIX):
        raise S3Error("NotImplemented", "Unknown Coffer extension.")
    op = raw_path[len(PREFIX):]
    found = OPERATIONS.get((method, op))
    if found is None:
        if any(o == op for (_m, o) in OPERATIONS):
            raise S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.",
                          Method=method, ResourceType=op)
        raise S3Error("NotImplemented", f"Unknown OpenIO operation {op!r}.")
    return Route(Endpoint(*found), query.get("container") or None, query.get("obj") or None)


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(value, separators=(",", ":")).encode(),
                        content_type="application/json")


async def _body(ctx: Ctx) -> dict[str, Any]:
    return await read_json_object(ctx.request, ctx.plan, _MAX_BODY)


def _need(ctx: Ctx, *names: str) -> list[str]:
    missing = [n for n in names if not ctx.query.get(n)]
    if missing:
        raise S3Error("InvalidArgument", f"Missing query argument {missing[0]!r}.", ArgumentName=missing[0],
                      ArgumentValue="")
    return [ctx.query[n] for n in names]


def version(ctx: Ctx) -> str | None:
    """OpenIO's `version` argument: the S3 version id, as `versionId` (so the gate asks for the
    *Version permissions, as S3 does for a versioned request)."""
    return ctx.query.get("versionId") or None


def _props_args(doc: dict[str, Any]) -> tuple[dict | None, list | None, bool]:
    set_, delete = doc.get("set"), doc.get("delete")
    if (set_ is not None and not isinstance(set_, dict)) or (delete is not None and not isinstance(delete, list)):
        raise S3Error("InvalidArgument", "'set' must be an object and 'delete' a list.")
    return set_, delete, bool(doc.get("clear"))


def _system(doc: dict[str, Any]) -> dict | None:
    system = doc.get("system")
    if system is not None and not isinstance(system, dict):
        raise S3Error("InvalidArgument", "'system' must be an object.")
    return system


@handles("OioAccountShow")
async def account_show(ctx: Ctx) -> web.StreamResponse:
    return _json(await ctx.svc.oio.account_show(ctx.who))


@handles("OioAccountProps")
async def account_props(ctx: Ctx) -> web.StreamResponse:
    return _json({"properties": await ctx.svc.oio.account_set_properties(ctx.who, *_props_args(await _body(ctx)))})


@handles("OioContainerList")
async def container_list(ctx: Ctx) -> web.StreamResponse:
    limit = ctx.int_arg("limit", 1000, lo=0, hi=10000)
    return _json(await ctx.svc.oio.container_list(ctx.who, ctx.query.get("prefix", ""), ctx.query.get("marker", ""),
                                                  limit))


@handles("OioContainerShow")
async def container_show(ctx: Ctx) -> web.StreamResponse:
    (container,) = _need(ctx, "container")
    return _json(await ctx.svc.oio.container_show(ctx.who, container))


@handles("OioContainerProps")
async def container_props(ctx: Ctx) -> web.StreamResponse:
    (container,) = _need(ctx, "container")
    doc = await _body(ctx)
    props = await ctx.svc.oio.container_set_properties(ctx.who, container, *_props_args(doc), _system(doc))
    return _json({"properties": props})


@handles("OioContainerSnapshot")
async def container_snapshot(ctx: Ctx) -> web.StreamResponse:
    container, dest = _need(ctx, "container", "dest")
    return _json({"objects": await ctx.svc.oio.container_snapshot(ctx.who, container, dest)})


@handles("OioContainerFlush")
async def container_flush(ctx: Ctx) -> web.StreamResponse:
    (container,) = _need(ctx, "container")
    return _json({"deleted": await ctx.svc.oio.container_flush(ctx.who, container, ctx.request_id)})


@handles("OioObjectList")
async def object_list(ctx: Ctx) -> web.StreamResponse:
    (container,) = _need(ctx, "container")
    q = ctx.query
    limit = ctx.int_arg("limit", 1000, lo=0, hi=ctx.cfg.limits.max_list_keys)
    return _json(await ctx.svc.oio.object_list(ctx.who, container, q.get("prefix", ""), q.get("delimiter"),
                                               q.get("marker"), limit, ctx.bool_arg("properties"),
                                               ctx.bool_arg("versions"), ctx.bool_arg("deleted")))


@handles("OioObjectShow")
async def object_show(ctx: Ctx) -> web.StreamResponse:
    container, obj = _need(ctx, "container", "obj")
    return _json(await ctx.svc.oio.object_show(ctx.who, container, obj, version(ctx)))


@handles("OioObjectProps")
async def object_props(ctx: Ctx) -> web.StreamResponse:
    container, obj = _need(ctx, "container", "obj")
    props = await ctx.svc.oio.object_set_properties(ctx.who, container, obj, *_props_args(await _body(ctx)),
                                                    version=version(ctx))
    return _json({"properties": props})


@handles("OioObjectHead")
async def object_head(ctx: Ctx) -> web.StreamResponse:
    container, obj = _need(ctx, "container", "obj")
    level = ctx.int_arg("trust_level", 0, lo=0, hi=2)
    return _json({"exists": await ctx.svc.oio.object_head(ctx.who, container, obj, level, version(ctx))})


@handles("OioObjectLocate")
async def object_locate(ctx: Ctx) -> web.StreamResponse:
    container, obj = _need(ctx, "container", "obj")
    meta, chunks = await ctx.svc.oio.object_locate(ctx.who, container, obj, version(ctx),
                                                   chunk_info=ctx.bool_arg("chunk_info"))
    return _json({"meta": meta, "chunks": chunks})


@handles("OioObjectTruncate")
async def object_truncate(ctx: Ctx) -> web.StreamResponse:
    container, obj, _size = _need(ctx, "container", "obj", "size")
    size = ctx.int_arg("size", 0, lo=0)
    return _json(await ctx.svc.oio.object_truncate(ctx.who, container, obj, size, ctx.request_id, version(ctx)))


@handles("OioObjectDrain")
async def object_drain(ctx: Ctx) -> web.StreamResponse:
    container, obj = _need(ctx, "container", "obj")
    await ctx.svc.oio.object_drain(ctx.who, container, obj, ctx.request_id, version(ctx))
    return _json({"drained": True})


@handles("OioObjectLink")
async def object_link(ctx: Ctx) -> web.StreamResponse:
    container, obj, dest_container, dest_obj = _need(ctx, "container", "obj", "dest_container", "dest_obj")
    return _json(await ctx.svc.oio.object_link(ctx.who, container, obj, dest_container, dest_obj, ctx.request_id,
                                               version(ctx)))


# touch, refresh, purge, account delete, policy change (service/compat/oio_maintenance.py)
@handles("OioObjectTouch")
async def object_touch(ctx: Ctx) -> web.StreamResponse:
    container, obj = _need(ctx, "container", "obj")
    queued = await oio_maintenance.object_touch(ctx.svc.oio, ctx.who, container, obj, version(ctx), ctx.request_id)
    return _json({"events": queued})


@handles("OioObjectPolicy")
async def object_policy(ctx: Ctx) -> web.StreamResponse:
    container, obj, policy = _need(ctx, "container", "obj", "policy")
    return _json(await oio_maintenance.object_change_policy(ctx.svc.oio, ctx.who, container, obj, policy, version(ctx)))


@handles("OioContainerRefresh")
async def container_refresh(ctx: Ctx) -> web.StreamResponse:
    (container,) = _need(ctx, "container")
    return _json(await oio_maintenance.container_refresh(ctx.svc.oio, ctx.who, container, ctx.bool_arg("recompute")))


@handles("OioContainerPurge")
async def container_purge(ctx: Ctx) -> web.StreamResponse:
    (container,) = _need(ctx, "container")
    raw = ctx.query.get("maxvers")
    maxvers = None if raw in (None, "") else ctx.int_arg("maxvers", 0, lo=-1)
    return _json(await oio_maintenance.container_purge(ctx.svc.oio, ctx.who, container, maxvers, ctx.request_id))


@handles("OioAccountDelete")
async def account_delete(ctx: Ctx) -> web.StreamResponse:
    await oio_maintenance.account_delete(ctx.svc.oio, ctx.who, ctx.svc.admin)
    return _json({"deleted": True})
