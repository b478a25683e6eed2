"""The HTTP core under failure: retries (and their absence for 4xx), cut connections mid-body in both
directions, corrupted bytes, and proxies taken from the environment."""

from __future__ import annotations

import hashlib
import os

import pytest
from sdk_faults import CannedServer, CuttingProxy

from coffer import (
    AccessDenied,
    Client,
    ClientConfig,
    ConnectionFailed,
    IntegrityError,
    InternalError,
    InvalidArgument,
    SlowDown,
    TransferConfig,
)

FAST = ClientConfig(max_attempts=3, backoff_base=0.001, backoff_max=0.01)


@pytest.fixture
def canned():
    servers: list[CannedServer] = []

    def make(script):
        srv = CannedServer(script)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.close()


def test_slowdown_and_503_are_retried(canned):
    srv = canned([(503, "SlowDown"), (503, "ServiceUnavailable")])
    client = Client(srv.url, "k", "s", proxy="", config=FAST)
    assert client.list_buckets() == []
    assert srv.requests == 3


def test_retries_give_up_with_the_typed_error(canned):
    srv = canned([(500, "InternalError")] * 5)
    with pytest.raises(InternalError) as info:
        Client(srv.url, "k", "s", proxy="", config=FAST).list_buckets()
    assert srv.requests == 3 and info.value.attempts == 3 and info.value.request_id == "req-3"
    srv = canned([(503, "SlowDown")] * 5)
    with pytest.raises(SlowDown):
        Client(srv.url, "k", "s", proxy="", config=FAST).bucket("b").object("k").put(b"data")
    assert srv.requests == 3


@pytest.mark.parametrize(("status", "code", "exc"), [(400, "InvalidArgument", InvalidArgument),
                                                     (403, "AccessDenied", AccessDenied)])
def test_client_errors_are_never_retried(canned, status, code, exc):
    srv = canned([(status, code)] * 3)
    with pytest.raises(exc):
        Client(srv.url, "k", "s", proxy="", config=FAST).bucket("b").object("k").put(b"data")
    assert srv.requests == 1


def test_unreachable_server_is_connection_failed():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionFailed):
        Client(f"http://127.0.0.1:{port}", "k", "s", proxy="", config=FAST).list_buckets()


@pytest.fixture
def proxy(coffer_target):
    p = CuttingProxy(coffer_target.url)
    yield p
    p.close()


def _via(proxy, target, **kw):
    return Client(proxy.url, target.access_key, target.secret_key, proxy="", **kw)


def test_upload_survives_a_cut_mid_body(proxy, coffer_target, coffer_bkt):
    client = _via(proxy, coffer_target, config=FAST)
    data = os.urandom(2 * 1024 * 1024)
    proxy.cut_up(after=700_000)
    client.bucket(coffer_bkt.name).object("cut.bin").put(data)
    assert proxy.cuts == 1
    assert coffer_bkt.object("cut.bin").read() == data


def test_reader_resumes_after_a_cut(proxy, coffer_target, coffer_bkt):
    data = os.urandom(3 * 1024 * 1024 + 5)
    coffer_bkt.object("r.bin").put(data)
    obj = _via(proxy, coffer_target, config=FAST).bucket(coffer_bkt.name).object("r.bin")
    proxy.cut_down(after=1_000_000)
    assert obj.read() == data
    proxy.cut_down(after=500_000)
    with obj.get_reader().as_file() as f:
        f.seek(100)
        assert f.read() == data[100:]
    assert proxy.cuts == 2


def test_corrupted_download_is_detected_and_refetched(proxy, coffer_target, coffer_bkt, tmp_path):
    data = os.urandom(1024 * 1024)
    coffer_bkt.object("c.bin").put(data)
    client = _via(proxy, coffer_target, config=FAST)
    with client.transfer(TransferConfig()) as tm:
        proxy.corrupt_down(at=300_000)  # inside the body: headers are a few hundred bytes
        tm.download(coffer_bkt.name, "c.bin", tmp_path / "ok.bin").result()
        assert proxy.corruptions == 1  # the flipped byte was caught and the object fetched again
        assert hashlib.sha256((tmp_path / "ok.bin").read_bytes()).digest() == hashlib.sha256(data).digest()
        proxy.corrupt_down(at=300_000, times=100)  # more flips than attempts: every try is corrupted
        with pytest.raises(IntegrityError):
            tm.download(coffer_bkt.name, "c.bin", tmp_path / "bad.bin").result()
    assert not (tmp_path / "bad.bin").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["ok.bin"]  # no temporary files left


def test_http_proxy_from_the_environment(proxy, coffer_target, coffer_bkt, tmp_path):
    env = {"COFFER_ENDPOINT": coffer_target.url, "COFFER_ACCESS_KEY": coffer_target.access_key,
           "COFFER_SECRET_KEY": coffer_target.secret_key, "http_proxy": proxy.url}
    client = Client.from_env(environ=env, home=tmp_path)
    client.bucket(coffer_bkt.name).object("p").put(b"through the proxy")
    assert proxy.absolute_requests >= 1
    no = Client.from_env(environ={**env, "no_proxy": "127.0.0.1"}, home=tmp_path)
    before = proxy.requests
    assert no.bucket(coffer_bkt.name).object("p").read() == b"through the proxy"
    assert proxy.requests == before
