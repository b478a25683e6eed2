"""Running the server: the composition root, worker processes, signals and start-up housekeeping.

`serve(cfg)` prepares the data folder (bootstrap the root user, sweep temporary files), binds the
listening socket once, then forks `cfg.workers` processes that each run their own event loop,
metadata connections and aiohttp app on the shared socket (the kernel spreads connections). The
parent supervises: it restarts a worker that dies, collects garbage data in the background, and on
SIGTERM/SIGINT tells every worker to stop accepting, finish in-flight requests within the grace
period and close the store cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from aiohttp import web

from coffer.server import logs, metrics
from coffer.server.config import Config
from coffer.server.crypto.keys import MASTER_KEY_ENV, MASTER_KEY_FILE_ENV, KmsStore, load_master_key, master_key_path
from coffer.server.data import DataStore, LocalDataStore, VolumeDataStore
from coffer.server.data.volumes.volume import VolumeError
from coffer.server.http.app import build_server
from coffer.server.http.common import access_log
from coffer.server.http.console.front import build_console_server
from coffer.server.http.website import build_website_server
from coffer.server.meta import interface as meta_interface
from coffer.server.meta.interface import MetaStore, MetaUnavailable
from coffer.server.meta.postgres.schema import SchemaTooNew as PgSchemaTooNew
from coffer.server.meta.space import make_reserve
from coffer.server.meta.sqlite.schema import SchemaTooNew
from coffer.server.meta.sqlite.store import SqliteMetaStore
from coffer.server.service import Service
from coffer.server.service.events.notifications import recover_held
from coffer.server.startup import DataLock, StartError, create_root, preflight, prepare_folder
from coffer.server.tls import TlsError, server_context
from coffer.server.tls import reload as reload_tls
from coffer.server.workers.webhooks import WebhookDelivery

log = logging.getLogger("coffer.server")


def meta_url_file(cfg: Config) -> Path:
    """Where a data folder served with --meta records its metadata URL (mode 0600: it may hold a password),
    so that commands given only --data (`coffer user add --data DIR`) reach the same metadata."""
    return cfg.data_dir / "meta" / "metadata.url"


def record_meta_url(cfg: Config) -> None:
    if not cfg.meta_url:
        return
    path = meta_url_file(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(cfg.meta_url + "\n")
    os.replace(tmp, path)


def open_meta(cfg: Config) -> MetaStore:
    """The metadata store: PostgreSQL when cfg.meta_url names one (--meta / COFFER_META) or the data folder
    recorded one (record_meta_url), else SQLite in DATA/meta."""
    url = cfg.meta_url
    if not url and meta_url_file(cfg).exists():
        url = meta_url_file(cfg).read_text().strip()
    if url:
        from coffer.server.meta.postgres.store import PostgresMetaStore, is_postgres_url

        if not is_postgres_url(url):
            raise ValueError(f"--meta must be a postgresql:// URL, not {url!r}")
        return PostgresMetaStore(url)
    cfg.meta_path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteMetaStore(cfg.meta_path)


async def bootstrap(cfg: Config) -> None:
    """Before the workers start: hand back what stopped or killed processes left behind."""
    meta = open_meta(cfg)
    await meta.open()
    try:
        # No worker runs yet: leases on notification events were left by a stopped or killed
        # process; release them so delivery resumes at once instead of after they expire.
        await meta.release_events()
        await recover_held(meta, cfg.region)
    finally:
        await meta.close()


# The --website-address socket, bound by `serve` before the workers fork (they inherit it).
_website_sock: socket.socket | None = None
_console_sock: socket.socket | None = None  # --console-address, likewise


def listen(cfg: Config, host: str | None = None, port: int | None = None) -> socket.socket:
    host = host or cfg.host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    port = cfg.port if port is None else port
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise StartError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def run_worker(cfg: Config, sock: socket.socket) -> None:
    meta_interface.commit_observer = metrics.observe_commit
    access_log.enabled = cfg.access_log
    meta = open_meta(cfg)
    await meta.open()
    data = make_data(cfg)
    service = Service(meta, data, cfg.limits, cfg.region)
    server, front = build_server(service, cfg)
    delivery = WebhookDelivery(service, cfg.limits)
    delivery.start()
    service.listen.start()  # which buckets live listen streams follow (service/events/listen.py)
    runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=cfg.limits.shutdown_grace_seconds)
    await runner.setup()
    tls = server_context(cfg.tls_cert, cfg.tls_key) if cfg.tls_cert and cfg.tls_key else None
    site = web.SockSite(runner, sock, shutdown_timeout=cfg.limits.shutdown_grace_seconds, ssl_context=tls)
    await site.start()
    web_runner = None
    if _website_sock is not None:
        web_runner = web.ServerRunner(build_website_server(service, cfg), handle_signals=False)
        await web_runner.setup()
        await web.SockSite(web_runner, _website_sock, ssl_context=tls).start()
    console_runner = None
    if _console_sock is not None:
        console_runner = web.ServerRunner(build_console_server(service, cfg), handle_signals=False)
        await console_runner.setup()
        await web.SockSite(console_runner, _console_sock, ssl_context=tls).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    metrics.start_inflight_sampler(loop)
    if tls is not None and cfg.tls_cert and cfg.tls_key:
        loop.add_signal_handler(signal.SIGHUP, reload_tls, tls, cfg.tls_cert, cfg.tls_key)
    else:
        loop.add_signal_handler(signal.SIGHUP, log.info, "SIGHUP: no TLS certificate to reload")

    def on_stop(signum: int) -> None:
        if _alone:  # no supervisor speaks for this process: say what the signal does
            if stop.is_set():
                print("coffer: second signal: stopping at once", file=sys.stderr, flush=True)
                os._exit(1)  # crash-safe like kill -9: acknowledged writes are already durable
            print(_stop_message(signum, cfg), file=sys.stderr, flush=True)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_stop, sig)
    # lifecycle rules: one worker of the cluster (PostgreSQL) or of the host (SQLite) holds the
    # metadata's `lifecycle` lock and runs them
    coordination = meta.coordination()
    lifecycle = asyncio.ensure_future(service.lifecycle.worker(
        coordination, cfg.meta_path.parent / "lifecycle.json", cfg.lifecycle_day_seconds, stop))
    prober = asyncio.ensure_future(probe_volumes(data, stop)) if isinstance(data, VolumeDataStore) else None
    await stop.wait()
    lifecycle.cancel()  # a pass is idempotent: cut short, the next start redoes it
    if prober is not None:
        prober.cancel()
    try:
        await lifecycle
    except asyncio.CancelledError:
        pass
    front.ready = False
    await service.listen.close()  # listen streams end, so they do not hold the drain below
    # Stop accepting, then let in-flight requests finish: aiohttp's own shutdown stops reading
    # request bodies at once, which would cut uploads in progress, so wait for them first.
    await site.stop()
    if web_runner is not None:
        await web_runner.cleanup()
    if console_runner is not None:
        await console_runner.cleanup()
    deadline = loop.time() + cfg.limits.shutdown_grace_seconds
    while front.inflight and loop.time() < deadline:
        await asyncio.sleep(0.05)
    await runner.cleanup()
    await delivery.stop()
    await meta.close()
    coordination.close()
    service.close()


VOLUME_PROBE_SECONDS = 3.0


async def probe_volumes(data: VolumeDataStore, stop: asyncio.Event) -> None:
    """Look at every volume every few seconds (identity file, a real write), so /health/data tells
    a lost or read-only disk on an idle server, not only once a request has touched it."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(data.refresh, force=True)
        except Exception:
            log.exception("volume probe failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), VOLUME_PROBE_SECONDS)


def _worker_main(cfg: Config, sock: socket.socket) -> None:
    if cfg.loop == "uvloop":
        import uvloop

        uvloop.run(run_worker(cfg, sock))
    else:
        asyncio.run(run_worker(cfg, sock))


def collect_garbage(cfg: Config, started: float) -> None:
    """The garbage collector of this server (server/workers/garbage.py), on a thread of its own: the
    GC queue left by a crash at once, then the start-up orphan sweep (data written before this start
    that no metadata refers to) or, on a cluster gateway, the periodic sweep of every ref; then the
    queue every few seconds."""

    async def go() -> None:
        from coffer.server.workers.garbage import GarbageCollector

        data = make_data(cfg)
        meta = open_meta(cfg)
        await meta.open()
        try:
            await GarbageCollector(meta, data, cfg.limits).run(threading.Event(), started=started,
                                                               cluster=cfg.clustered)
        finally:
            await meta.close()

    try:
        asyncio.run(go())
    except Exception:
        log.exception("garbage collector failed")


def make_data(cfg: Config, *, register: bool = False) -> DataStore:
    """The data store: the data folder itself, or the volumes given with --volume (data/volumes/store.py)."""
    if cfg.clustered:
        return open_cluster_data(cfg)
    if not cfg.volumes:
        local = LocalDataStore(cfg.data_dir, fsync=cfg.fsync)
        local.open()
        return local
    return _volume_store(cfg, register=register)


def _volume_store(cfg: Config, *, register: bool = False) -> VolumeDataStore:
    store = VolumeDataStore(cfg.data_dir, list(cfg.volumes), fsync=cfg.fsync, upkeep=open_meta(cfg).coordination())
    store.open(register=register)
    return store


def open_cluster_data(cfg: Config) -> VolumeDataStore:
    """The gateway's store over the storage nodes of the cluster map (data/volumes/cluster.py)."""
    from coffer.server.data.volumes.cluster import ClusterDataStore
    from coffer.server.meta.backends import open_cluster_map

    assert cfg.cluster_secret
    store = ClusterDataStore(cfg.data_dir, open_cluster_map(cfg.cluster_map_url), cfg.cluster_secret,
                             suspect_after=cfg.suspect_after, ca=cfg.cluster_ca,
                             upkeep=open_meta(cfg).coordination())  # locks, repair queue, cursors: shared
    store.open()
    return store


def adopt_keys(cfg: Config) -> None:
    """With PostgreSQL metadata: import this folder's key files (master key, KMS key store) into the
    cluster's shared keys, or refuse a folder whose master key differs from the cluster's."""
    vault = open_meta(cfg).key_vault()
    if vault is None:
        return
    try:
        if master_key_path(cfg.data_dir).exists():
            KmsStore(cfg.data_dir, load_master_key(cfg.data_dir, vault=vault), cfg.region, vault=vault).list()
    except (OSError, ValueError) as e:
        raise StartError(f"encryption keys: {e}") from None
    except MetaUnavailable as e:
        raise StartError(f"cannot open the metadata store: {e}") from None
    finally:
        vault.close()


def start_healer(cfg: Config) -> None:
    """The healer/scrubber thread (data/volumes/heal.py), once per server: in the supervisor (or the only worker)."""
    if not (cfg.volumes or cfg.clustered) or cfg.heal_interval <= 0:
        return
    from coffer.server.data.volumes.upkeep import background

    store = open_cluster_data(cfg) if cfg.clustered else _volume_store(cfg)
    threading.Thread(target=background, args=(store, threading.Event()), daemon=True, name="healer",
                     kwargs={"scrub_rate": cfg.scrub_rate, "scrub_interval": cfg.scrub_interval,
                             "heal_interval": cfg.heal_interval, "log": log}).start()


def serve(cfg: Config) -> int:
    """Run the server; a start that cannot succeed ends in one line on stderr and exit status 1."""
    logs.setup(cfg.log_level, cfg.log_format)
    lock = DataLock(cfg.data_dir)
    try:
        sock, started = _start(cfg, lock)
    except StartError as e:
        print(f"coffer: {e}", file=sys.stderr, flush=True)
        return 1
    if cfg.workers <= 1:
        global _alone
        _alone = True
        _worker_main(cfg, sock)
        logs.flush()  # the gathered access-log lines before the last word
        print("coffer: stopped", file=sys.stderr, flush=True)
        return 0
    return _supervise(cfg, sock, started)


def _start(cfg: Config, lock: DataLock) -> tuple[socket.socket, float]:
    """Everything before the workers run, in the order that changes nothing when a step fails."""
    started = time.time()
    prepare_folder(cfg)
    lock.acquire(shared=cfg.clustered)
    try:
        data = make_data(cfg, register=True)
    except (OSError, ValueError, VolumeError) as exc:  # wrong disk, foreign volume, unusable path
        raise StartError(f"cannot open the data volumes: {exc}") from None
    try:
        plan = asyncio.run(preflight(cfg, open_meta))
    except (MetaUnavailable, SchemaTooNew, PgSchemaTooNew, ValueError) as exc:  # clear words, not a traceback
        raise StartError(f"cannot open the metadata store: {exc}") from None
    if os.environ.get(MASTER_KEY_ENV) or os.environ.get(MASTER_KEY_FILE_ENV):
        # A master key given by env/file is checked now: a typo must stop the start, not fail every
        # encrypted request later. (Without one, DATA/keys/master.key is created on first use.)
        try:
            load_master_key(cfg.data_dir)
        except (OSError, ValueError) as e:
            raise StartError(f"bad master key: {e}") from None
    else:
        adopt_keys(cfg)
    if cfg.tls_cert and cfg.tls_key:
        try:
            server_context(cfg.tls_cert, cfg.tls_key)
        except TlsError as e:
            raise StartError(str(e)) from None
    sock = listen(cfg)
    if cfg.website_port is not None:
        global _website_sock
        _website_sock = listen(cfg, cfg.website_host, cfg.website_port)
    if cfg.console_port is not None:
        global _console_sock
        _console_sock = listen(cfg, cfg.console_host, cfg.console_port)
    # Listening: from here on the start cannot fail for a reason the operator gave, so the data
    # folder may change (temporary files swept, the root user created on a new folder).
    record_meta_url(cfg)
    make_reserve(cfg.meta_path.parent, cfg.limits.meta_reserve_bytes)  # deletes can commit on a full disk
    n = data.sweep_tmp()
    if n:
        log.info("removed %d temporary files left by an earlier run", n)
    asyncio.run(create_root(cfg, plan, open_meta))
    asyncio.run(bootstrap(cfg))
    scheme = "https" if cfg.tls_cert else "http"
    data_dir = str(Path(cfg.data_dir).resolve())
    if cfg.website_port is not None:
        _announce(cfg, "website", f"{scheme}://{cfg.website_host}:{cfg.website_port}", "static websites")
    if cfg.console_port is not None:
        _announce(cfg, "console", f"{scheme}://{cfg.console_host}:{cfg.console_port}/_coffer/console/",
                  "the web console")
    _announce(cfg, "s3", f"{scheme}://{cfg.host}:{cfg.port}", "S3", f" (data: {data_dir}, workers: {cfg.workers}, "
              f"region: {cfg.region}, pid: {os.getpid()})", data=data_dir, workers=cfg.workers, region=cfg.region)
    if cfg.workers <= 1:
        start_healer(cfg)
        threading.Thread(target=collect_garbage, args=(cfg, started), daemon=True, name="gc").start()
    return sock, started


def _announce(cfg: Config, front: str, url: str, what: str, tail: str = "", **extra: object) -> None:
    """One start line on stdout: "Coffer serving WHAT on URL...", or with JSON logs one JSON object."""
    if cfg.log_format == "json":
        print(json.dumps({"event": "serving", "front": front, "url": url, "pid": os.getpid(), **extra}), flush=True)
    else:
        print(f"Coffer serving {what} on {url}{tail}", flush=True)


def _stop_message(signum: int, cfg: Config) -> str:
    name = signal.Signals(signum).name
    return (f"coffer: {name} received: no new connections; in-flight requests get up to "
            f"{cfg.limits.shutdown_grace_seconds:g} s to finish, then the store is closed "
            f"(send it again to stop at once)")


# One worker and no supervisor (--workers 1): the worker itself announces how it stops.
_alone = False


def _spawn(cfg: Config, sock: socket.socket) -> int:
    pid = os.fork()
    if pid == 0:
        code = 0
        _die_with_parent()
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the worker's loop handles it
            _worker_main(cfg, sock)
        except Exception:
            log.exception("worker failed")
            code = 1
        finally:
            logs.flush()
            sys.stdout.flush()
            os._exit(code)
    return pid


def _die_with_parent() -> None:
    """Linux: a worker gets SIGKILL when the supervisor dies (even by kill -9), so no orphaned
    worker keeps serving the port or the data folder without supervision."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _supervise(cfg: Config, sock: socket.socket, started: float) -> int:
    children = {_spawn(cfg, sock) for _ in range(cfg.workers)}
    stopping = False

    def on_signal(signum, _frame) -> None:
        nonlocal stopping
        if stopping:
            print("coffer: second signal: stopping the workers at once", file=sys.stderr, flush=True)
            for pid in list(children):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            return
        print(_stop_message(signum, cfg), file=sys.stderr, flush=True)
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def on_hangup(_signum, _frame) -> None:  # each worker reloads its own TLS context
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_hangup)
    threading.Thread(target=collect_garbage, args=(cfg, started), daemon=True, name="gc").start()
    start_healer(cfg)  # after the first fork: a worker must not inherit a thread's held locks
    deadline: float | None = None
    while children:
        if stopping and deadline is None:
            deadline = time.monotonic() + cfg.limits.shutdown_grace_seconds + 5
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if deadline is not None and time.monotonic() > deadline:
                for p in children:
                    os.kill(p, signal.SIGKILL)
            time.sleep(0.1)
            continue
        children.discard(pid)
        metrics.worker_exited(pid)
        if not stopping:
            log.warning("worker %d exited (%s); starting a new one", pid, status)
            children.add(_spawn(cfg, sock))
    print("coffer: stopped", file=sys.stderr, flush=True)
    return 0
