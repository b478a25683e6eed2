"""The timed workloads, identical for every target: large and small PUT/GET, and ListObjectsV2.

`run_streams` is the one loop everything uses: N concurrent streams each issue operations back to back
until the deadline or the operation budget runs out.  Elapsed time runs until the last in-flight operation
ends, so a rate is always completed bytes (or operations) over the time it really took.  Every phase is
bounded three ways — deadline, operation count, error count — plus a hard timeout that cancels it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .s3client import Payload, S3Client

MiB = 1 << 20
Op = Callable[[int, int], Awaitable[int]]  # (stream, global op index) -> bytes moved


@dataclass
class Measure:
    """One phase's outcome.  `value` is the headline figure in `unit` (higher is better)."""

    ops: int = 0
    nbytes: int = 0
    seconds: float = 0.0
    errors: int = 0
    first_error: str | None = None
    timed_out: bool = False
    latencies: list[float] = field(default_factory=list, repr=False)
    unit: str = "ops/s"
    extra: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def value(self) -> float:
        if self.seconds <= 0:
            return 0.0
        if self.unit == "MiB/s":
            return self.nbytes / MiB / self.seconds
        return self.ops / self.seconds

    def pct(self, q: float) -> float:
        """Latency percentile in milliseconds (nearest rank), 0 when nothing completed."""
        if not self.latencies:
            return 0.0
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, max(0, math.ceil(q / 100 * len(xs)) - 1))] * 1000

    def summary(self) -> dict:
        return {"value": round(self.value, 2), "unit": self.unit, "ops": self.ops, "bytes": self.nbytes,
                "seconds": round(self.seconds, 3), "errors": self.errors, "first_error": self.first_error,
                "timed_out": self.timed_out, "p50_ms": round(self.pct(50), 2) if self.latencies else None,
                "p99_ms": round(self.pct(99), 2) if self.latencies else None, **self.extra}


async def run_streams(op: Op, streams: int, duration: float, max_ops: int, unit: str = "ops/s",
                      max_errors: int = 20, hard_timeout: float | None = None) -> Measure:
    """Run `op` from `streams` concurrent loops for `duration` seconds or `max_ops` operations."""
    m = Measure(unit=unit)
    started = 0
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    deadline = t0 + duration

    async def stream(s: int) -> None:
        nonlocal started
        while time.perf_counter() < deadline and started < max_ops and m.errors <= max_errors:
            idx = started
            started += 1
            t = time.perf_counter()
            try:
                n = await op(s, idx)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # counted and shown, never silently dropped
                m.errors += 1
                m.first_error = m.first_error or f"{e.__class__.__name__}: {e}"[:400]
                continue
            m.latencies.append(time.perf_counter() - t)
            m.nbytes += n
            m.ops += 1

    tasks = [asyncio.ensure_future(stream(s)) for s in range(streams)]
    limit = hard_timeout if hard_timeout is not None else duration + 120
    _, pending = await asyncio.wait(tasks, timeout=limit)
    for t in pending:
        t.cancel()
    if pending:
        m.timed_out = True
        await asyncio.gather(*pending, return_exceptions=True)
    for t in tasks:
        if t.done() and not t.cancelled() and t.exception() is not None:
            m.errors += 1
            m.first_error = m.first_error or repr(t.exception())
    m.seconds = time.perf_counter() - t0
    # The client's own CPU over the phase: near 100% of a core means the client, not the server, set the
    # pace (it is one process on one event loop).
    m.extra["client_cpu_pct"] = round(100 * (time.process_time() - cpu0) / m.seconds, 1) if m.seconds else 0.0
    return m


@dataclass
class Plan:
    """Sizes, concurrency and bounds of one run (the same for every target)."""

    duration: float = 6.0
    large_size: int = 64 * MiB
    large_streams: int = 4
    large_max_ops: int = 200
    small_size: int = 4096
    small_streams: int = 32
    small_max_ops: int = 400_000
    list_keys: int = 100_000
    list_load_streams: int = 64
    list_load_timeout: float = 240.0
    list_page: int = 1000
    list_repeats: int = 2


async def put_phase(client: S3Client, prefix: str, payloads: list[Payload], streams: int, duration: float,
                    max_ops: int, unit: str) -> tuple[Measure, list[str]]:
    """PUT distinct keys `prefix/NNNNNNN`; returns the measure and the keys that were stored."""
    done: list[str] = []

    async def op(_s: int, idx: int) -> int:
        key = f"{prefix}/{idx:07d}"
        n = await client.put(key, payloads[idx % len(payloads)])
        done.append(key)
        return n

    m = await run_streams(op, streams, duration, max_ops, unit=unit)
    return m, done


async def get_phase(client: S3Client, keys: list[str], size: int, streams: int, duration: float,
                    max_ops: int, unit: str) -> Measure:
    """GET `keys` round-robin (each stream starts at a different key) and check every body's length."""
    if not keys:
        m = Measure(unit=unit)
        m.first_error = "no keys to read (the PUT phase stored none)"
        return m

    async def op(_s: int, idx: int) -> int:
        return await client.get(keys[idx % len(keys)], expect=size)

    return await run_streams(op, streams, duration, max_ops, unit=unit)


async def list_load(client: S3Client, plan: Plan, prefix: str = "list") -> tuple[Measure, int]:
    """Store `plan.list_keys` empty objects with many concurrent PUTs; returns (load rate, keys stored).
    Empty bodies keep the load about metadata, which is what the listing then reads."""
    empty = Payload.of(b"")
    stored = 0

    async def op(_s: int, idx: int) -> int:
        nonlocal stored
        await client.put(f"{prefix}/{idx:07d}", empty)
        stored += 1
        return 0

    m = await run_streams(op, plan.list_load_streams, plan.list_load_timeout, plan.list_keys,
                          hard_timeout=plan.list_load_timeout + 60)
    m.extra["keys_stored"] = stored
    return m, stored


async def list_time(client: S3Client, plan: Plan, expected: int, prefix: str = "list/") -> Measure:
    """Time listing everything under `prefix`, `plan.list_repeats` times; keeps the fastest (the first
    pass also warms caches, as a real listing client that pages repeatedly would)."""
    best: Measure | None = None
    for _ in range(max(1, plan.list_repeats)):
        m = Measure(unit="keys/s")
        t0 = time.perf_counter()
        try:
            keys, pages = await asyncio.wait_for(client.list_all(prefix, plan.list_page), timeout=300)
        except Exception as e:
            m.errors, m.first_error = 1, f"{e.__class__.__name__}: {e}"[:400]
            m.seconds = time.perf_counter() - t0
            return m
        m.seconds = time.perf_counter() - t0
        m.ops = keys
        m.extra.update(pages=pages, list_seconds=round(m.seconds, 3), passes=plan.list_repeats)
        if keys != expected:
            m.errors = 1
            m.first_error = f"listed {keys} keys, expected {expected}"
        if best is None or m.seconds < best.seconds:
            best = m
    assert best is not None
    return best
