"""Request identity: the request id and host id every response carries (x-amz-request-id, x-amz-id-2)."""

from __future__ import annotations

import base64
import itertools
import os

from aiohttp import web

HOST_ID = base64.b64encode(os.urandom(24)).decode()
# A random per-process prefix and a counter: unique across workers, and no syscall per request.
# Drawn again in every forked worker: this module is imported by the supervisor before it forks, and
# ids drawn there would repeat in every worker.
_RID_PREFIX = ""
_rid_counter = itertools.count()


def _draw() -> None:
    global _RID_PREFIX, _rid_counter
    _RID_PREFIX = os.urandom(3).hex().upper()
    _rid_counter = itertools.count(int.from_bytes(os.urandom(4), "big"))


_draw()
os.register_at_fork(after_in_child=_draw)


def new_request_id() -> str:
    return f"{_RID_PREFIX}{next(_rid_counter) & 0xFFFFFFFFFF:010X}"


def stamp(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """The headers every response carries, errors included (call before the response is prepared)."""
    response.headers["x-amz-request-id"] = request.get("rid") or new_request_id()
    response.headers["x-amz-id-2"] = HOST_ID
    response.headers["Server"] = "Coffer"
    cors = request.get("cors")  # Access-Control-* headers of a matching CORS rule (http/common/cors.py)
    if cors:
        response.headers.update(cors)
