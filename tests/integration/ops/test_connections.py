"""Connections never hang around: idle, slow-head and slow-body sockets are closed after their timeout,
and a worker refuses connections beyond its limit."""

from __future__ import annotations

import http.client
import socket
import time

import pytest

from ports import free_port


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed `sock` (recv returns b"" or resets), None if still open."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return time.monotonic() - start
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic() - start
    except TimeoutError:
        return None


WEB_PORT = free_port()


@pytest.fixture(scope="module")
def srv(module_server_factory):
    return module_server_factory(extra_args=["--idle-timeout", "2", "--body-timeout", "2",
                                             "--max-connections", "4", "--website-address", f"127.0.0.1:{WEB_PORT}"])


def test_idle_connection_is_closed(srv):
    for port in (srv.port, WEB_PORT):  # the S3 listener and the website listener
        sock = socket.create_connection(("127.0.0.1", port))
        assert closed_within(sock, 15) is not None
        sock.close()


def test_slow_request_head_is_closed(srv):
    sock = socket.create_connection(("127.0.0.1", srv.port))
    start = time.monotonic()
    for ch in b"GET /x HTTP/1.1\r\nHost: a\r\n":  # one byte a second, never the end of the head
        try:
            sock.sendall(bytes([ch]))
        except OSError:
            break
        if time.monotonic() - start > 10:
            break
        time.sleep(0.5)
    assert closed_within(sock, 15) is not None
    assert time.monotonic() - start < 20
    sock.close()


def test_stalled_body_is_closed(srv):
    import boto3
    from rawhttp import Signer

    boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=srv.access_key,
                 aws_secret_access_key=srv.secret_key, region_name="us-east-1").create_bucket(Bucket="stall")
    req = Signer(srv.endpoint, srv.access_key, srv.secret_key).sign("PUT", "/stall/key", body=b"x" * 1000,
                                                                   payload_hash="UNSIGNED-PAYLOAD")
    sock = socket.create_connection(("127.0.0.1", srv.port))
    sock.sendall(req.with_body(b"x" * 10).to_bytes())  # the head promises 1000 bytes; 10 come
    took = closed_within(sock, 20)
    assert took is not None and took < 15
    sock.close()


def test_connection_limit_per_worker(srv):
    held = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(4)]
    try:
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", srv.port))
        assert closed_within(extra, 1.5) is not None  # closed at once, long before the idle timeout
        extra.close()
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("GET", "/health/live")
    assert conn.getresponse().status == 200
    conn.close()
