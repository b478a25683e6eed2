"""Connection hygiene for every listener: idle, request-head and body timeouts, and a per-worker
connection limit (aiohttp's own defaults keep an idle or half-open socket for an hour and bound
nothing else).

- **Idle / request head** (`Limits.idle_timeout`): aiohttp's keep-alive timer runs from the
  connection's start and after each response until a complete request head has arrived; a client that
  sends nothing, or a head byte by byte (slowloris), is closed when it fires.
- **Body** (`Limits.body_timeout`): while a handler waits for request-body bytes, at most this many
  seconds may pass without any arriving; then the connection is closed (the handler sees the
  client gone). Sending a response to a slow reader is not affected.
- **Connections** (`Limits.max_connections`, per worker process): one more is closed at once, and
  logged at most once a minute.

`GuardedRequestHandler` is the base of the S3 listener's handler class (http/app.py); `configure`
sets the limits once per worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("coffer.server.http.connections")

_body_timeout = 0.0
_max_connections = 0
_open = 0
_last_refusal_log = 0.0


def configure(body_timeout: float, max_connections: int) -> None:
    global _body_timeout, _max_connections
    _body_timeout, _max_connections = body_timeout, max_connections


def open_connections() -> int:
    return _open


class GuardedRequestHandler(RequestHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_data = time.monotonic()
        self._body_timer: asyncio.TimerHandle | None = None
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        global _open, _last_refusal_log
        super().connection_made(transport)
        _open += 1
        self._counted = True
        if _max_connections and _open > _max_connections:
            now = time.monotonic()
            if now - _last_refusal_log > 60:
                _last_refusal_log = now
                log.warning("connection limit reached (%d per worker): closing new connections", _max_connections)
            self.force_close()
            return
        if _body_timeout > 0:
            self._body_timer = self._loop.call_later(_body_timeout / 4, self._check_body)

    def connection_lost(self, exc: BaseException | None) -> None:
        global _open
        if self._counted:
            _open -= 1
            self._counted = False
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_data = time.monotonic()
        super().data_received(data)

    def _check_body(self) -> None:
        self._body_timer = None
        request = self._current_request
        waiting = request is not None and getattr(request.content, "_waiter", None) is not None
        if waiting and time.monotonic() - self._last_data > _body_timeout:
            log.info("closing a connection from %s: no request body bytes for %g s",
                     request.remote if request is not None else "?", _body_timeout)
            self.force_close()
            return
        if self.transport is not None and not self.transport.is_closing():
            self._body_timer = self._loop.call_later(_body_timeout / 4, self._check_body)


class GuardedServer(web.Server):
    """aiohttp's low-level server with the guarded connection handler (the website and console
    listeners; the S3 listener's S3Server subclasses the handler itself)."""

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, **self._kwargs)
