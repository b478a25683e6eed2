"""A webhook endpoint for notification tests: a real HTTP server in a thread that records events."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A webhook endpoint that records every POSTed event; can answer errors first."""

    def __init__(self, port: int, fail_first: int = 0) -> None:
        self.port = port
        self.records: list[dict] = []
        self.posts = 0
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    outer.posts += 1
                    failing = outer.posts <= outer.fail_first
                    if not failing:
                        outer.records.extend(json.loads(body)["Records"])
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def wait_for(self, n: int, timeout: float = 60.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.records) >= n:
                    break
            time.sleep(0.05)
        with self.lock:
            return list(self.records)


def notification_config(url: str, events: list[str], prefix: str | None = None) -> dict:
    conf: dict = {"Id": "hook-1", "QueueArn": f"arn:coffer:webhook:::{url}", "Events": events}
    if prefix is not None:
        conf["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}
    return {"QueueConfigurations": [conf]}
