"""Handlers of the OpenIO extension operations `service/oio_more.py` serves (JSON in, JSON out).

Owns the wire form of: `object-touch`, `object-policy`, `container-refresh` (also container_touch
with `recompute`), `container-purge` and `account-delete`. They are listed with the other OpenIO
operations in `h_oio.OPERATIONS` (method and permission); arguments are query arguments.
"""

from __future__ import annotations

from aiohttp import web

from ..service import oio_more
from .context import Ctx, handles
from .h_oio import _flag, _json, _need, version


@handles("OioObjectTouch")
async def object_touch(ctx: Ctx) -> web.StreamResponse:
    container, obj = _need(ctx, "container", "obj")
    queued = await oio_more.object_touch(ctx.svc.oio, ctx.who, container, obj, version(ctx), ctx.request_id)
    return _json({"events": queued})


@handles("OioObjectPolicy")
async def object_policy(ctx: Ctx) -> web.StreamResponse:
    container, obj, policy = _need(ctx, "container", "obj", "policy")
    return _json(await oio_more.object_change_policy(ctx.svc.oio, ctx.who, container, obj, policy, version(ctx)))


@handles("OioContainerRefresh")
async def container_refresh(ctx: Ctx) -> web.StreamResponse:
    (container,) = _need(ctx, "container")
    return _json(await oio_more.container_refresh(ctx.svc.oio, ctx.who, container, _flag(ctx, "recompute")))


@handles("OioContainerPurge")
async def container_purge(ctx: Ctx) -> web.StreamResponse:
    (container,) = _need(ctx, "container")
    raw = ctx.query.get("maxvers")
    maxvers = None if raw in (None, "") else ctx.int_arg("maxvers", 0, lo=-1)
    return _json(await oio_more.container_purge(ctx.svc.oio, ctx.who, container, maxvers, ctx.request_id))


@handles("OioAccountDelete")
async def account_delete(ctx: Ctx) -> web.StreamResponse:
    await oio_more.account_delete(ctx.svc.oio, ctx.who, ctx.svc.admin)
    return _json({"deleted": True})
