"""The one serve loop of every HTTP front (Garage's `generic_server`).

`Pipeline.serve` is what aiohttp calls for each request, on every listener:

1. a request id (`request["rid"]`), and `begin_request()` so no access decision of the previous
   request on this connection carries over; the in-flight count goes up (SIGTERM waits for zero);
2. the first front of the ordered list that `claims` the request gets it;
3. `front.prepare` routes and authenticates; only then, if the client sent `Expect: 100-continue`
   and the front reads bodies, is `100 Continue` sent: a refused request never makes its client
   send (possibly gigabytes of) body;
4. `front.handle` runs the endpoint;
5. the error ladder: an S3Error or the front's own FrontError -> `front.render_error` (5xx logged);
   NotModified -> 304; the metadata database unreachable (MetaUnavailable) -> 503 ServiceUnavailable
   with Retry-After, connection closed; the client gone -> no answer; any other OSError or exception -> logged, and
   answered 500 in the front's format. An error answered while the client still holds its body back
   closes the connection (it cannot carry another request);
6. `stamp`: x-amz-request-id, x-amz-id-2, Server and the CORS headers on every response not yet sent;
7. `access_log.finish`: the access-log line and the request's metrics (operation, status, bytes, time).
   A client that went away is one INFO line and status 499 (no traceback); the request id is on every
   log line written meanwhile (`logs.request_id`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server import logs, metrics
from coffer.server.http.common import access_log, stats
from coffer.server.http.common.auth import parse_query
from coffer.server.http.common.front import Exchange, Front, FrontError
from coffer.server.http.common.ids import new_request_id, stamp
from coffer.server.meta.interface import MetaUnavailable
from coffer.server.service import NotModified
from coffer.server.service.core import begin_request

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def query_dict(raw_query: str) -> dict[str, str]:
    """The decoded query, first value of each argument."""
    out: dict[str, str] = {}
    for k, v in parse_query(raw_query):
        out.setdefault(k, v)
    return out


class Pipeline:
    """Serves requests through an ordered list of fronts; the last one takes what no other claims."""

    def __init__(self, fronts: Sequence[Front]) -> None:
        assert fronts, "a pipeline needs at least one front"
        self.fronts = list(fronts)
        self.inflight = 0  # requests being handled: SIGTERM waits for this to reach zero

    async def serve(self, request: web.BaseRequest) -> web.StreamResponse:
        started = time.monotonic()
        metrics.request_started()  # before counting: should it raise, the count must not stay up
        self.inflight += 1
        resp: web.StreamResponse | None = None
        try:
            resp = await self._serve(request)
            if not resp.prepared:
                stamp(request, resp)
            stats.count(resp.status, request.content_length, resp.content_length or resp.body_length)
            return resp
        finally:
            self.inflight -= 1
            access_log.finish(request, resp, started, None if resp is not None else 500)

    def select(self, request: web.BaseRequest, raw_path: str, query: dict[str, str]) -> Front:
        for front in self.fronts[:-1]:
            if front.claims(request, raw_path, query):
                return front
        return self.fronts[-1]

    async def _serve(self, request: web.BaseRequest) -> web.StreamResponse:
        rid = new_request_id()
        request["rid"] = rid
        logs.request_id.set(rid)  # every log line of this request carries it
        begin_request()  # no access decision of a previous request on this connection carries over
        raw_path, _, raw_query = request.raw_path.partition("?")
        query = query_dict(raw_query)
        expects = request.version >= (1, 1) and request.headers.get("Expect", "").lower() == "100-continue"
        ex = Exchange(request, rid, raw_path, raw_query, query, request.method == "HEAD", expects)
        front = self.fronts[-1]
        try:
            front = self.select(request, raw_path, query)
            prepared = await front.prepare(ex)
            access_log.describe(front, prepared, request)
            if isinstance(prepared, web.StreamResponse):  # answered before any body is wanted
                return prepared
            if ex.expects_continue and front.invites_body:
                await request.writer.write(_CONTINUE)
                request.writer.output_size = 0
                ex.invited = True
            return await front.handle(ex, prepared)
        except (S3Error, FrontError) as e:
            if request.transport is None or request.transport.is_closing():  # e.g. IncompleteBody: it hung up
                return self._gone(front, request, raw_path, e)
            if isinstance(e, S3Error) and e.status >= 500:
                front.log.warning("%s %s -> %s %s", request.method, raw_path, e.code, e.message)
            return self._refuse(front, e, ex)
        except NotModified as nm:
            return front.not_modified(nm, ex)
        except MetaUnavailable as e:
            # the metadata database is down or failing over: nothing was acknowledged, the client retries
            front.log.warning("%s %s -> 503: %s", request.method, raw_path, e)
            resp = self._refuse(front, S3Error("ServiceUnavailable", "Please reduce your request rate.", status=503),
                                ex)
            resp.headers["Retry-After"] = "1"
            resp.force_close()  # the request body may be unread: this connection cannot carry another request
            return resp
        except (ConnectionError, OSError) as e:
            # the socket to the client broke (sendfile sees EPIPE/ECONNRESET before aiohttp marks the transport)
            if (request.transport is None or request.transport.is_closing()
                    or isinstance(e, BrokenPipeError | ConnectionResetError)):
                return self._gone(front, request, raw_path, e)
            front.log.exception("I/O error on %s %s", request.method, raw_path)
            return self._refuse(front, front.internal_error(e), ex)
        except Exception:
            front.log.exception("internal error on %s %s", request.method, raw_path)
            return self._refuse(front, front.internal_error(None), ex)

    @staticmethod
    def _gone(front: Front, request: web.BaseRequest, raw_path: str, err: Exception) -> web.StreamResponse:
        """The client went away: one INFO line, no traceback; the answer goes nowhere (499, as nginx logs it)."""
        front.log.info("client %s went away during %s %s (%s)", request.remote, request.method, raw_path,
                       getattr(err, "code", None) or type(err).__name__)
        metrics.observe_disconnect()
        gone = web.Response(status=499)
        gone.force_close()
        return gone

    @staticmethod
    def _refuse(front: Front, err: Exception, ex: Exchange) -> web.StreamResponse:
        ex.request["err"] = getattr(err, "code", None) or type(err).__name__
        resp = front.render_error(err, ex)
        if ex.expects_continue and not ex.invited and front.invites_body:
            resp.force_close()  # the client holds its body back: the connection cannot carry another request
        return resp
