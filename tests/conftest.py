"""Shared test fixtures: a real `coffer serve` process on a free port, and clients for it.

Integration tests never mock the store: they start the server as a separate process with its own
temporary data folder and talk to it over loopback. Set COFFER_TEST_ENDPOINT (plus
COFFER_TEST_ACCESS_KEY / COFFER_TEST_SECRET_KEY) to run the same tests against another server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import settings

from ports import free_port

# Property tests check behaviour, not speed: on a loaded 2-core CI machine hypothesis's default
# 200 ms per-example deadline fails tests that are correct.
settings.register_profile("coffer", deadline=None)
settings.load_profile("coffer")

ACCESS_KEY = "COFFERTESTACCESSKEY1"
SECRET_KEY = "coffer-test-secret-key-0123456789abcdefgh"


_PG_DATABASES: dict[str, str] = {}  # data folder -> its PostgreSQL database (COFFER_TEST_META=postgresql)


@dataclass
class ServerProcess:
    """A `coffer serve` child process; restartable so crash tests can kill -9 and start again."""

    data: Path
    port: int
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    workers: int = 1
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    log: Path | None = None
    # COFFER_TEST_META=postgresql: each data folder gets a fresh PostgreSQL database (kept across restarts,
    # shared by servers on one folder as they would share its SQLite file)
    meta: str | None = None
    _meta_from_env: bool = False

    def __post_init__(self) -> None:
        if self.meta is None and os.environ.get("COFFER_TEST_META") == "postgresql":
            import pg_server

            key = str(Path(self.data).resolve())
            if key not in _PG_DATABASES:
                _PG_DATABASES[key] = pg_server.new_database("srv")
            self.meta = _PG_DATABASES[key]
            self._meta_from_env = True

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        self.log = self.data.parent / f"server-{self.port}.log"
        cmd = [
            sys.executable, "-m", "coffer", "serve",
            "--data", str(self.data),
            "--address", f"127.0.0.1:{self.port}",
            "--access-key", self.access_key,
            "--secret-key", self.secret_key,
            "--workers", str(self.workers),
            *(["--meta", self.meta] if self.meta else []),
            *self.extra_args,
        ]
        if (self.meta and self._meta_from_env and "--cluster-secret" in self.extra_args
                and "--cluster-map" not in self.extra_args):
            # the suite's cluster tests register their nodes in the folder's single-host map; on its
            # own a gateway on PostgreSQL metadata would look for them in that database
            cmd += ["--cluster-map", str(self.data / "meta" / "cluster.sqlite3")]
        with open(self.log, "ab") as log:
            # its own process group, so kill() reaches every worker, not only the supervisor
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"coffer serve exited with {self.proc.returncode}: {self.log_text()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/health/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"coffer serve did not become ready: {self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log and self.log.exists() else ""

    def kill(self) -> None:
        """kill -9 the whole server (supervisor and workers) at once."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode if self.proc else None


def _servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A maker of servers (own data folder, own port), all stopped when the fixture ends."""
    made: list[ServerProcess] = []

    def make(**kw) -> ServerProcess:
        srv = ServerProcess(data=tmp_path_factory.mktemp("coffer") / "data", port=free_port(), **kw)
        srv.start()
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.stop()


@pytest.fixture
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Make extra servers (own data folder, own port) for tests that restart or kill them."""
    yield from _servers(tmp_path_factory)


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Like server_factory, for the tests of one module sharing servers of their own."""
    yield from _servers(tmp_path_factory)


@dataclass
class Endpoint:
    url: str
    access_key: str
    secret_key: str
    server: ServerProcess | None = None


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    """One shared server for the whole session (or COFFER_TEST_ENDPOINT)."""
    ext = os.environ.get("COFFER_TEST_ENDPOINT")
    if ext:
        yield Endpoint(
            ext,
            os.environ.get("COFFER_TEST_ACCESS_KEY", ACCESS_KEY),
            os.environ.get("COFFER_TEST_SECRET_KEY", SECRET_KEY),
        )
        return
    data = tmp_path_factory.mktemp("coffer-shared") / "data"
    # COFFER_TEST_VOLUMES=6: the whole S3 suite against the erasure-coded store (EC-4+2 over 6 dirs)
    vols = [a for i in range(int(os.environ.get("COFFER_TEST_VOLUMES", "0")))
            for a in ("--volume", str(data.parent / f"vol{i}"))]
    srv = ServerProcess(data=data, port=free_port(), workers=2, extra_args=vols)
    srv.start()
    yield Endpoint(srv.endpoint, srv.access_key, srv.secret_key, srv)
    srv.stop()


def make_s3(ep: Endpoint, checksums: bool = True, **config_kw):
    import boto3
    from botocore.config import Config

    cfg = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"max_attempts": 1, "mode": "standard"},
        request_checksum_calculation="when_supported" if checksums else "when_required",
        response_checksum_validation="when_supported" if checksums else "when_required",
        **config_kw,
    )
    return boto3.client(
        "s3",
        endpoint_url=ep.url,
        aws_access_key_id=ep.access_key,
        aws_secret_access_key=ep.secret_key,
        region_name="us-east-1",
        config=cfg,
    )


@pytest.fixture(scope="session")
def s3(endpoint: Endpoint):
    """boto3 at its defaults (CRC checksums on every upload)."""
    return make_s3(endpoint)


@pytest.fixture(scope="session")
def s3_nochecksum(endpoint: Endpoint):
    return make_s3(endpoint, checksums=False)


@pytest.fixture
def bucket(s3) -> Iterator[str]:
    """A fresh bucket, emptied and removed afterwards."""
    name = f"t-{uuid.uuid4().hex[:20]}"
    s3.create_bucket(Bucket=name)
    yield name
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
        for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
        s3.delete_bucket(Bucket=name)
    except Exception:
        pass
