"""The S3 front: every request no other front claims (the last of app.FRONTS).

Routing is `router.route` (one TABLE; path-style and virtual-host-style), the request path is the
S3-signed one (`common.signed.SignedFront`: CORS, signature, access gate), and object writes run
through the write hook (`notifications.around` -> `common.hooks.around_write`).
"""

from __future__ import annotations

from aiohttp import web

from coffer.server.http.common.context import Ctx, Handler
from coffer.server.http.common.endpoint import Route
from coffer.server.http.common.front import Exchange
from coffer.server.http.common.signed import SignedFront
from coffer.server.http.s3 import notifications
from coffer.server.http.s3.router import route


class S3Front(SignedFront):
    def claims(self, request: web.BaseRequest, raw_path: str, query: dict[str, str]) -> bool:
        return True

    def route(self, ex: Exchange) -> Route:
        return route(ex.method, ex.raw_path, ex.query, ex.headers.get("Host"), self.cfg.domains)

    async def around(self, ctx: Ctx, handler: Handler) -> web.StreamResponse:
        # frozen snapshots refuse writes; successful writes queue bucket notification events
        return await notifications.around(ctx, handler)
