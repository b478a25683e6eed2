"""The DS3 (Spectra S3) front: which requests are DS3's, their authentication, routing and errors.

`claims()` picks the requests the DS3 SDKs send that S3 would not understand: everything under
`/_rest_/`, blob transfers (`/{bucket}/{key}?job=..&offset=..`) and the DS3 flavour of GetBucket
(`versions=` with a value, `max_keys`). Everything else a DS3 SDK sends (PutBucket, GetService,
DeleteObject...) is plain S3 and takes the ordinary path. A claimed request is authenticated here
(DS3's own `AWS id:sig`, or SigV4 through the ordinary authenticator for Coffer's SDK), routed by
`handlers.dispatch`, and its errors are answered as DS3 error documents (Code, HttpErrorCode, Message).
`Ds3Front` is also the DS3 *dialect* (`common.front.ClientDialect`) app.py hands the S3-signed
fronts: a DS3 SDK's plain S3 requests are authenticated and answered the DS3 way.
"""

from __future__ import annotations

import hmac
import logging
import re

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.config import Config
from coffer.server.http.common.auth import Authenticator, BodyPlan
from coffer.server.http.common.endpoint import decode_path
from coffer.server.http.common.front import Exchange, Front
from coffer.server.http.common.ids import HOST_ID
from coffer.server.http.ds3 import auth as ds3_auth
from coffer.server.http.ds3 import documents as ds3_xml
from coffer.server.http.ds3 import handlers
from coffer.server.http.ds3.request import Ds3Request
from coffer.server.service import NotModified, Principal, Service

log = logging.getLogger("coffer.ds3")

_VALUE_FLAGS = re.compile(r"^(true|false)$", re.IGNORECASE)


_DS3_LIST_PARAMS = frozenset({"delimiter", "marker", "max_keys", "prefix", "versions"})


def is_ds3_client(headers) -> bool:
    """A DS3 SDK's request: DS3-style `AWS id:sig` and no User-Agent (the SDKs send none over
    http.client; every S3 SDK and tool does). Such a client parses answers without XML namespaces
    and reads HttpErrorCode from errors, so its listings and errors are answered the DS3 way."""
    return headers.get("Authorization", "").startswith("AWS ") and "User-Agent" not in headers


def claims(method: str, raw_path: str, query: dict[str, str], headers=None) -> bool:
    if raw_path == "/_rest_" or raw_path.startswith("/_rest_/"):
        return True
    parts = raw_path.lstrip("/").split("/", 1)
    if len(parts) == 2 and parts[1] and "job" in query and method in ("GET", "PUT"):
        return True
    if method == "GET" and (len(parts) == 1 or not parts[1]):
        if not parts[0]:  # GetService
            return headers is not None and is_ds3_client(headers) and not query
        if bool(_VALUE_FLAGS.match(query.get("versions", ""))) or "max_keys" in query:
            return True
        return headers is not None and is_ds3_client(headers) and set(query) <= _DS3_LIST_PARAMS
    return False


class Ds3Front(Front):
    log = log

    def __init__(self, service: Service, cfg: Config, auth: Authenticator) -> None:
        self.service = service
        self.cfg = cfg
        self.auth = auth

    def claims(self, request: web.BaseRequest, raw_path: str, query: dict[str, str]) -> bool:
        return claims(request.method, raw_path, query, request.headers)

    async def prepare(self, ex: Exchange) -> Ds3Request:
        who, plan = await self._authenticate(ex.request, ex.raw_path, ex.raw_query, ex.query)
        path = decode_path(ex.raw_path)[1:]
        return Ds3Request(ex.request, who, plan, self.service, self.cfg, ex.query, path)

    async def handle(self, ex: Exchange, prepared: Ds3Request) -> web.StreamResponse:
        return await handlers.dispatch(prepared)

    def render_error(self, err: Exception, ex: Exchange) -> web.StreamResponse:
        assert isinstance(err, S3Error)
        return self.error(err, ex.raw_path, ex.rid, ex.head, False)

    def internal_error(self, io_error: OSError | None) -> Exception:
        if io_error is not None:
            return S3Error("InternalError", "We encountered an internal error.")
        return S3Error("InternalError", "We encountered an internal error. Please try again.")

    def not_modified(self, nm: NotModified, ex: Exchange) -> web.StreamResponse:
        return web.Response(status=304)

    # -- the dialect: a DS3 SDK's plain S3 requests (common.front.ClientDialect) --------------------
    def speaks(self, headers) -> bool:
        return is_ds3_client(headers)

    def error(self, e: S3Error, resource: str, rid: str, head: bool, close: bool) -> web.Response:
        """A DS3 error document (also for DS3 clients' plain S3 requests, see is_ds3_client)."""
        headers = {"x-amz-request-id": rid, "x-amz-id-2": HOST_ID}
        if e.status == 503:
            headers["Retry-After"] = str(self.cfg.limits.bulk_retry_after_seconds)
        if head:
            resp = web.Response(status=e.status, headers=headers)
        else:
            resp = web.Response(status=e.status, body=ds3_xml.error_doc(e, resource, rid),
                                content_type="application/xml", headers=headers)
        if close:
            resp.force_close()
        return resp

    async def authenticate_s3(self, ex: Exchange) -> tuple[Principal, BodyPlan]:
        """A DS3 SDK's plain S3 request (PutObject with DS3 checksum or metadata headers, ...): its
        signature is DS3's; a SigV2 client without a User-Agent still passes through S3's check."""
        request = ex.request
        try:
            who, _plan = await self._authenticate(request, ex.raw_path, ex.raw_query, ex.query)
        except S3Error as e:
            if e.code != "SignatureDoesNotMatch":
                raise
            return await self.auth.authenticate(request.method, ex.raw_path, ex.raw_query, request.headers, ex.query,
                                                ex.bucket)
        return who, self.auth._plain_plan(request.headers)

    async def _authenticate(self, request: web.BaseRequest, raw_path: str, raw_query: str,
                            query: dict[str, str]) -> tuple[Principal, BodyPlan]:
        h = request.headers
        auth = h.get("Authorization", "")
        if not auth.startswith("AWS "):
            return await self.auth.authenticate(request.method, raw_path, raw_query, h, query, None)
        access_key, sig = ds3_auth.parse_authorization(auth)
        secret, who = await self.service.users.credentials(access_key)
        ds3_auth.check_date(h, self.cfg.limits.clock_skew_seconds)
        sts = ds3_auth.string_to_sign(request.method, raw_path, query, h)
        if not hmac.compare_digest(ds3_auth.sign(secret, sts), sig):
            raise S3Error("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                          "signature you provided.", status=403, StringToSign=sts)
        return who, BodyPlan()
