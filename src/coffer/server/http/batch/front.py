"""The batch front: claims `/_coffer/batch/v1/` (before the OpenIO front takes the rest of `/_coffer/`).

Its requests are signed like S3's and its errors are S3 XML (`common.signed.SignedFront`). The bucket
is named in the body, so the gate defers the access decision to the handler, which takes it per key.
"""

from __future__ import annotations

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.http.common.endpoint import Endpoint, Route
from coffer.server.http.common.front import Exchange
from coffer.server.http.common.signed import SignedFront

PREFIX = "/_coffer/batch/v1/"
OPERATIONS = {("POST", "get"): Endpoint("BatchGet", "s3:GetObject")}


class BatchFront(SignedFront):
    def claims(self, request: web.BaseRequest, raw_path: str, query: dict[str, str]) -> bool:
        return raw_path.startswith(PREFIX)

    def route(self, ex: Exchange) -> Route:
        op = ex.raw_path[len(PREFIX):]
        endpoint = OPERATIONS.get((ex.method, op))
        if endpoint is None:
            if any(o == op for (_m, o) in OPERATIONS):
                raise S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.",
                              Method=ex.method, ResourceType=op)
            raise S3Error("NotImplemented", f"Unknown batch operation {op!r}.")
        return Route(endpoint, None, None)
