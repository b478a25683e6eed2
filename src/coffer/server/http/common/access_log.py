"""The access log and the per-request metrics, written once per request by the serve loop.

One INFO line on the `coffer.access` logger per request: request id, remote address, user, API
operation, bucket, key, status, bytes in and out, duration. With `--log-format json` the same fields
are keys of the JSON object (server/logs.py). The operation is the front's typed endpoint name
(`PutObject`, `ListObjectsV2`, ...), or the front's own name where it has none (`ais:GET`, `admin:users`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web

from coffer.server import logs, metrics

log = logging.getLogger("coffer.access")
enabled = True  # --no-access-log turns the line off (metrics are still counted)


def describe(front: Any, prepared: Any, request: web.BaseRequest) -> None:
    """Note what the request is (operation, bucket, key, user) once the front has prepared it.

    Fronts prepare a context (S3/OpenIO: (Ctx, handler); admin: (handler, AdminRequest); AIStore:
    (AisCtx, handler); DS3: a request object): the typed endpoint's name when there is a route, else
    the front's name and the handler's."""
    items = prepared if isinstance(prepared, tuple) else (prepared,)
    ctx = next((i for i in items if hasattr(i, "who") or hasattr(i, "route")), None)
    handler = next((i for i in items if callable(i) and i is not ctx), None)
    route = getattr(ctx, "route", None)
    if route is not None and getattr(route, "endpoint", None) is not None:
        request["op"] = route.endpoint.name
        request["bucket"], request["key"] = route.bucket, route.key
    else:
        name = type(front).__name__.removesuffix("Front").lower() or "front"
        what = getattr(handler, "__name__", None) or request.method
        request["op"] = f"{name}:{what}"
        request["bucket"] = getattr(ctx, "bucket", None) or None
        request["key"] = getattr(ctx, "key", None) or None
    who = getattr(ctx, "who", None)
    if who is not None:
        request["user"] = getattr(who, "user_id", "") or "anonymous"


def finish(request: web.BaseRequest, resp: web.StreamResponse | None, started: float,
           status: int | None = None) -> None:
    seconds = time.monotonic() - started
    status = status if status is not None else (resp.status if resp is not None else 0)
    op = request.get("op") or "-"
    content = request.content
    bytes_in = getattr(content, "total_bytes", 0) or 0
    bytes_out = 0
    if resp is not None:
        bytes_out = resp.content_length or resp.body_length or 0
    metrics.observe_request(op, status, seconds, bytes_in, bytes_out, request.get("err"))
    if not enabled or not log.isEnabledFor(logging.INFO):
        return
    fields = {"request_id": request.get("rid", "-"), "remote": request.remote or "-",
              "user": request.get("user") or "-", "operation": op, "bucket": request.get("bucket") or "-",
              "key": request.get("key") or "-", "status": status, "bytes_in": bytes_in, "bytes_out": bytes_out,
              "duration_ms": round(seconds * 1000, 3)}
    args = (fields["request_id"], fields["remote"], fields["user"], op, fields["bucket"], fields["key"], status,
            bytes_in, bytes_out, seconds * 1000)
    if not logs.access(fields, _LINE % args):
        log.info(_LINE, *args, extra=fields)


_LINE = "%s %s %s %s %s %s %d %d %d %.1fms"
