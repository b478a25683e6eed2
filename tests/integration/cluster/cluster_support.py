"""Storage-node clusters on loopback for the cluster tests: node processes, gateways, the map.

Every process is real (`python -m coffer node serve`, `python -m coffer serve`), on free loopback
ports, in its own process group so a test can kill -9 it. The cluster map is the SQLite file of
the gateways' data folder (both gateways share that folder, so they share the metadata too).
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ports import free_port


def _root_conftest():
    """tests/conftest.py's ServerProcess (imported by path: several conftest modules share the name)."""
    import importlib.util

    name = "coffer_tests_root_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[2] / "conftest.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


ServerProcess = _root_conftest().ServerProcess
ACCESS_KEY, SECRET_KEY = _root_conftest().ACCESS_KEY, _root_conftest().SECRET_KEY

CLUSTER_SECRET = "cluster-secret-for-tests-0123456789"


@dataclass
class NodeProcess:
    """One `coffer node serve` child (restartable after a kill)."""

    name: str
    root: Path
    meta: str
    zone: str
    port: int = field(default_factory=free_port)
    volumes: int = 2
    secret: str = CLUSTER_SECRET
    proc: subprocess.Popen | None = None
    host: str = "127.0.0.1"
    netns: str | None = None  # run inside this network namespace (`ip netns exec`)
    extra_args: list[str] = field(default_factory=list)
    weights: dict[int, float] = field(default_factory=dict)  # volume index -> `--volume DIR:WEIGHT`

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def volume_paths(self) -> list[Path]:
        return [self.root / f"vol{i}" for i in range(self.volumes)]

    def start(self, timeout: float = 20.0) -> None:
        cmd = [sys.executable, "-m", "coffer", "node", "serve", "--address", self.address,
               "--cluster-secret", self.secret, "--zone", self.zone, "--meta", self.meta,
               "--node-id", self.name, "--heartbeat", "0.5", *self.extra_args]
        for i, p in enumerate(self.volume_paths):
            cmd += ["--volume", f"{p}:{self.weights[i]}" if i in self.weights else str(p)]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "node.log", "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited with {self.proc.returncode}: {self.log_text()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                if self._registered():
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"node {self.name} did not start: {self.log_text()}")

    def _registered(self) -> bool:
        if self.meta.startswith("postgresql://"):
            try:
                from coffer.server.meta.backends import open_cluster_map
            except ImportError:
                from coffer.server.meta.cluster import open_cluster_map  # type: ignore[no-redef]

            cmap = open_cluster_map(self.meta)
            try:
                return sum(1 for v in cmap.volumes() if v.node == self.name) == self.volumes
            finally:
                cmap.close()
        path = self.meta
        if not Path(path).exists():
            return False
        with sqlite3.connect(path, timeout=5) as db:
            try:
                return db.execute("SELECT count(*) FROM volumes WHERE node = ?", (self.name,)).fetchone()[0] \
                    == self.volumes
            except sqlite3.OperationalError:
                return False

    def log_text(self) -> str:
        p = self.root / "node.log"
        return p.read_text(errors="replace")[-3000:] if p.exists() else ""

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    nodes: list[NodeProcess]
    gateways: list[ServerProcess]
    data: Path

    @property
    def meta(self) -> str:
        return str(self.data / "meta" / "cluster.sqlite3")


def make_cluster(tmp: Path, *, nodes: int = 4, volumes: int = 2, gateways: int = 1,
                 gateway_args: list[str] | None = None) -> Cluster:
    data = tmp / "gateway-data"
    meta = str(data / "meta" / "cluster.sqlite3")
    made = [NodeProcess(f"node{i}", tmp / f"node{i}", meta, f"z{i}", volumes=volumes) for i in range(nodes)]
    for n in made:
        n.start()
    gws = []
    for _ in range(gateways):
        gw = ServerProcess(data=data, port=free_port(), workers=1,
                           extra_args=["--cluster-secret", CLUSTER_SECRET, *(gateway_args or [])])
        gw.start()
        gws.append(gw)
    return Cluster(made, gws, data)


def stop_cluster(cluster: Cluster) -> None:
    for gw in cluster.gateways:
        gw.stop()
    for n in cluster.nodes:
        n.stop()


def health(gw: ServerProcess) -> dict:
    import json

    try:
        with urllib.request.urlopen(gw.endpoint + "/health/data", timeout=5) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


__all__ = ["ACCESS_KEY", "CLUSTER_SECRET", "SECRET_KEY", "Cluster", "NodeProcess", "ServerProcess", "free_port",
           "health", "make_cluster", "stop_cluster"]
