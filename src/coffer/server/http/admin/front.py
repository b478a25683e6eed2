"""The admin API: ``/_coffer/admin/v1/<resource>/...``, JSON in and out, SigV4-signed by an admin.

An admin is the bootstrap root user or any user whose props say ``admin``. Resources register with
:func:`admin_route`; this module owns the front (`AdminFront`: authentication, the admin check,
JSON bodies, errors as S3 XML so every client reads them the same way) and the users, keys and quotas
resources, plus bucket ownership. The rules behind them are in service.admin.

  GET    users                 list users (with their access keys, never secrets)
  GET    users/<id>            one user
  PUT    users/<id>            create {display_name?, email?, admin?, access_key?, secret_key?} -> with secret
  DELETE users/<id>            remove (refused while the user owns buckets)
  GET    keys[?user=<id>]      list keys
  POST   keys                  create {user[, type: s3|apikey]} -> {access_key, secret_key} or
                                {access_key, api_key, service_instance_id} (an IBM API key, shown once)
  POST   keys/<ak>/rotate      new secret for the key
  PUT    keys/<ak>             {status: active|disabled}
  DELETE keys/<ak>
  GET    buckets[?owner=<id>]  buckets and their owners
  PUT    buckets/<name>        {owner} -> give the bucket to another user (its ACL is reset to private)
  GET    quotas/<id>           quota and usage
  PUT    quotas/<id>           {max_bytes?, max_objects?, max_buckets?}
  DELETE quotas/<id>
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.http.common.auth import Authenticator, BodyPlan
from coffer.server.http.common.body import read_json_object
from coffer.server.http.common.context import RequestContext
from coffer.server.http.common.front import Exchange, Front
from coffer.server.service import Principal, Service

ADMIN_PREFIX = "/_coffer/admin/v1/"
MAX_ADMIN_BODY = 64 * 1024


@dataclass(slots=True)
class AdminRequest(RequestContext):
    request: web.BaseRequest
    who: Principal
    plan: BodyPlan
    svc: Service
    method: str
    parts: list[str]  # the path after the resource name, decoded
    query: dict[str, str]

    BLANK_IS_DEFAULT = False  # `?trust=` is not a number

    async def json(self) -> dict[str, Any]:
        return await read_json_object(self.request, self.plan, MAX_ADMIN_BODY)

    def _not_an_integer(self, name: str, raw: str) -> Exception:
        return S3Error("InvalidArgument", f"{name} must be an integer", ArgumentName=name)


AdminHandler = Callable[[AdminRequest], Awaitable[Any]]
ADMIN_ROUTES: dict[str, AdminHandler] = {}


def admin_route(name: str) -> Callable[[AdminHandler], AdminHandler]:
    def deco(fn: AdminHandler) -> AdminHandler:
        ADMIN_ROUTES[name] = fn
        return fn

    return deco


def _not_found() -> S3Error:
    return S3Error("NoSuchResource", "The admin resource does not exist.", status=404)


def _method() -> S3Error:
    return S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.")


class AdminFront(Front):
    """Claims everything under ADMIN_PREFIX; errors are S3 XML (the base front's rendering)."""

    def __init__(self, service: Service, auth: Authenticator) -> None:
        self.service = service
        self.auth = auth

    def claims(self, request: web.BaseRequest, raw_path: str, query: dict[str, str]) -> bool:
        return raw_path.startswith(ADMIN_PREFIX)

    async def prepare(self, ex: Exchange) -> tuple[AdminHandler, AdminRequest]:
        request = ex.request
        who, plan = await self.auth.authenticate(request.method, ex.raw_path, ex.raw_query, request.headers,
                                                 ex.query, None)
        if not who.admin:
            raise S3Error("AccessDenied", "Access Denied")
        segments = [unquote(p) for p in ex.raw_path[len(ADMIN_PREFIX):].split("/") if p]
        handler = ADMIN_ROUTES.get(segments[0]) if segments else None
        if handler is None:
            raise _not_found()
        return handler, AdminRequest(request, who, plan, self.service, request.method, segments[1:], ex.query)

    async def handle(self, ex: Exchange, prepared: tuple[AdminHandler, AdminRequest]) -> web.StreamResponse:
        handler, r = prepared
        result = await handler(r)
        if result is None:
            return web.Response(status=204)
        if isinstance(result, web.StreamResponse):  # a resource that streams its own answer (backup)
            return result
        return web.Response(body=json.dumps(result, indent=1).encode(), content_type="application/json")


@admin_route("users")
async def users(r: AdminRequest) -> Any:
    a = r.svc.admin
    if not r.parts:
        if r.method == "GET":
            return {"users": await a.list_users()}
        raise _method()
    if len(r.parts) != 1:
        raise _not_found()
    uid = r.parts[0]
    if r.method == "GET":
        return await a.get_user(uid)
    if r.method == "PUT":
        return await a.add_user(uid, await r.json())
    if r.method == "DELETE":
        await a.remove_user(uid)
        return None
    raise _method()


@admin_route("keys")
async def keys(r: AdminRequest) -> Any:
    a = r.svc.admin
    if not r.parts:
        if r.method == "GET":
            return {"keys": await a.list_keys(r.query.get("user") or None)}
        if r.method == "POST":
            doc = await r.json()
            user = doc.get("user")
            if not isinstance(user, str) or not user:
                raise S3Error("InvalidArgument", "A key needs a user: {\"user\": \"<id>\"}")
            return await a.create_key(user, str(doc.get("type") or "s3"))
        raise _method()
    ak = r.parts[0]
    if len(r.parts) == 2 and r.parts[1] == "rotate" and r.method == "POST":
        out = await a.rotate_key(ak)
    elif len(r.parts) != 1:
        raise _not_found()
    elif r.method == "PUT":
        out = await a.set_key_status(ak, str((await r.json()).get("status")), r.who)
    elif r.method == "DELETE":
        await a.delete_key(ak, r.who)
        out = None
    else:
        raise _method()
    r.svc.users.forget(ak)  # this worker stops accepting the old secret at once
    return out


@admin_route("buckets")
async def buckets(r: AdminRequest) -> Any:
    a = r.svc.admin
    if not r.parts and r.method == "GET":
        return {"buckets": await a.list_buckets(r.query.get("owner") or None)}
    if len(r.parts) == 1 and r.method == "PUT":
        owner = (await r.json()).get("owner")
        if not isinstance(owner, str) or not owner:
            raise S3Error("InvalidArgument", "A new owner is needed: {\"owner\": \"<user id>\"}")
        return await a.set_bucket_owner(r.parts[0], owner)
    raise _method() if len(r.parts) <= 1 else _not_found()


@admin_route("quotas")
async def quotas(r: AdminRequest) -> Any:
    if len(r.parts) != 1:
        raise _not_found()
    a = r.svc.admin
    if r.method == "GET":
        return await a.get_quota(r.parts[0])
    if r.method == "PUT":
        return await a.set_quota(r.parts[0], await r.json())
    if r.method == "DELETE":
        return await a.set_quota(r.parts[0], None)
    raise _method()
