"""Logs and metrics: one access-log line per request (text or JSON) with the request id that every log line
of the request carries; a client disconnect is one INFO line; Prometheus metrics summed over the
pre-forked workers at /metrics, with an optional bearer token."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config as BotoConfig
from rawhttp import Signer


def client(srv):
    return boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=srv.access_key,
                        aws_secret_access_key=srv.secret_key, region_name="us-east-1",
                        config=BotoConfig(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))


def wait_for_line(srv, pattern: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in srv.log_text().splitlines():
            if re.search(pattern, line):
                return line
        time.sleep(0.1)
    raise AssertionError(f"no log line matches {pattern!r}:\n{srv.log_text()[-2000:]}")


def test_access_log_line_and_disconnect(server_factory):
    srv = server_factory(workers=2)
    s3 = client(srv)
    s3.create_bucket(Bucket="logged")
    put = s3.put_object(Bucket="logged", Key="dir/file.txt", Body=b"x" * 1234)
    rid = put["ResponseMetadata"]["RequestId"]
    line = wait_for_line(srv, rf"coffer\.access INFO \[{rid}\] ")
    fields = line.split("] ", 1)[1].split()
    assert fields[:9] == [rid, "127.0.0.1", "root", "PutObject", "logged", "dir/file.txt", "200", "1234", "0"]
    assert fields[9].endswith("ms")
    got = s3.get_object(Bucket="logged", Key="dir/file.txt")
    got["Body"].read()
    rid = got["ResponseMetadata"]["RequestId"]
    line = wait_for_line(srv, rf"\[{rid}\] .* GetObject logged dir/file.txt 200 0 1234 ")
    assert "root" in line

    # a client that goes away in the middle of its upload: one INFO line carrying the request id, no traceback
    req = Signer(srv.endpoint, srv.access_key, srv.secret_key).sign("PUT", "/logged/cut", body=b"y" * 200_000,
                                                                   payload_hash="UNSIGNED-PAYLOAD")
    sock = socket.create_connection(("127.0.0.1", srv.port))
    sock.sendall(req.with_body(b"y" * 50_000).to_bytes())
    time.sleep(0.5)
    sock.close()
    gone = wait_for_line(srv, r"went away during PUT /logged/cut")
    assert " INFO " in gone
    rid = re.search(r"\[([0-9A-F]{16})\]", gone).group(1)
    wait_for_line(srv, rf"\[{rid}\] {rid} 127.0.0.1 root PutObject logged cut 499 ")
    # and one that stops reading a large download
    s3.put_object(Bucket="logged", Key="big", Body=b"b" * (32 << 20))
    req = Signer(srv.endpoint, srv.access_key, srv.secret_key).sign("GET", "/logged/big")
    sock = socket.create_connection(("127.0.0.1", srv.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(req.to_bytes())
    sock.recv(1000)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
    sock.close()
    time.sleep(1)
    assert "Traceback" not in srv.log_text() and " ERROR " not in srv.log_text()


def test_json_logs(server_factory):
    srv = server_factory(extra_args=["--log-format", "json"])
    s3 = client(srv)
    s3.create_bucket(Bucket="jsonlog")
    rid = s3.head_bucket(Bucket="jsonlog")["ResponseMetadata"]["RequestId"]
    line = wait_for_line(srv, rid)
    doc = json.loads(line)
    assert doc["logger"] == "coffer.access" and doc["request_id"] == rid
    assert doc["operation"] == "HeadBucket" and doc["status"] == 200 and doc["bucket"] == "jsonlog"
    assert {"time", "remote", "user", "bytes_in", "bytes_out", "duration_ms"} <= doc.keys()


def scrape(srv, token: str | None = None) -> tuple[str, str]:
    req = urllib.request.Request(srv.endpoint + "/metrics",
                                 headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["Content-Type"], r.read().decode()


def sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_add_up_over_workers(server_factory):
    srv = server_factory(workers=2)
    s3 = client(srv)
    s3.create_bucket(Bucket="metered")
    for i in range(30):  # a new connection each: both workers serve some
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("GET", f"/metered/missing-{i}")
        conn.getresponse().read()
        conn.close()
    for i in range(5):
        s3.put_object(Bucket="metered", Key=f"k{i}", Body=b"z" * 1000)
    ctype, text = scrape(srv)
    assert ctype.startswith("text/plain; version=")
    assert sample(text, "coffer_requests_total", operation="PutObject", status="200") == 5
    assert sample(text, "coffer_received_bytes_total", operation="PutObject") == 5000
    assert sample(text, "coffer_requests_total", operation="GetObject") == 30  # anonymous: refused
    assert sample(text, "coffer_errors_total", operation="GetObject") == 30
    assert sample(text, "coffer_request_duration_seconds_count", operation="PutObject") == 5
    assert sample(text, "coffer_meta_commit_batch_size_count") >= 6
    assert "coffer_meta_commit_seconds_bucket" in text and "coffer_requests_in_flight" in text
    assert "coffer_event_queue_depth 0.0" in text and "coffer_disk_free_bytes" in text


def test_lifecycle_position_file_moves_into_the_metadata(server_factory):
    """The lifecycle position an older Coffer kept in DATA/meta/lifecycle.json is taken into the
    metadata at start (the file goes); /metrics reads the position from there, on either engine."""
    srv = server_factory()
    srv.stop()
    old = srv.data / "meta" / "lifecycle.json"
    old.write_text(json.dumps({"bucket": "zz-none", "phase": "current", "after": ""}))
    srv.start()
    deadline = time.monotonic() + 20
    while old.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not old.exists()
    while time.monotonic() < deadline:  # the first pass (nothing to do) finishes at once
        if "coffer_lifecycle_pass_pending 0.0" in scrape(srv)[1]:
            break
        time.sleep(0.2)
    assert "coffer_lifecycle_pass_pending 0.0" in scrape(srv)[1]


def test_metrics_token(server_factory):
    srv = server_factory(extra_args=["--metrics-token", "s3cr3t-metrics"])
    with pytest.raises(urllib.error.HTTPError) as e:
        scrape(srv)
    assert e.value.code == 401
    with pytest.raises(urllib.error.HTTPError):
        scrape(srv, "wrong")
    _, text = scrape(srv, "s3cr3t-metrics")
    assert "coffer_requests_total" in text
