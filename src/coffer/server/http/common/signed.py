"""`SignedFront`: the request path of the fronts whose requests are signed like S3's and whose
endpoints are registered in `context.HANDLERS` (S3, and Coffer's OpenIO extension).

`prepare`: the front's router names the endpoint -> a CORS preflight is answered at once (unsigned
by design, `cors.preflight`) and an actual CORS request notes its Access-Control-* headers ->
the signature is checked (`Authenticator`; a client of the `ClientDialect`, DS3's SDKs, by its own
signature) -> the endpoint's handler -> the access gate (`gate.guard`: authorization and quotas).
`handle` runs the handler through the front's `around` (S3's: the write hook). Errors are S3 XML,
or the dialect's documents for its clients.
"""

from __future__ import annotations

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.config import Config
from coffer.server.http.common import cors
from coffer.server.http.common.auth import Authenticator
from coffer.server.http.common.context import HANDLERS, Ctx, Handler
from coffer.server.http.common.endpoint import Route
from coffer.server.http.common.front import ClientDialect, Exchange, Front
from coffer.server.http.common.gate import guard
from coffer.server.service import Service


class SignedFront(Front):
    def __init__(self, service: Service, cfg: Config, auth: Authenticator,
                 dialect: ClientDialect | None = None) -> None:
        self.service = service
        self.cfg = cfg
        self.auth = auth
        self.dialect = dialect

    def route(self, ex: Exchange) -> Route:
        """The endpoint, bucket and key the request addresses."""
        raise NotImplementedError

    async def around(self, ctx: Ctx, handler: Handler) -> web.StreamResponse:
        """Run the endpoint handler (a front wraps it here, e.g. in the write hook)."""
        return await handler(ctx)

    async def prepare(self, ex: Exchange) -> tuple[Ctx, Handler] | web.StreamResponse:
        request = ex.request
        r = self.route(ex)
        ex.bucket, ex.key = r.bucket, r.key
        # for the access log and metrics, also when the request is refused below (http/common/access_log.py)
        request["op"], request["bucket"], request["key"] = r.endpoint.name, r.bucket, r.key
        if r.endpoint.name == "PreflightRequest":  # CORS preflight: unsigned by design (http/common/cors.py)
            return await cors.preflight(self.service, request, r.bucket)
        if "Origin" in request.headers:
            await cors.note_actual(self.service, request, r.bucket)
        if self.dialect is not None and self.dialect.speaks(request.headers):
            who, plan = await self.dialect.authenticate_s3(ex)
        else:
            who, plan = await self.auth.authenticate(request.method, ex.raw_path, ex.raw_query, request.headers,
                                                     ex.query, r.bucket)
        request["user"] = who.user_id or "anonymous"
        handler = HANDLERS.get(r.endpoint.name)
        if handler is None:
            raise S3Error("NotImplemented", "A header or query you provided implies functionality that is not "
                          "implemented.")
        ctx = Ctx(request, r, who, plan, self.service, self.cfg, ex.query, ex.rid)
        await guard(ctx)  # authorization and quotas
        return ctx, handler

    async def handle(self, ex: Exchange, prepared: tuple[Ctx, Handler]) -> web.StreamResponse:
        ctx, handler = prepared
        return await self.around(ctx, handler)

    def render_error(self, err: Exception, ex: Exchange) -> web.StreamResponse:
        if self.dialect is not None and self.dialect.speaks(ex.request.headers):
            return self.dialect.render_error(err, ex)  # a DS3 SDK reads DS3 error documents (HttpErrorCode)
        return super().render_error(err, ex)
