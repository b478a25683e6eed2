"""The console front: claims ``/_coffer/console/``, serves the page's files and its JSON API.

  GET  /_coffer/console/                 the page (index.html); every other non-API path too
  GET  /_coffer/console/static/<file>    the page's ES modules, CSS and icons (package data)
  *    /_coffer/console/api/<name>       JSON API (api.py), session cookie + CSRF (session.py)

Every answer carries a strict Content-Security-Policy: the page loads only its own files and
talks only to its own origin, and object bytes are served sandboxed (they never run as the page).
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.config import Config
from coffer.server.http.common import stats
from coffer.server.http.common.connections import GuardedServer
from coffer.server.http.common.front import Exchange, Front
from coffer.server.http.common.pipeline import Pipeline
from coffer.server.http.console import api
from coffer.server.http.console import session as sessions
from coffer.server.service import Service

log = logging.getLogger("coffer.console")

PREFIX = "/_coffer/console/"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
       "connect-src 'self'; frame-src 'self' blob:; object-src 'self'; media-src 'self' blob:; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "SAMEORIGIN",
    "Cache-Control": "no-store",
}
TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml",
         ".png": "image/png", ".ico": "image/x-icon"}


def claims(raw_path: str) -> bool:
    return raw_path.startswith(PREFIX) or raw_path == PREFIX.rstrip("/")


def wants_redirect(method: str, raw_path: str, headers: Any) -> bool:
    """``GET /`` from a browser (it asks for HTML and signs nothing) goes to the console."""
    return (method == "GET" and raw_path == "/" and "Authorization" not in headers
            and "text/html" in headers.get("Accept", ""))


def redirect() -> web.Response:
    return web.Response(status=302, headers={"Location": PREFIX, "Cache-Control": "no-store"})


def _static(name: str) -> web.Response:
    if "/" in name or name.startswith(".") or not name:
        raise S3Error("NoSuchKey", "No such console file.", status=404)
    ext = name[name.rfind("."):] if "." in name else ""
    ctype = TYPES.get(ext)
    res = resources.files("coffer.server.http.console").joinpath("static", name)
    if ctype is None or not res.is_file():
        raise S3Error("NoSuchKey", "No such console file.", status=404)
    return web.Response(body=res.read_bytes(), headers={**SECURITY_HEADERS, "Content-Type": ctype,
                                                         "Cache-Control": "no-cache"})


def error_json(e: S3Error, rid: str) -> web.Response:
    body = {"error": {"code": e.code, "message": e.message, "status": e.status, "request_id": rid}}
    headers = {**SECURITY_HEADERS, "Content-Type": "application/json"}
    if isinstance(e, sessions.TooManyAttempts):
        headers["Retry-After"] = str(e.retry_after)
    return web.Response(status=e.status, body=json.dumps(body).encode(), headers=headers)


class ConsoleFront(Front):
    """The console as a front of the serve loop (http/common/pipeline.py): on the main listener it
    claims ``/_coffer/console/`` and a browser's ``GET /``; on its own listener (``own_listener``) it
    takes every request."""

    log = logging.getLogger("coffer.console")

    def __init__(self, service: Service, cfg: Config, s3_port: int | None = None, *,
                 own_listener: bool = False) -> None:
        self.service = service
        self.cfg = cfg
        self.s3_port = s3_port  # set on the console's own listener: share links point at the S3 port
        self.own_listener = own_listener
        stats.share(cfg.data_dir / "run" / "request-stats")  # the charts sum every worker's counters

    def claims(self, request: web.BaseRequest, raw_path: str, query: dict[str, str]) -> bool:
        return claims(raw_path) or wants_redirect(request.method, raw_path, request.headers)

    async def prepare(self, ex: Exchange) -> None:
        return None

    async def handle(self, ex: Exchange, prepared: None) -> web.StreamResponse:
        request, raw_path = ex.request, ex.raw_path
        rest = raw_path[len(PREFIX):] if raw_path.startswith(PREFIX) else ""
        if self.own_listener and not claims(raw_path):
            if raw_path == "/" and request.method in ("GET", "HEAD"):
                return redirect()
            raise S3Error("NoSuchResource", "This listener serves the web console only.", status=404)
        if rest.startswith("api/"):
            resp = await api.dispatch(self.service, self.cfg, request, rest[4:], ex.raw_query, self.s3_port)
        elif rest.startswith("static/") and request.method in ("GET", "HEAD"):
            resp = _static(rest[7:])
        elif request.method in ("GET", "HEAD"):
            if not raw_path.startswith(PREFIX):
                return redirect()
            resp = _static("index.html")
        else:
            raise S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.")
        for k, v in SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        return resp

    def render_error(self, err: Exception, ex: Exchange) -> web.StreamResponse:
        assert isinstance(err, S3Error)
        resp = error_json(err, ex.rid)
        for k, v in SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        return resp


def build_console_server(service: Service, cfg: Config) -> web.Server:
    """The server of the --console-address listener: the console only (``/`` leads to it)."""
    pipeline = Pipeline([ConsoleFront(service, cfg, s3_port=cfg.port, own_listener=True)])
    return GuardedServer(pipeline.serve, auto_decompress=False, access_log=None,
                         max_field_size=cfg.limits.max_header_bytes, max_line_size=cfg.limits.max_header_bytes,
                         keepalive_timeout=cfg.limits.idle_timeout)


__all__ = ["PREFIX", "ConsoleFront", "build_console_server", "claims", "redirect", "sessions", "wants_redirect"]
