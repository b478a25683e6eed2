"""The servers the benchmark starts and stops: Coffer, SeaweedFS and nginx, each on free loopback ports
with a fresh data folder under the work dir.

Every server runs in its own process group (start_new_session) and is registered in `_LIVE`, so one
`stop_all()` — called from run.py's finally, from atexit and on SIGTERM — ends exactly the processes the
benchmark started, whatever the run died of.  Nothing here ever signals a process it did not start.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
_LIVE: list[Proc] = []


class StartError(RuntimeError):
    """A server did not come up; the message ends with the tail of its log."""


def free_port(also_plus: int = 0) -> int:
    """A port free on 127.0.0.1 now (and `port + also_plus` too, for servers that derive a gRPC port)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not also_plus:
            return port
        if port + also_plus < 65536 and _is_free(port + also_plus):
            return port
    raise RuntimeError("no free port pair found")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Proc:
    """One started server process (and its process group)."""

    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen | None = None

    def start(self, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
                                          cwd=cwd, start_new_session=True)
        _LIVE.append(self)

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the group, wait up to `grace` seconds for every member (workers too) to exit, SIGKILL
        what is left; returns once nothing of the group runs any more."""
        if self.popen is None:
            return
        pgid = self.popen.pid  # start_new_session makes the child its group's leader
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                self.popen.poll()  # reap the leader, or it would linger as a zombie
                if not group_members(pgid):
                    break
                time.sleep(0.05)
            else:
                continue
            break
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self in _LIVE:
            _LIVE.remove(self)


def _group_stats(pgid: int) -> list[tuple[int, list[str]]]:
    """(pid, /proc/pid/stat fields after the command name) of every process of group `pgid`."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 12 and fields[2] == str(pgid):
            out.append((int(d.name), fields))
    return out


def group_members(pgid: int) -> list[int]:
    """Processes of group `pgid` that still run (zombies excluded: in a container PID 1 may never reap
    the orphans, and a zombie holds nothing)."""
    return [pid for pid, f in _group_stats(pgid) if f[0] != "Z"]


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU time used so far by the live processes of group `pgid`.  The difference over a
    phase is the server's CPU cost of it, a figure that others' load on a shared machine barely moves
    (unlike throughput)."""
    tick = os.sysconf("SC_CLK_TCK")
    return sum(int(f[11]) + int(f[12]) for _, f in _group_stats(pgid)) / tick


def stop_all() -> None:
    for p in list(reversed(_LIVE)):
        p.stop(grace=5.0)


def _on_sigterm(signum, frame) -> None:  # turn SIGTERM into an exception so finally-blocks run
    raise SystemExit(128 + signum)


atexit.register(stop_all)
if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _on_sigterm)


def wait_http(proc: Proc, url: str, timeout: float, ok=lambda status: status == 200) -> None:
    """Poll `url` until `ok(status)`; fail early if the process exits."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not proc.alive():
            raise StartError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except OSError as e:
            status, last = None, str(e)
        if status is not None and ok(status):
            return
        time.sleep(0.2)
    raise StartError(f"{proc.name} not ready at {url} after {timeout}s ({last}):\n{proc.log_tail()}")


@dataclass
class Server:
    """What the workloads need to know about a started S3 (or plain HTTP) server."""

    name: str
    base: str
    bucket: str
    signed: bool
    procs: list[Proc] = field(default_factory=list)
    data_dir: Path | None = None
    put_bucket: str | None = None  # nginx: PUTs go to a different folder than GETs

    def stop(self, keep_data: bool = False) -> None:
        for p in self.procs:
            p.stop()
        if self.data_dir is not None and not keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def coffer_has_loop_option() -> bool:
    out = subprocess.run([sys.executable, "-m", "coffer", "serve", "--help"], capture_output=True, text=True,
                         env=_coffer_env(), timeout=60)
    return out.returncode == 0 and "--loop" in out.stdout


def _coffer_env(src_dir: Path | None = None) -> dict[str, str]:
    src = str(src_dir or REPO / "src")
    pp = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{src}:{pp}" if pp else src}


def start_coffer(work: Path, ak: str, sk: str, workers: int, loop: str | None, name: str,
                 src: Path | None = None) -> Server:
    """Start Coffer from this repository's src/, or from `src` (another checkout: A/B comparisons)."""
    data = work / name
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    port = free_port()
    argv = [sys.executable, "-m", "coffer", "serve", "--data", str(data / "data"), "--address",
            f"127.0.0.1:{port}", "--access-key", ak, "--secret-key", sk, "--workers", str(workers)]
    if loop:
        argv += ["--loop", loop]
    proc = Proc(name, argv, data / "server.log")
    proc.start(env={"PYTHONPATH": _coffer_env(src)["PYTHONPATH"]}, cwd=REPO)
    server = Server(name, f"http://127.0.0.1:{port}", "bench", True, [proc], data)
    try:
        wait_http(proc, f"{server.base}/health/ready", timeout=60)
    except BaseException:
        server.stop(keep_data=True)
        raise
    return server


def start_seaweedfs(work: Path, ak: str, sk: str, weed: str | None = None) -> Server:
    data = work / "seaweedfs"
    shutil.rmtree(data, ignore_errors=True)
    (data / "store").mkdir(parents=True)
    (data / "logs").mkdir()
    ids = data / "identities.json"
    ids.write_text(json.dumps({"identities": [{
        "name": "admin", "credentials": [{"accessKey": ak, "secretKey": sk}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
    # Every port explicit (and gRPC = port + 10000 free too): another SeaweedFS may be running on the
    # defaults, and the extra listeners (Iceberg, Lance) are switched off rather than left to collide.
    m, v, f, s = (free_port(also_plus=10000) for _ in range(4))
    argv = [weed or str(VENV_BIN / "weed"), f"-logdir={data / 'logs'}", "server", f"-dir={data / 'store'}",
            "-s3", f"-s3.port={s}", f"-s3.config={ids}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-volume.max=2000",
            "-master.volumeSizeLimitMB=64", f"-master.port={m}", f"-volume.port={v}", f"-filer.port={f}",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.preStopSeconds=1"]
    proc = Proc("seaweedfs", argv, data / "server.log")
    proc.start(cwd=data)
    server = Server("seaweedfs", f"http://127.0.0.1:{s}", "bench", True, [proc], data)
    try:
        # Any HTTP answer (403 for an anonymous GET /) means the S3 gateway is listening; the volume
        # layer may still be settling, which the bucket creation retries cover.
        wait_http(proc, f"{server.base}/", timeout=90, ok=lambda status: status < 500)
    except BaseException:
        server.stop(keep_data=True)
        raise
    return server


NGINX_CONF = """\
daemon off;
master_process on;
{user_line}
worker_processes {workers};
pid {w}/nginx.pid;
error_log {w}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    client_max_body_size 0;
    client_body_temp_path {w}/tmp/body;
    proxy_temp_path {w}/tmp/proxy;
    fastcgi_temp_path {w}/tmp/fastcgi;
    uwsgi_temp_path {w}/tmp/uwsgi;
    scgi_temp_path {w}/tmp/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port} reuseport;
        root {w}/www;
        location /sink/ {{
            # PUT target for the client's ceiling: written to the page cache, no fsync, like a file copy
            dav_methods PUT;
            create_full_put_path on;
            client_body_buffer_size 1m;
        }}
    }}
}}
"""


def start_nginx(work: Path, workers: int, nginx: str = "nginx") -> Server:
    w = work / "nginx"
    shutil.rmtree(w, ignore_errors=True)
    for sub in ("tmp", "www/data", "www/sink"):
        (w / sub).mkdir(parents=True)
    port = free_port()
    conf = w / "nginx.conf"
    # As root, nginx's workers would drop to "nobody", which can neither read nor write the work dir.
    user_line = "user root root;" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(w=w, port=port, workers=workers, user_line=user_line))
    # -e: nginx would otherwise try the packaged /var/log/nginx/error.log before reading our config
    proc = Proc("nginx", [nginx, "-e", str(w / "error.log"), "-p", str(w), "-c", str(conf)], w / "server.log")
    proc.start(cwd=w)
    server = Server("nginx", f"http://127.0.0.1:{port}", "data", False, [proc], w, put_bucket="sink")
    try:
        wait_http(proc, f"{server.base}/data/", timeout=20, ok=lambda status: status in (200, 403, 404))
    except BaseException:
        server.stop(keep_data=True)
        raise
    return server


def tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e.__class__.__name__})"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0].strip() if text else "unknown"
