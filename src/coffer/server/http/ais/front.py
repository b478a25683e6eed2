"""The AIStore API front: `/v1/buckets/...` and `/v1/objects/...` for AIStore's own SDK and tools.

Which requests are AIStore's: a path under `/v1/` that carries no S3 signature (S3-signed requests
to a bucket named "v1" stay S3's). Path: the serve loop (`common.pipeline`) -> `AisFront.claims`
(`wants()`) -> `AisFront.prepare`: bearer-token authentication (`service.tokens`; anonymous requests
are refused) -> `handle`: the handler registered for (method, "buckets"|"objects"|"cluster"|"ml") in
`buckets` / `objects` / `moss` (GetBatch, `/v1/ml/moss[/bucket]`), object writes through the write
hook (`common.hooks`). Errors are answered the way AIStore answers them: a JSON document whose
message names the bucket or object as `ais://bucket[/object]`, which is what the AIStore SDK parses
to raise ErrBckNotFound, ErrObjNotFound or ErrBckAlreadyExists.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.http.common.body import JsonTooDeep, parse_json
from coffer.server.http.common.context import RequestContext
from coffer.server.http.common.endpoint import decode_path
from coffer.server.http.common.front import Exchange, Front, FrontError
from coffer.server.http.common.hooks import around_write
from coffer.server.http.common.secure import secrets_allowed
from coffer.server.service import Principal, Service
from coffer.server.service.access.tokens import TokenError

log = logging.getLogger("coffer.ais")
MAX_JSON_BODY = 64 << 20  # a list of up to a million names


class AisError(FrontError):
    """An error in AIStore's words: its status, and a message naming the bucket or object."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class AisCtx(RequestContext):
    request: web.BaseRequest
    svc: Service
    who: Principal
    query: dict[str, str]
    bucket: str
    key: str | None
    rid: str

    async def action(self) -> dict:
        """The JSON ActionMsg body ({"action", "name", "value"}), or {} when there is none."""
        if self.request.content_length == 0 or (self.request.content_length is None and
                                                "chunked" not in self.request.headers.get("Transfer-Encoding", "")):
            return {}
        raw = await self.request.content.read(MAX_JSON_BODY + 1)
        if len(raw) > MAX_JSON_BODY:
            raise AisError(413, "request body too large")
        if not raw.strip():
            return {}
        try:
            msg = parse_json(raw)
        except JsonTooDeep as e:
            raise AisError(400, str(e)) from None
        except ValueError:
            raise AisError(400, "invalid JSON in request body") from None
        if not isinstance(msg, dict):
            raise AisError(400, "the request body must be a JSON object (an action message)")
        return msg


RESOURCES = ("buckets", "objects", "cluster", "ml")  # /v1/<resource>/...: the AIStore API's routing table is
# (method, resource) -> handler, registered with `ais_handles` by `buckets`, `objects` and `moss`
AisHandler = Callable[[AisCtx], Awaitable[web.StreamResponse]]
AIS_HANDLERS: dict[tuple[str, str], AisHandler] = {}


def ais_handles(method: str, resource: str) -> Callable[[AisHandler], AisHandler]:
    def deco(fn: AisHandler) -> AisHandler:
        AIS_HANDLERS[(method, resource)] = fn
        return fn

    return deco


def wants(raw_path: str, raw_query: str, headers) -> bool:
    """Is this an AIStore API request? (/v1/... without any S3 signature)."""
    if not (raw_path.startswith("/v1/") or raw_path == "/v1"):
        return False
    auth = headers.get("Authorization", "")
    if auth.startswith(("AWS4-", "AWS ")):
        return False
    return not ("X-Amz-Signature=" in raw_query or ("Signature=" in raw_query and "AWSAccessKeyId=" in raw_query))


def _from_s3(e: S3Error, bucket: str, key: str | None) -> AisError:
    """Our service's S3 errors in AIStore's words (the SDK classifies 404/409 by an ais:// name)."""
    where = f"ais://{bucket}" + (f"/{key}" if key else "")
    if e.code == "NoSuchBucket":
        return AisError(404, f"bucket ais://{bucket} does not exist")
    if e.code == "NoSuchKey":
        return AisError(404, e.message if "ais://" in e.message else f"{where} does not exist")
    if e.code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
        return AisError(409, f"bucket ais://{bucket} already exists")
    if e.code == "BucketNotEmpty":
        return AisError(409, f"bucket ais://{bucket} is not empty")
    if e.code == "AccessDenied":
        return AisError(403, f"access to {where} denied")
    return AisError(e.status, f"{e.code}: {e.message} ({where})")


def error_response(err: AisError, request: web.BaseRequest, rid: str) -> web.Response:
    body = {"message": err.message, "method": request.method, "url_path": request.path,
            "remote_addr": request.remote or "", "caller": "", "node": "coffer", "status": err.status}
    if request.method == "HEAD":
        return web.Response(status=err.status, headers={"Ais-Error": err.message[:200]})
    return web.Response(status=err.status, text=json.dumps(body), content_type="application/json")


class AisFront(Front):
    log = log

    def __init__(self, service: Service, *, allow_insecure_secrets: bool = False) -> None:
        self.service = service
        self.allow_insecure_secrets = allow_insecure_secrets

    def claims(self, request: web.BaseRequest, raw_path: str, query: dict[str, str]) -> bool:
        return wants(raw_path, request.raw_path.partition("?")[2], request.headers)

    async def _principal(self, request: web.BaseRequest) -> Principal:
        auth = request.headers.get("Authorization", "")
        if not auth:
            raise AisError(401, "anonymous access is not allowed: send Authorization: Bearer <token> "
                           "(issued by `coffer token create`)")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AisError(401, "unsupported Authorization scheme: expecting Bearer <token>")
        if not secrets_allowed(request, self.allow_insecure_secrets):
            raise AisError(403, "bearer tokens are refused over plain HTTP from another host: use HTTPS "
                           "(or start the server with --allow-insecure-secrets behind a TLS proxy)")
        try:
            return await self.service.tokens.verify(token.strip())
        except TokenError as e:
            raise AisError(401, f"invalid token: {e}") from None

    async def prepare(self, ex: Exchange) -> tuple[AisCtx, AisHandler]:
        request, query = ex.request, ex.query
        ex.bucket = ""
        parts = ex.raw_path.split("/", 4)  # "", "v1", resource, bucket, key
        resource = parts[2] if len(parts) > 2 else ""
        if resource not in RESOURCES:
            raise AisError(501, f"/v1/{resource} is not supported by Coffer's AIStore API")
        if resource == "ml":  # /v1/ml/moss[/BUCKET]: GetBatch (moss.py)
            if len(parts) < 4 or parts[3] != "moss":
                raise AisError(501, f"{ex.raw_path} is not supported by Coffer's AIStore API")
            parts = ["", "v1", "ml", *parts[4:]]
        ex.bucket = decode_path(parts[3]) if len(parts) > 3 else ""
        ex.key = decode_path(parts[4]) if len(parts) > 4 and parts[4] else None
        if query.get("provider", "ais") not in ("ais", ""):
            raise AisError(400, f"provider {query['provider']!r} is not supported: Coffer's buckets are ais://")
        if query.get("namespace", "") not in ("", "@#"):
            raise AisError(400, "bucket namespaces are not supported")
        handler = AIS_HANDLERS.get((request.method, resource))
        if handler is None:
            raise AisError(405, f"{request.method} /v1/{resource} is not supported")
        if resource == "objects" and (not ex.bucket or ex.key is None):
            raise AisError(400, "expecting /v1/objects/BUCKET/OBJECT")
        who = await self._principal(request)
        return AisCtx(request, self.service, who, query, ex.bucket, ex.key, ex.rid), handler

    async def handle(self, ex: Exchange, prepared: tuple[AisCtx, AisHandler]) -> web.StreamResponse:
        ctx, handler = prepared
        # frozen snapshots refuse object writes; object writes queue bucket notification events
        return await _around(ctx, handler)

    def render_error(self, err: Exception, ex: Exchange) -> web.StreamResponse:
        if isinstance(err, S3Error):
            err = _from_s3(err, ex.bucket or "", ex.key)
        assert isinstance(err, AisError)
        return error_response(err, ex.request, ex.rid)

    def internal_error(self, io_error: OSError | None) -> Exception:
        if io_error is not None:
            return AisError(500, f"internal error: {io_error}")
        return AisError(500, "internal error; please retry")


async def _around(ctx: AisCtx, handler: AisHandler) -> web.StreamResponse:
    """AIStore's object writes through the one write hook: PUT (a plain put or an append flush:
    ObjectCreated:Put; an append piece: no event) and DELETE (ObjectRemoved:Delete). Server-side
    copies (`object_to`) are hooked by their handler on the destination; bucket-level multi-object
    operations by `service.multiobj` (through `service.announce`)."""
    method = ctx.request.method
    if ctx.key is None or method not in ("PUT", "DELETE") or "object_to" in ctx.query:
        return await handler(ctx)
    if method == "DELETE":
        event: str | None = "s3:ObjectRemoved:Delete"
    else:
        event = None if ctx.query.get("append_type") == "append" else "s3:ObjectCreated:Put"
    return await around_write(ctx.svc, ctx.bucket, ctx.key, event, ctx.who.user_id, ctx.rid, ctx.request,
                              lambda: handler(ctx))
