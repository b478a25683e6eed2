"""The HTTP application: the ordered list of fronts the one serve loop (`common.pipeline`) picks from.

`FRONTS` is composition as data (Starlette's habit): the health endpoints, then website Host names,
AIStore's `/v1/`, the admin API, DS3, the batch GET, the OpenIO extensions, and S3, which takes every request no
other front claims. Each front owns its routing, authentication, handlers and error format; the
serve loop owns what they share (request id, in-flight count, 100-continue, the error ladder).
Every response, errors included, carries x-amz-request-id and x-amz-id-2.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler

# Handler modules register their endpoints (HANDLERS, AIS_HANDLERS, ADMIN_ROUTES) when imported.
import coffer.server.http.admin.data
import coffer.server.http.ais.buckets
import coffer.server.http.ais.moss
import coffer.server.http.ais.objects
import coffer.server.http.batch.handlers
import coffer.server.http.s3.access
import coffer.server.http.s3.bucket_config
import coffer.server.http.s3.buckets
import coffer.server.http.s3.identity
import coffer.server.http.s3.listen
import coffer.server.http.s3.multipart
import coffer.server.http.s3.objects
import coffer.server.http.s3.post_object
import coffer.server.http.s3.tagging
import coffer.server.http.s3.versioning
import coffer.server.http.s3.worm  # noqa: F401
from coffer.protocol.errors import S3Error
from coffer.server.config import Config
from coffer.server.http.admin import data as admin_data
from coffer.server.http.admin.front import AdminFront
from coffer.server.http.ais.front import AisFront
from coffer.server.http.batch.front import BatchFront
from coffer.server.http.common.auth import Authenticator
from coffer.server.http.common.connections import GuardedRequestHandler
from coffer.server.http.common.connections import configure as configure_connections
from coffer.server.http.common.front import Exchange
from coffer.server.http.common.front import Front as FrontBase
from coffer.server.http.common.ids import HOST_ID, new_request_id, stamp
from coffer.server.http.common.pipeline import Pipeline
from coffer.server.http.common.respond import error_response
from coffer.server.http.console.front import ConsoleFront
from coffer.server.http.ds3.front import Ds3Front
from coffer.server.http.oio.front import OioFront
from coffer.server.http.s3.front import S3Front
from coffer.server.http.website import WebsiteFront
from coffer.server.service import Service


class HealthFront(FrontBase):
    """GET/HEAD /health/*: liveness, readiness (503 once SIGTERM arrived), data health and metrics;
    GET /metrics (Prometheus; a bearer token when --metrics-token is set). No signature, nothing secret."""

    invites_body = False

    def __init__(self, app: Front) -> None:
        self.app = app

    def claims(self, request: web.BaseRequest, raw_path: str, query: dict[str, str]) -> bool:
        return (raw_path.startswith("/health/") or raw_path == "/metrics") and request.method in ("GET", "HEAD")

    async def prepare(self, ex: Exchange) -> None:
        return None

    async def handle(self, ex: Exchange, prepared: None) -> web.StreamResponse:
        path = ex.raw_path
        if path == "/health/live":
            return web.Response(text="ok\n")
        if path == "/health/ready":
            return web.Response(text="ready\n") if self.app.ready else web.Response(status=503, text="not ready\n")
        if path == "/metrics":  # Prometheus, every worker's counters (server/metrics.py)
            return await admin_data.metrics_response(self.app.service, self.app.cfg, ex.request)
        return admin_data.health(self.app.service, path) or web.Response(status=404)


# The fronts, in the order they are asked whether they claim a request; the last takes the rest.
# Each entry builds its front from the application (service, config, the shared authenticator).
FRONTS: list[Callable[[Front], FrontBase]] = [
    HealthFront,
    lambda app: WebsiteFront(app.service, app.cfg),  # Host: <bucket>.<website domain>
    # /v1/... without an S3 signature
    lambda app: AisFront(app.service, allow_insecure_secrets=app.cfg.allow_insecure_secrets),
    lambda app: AdminFront(app.service, app.auth),  # /_coffer/admin/v1/
    lambda app: ConsoleFront(app.service, app.cfg),  # /_coffer/console/, a browser's GET /
    lambda app: app.ds3,  # /_rest_/, blob transfers, DS3 listings
    lambda app: BatchFront(app.service, app.cfg, app.auth),  # /_coffer/batch/v1/ (batch GET)
    lambda app: OioFront(app.service, app.cfg, app.auth, dialect=app.ds3),  # /_coffer/ (OpenIO extensions)
    lambda app: S3Front(app.service, app.cfg, app.auth, dialect=app.ds3),  # everything else
]


class Front(Pipeline):
    """The main listener's application: the serve loop over FRONTS, plus what SIGTERM reads
    (`ready`, `inflight`)."""

    def __init__(self, service: Service, cfg: Config) -> None:
        self.service = service
        self.cfg = cfg
        self.auth = Authenticator(service, cfg.limits, cfg.region)
        self.ds3 = Ds3Front(service, cfg, self.auth)  # a front, and the DS3 SDKs' dialect of S3
        self.ready = True
        super().__init__([make(self) for make in FRONTS])


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
        front.serve,
        auto_decompress=False,  # bodies are stored exactly as sent, Content-Encoding and all
        max_field_size=cfg.limits.max_header_bytes,
        max_line_size=cfg.limits.max_header_bytes,
        max_headers=cfg.limits.max_headers,
        access_log=None,
        keepalive_timeout=cfg.limits.idle_timeout,  # also bounds the wait for a request head
    )
    configure_connections(cfg.limits.body_timeout, cfg.limits.max_connections)
    return server, front
