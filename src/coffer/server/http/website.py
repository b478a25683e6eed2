"""Static website hosting: buckets with a website configuration served as web sites.

Owns the website request path (S3's website endpoint semantics): GET/HEAD only, no signature; the
bucket comes from the Host header (``bucket.<website domain>``, or the whole host name as a CNAME, as
S3 does); ``RedirectAllRequestsTo``; routing rules (``KeyPrefixEquals`` before the lookup,
``HttpErrorCodeReturnedEquals`` after it); index documents for ``/`` and ``dir/`` (and ``dir`` ->
302 ``dir/``); the error document with the error's status; HTML error pages otherwise.

OPTIONS is a CORS preflight, answered from the bucket's CORS rules as on the S3 endpoint (a refusal
is an HTML 403 page, like every website error).

Where: on the main listener for Host names under ``--website-domain`` (default
``s3-website.localhost``), and on every request of the optional ``--website-address`` listener.
Access: a website is public by nature: it serves an object (or error document) only when anonymous
callers may read it through the bucket policy or ACLs (else 403 AccessDenied), and SSE-C
objects never (their key cannot be given here).
"""

from __future__ import annotations

import logging
from html import escape
from typing import Any

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.config import Config
from coffer.server.http.common import cors
from coffer.server.http.common.connections import GuardedServer
from coffer.server.http.common.endpoint import decode_path
from coffer.server.http.common.front import Exchange, Front, FrontError
from coffer.server.http.common.gate import website_readable
from coffer.server.http.common.ids import HOST_ID
from coffer.server.http.common.pipeline import Pipeline
from coffer.server.http.common.respond import apply_range, object_headers, send_range, send_stream
from coffer.server.http.common.write_headers import REDIRECT_HEADER
from coffer.server.meta.model import ObjectRecord
from coffer.server.service import Service
from coffer.server.service.crypto.sse import read_plain

log = logging.getLogger("coffer.website")


def bucket_for_host(host: str | None, domains: tuple[str, ...]) -> str | None:
    """The bucket a website Host header names under one of `domains`, else None."""
    if not host:
        return None
    name = host.rsplit(":", 1)[0].lower().rstrip(".")
    for d in domains:
        if name.endswith("." + d) and len(name) > len(d) + 1:
            return name[: -len(d) - 1]
    return None


class WebsiteError(FrontError):
    """A website answer that is an HTML error page."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _page(request: web.BaseRequest, status: int, code: str, message: str, head: bool) -> web.Response:
    title = f"{status} {_REASONS.get(status, 'Error')}"
    body = (f"<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n"
            f"<li>Code: {escape(code)}</li>\n<li>Message: {escape(message)}</li>\n"
            f"<li>RequestId: {escape(request.get('rid', ''))}</li>\n<li>HostId: {HOST_ID}</li>\n</ul>\n<hr/>\n"
            "</body>\n</html>\n")
    return web.Response(status=status, body=None if head else body.encode(), content_type="text/html",
                        charset="utf-8")


_REASONS = {403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error"}


def _redirect(request: web.BaseRequest, redirect: dict[str, Any], key: str, prefix: str | None) -> web.Response:
    if "ReplaceKeyWith" in redirect:
        key = redirect["ReplaceKeyWith"]
    elif "ReplaceKeyPrefixWith" in redirect:
        key = redirect["ReplaceKeyPrefixWith"] + key[len(prefix or "") :]
    scheme = redirect.get("Protocol") or "http"
    host = redirect.get("HostName") or request.headers.get("Host", "")
    code = int(redirect.get("HttpRedirectCode") or 301)
    return web.Response(status=code, headers={"Location": f"{scheme}://{host}/{key}"})


async def _lookup(service: Service, bucket: str, key: str) -> ObjectRecord | None:
    return await service.core.meta.get_object(bucket, key) if key else None


async def _send(service: Service, request: web.BaseRequest, rec: ObjectRecord, status: int,
                head: bool) -> web.StreamResponse:
    if status == 200 and rec.headers.get(REDIRECT_HEADER):
        return web.Response(status=301, headers={"Location": rec.headers[REDIRECT_HEADER]})
    doc = rec.props.get("sse")
    if doc and doc["mode"] == "SSE-C":
        raise WebsiteError(403, "AccessDenied", "Access Denied")
    headers = object_headers(rec, checksum_mode=False)
    ranged, start, length = apply_range(request.headers.get("Range") if status == 200 else None, rec.size, headers)
    if ranged == 206:
        status = 206
    if head:
        return web.Response(status=status, headers=headers)
    if doc:
        resp = web.StreamResponse(status=status, headers=headers)
        resp.content_length = length
        data_key = service.core.sse.data_key(doc, None)
        await send_stream(request, resp, read_plain(service.core, rec, data_key, start, length))
        return resp
    return await send_range(request, service, rec, status, headers, start, length)


async def _serve(service: Service, request: web.BaseRequest, bucket_name: str, head: bool) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD"):
        raise WebsiteError(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
    bucket = await service.bucket_config.public(bucket_name)
    if bucket is None:
        raise WebsiteError(404, "NoSuchBucket", "The specified bucket does not exist")
    site = bucket.props.get("website")
    if not site:
        raise WebsiteError(404, "NoSuchWebsiteConfiguration",
                           "The specified bucket does not have a website configuration")
    key = decode_path(request.raw_path.partition("?")[0]).lstrip("/")
    if "RedirectAllRequestsTo" in site:
        to = site["RedirectAllRequestsTo"]
        scheme = to.get("Protocol") or "http"
        return web.Response(status=301, headers={"Location": f"{scheme}://{to['HostName']}/{key}"})
    rules = site.get("RoutingRules", [])
    for rule in rules:
        cond = rule.get("Condition", {})
        if "HttpErrorCodeReturnedEquals" not in cond and key.startswith(cond.get("KeyPrefixEquals", "")):
            return _redirect(request, rule["Redirect"], key, cond.get("KeyPrefixEquals"))
    suffix = site["IndexDocument"]["Suffix"]
    wanted = key + suffix if key == "" or key.endswith("/") else key
    rec = await _lookup(service, bucket_name, wanted)
    if rec is not None:
        if not await website_readable(service, request, bucket, wanted):
            raise WebsiteError(403, "AccessDenied", "Access Denied")
        return await _send(service, request, rec, 200, head)
    if wanted == key and await _lookup(service, bucket_name, key + "/" + suffix) is not None:
        return web.Response(status=302, headers={"Location": "/" + key + "/"})
    for rule in rules:  # error-code rules apply once the lookup has failed
        cond = rule.get("Condition", {})
        if cond.get("HttpErrorCodeReturnedEquals") == "404" and key.startswith(cond.get("KeyPrefixEquals", "")):
            return _redirect(request, rule["Redirect"], key, cond.get("KeyPrefixEquals"))
    error_key = site.get("ErrorDocument", {}).get("Key")
    if error_key:
        err = await _lookup(service, bucket_name, error_key)
        if err is not None and await website_readable(service, request, bucket, error_key):
            return await _send(service, request, err, 404, head)
    raise WebsiteError(404, "NoSuchKey", "The specified key does not exist.")


class WebsiteFront(Front):
    """Website requests: on the main listener those whose Host names a bucket under a website
    domain; on the --website-address listener (`any_host`) every request, the whole host name
    naming the bucket when it is not under a website domain (a CNAME, as S3 does)."""

    log = log
    invites_body = False  # GET, HEAD and OPTIONS only: a body is never read

    def __init__(self, service: Service, cfg: Config, *, any_host: bool = False) -> None:
        self.service = service
        self.domains = cfg.website_domains
        self.any_host = any_host

    def claims(self, request: web.BaseRequest, raw_path: str, query: dict[str, str]) -> bool:
        return self.any_host or bucket_for_host(request.headers.get("Host"), self.domains) is not None

    async def prepare(self, ex: Exchange) -> str:
        host = ex.request.headers.get("Host", "")
        return bucket_for_host(host, self.domains) or host.rsplit(":", 1)[0].lower()

    async def handle(self, ex: Exchange, bucket_name: str) -> web.StreamResponse:
        request = ex.request
        if request.method == "OPTIONS":  # a browser's CORS preflight: the bucket's CORS rules decide
            return await cors.preflight(self.service, request, bucket_name)
        await cors.note_actual(self.service, request, bucket_name)  # the bucket's CORS rules apply here too
        return await _serve(self.service, request, bucket_name, ex.head)

    def render_error(self, err: Exception, ex: Exchange) -> web.StreamResponse:
        assert isinstance(err, (WebsiteError, S3Error))
        return _page(ex.request, err.status, err.code, err.message, ex.head)

    def internal_error(self, io_error: OSError | None) -> Exception:
        return WebsiteError(500, "InternalError", "We encountered an internal error.")


def build_website_server(service: Service, cfg: Config) -> web.Server:
    """The server of the --website-address listener: every request is a website request."""
    pipeline = Pipeline([WebsiteFront(service, cfg, any_host=True)])
    return GuardedServer(pipeline.serve, access_log=None, max_field_size=cfg.limits.max_header_bytes,
                         max_line_size=cfg.limits.max_header_bytes, keepalive_timeout=cfg.limits.idle_timeout)
