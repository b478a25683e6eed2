"""The HTTP front: one aiohttp application that routes every request to an S3 endpoint handler.

Request path: aiohttp parses the request -> `dispatch` assigns a request id -> health checks are
answered without auth -> `router.route` picks the endpoint -> `Authenticator` checks the signature
and decides how the body is verified -> the endpoint handler calls the service -> errors become S3
XML error documents. Every response, errors included, carries x-amz-request-id and x-amz-id-2.
"""

from __future__ import annotations

import base64
import itertools
import logging
import os

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.protocol.timeutil import http_date

from ..config import Config
from ..service import NotModified, Service
from . import h_bucket, h_multipart, h_object  # noqa: F401 - they register their handlers
from .auth import Authenticator, parse_query
from .context import HANDLERS, Ctx
from .respond import error_response
from .router import route

log = logging.getLogger("coffer.http")
SERVICE_KEY = web.AppKey("service", Service)
_HOST_ID = base64.b64encode(os.urandom(24)).decode()
# Request ids: a random per-process prefix and a counter (unique, and no syscall per request).
_RID_PREFIX = os.urandom(3).hex().upper()
_rid_counter = itertools.count(int.from_bytes(os.urandom(4), "big"))


def new_request_id() -> str:
    return f"{_RID_PREFIX}{next(_rid_counter) & 0xFFFFFFFFFF:010X}"


def _query_dict(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in parse_query(raw):
        out.setdefault(k, v)
    return out


class Front:
    def __init__(self, service: Service, cfg: Config) -> None:
        self.service = service
        self.cfg = cfg
        self.auth = Authenticator(service, cfg.limits, cfg.region)
        self.ready = True
        self.inflight = 0  # requests being handled: SIGTERM waits for this to reach zero

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        self.inflight += 1
        try:
            return await self._dispatch(request)
        finally:
            self.inflight -= 1

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        rid = new_request_id()
        request["rid"] = rid
        raw = request.raw_path
        raw_path, _, raw_query = raw.partition("?")
        if raw_path.startswith("/health/") and request.method in ("GET", "HEAD"):
            return self._health(raw_path)
        head = request.method == "HEAD"
        resource = raw_path
        try:
            query = _query_dict(raw_query)
            r = route(request.method, raw_path, query, request.headers.get("Host"), self.cfg.domains)
            who, plan = await self.auth.authenticate(request.method, raw_path, raw_query, request.headers, query,
                                                    r.bucket)
            handler = HANDLERS.get(r.endpoint.name)
            if handler is None:
                raise S3Error("NotImplemented", "A header or query you provided implies functionality that is not "
                              "implemented.")
            ctx = Ctx(request, r, who, plan, self.service, self.cfg, query, rid)
            return await handler(ctx)
        except S3Error as e:
            if e.status >= 500:
                log.warning("%s %s -> %s %s", request.method, raw_path, e.code, e.message)
            return error_response(e, rid, _HOST_ID, resource, head)
        except NotModified as nm:
            return web.Response(status=304, headers={"ETag": f'"{nm.etag}"',
                                                     "Last-Modified": http_date(nm.last_modified)})
        except (ConnectionError, OSError) as e:
            if request.transport is None or request.transport.is_closing():
                raise  # the client went away: nothing to answer
            log.exception("I/O error on %s %s", request.method, raw_path)
            return error_response(S3Error("InternalError", f"We encountered an internal error: {e}"),
                                  rid, _HOST_ID, resource, head)
        except Exception:
            log.exception("internal error on %s %s", request.method, raw_path)
            return error_response(S3Error("InternalError", "We encountered an internal error. Please try again."),
                                  rid, _HOST_ID, resource, head)

    def _health(self, path: str) -> web.Response:
        if path == "/health/live":
            return web.Response(text="ok\n")
        if path == "/health/ready":
            return web.Response(text="ready\n") if self.ready else web.Response(status=503, text="not ready\n")
        return web.Response(status=404)


async def _stamp(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["x-amz-request-id"] = request.get("rid") or new_request_id()
    response.headers["x-amz-id-2"] = _HOST_ID
    response.headers["Server"] = "Coffer"


async def _bad_http(request: web.Request, handler):
    try:
        return await handler(request)
    except web.HTTPException as e:  # aiohttp's own parse failures (e.g. header too large)
        rid = new_request_id()
        request["rid"] = rid
        code = "RequestHeaderSectionTooLarge" if e.status in (400, 431) and "header" in str(e.reason).lower() \
            else "InvalidRequest"
        return error_response(S3Error(code, str(e.reason)), rid, _HOST_ID, request.path, request.method == "HEAD")


def build_app(service: Service, cfg: Config) -> web.Application:
    front = Front(service, cfg)
    app = web.Application(client_max_size=cfg.limits.max_xml_body, middlewares=[web.middleware(_bad_http)],
                          handler_args={"auto_decompress": False,  # bodies are stored as sent
                                        "max_field_size": cfg.limits.max_header_bytes,
                                        "max_line_size": cfg.limits.max_header_bytes})
    app[SERVICE_KEY] = service
    app.router.add_route("*", "/{tail:(?s:.*)}", front.dispatch)
    app.on_response_prepare.append(_stamp)
    app["front"] = front
    return app
