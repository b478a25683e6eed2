"""The OpenIO front: claims `/_coffer/...` (after the admin front took `/_coffer/admin/v1/`).

Its requests are signed like S3's and its errors are S3 XML (`common.signed.SignedFront`); the
router is `handlers.ext_route` over `handlers.OPERATIONS`. A `/_coffer/` path that is not an OpenIO
operation is answered NotImplemented ("Unknown Coffer extension.").
"""

from __future__ import annotations

from aiohttp import web

from coffer.server.http.common.endpoint import Route
from coffer.server.http.common.front import Exchange
from coffer.server.http.common.signed import SignedFront
from coffer.server.http.oio.handlers import ext_route

EXTENSIONS_PREFIX = "/_coffer/"  # not a valid bucket name: no S3 request starts with it


class OioFront(SignedFront):
    def claims(self, request: web.BaseRequest, raw_path: str, query: dict[str, str]) -> bool:
        return raw_path.startswith(EXTENSIONS_PREFIX)

    def route(self, ex: Exchange) -> Route:
        return ext_route(ex.method, ex.raw_path, ex.query)
