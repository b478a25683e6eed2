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
        self._cuts: dict[str, list[int]] = {"up": [], "down": []}
        self._base = {"up": 0, "down": 0}
        self._corrupt_down: list[int] = []
        self._corrupt_up: list[int] = []  # offsets in the client->server bytes of all connections
        self.corruptions = 0
        self.disguise = False  # answer "Server: Other!" instead of "Server: Coffer" (same length)
        self.open_connections = 0
        self.peak_connections = 0  # most client connections open at once
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_up(self, after: int, times: int = 1) -> None:
        """Cut, ``times`` times, whichever connection carries the ``after``-th byte client->server
        counted from now (and from each cut); the next cut counts again from there."""
        with self.lock:
            self._cuts["up"] += [after] * times
            self._base["up"] = self.bytes_up

    def cut_down(self, after: int, times: int = 1) -> None:
        """The same for bytes server->client."""
        with self.lock:
            self._cuts["down"] += [after] * times
            self._base["down"] = self.bytes_down

    def corrupt_down(self, at: int, times: int = 1) -> None:
        """Flip one byte at offset ``at`` of the next ``times`` connections' server->client stream."""
        with self.lock:
            self._corrupt_down += [at] * times

    def corrupt_up(self, at: int) -> None:
        """Flip the ``at``-th byte client->server counted from now (over every connection)."""
        with self.lock:
            self._corrupt_up.append(self.bytes_up + at)

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
        with self.lock:
            self.open_connections += 1
            self.peak_connections = max(self.peak_connections, self.open_connections)
        state = {"flip": None}
        t = threading.Thread(target=self._pump, args=(server, client, "down", state), daemon=True)
        t.start()
        self._pump(client, server, "up", state)
        t.join(5)
        with self.lock:
            self.open_connections -= 1

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
                    total = self.bytes_up if direction == "up" else self.bytes_down
                    plan = self._cuts[direction]
                    cut_at = None
                    if plan and total + len(data) - self._base[direction] >= plan[0]:
                        cut_at = plan.pop(0) - (total - self._base[direction])
                        self._base[direction] = total + cut_at
                        self.cuts += 1
                    sent = len(data) if cut_at is None else max(0, cut_at)
                    if direction == "up":
                        for at in [a for a in self._corrupt_up if total <= a < total + sent]:
                            i = at - total
                            data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
                            self._corrupt_up.remove(at)
                            self.corruptions += 1
                        self.bytes_up += sent
                    else:
                        self.bytes_down += sent
                        if self.disguise:
                            data = data.replace(b"Server: Coffer", b"Server: Other!")
                    if direction == "down" and state["flip"] is None and self._corrupt_down:
                        state["flip"] = moved + self._corrupt_down.pop(0)
                flip = state["flip"] if direction == "down" else None
                if flip is not None and moved <= flip < moved + len(data):
                    i = flip - moved
                    data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
                    with self.lock:
                        self.corruptions += 1
                        state["flip"] = None  # this connection may take the next armed flip
                if cut_at is not None:
                    dst.sendall(data[: max(0, cut_at)])
                    break
                dst.sendall(data)
                moved += len(data)
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
