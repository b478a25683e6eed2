"""Webhook safety against a live server: every delivery is signed (HMAC-SHA256 with the
configuration's secret), and destinations outside the allowed networks are refused when the
configuration is put (`--webhook-allow`; default loopback + private ranges)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError
from helpers import client
from webhook_receiver import notification_config

from coffer import Client
from coffer.server.service.events.webhook_security import verify
from ports import free_port


class SigReceiver:
    """Records (headers, body) of every POST."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, free_port()
        self.posts: list[tuple[dict, bytes]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    outer.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((host, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    def wait_for(self, n: int, timeout: float = 60.0) -> list[tuple[dict, bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.posts) < n:
            time.sleep(0.05)
        with self.lock:
            return list(self.posts)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_every_delivery_is_signed_with_the_configuration_secret(endpoint):
    sdk = Client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    receiver = SigReceiver()
    b = sdk.bucket(f"sig-{uuid.uuid4().hex[:12]}").create()
    try:
        b.ext.set_webhooks([{"id": "signed", "url": receiver.url, "secret": "receiver-shared-secret-1"},
                            {"id": "generated", "url": receiver.url, "prefix": "g/"}])
        generated = next(w["secret"] for w in b.ext.webhooks() if w["id"] == "generated")
        b.object("k").put(b"hello")
        b.object("g/k").put(b"hello")
        posts = receiver.wait_for(3)
        assert len(posts) == 3
        by_config = {}
        for headers, body in posts:
            config = json.loads(body)["Records"][0]["s3"]["configurationId"]
            by_config.setdefault(config, []).append((headers, body))
            assert headers["x-coffer-signature"].startswith("sha256=")
            assert abs(int(headers["x-coffer-timestamp"]) - time.time()) < 3600
        for headers, body in by_config["signed"]:
            assert verify("receiver-shared-secret-1", headers["x-coffer-timestamp"], body,
                          headers["x-coffer-signature"])
            assert not verify(generated, headers["x-coffer-timestamp"], body, headers["x-coffer-signature"])
            assert not verify("receiver-shared-secret-1", headers["x-coffer-timestamp"], body + b" ",
                              headers["x-coffer-signature"])  # the body is covered
        (headers, body), = by_config["generated"]
        assert verify(generated, headers["x-coffer-timestamp"], body, headers["x-coffer-signature"])
    finally:
        receiver.stop()
        b.ext.set_webhooks([])
        b.delete(force=True)


def test_bad_secret_is_refused(endpoint):
    sdk = Client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    b = sdk.bucket(f"sig-{uuid.uuid4().hex[:12]}").create()
    try:
        from coffer import CofferError

        with pytest.raises(CofferError) as e:
            b.ext.set_webhooks([{"url": "http://127.0.0.1:9/h", "secret": "short"}])
        assert e.value.code == "InvalidArgument" and e.value.status == 400
    finally:
        b.delete(force=True)


@pytest.mark.parametrize("url", ["http://8.8.8.8/hook", "http://169.254.169.254/latest/meta-data/",
                                 "http://[2001:4860:4860::8888]/hook", "http://[::ffff:8.8.8.8]/hook",
                                 "http://no-such-host.invalid/hook"])
def test_default_refuses_public_link_local_and_unresolvable(s3, bucket, url):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=notification_config(
            url, ["s3:ObjectCreated:*"]))
    err = e.value.response["Error"]
    assert (err["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidArgument", 400)
    assert "Unable to validate the following destination configurations" in err["Message"]
    assert e.value.response["ResponseMetadata"]["RequestId"]
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations") is None


def test_default_allows_private_ranges(s3, bucket):
    for url in ("http://10.1.2.3:8080/h", "http://192.168.0.10/h", "http://[fd00::1]/h", "http://localhost:9/h"):
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=notification_config(
            url, ["s3:ObjectCreated:*"]))
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})


def test_webhook_allow_option_replaces_the_default(server_factory):
    srv = server_factory(extra_args=["--webhook-allow", "127.0.0.2/32", "--webhook-allow", "203.0.113.0/24"])
    s3 = client(srv.endpoint, srv.access_key, srv.secret_key)
    s3.create_bucket(Bucket="allow")
    for url in ("http://127.0.0.2:9/h", "http://203.0.113.7/h"):
        s3.put_bucket_notification_configuration(Bucket="allow", NotificationConfiguration=notification_config(
            url, ["s3:ObjectCreated:*"]))
    for url in ("http://127.0.0.1:9/h", "http://10.0.0.1/h"):
        with pytest.raises(ClientError) as e:
            s3.put_bucket_notification_configuration(Bucket="allow", NotificationConfiguration=notification_config(
                url, ["s3:ObjectCreated:*"]))
        assert e.value.response["Error"]["Code"] == "InvalidArgument"
    receiver = SigReceiver("127.0.0.2")  # delivery to the allowed network works
    try:
        s3.put_bucket_notification_configuration(Bucket="allow", NotificationConfiguration=notification_config(
            receiver.url, ["s3:ObjectCreated:*"]))
        s3.put_object(Bucket="allow", Key="k", Body=b"x")
        assert len(receiver.wait_for(1)) == 1
    finally:
        receiver.stop()


def test_malformed_cidr_stops_the_server_at_start(tmp_path):
    out = subprocess.run([sys.executable, "-m", "coffer", "serve", "--data", str(tmp_path), "--webhook-allow",
                          "10.0.0.0/33"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "--webhook-allow" in out.stderr
