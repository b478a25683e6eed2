"""What a front is to the serve loop: `Front` (claims, prepare, handle, render_error) and `Exchange`.

A front owns one API's requests (S3, DS3, AIStore, OpenIO, the admin API, static websites...).
`common.pipeline.Pipeline` asks each front of its ordered list in turn whether it `claims` a
request; the first that does gets it:

1. `prepare(ex)`: route and authenticate; return what `handle` needs, or a finished response
   (a CORS preflight, answered before any signature check). Nothing of the body is read here.
2. the pipeline invites the body (`Expect: 100-continue`) when `invites_body` says the front
   reads one: a request refused in step 1 never makes the client send its body;
3. `handle(ex, prepared)`: run the endpoint handler, return its response;
4. `render_error(err, ex)`: an `S3Error`, or the front's own `FrontError`, in the front's wire
   format (S3 XML by default; DS3 and AIStore documents, HTML pages for websites).

`internal_error` and `not_modified` give the front's words for a crash and for a 304.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.protocol.timeutil import http_date
from coffer.server.http.common.auth import BodyPlan
from coffer.server.http.common.ids import HOST_ID
from coffer.server.http.common.respond import error_response
from coffer.server.service import NotModified, Principal


class FrontError(Exception):
    """A front's own error type (AIStore's JSON errors, a website's HTML pages): the serve loop hands
    it to the front's `render_error` like an S3Error."""

    status: int = 500


@dataclass(slots=True)
class Exchange:
    """One request as the serve loop and the front see it."""

    request: web.BaseRequest
    rid: str  # x-amz-request-id of the answer
    raw_path: str  # the path as sent, percent-encoded
    raw_query: str  # the query as sent (signatures are over it)
    query: dict[str, str]  # first value of each argument, decoded
    head: bool  # a HEAD request: error answers carry no body
    expects_continue: bool  # `Expect: 100-continue`: the client holds its body until invited
    invited: bool = False  # 100 Continue has been sent
    bucket: str | None = None  # what the request addresses, once the front knows (error documents name it)
    key: str | None = None

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def headers(self) -> Any:
        return self.request.headers


class Front:
    """The base of every front: S3 XML errors and S3's words for a crash, unless the front says otherwise."""

    log: ClassVar[logging.Logger] = logging.getLogger("coffer.http")
    invites_body: ClassVar[bool] = True  # False: the front never reads a body (no 100 Continue)

    def claims(self, request: web.BaseRequest, raw_path: str, query: dict[str, str]) -> bool:
        raise NotImplementedError

    async def prepare(self, ex: Exchange) -> Any:
        raise NotImplementedError

    async def handle(self, ex: Exchange, prepared: Any) -> web.StreamResponse:
        raise NotImplementedError

    def render_error(self, err: Exception, ex: Exchange) -> web.StreamResponse:
        assert isinstance(err, S3Error)
        return error_response(err, ex.rid, HOST_ID, ex.raw_path, ex.head)

    def internal_error(self, io_error: OSError | None) -> Exception:
        """The error a crash is answered with (`io_error`: the I/O error, None for any other exception)."""
        if io_error is not None:
            return S3Error("InternalError", f"We encountered an internal error: {io_error}")
        return S3Error("InternalError", "We encountered an internal error. Please try again.")

    def not_modified(self, nm: NotModified, ex: Exchange) -> web.StreamResponse:
        return web.Response(status=304, headers={"ETag": f'"{nm.etag}"', "Last-Modified": http_date(nm.last_modified)})


class ClientDialect(Protocol):
    """A client family that speaks S3 with its own signature and error documents (DS3's SDKs): the
    S3-signed fronts authenticate it and answer its errors its way. app.py passes it in, so the S3
    front never imports the front that owns the dialect."""

    def speaks(self, headers: Any) -> bool: ...

    async def authenticate_s3(self, ex: Exchange) -> tuple[Principal, BodyPlan]: ...

    def render_error(self, err: Exception, ex: Exchange) -> web.StreamResponse: ...
