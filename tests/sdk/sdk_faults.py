"""Fault injection for SDK tests: a loopback TCP proxy that can cut connections, and a tiny HTTP
server that answers canned S3 errors.

The proxy sits between the SDK and a real server (never a fake store): it forwards bytes both ways
and, on request, drops a connection after N bytes in either direction, which is exactly what a
flaky network does mid-part. It also rewrites absolute-form request lines, so it doubles as the
forward proxy that http_proxy points at.
"""

from __future__ import annotations

import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_ABSOLUTE = re.compile(rb"^([A-Z]+) http://[^/ ]+(/[^ ]*) (HTTP/1\.[01])\r\n")


class CuttingProxy:
    """Forward 127.0.0.1:<port> to ``upstream``; ``cut_up(n)`` / ``cut_down(n)`` arm one cut."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.bytes_up = 0
        self.bytes_down = 0
        self.requests = 0
        self.cuts = 0
        self.absolute_requests = 0
        self._cut_up: list[int] = []
        self._cut_down: list[int] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_up(self, after: int, times: int = 1) -> None:
        """Drop the next ``times`` connections after ``after`` bytes client->server."""
        with self.lock:
            self._cut_up += [after] * times

    def cut_down(self, after: int, times: int = 1) -> None:
        """Drop the next ``times`` connections after ``after`` bytes server->client."""
        with self.lock:
            self._cut_down += [after] * times

    def close(self) -> None:
        self._stop = True
        self.sock.close()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        state = {"up": None, "down": None}
        t = threading.Thread(target=self._pump, args=(server, client, "down", state), daemon=True)
        t.start()
        self._pump(client, server, "up", state)
        t.join(5)

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str, state: dict) -> None:
        moved = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    if direction == "up":
                        m = _ABSOLUTE.match(data)
                        if m:  # a forward-proxy request: turn it into an origin-form one
                            self.absolute_requests += 1
                            data = m.group(1) + b" " + m.group(2) + b" " + m.group(3) + b"\r\n" + data[m.end():]
                        self.requests += len(re.findall(rb"(?:^|\r\n)[A-Z]+ /[^ ]* HTTP/1\.[01]\r\n", data))
                    armed = self._cut_up if direction == "up" else self._cut_down
                    if state[direction] is None and armed and moved == 0:
                        state[direction] = armed.pop(0)
                    limit = state[direction]
                if limit is not None and moved + len(data) >= limit:
                    dst.sendall(data[: max(0, limit - moved)])
                    with self.lock:
                        self.cuts += 1
                    break
                dst.sendall(data)
                moved += len(data)
                with self.lock:
                    if direction == "up":
                        self.bytes_up += len(data)
                    else:
                        self.bytes_down += len(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


class CannedServer:
    """An HTTP server answering every request from a script of (status, code) pairs, then 200."""

    def __init__(self, script: list[tuple[int, str]]) -> None:
        self.script = list(script)
        self.requests = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with outer.lock:
                    outer.requests += 1
                    step = outer.script.pop(0) if outer.script else (200, "")
                status, code = step
                body = b""
                if status >= 300 and self.command != "HEAD":
                    body = (f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>canned {code}</Message>"
                            f"<RequestId>req-{outer.requests}</RequestId></Error>").encode()
                elif self.command == "GET":
                    body = b"<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", '"0123456789abcdef0123456789abcdef"')
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
