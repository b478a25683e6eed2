"""Prometheus metrics for `coffer serve` (prometheus_client in multiprocess mode).

The workers are pre-forked processes; each keeps its counters and histograms in memory-mapped files
of one directory (`PROMETHEUS_MULTIPROC_DIR`, a fresh temporary directory per server run, set by
`coffer serve` before anything imports prometheus_client), and whichever worker answers `GET /metrics`
adds them all up (`MultiProcessCollector`). Values read at scrape time (queue depths, volume health)
come from that worker's view of the store.

Per request (`observe_request`, called by the serve loop): requests by API operation and status,
latency histograms, bytes in and out, errors by S3 code; requests in flight are counted in a plain
integer and copied into their gauge every half second and before a scrape. Per metadata commit
(`observe_commit`, the SQLite group-commit writer): commit latency and batch size. At scrape time:
notification events queued, repair queue, a lifecycle pass in progress, volume states and capacity.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess() -> Path:
    """A fresh metrics directory for this server run, in the environment the workers inherit.

    Must run before prometheus_client is imported (it picks its value store from the environment at
    import): `coffer serve` calls it before importing the runner."""
    existing = os.environ.get(ENV)
    if existing and Path(existing).is_dir():
        return Path(existing)
    path = Path(tempfile.mkdtemp(prefix="coffer-metrics-"))
    os.environ[ENV] = str(path)
    return path


def cleanup_multiprocess() -> None:
    path = os.environ.get(ENV)
    if path and Path(path).name.startswith("coffer-metrics-"):
        shutil.rmtree(path, ignore_errors=True)


def worker_exited(pid: int) -> None:
    """The supervisor saw a worker die: its live gauges (in flight) stop counting."""
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


# The metric objects are created on first use, after the environment is settled.
_m: dict[str, Any] = {}
_m_lock = threading.Lock()

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def _metrics() -> dict[str, Any]:
    if not _m:
        # The first use may come from two threads at once (a request on the event loop, a commit on
        # the metadata writer thread): registering the metrics twice raises DuplicateTimeseries.
        with _m_lock:
            if not _m:
                _create()
    return _m


def _create() -> None:
    from prometheus_client import Counter, Gauge, Histogram

    _m.update(
        requests=Counter("coffer_requests", "HTTP requests by API operation and status.",
                         ["operation", "status"]),
        latency=Histogram("coffer_request_duration_seconds", "Time from request head to response end.",
                          ["operation"], buckets=_LATENCY_BUCKETS),
        bytes_in=Counter("coffer_received_bytes", "Request body bytes received.", ["operation"]),
        bytes_out=Counter("coffer_sent_bytes", "Response body bytes sent.", ["operation"]),
        errors=Counter("coffer_errors", "Error responses by API operation and error code.",
                       ["operation", "code"]),
        inflight=Gauge("coffer_requests_in_flight", "Requests being handled.", multiprocess_mode="livesum"),
        commit=Histogram("coffer_meta_commit_seconds", "Metadata group-commit transaction time.",
                         buckets=_LATENCY_BUCKETS),
        batch=Histogram("coffer_meta_commit_batch_size", "Writes per metadata commit.", buckets=_BATCH_BUCKETS),
        disconnects=Counter("coffer_client_disconnects", "Requests whose client went away before the answer."),
    )


# Requests in flight in this process: a plain count per request, copied into the live gauge (a
# memory-mapped value) by `sample_inflight` every INFLIGHT_SAMPLE_SECONDS and before a scrape, instead
# of two mapped writes per request.
_inflight = 0
_inflight_sampled: tuple[int, int] = (0, 0)  # (pid, count) last copied into the gauge
INFLIGHT_SAMPLE_SECONDS = 0.5


def request_started() -> None:
    global _inflight
    _inflight += 1


def sample_inflight() -> None:
    """Copy this process's in-flight count into the shared gauge (when it changed)."""
    global _inflight_sampled
    now = (os.getpid(), _inflight)
    if now != _inflight_sampled:
        _metrics()["inflight"].set(_inflight)
        _inflight_sampled = now


def start_inflight_sampler(loop: Any) -> None:
    """Sample the in-flight count on the worker's event loop while it runs."""
    def tick() -> None:
        sample_inflight()
        loop.call_later(INFLIGHT_SAMPLE_SECONDS, tick)
    loop.call_soon(tick)


def observe_request(operation: str, status: int, seconds: float, bytes_in: int, bytes_out: int,
                    error_code: str | None = None) -> None:
    global _inflight
    _inflight -= 1
    m = _metrics()
    series = _series.get((operation, status))
    if series is None:  # labels() checks and looks up its arguments on every call: once per pair here
        series = _series[(operation, status)] = (
            m["requests"].labels(operation, str(status)), m["latency"].labels(operation),
            m["bytes_in"].labels(operation), m["bytes_out"].labels(operation))
    requests, latency, received, sent = series
    requests.inc()
    latency.observe(seconds)
    if bytes_in:
        received.inc(bytes_in)
    if bytes_out:
        sent.inc(bytes_out)
    if error_code:
        m["errors"].labels(operation, error_code).inc()


# (operation, status) -> that pair's labelled series; bounded by the operations times the statuses
_series: dict[tuple[str, int], tuple[Any, Any, Any, Any]] = {}


def observe_disconnect() -> None:
    _metrics()["disconnects"].inc()


def observe_commit(seconds: float, batch_size: int) -> None:
    m = _metrics()
    m["commit"].observe(seconds)
    m["batch"].observe(batch_size)


def render(state: dict[str, Any]) -> tuple[bytes, str]:
    """The exposition text of every worker's metrics plus `state` (scrape-time values); content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily

    sample_inflight()
    registry = CollectorRegistry()
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:  # a process without the multiprocess directory (tests, tools): this process's own metrics
        from prometheus_client import REGISTRY

        registry = REGISTRY

    class State:
        def collect(self):
            yield GaugeMetricFamily("coffer_event_queue_depth", "Notification events waiting for delivery.",
                                    value=state.get("events", 0))
            yield GaugeMetricFamily("coffer_repair_queue_depth", "Segments waiting for repair.",
                                    value=state.get("repairs", 0))
            yield GaugeMetricFamily("coffer_lifecycle_pass_pending", "1 while a lifecycle pass is unfinished.",
                                    value=state.get("lifecycle", 0))
            yield GaugeMetricFamily("coffer_data_degraded", "1 when a volume is not online or repairs are pending.",
                                    value=0 if state.get("status", "ok") == "ok" else 1)
            up = GaugeMetricFamily("coffer_volume_online", "1 when the volume is online.", labels=["volume"])
            cap = GaugeMetricFamily("coffer_volume_capacity_bytes", "Volume size.", labels=["volume"])
            free = GaugeMetricFamily("coffer_volume_free_bytes", "Volume free space.", labels=["volume"])
            for v in state.get("volumes", []):
                up.add_metric([v["uuid"]], 1 if v["state"] == "online" else 0)
                cap.add_metric([v["uuid"]], v.get("capacity") or 0)
                free.add_metric([v["uuid"]], v.get("free") or 0)
            yield from (up, cap, free)
            yield GaugeMetricFamily("coffer_disk_free_bytes", "Free bytes on the data folder's disk.",
                                    value=state.get("disk_free", 0))

    out = generate_latest(registry)
    extra = CollectorRegistry()
    extra.register(State())  # type: ignore[arg-type]
    return out + generate_latest(extra), CONTENT_TYPE_LATEST
