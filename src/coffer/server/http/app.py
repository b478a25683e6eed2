"""The HTTP front: one aiohttp application that routes every request to an S3 endpoint handler.

Request path: aiohttp parses the request -> `dispatch` assigns a request id -> health checks are
answered without auth -> `router.route` picks the endpoint -> `Authenticator` checks the signature
and decides how the body is verified -> the endpoint handler calls the service -> errors become S3
XML error documents. Every response, errors included, carries x-amz-request-id and x-amz-id-2.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler

# Handler modules register their endpoints in HANDLERS when imported.
import coffer.server.http.ais.buckets
import coffer.server.http.ais.objects
import coffer.server.http.s3.access
import coffer.server.http.s3.bucket_config
import coffer.server.http.s3.buckets
import coffer.server.http.s3.identity
import coffer.server.http.s3.multipart
import coffer.server.http.s3.objects
import coffer.server.http.s3.post_object
import coffer.server.http.s3.tagging
import coffer.server.http.s3.versioning
import coffer.server.http.s3.worm  # noqa: F401
from coffer.protocol.errors import S3Error
from coffer.protocol.timeutil import http_date
from coffer.server.config import Config
from coffer.server.http import console, website
from coffer.server.http.admin import data as admin_data
from coffer.server.http.admin.front import ADMIN_PREFIX, admin_dispatch
from coffer.server.http.ais.front import AisFront, wants
from coffer.server.http.common import cors, stats
from coffer.server.http.common.auth import Authenticator, parse_query
from coffer.server.http.common.connections import GuardedRequestHandler
from coffer.server.http.common.connections import configure as configure_connections
from coffer.server.http.common.context import HANDLERS, Ctx
from coffer.server.http.common.ids import HOST_ID, new_request_id, stamp
from coffer.server.http.common.respond import error_response
from coffer.server.http.ds3.front import Ds3Front, is_ds3_client
from coffer.server.http.ds3.front import claims as ds3_claims
from coffer.server.http.oio import handlers as h_oio
from coffer.server.http.s3 import notifications as h_notify
from coffer.server.http.s3.authorize import guard
from coffer.server.http.s3.router import route
from coffer.server.service import NotModified, Service
from coffer.server.service.core import begin_request

log = logging.getLogger("coffer.http")
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
        self.ais = AisFront(service, allow_insecure_secrets=cfg.allow_insecure_secrets)  # AIStore's /v1 API
        self.ds3 = Ds3Front(service, cfg, self.auth)  # Spectra DS3 bulk jobs (issue 6)
        self.console = console.ConsoleFront(service, cfg)  # the web console (http/console/)
        self.ready = True
        self.inflight = 0  # requests being handled: SIGTERM waits for this to reach zero

    async def dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        self.inflight += 1
        try:
            resp = await self._dispatch(request)
            if not resp.prepared:
                stamp(request, resp)
            stats.count(resp.status, request.content_length, resp.content_length or resp.body_length)
            return resp
        finally:
            self.inflight -= 1

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        rid = new_request_id()
        request["rid"] = rid
        begin_request()  # no access decision of a previous request on this connection carries over
        raw = request.raw_path
        raw_path, _, raw_query = raw.partition("?")
        if raw_path.startswith("/health/") and request.method in ("GET", "HEAD"):
            return self._health(raw_path)
        if console.claims(raw_path) or console.wants_redirect(request.method, raw_path, request.headers):
            return await self.console.handle(request, raw_path, raw_query, rid)
        if wants(raw_path, raw_query, request.headers):
            return await self.ais.dispatch(request, rid, raw_path, raw_query)
        head = request.method == "HEAD"
        resource = raw_path
        expects_continue = request.version >= (1, 1) and request.headers.get("Expect", "").lower() == "100-continue"
        try:
            site = website.bucket_for_host(request.headers.get("Host"), self.cfg.website_domains)
            if site is not None:  # bucket.<website domain>: a static website request, not S3
                return await website.serve(self.service, request, site)
            query = _query_dict(raw_query)
            if raw_path.startswith(ADMIN_PREFIX):  # users, keys, quotas (issue 7); volumes... (http/admin/data.py)
                return await admin_dispatch(self, request, raw_path, raw_query, query)
            if ds3_claims(request.method, raw_path, query, request.headers):
                return await self.ds3.handle(request, raw_path, raw_query, query, rid)
            if raw_path.startswith("/_coffer/"):  # Coffer's own extensions (h_oio)
                r = h_oio.ext_route(request.method, raw_path, query)
            else:
                r = route(request.method, raw_path, query, request.headers.get("Host"), self.cfg.domains)
            if r.endpoint.name == "PreflightRequest":  # CORS preflight: unsigned by design (http/common/cors.py)
                return await cors.preflight(self.service, request, r.bucket)
            if "Origin" in request.headers:
                await cors.note_actual(self.service, request, r.bucket)
            if is_ds3_client(request.headers):  # DS3 signs its own canonical form (falls back to SigV2)
                who, plan = await self.ds3.authenticate_s3(request, raw_path, raw_query, query, r.bucket)
            else:
                who, plan = await self.auth.authenticate(request.method, raw_path, raw_query, request.headers,
                                                        query, r.bucket)
            handler = HANDLERS.get(r.endpoint.name)
            if handler is None:
                raise S3Error("NotImplemented", "A header or query you provided implies functionality that is not "
                              "implemented.")
            ctx = Ctx(request, r, who, plan, self.service, self.cfg, query, rid)
            await guard(ctx)  # authorization and quotas (issue 7)
            if expects_continue:
                # The request is routed and authenticated: now invite the body. A request refused
                # before this point never makes the client send (possibly gigabytes of) body.
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                request.writer.output_size = 0
                expects_continue = False
            # frozen snapshots refuse writes; successful writes queue bucket notification events
            return await h_notify.around(ctx, handler)
        except S3Error as e:
            if e.status >= 500:
                log.warning("%s %s -> %s %s", request.method, raw_path, e.code, e.message)
            if is_ds3_client(request.headers):  # a DS3 SDK reads DS3 error documents (HttpErrorCode)
                resp = self.ds3.error(e, resource, rid, head, False)
            else:
                resp = error_response(e, rid, HOST_ID, resource, head)
            if expects_continue:
                # The client holds its body back; the connection cannot be reused for another request.
                resp.force_close()
            return resp
        except NotModified as nm:
            return web.Response(status=304, headers={"ETag": f'"{nm.etag}"',
                                                     "Last-Modified": http_date(nm.last_modified)})
        except (ConnectionError, OSError) as e:
            if request.transport is None or request.transport.is_closing():
                raise  # the client went away: nothing to answer
            log.exception("I/O error on %s %s", request.method, raw_path)
            return error_response(S3Error("InternalError", f"We encountered an internal error: {e}"),
                                  rid, HOST_ID, resource, head)
        except Exception:
            log.exception("internal error on %s %s", request.method, raw_path)
            return error_response(S3Error("InternalError", "We encountered an internal error. Please try again."),
                                  rid, HOST_ID, resource, head)

    def _health(self, path: str) -> web.Response:
        if path == "/health/live":
            return web.Response(text="ok\n")
        if path == "/health/ready":
            return web.Response(text="ready\n") if self.ready else web.Response(status=503, text="not ready\n")
        return admin_data.health(self, path) or web.Response(status=404)


class S3RequestHandler(GuardedRequestHandler):
    """aiohttp's connection handler, answering its own parse failures as S3 XML errors.

    aiohttp rejects a request it cannot parse (header line too long, too many headers, bad request
    line) before any handler runs, with a plain-text body; S3 clients expect an XML <Error>."""

    def handle_error(self, request, status=500, exc=None, message=None):  # type: ignore[override]
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        text = f"{message or ''} {exc or ''}".lower()
        too_large = isinstance(exc, LineTooLong) or "too many headers" in text or ("header" in text and "large" in text)
        code = "RequestHeaderSectionTooLarge" if too_large else "BadRequest"
        rid = new_request_id()
        request["rid"] = rid
        err = S3Error(code, (message or "Bad Request").strip()[:200], status=400)
        resp = error_response(err, rid, HOST_ID, "", False)
        stamp(request, resp)
        resp.force_close()
        return resp


class S3Server(web.Server):
    """The low-level aiohttp server (no router, no middlewares: every path is S3's) with our handler."""

    def __call__(self) -> RequestHandler:
        return S3RequestHandler(self, loop=self._loop, **self._kwargs)


def build_server(service: Service, cfg: Config) -> tuple[S3Server, Front]:
    front = Front(service, cfg)
    server = S3Server(
        front.dispatch,
        auto_decompress=False,  # bodies are stored exactly as sent, Content-Encoding and all
        max_field_size=cfg.limits.max_header_bytes,
        max_line_size=cfg.limits.max_header_bytes,
        max_headers=cfg.limits.max_headers,
        access_log=None,
        keepalive_timeout=cfg.limits.idle_timeout,  # also bounds the wait for a request head
    )
    configure_connections(cfg.limits.body_timeout, cfg.limits.max_connections)
    return server, front
