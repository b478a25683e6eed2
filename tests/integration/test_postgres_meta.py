"""Coffer on PostgreSQL metadata, end to end: `coffer serve --meta postgresql://...`.

Real gateways (separate `coffer serve` processes) on one PostgreSQL database: a user added with the
CLI against the shared metadata authenticates at every gateway, and what one gateway writes the
other lists and reads (small objects live inline in the metadata row, so no data folder is shared).
PostgreSQL going away is played by a TCP relay between the gateway and the server that the test
cuts and restores: requests meanwhile get 503 ServiceUnavailable (never a 500, never a hang), and
every write acknowledged before the cut is there after it. Needs COFFER_TEST_PG (tests/pg_server.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from botocore.exceptions import ClientError
from helpers import client

import pg_server

pytestmark = pytest.mark.skipif(not pg_server.configured(), reason=pg_server.SKIP_REASON)


class Relay:
    """A TCP relay 127.0.0.1:port -> target; `cut()` drops every connection and refuses new ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = _free_port()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._open = False
        self.restore()

    def restore(self) -> None:
        lsn = socket.socket()
        lsn.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsn.bind(("127.0.0.1", self.port))
        lsn.listen(64)
        self._listener = lsn
        with self._lock:
            self._open = True
        threading.Thread(target=self._accept, args=(lsn,), daemon=True).start()

    def cut(self) -> None:
        lsn, self._listener = self._listener, None
        if lsn is not None:
            lsn.close()
        with self._lock:
            self._open = False
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _accept(self, lsn: socket.socket) -> None:
        while True:
            try:
                client, _ = lsn.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if not self._open:  # accepted while being cut: this one goes too
                    client.close()
                    upstream.close()
                    continue
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def database() -> Iterator[str]:
    dsn = pg_server.new_database("gw")
    yield dsn
    pg_server.drop_database(dsn)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(srv, ak: str | None = None, sk: str | None = None):
    return client(srv.endpoint, ak or srv.access_key, sk or srv.secret_key, checksums=False)


def test_two_gateways_share_users_buckets_and_objects(tmp_path: Path, database: str, server_factory) -> None:
    one, two = server_factory(meta=database), server_factory(meta=database)
    try:
        env = {**os.environ, "COFFER_META": database}
        out = subprocess.run([sys.executable, "-m", "coffer", "user", "add", "carol",
                              "--access-key", "CAROLKEY00000001", "--secret-key", "carol-secret-0123456789",
                              "--data", str(tmp_path / "elsewhere")],
                             env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        c1 = _client(one, "CAROLKEY00000001", "carol-secret-0123456789")
        c2 = _client(two, "CAROLKEY00000001", "carol-secret-0123456789")
        c1.create_bucket(Bucket="shared")
        keys = ["a", "a-b", "a.b", "a/b", "ab", "B", "Zoo"]
        for k in keys:
            c1.put_object(Bucket="shared", Key=k, Body=k.encode())
        listed = [o["Key"] for o in c2.list_objects_v2(Bucket="shared")["Contents"]]
        assert listed == ["B", "Zoo", "a", "a-b", "a.b", "a/b", "ab"]  # UTF-8 byte order on an en-US database
        page = c2.list_objects_v2(Bucket="shared", Delimiter="/")
        assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["a/"]
        assert c2.get_object(Bucket="shared", Key="a/b")["Body"].read() == b"a/b"
        with pytest.raises(ClientError) as exc:  # another user, through the other gateway
            _client(two).create_bucket(Bucket="shared")
        assert exc.value.response["Error"]["Code"] == "BucketAlreadyExists"
        # a conditional create raced through both gateways: exactly one wins
        results = []
        for c in (c1, c2):
            try:
                c.put_object(Bucket="shared", Key="once", Body=b"x", IfNoneMatch="*")
                results.append("ok")
            except ClientError as e:
                results.append(e.response["Error"]["Code"])
        assert sorted(results) == ["PreconditionFailed", "ok"]
    finally:
        one.stop()
        two.stop()


def test_database_down_answers_503_and_loses_nothing(database: str, server_factory) -> None:
    parts = urlsplit(database)
    relay = Relay((parts.hostname or "127.0.0.1", parts.port or 5432))
    via_relay = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{relay.port}"
                                          if parts.username else f"127.0.0.1:{relay.port}"))
    srv = server_factory(meta=via_relay)
    try:
        s3 = _client(srv)
        s3.create_bucket(Bucket="bkt")
        for i in range(20):
            s3.put_object(Bucket="bkt", Key=f"before/{i}", Body=b"acknowledged %d" % i)
        relay.cut()
        for op in (lambda: s3.put_object(Bucket="bkt", Key="during", Body=b"x"),
                   lambda: s3.get_object(Bucket="bkt", Key="before/1"),
                   lambda: s3.list_objects_v2(Bucket="bkt")):
            with pytest.raises(ClientError) as exc:
                op()
            err = exc.value.response
            assert err["ResponseMetadata"]["HTTPStatusCode"] == 503, err
            assert err["Error"]["Code"] == "ServiceUnavailable"
        assert "Traceback" not in srv.log_text()
        relay.restore()
        s3.put_object(Bucket="bkt", Key="after", Body=b"y")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"]]
        assert keys == ["after", *sorted(f"before/{i}" for i in range(20))]
        assert s3.get_object(Bucket="bkt", Key="before/7")["Body"].read() == b"acknowledged 7"
    finally:
        srv.stop()
        relay.cut()
