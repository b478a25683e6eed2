#!/usr/bin/env python
"""`python bench/meta_cost.py`: what one small request costs on each metadata engine, robust under load.

Throughput on a shared 2-core machine moves with everyone else's work; these figures barely do:

* **CPU ms per request**: user + system CPU (/proc/<pid>/stat) of the gateway's processes, plus, on
  PostgreSQL, of the database's server processes (backends) serving this gateway, over N requests;
* **round trips per request** (PostgreSQL): the `sendto` calls of those backends over N requests,
  counted with `strace -c` in a separate pass (PostgreSQL answers each round trip with one send, and
  strace's slowdown changes no count). Without strace, that pass is skipped.

Starts `coffer serve` (bench/meta_bench.py's options) on SQLite and then on a fresh PostgreSQL database of
--pg (with --baseline-src, PostgreSQL once more with another checkout's server: a before/after), runs
PUT 4 KiB, GET 4 KiB and PUT 0 B (new keys) with --streams concurrent requests after a warm-up, prints a
table (markdown) and, with --write, stores it as the `meta-cost` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if str(HERE.parent / "src") not in sys.path:
    sys.path.insert(1, str(HERE.parent / "src"))

from harness import machine, procs, report  # noqa: E402
from harness.s3client import S3Client, make_payloads, make_signer, new_session  # noqa: E402
from meta_bench import AK, REGION, SK, _pool, drop_database, new_database, start  # noqa: E402

PHASES = ("put4k", "get4k", "put0")
LABELS = {"put4k": "PUT 4 KiB", "get4k": "GET 4 KiB", "put0": "PUT 0 B (new keys)"}


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backends(dsn: str) -> list[int]:
    """The server processes of the benchmark's database (not this connection's own)."""
    import psycopg

    name = dsn.rsplit("/", 1)[1]
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))]


class Counter:
    """CPU seconds of the gateway's process group plus the given backends, between two readings."""

    def __init__(self, server: procs.Server, pids: list[int]) -> None:
        self.pgid, self.pids = server.procs[0].pid, pids

    def read(self) -> tuple[float, float]:
        return procs.group_cpu_seconds(self.pgid), sum(_cpu(p) for p in self.pids)


class Strace:
    """`strace -c -e trace=sendto` attached to the backends; count() stops it and returns the total."""

    def __init__(self, pids: list[int], out: Path) -> None:
        self.out = out
        argv = ["strace", "-c", "-f", "-e", "trace=sendto", "-o", str(out)]
        for p in pids:
            argv += ["-p", str(p)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # attached

    def count(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)
        for line in self.out.read_text().splitlines():
            parts = line.split()
            if parts and parts[-1] == "sendto":
                return int(parts[3])
        return 0


async def phase(client: S3Client, name: str, n: int, streams: int, tag: str) -> float:
    payload4k, empty = make_payloads(4096, 1)[0], make_payloads(0, 1)[0]
    if name == "put4k":
        keys = [f"small/{i:06d}" for i in range(n)]
        return await _pool(keys, streams, lambda k: client.put(k, payload4k))
    if name == "get4k":
        keys = [f"small/{i:06d}" for i in range(n)]
        return await _pool(keys, streams, lambda k: client.get(k, expect=4096))
    keys = [f"d{i % 100:03d}/{tag}{i:07d}" for i in range(n)]
    return await _pool(keys, streams, lambda k: client.put(k, empty))


async def measure(server: procs.Server, dsn: str | None, n: int, streams: int, rt_n: int,
                  work: Path) -> dict[str, dict[str, float]]:
    sign, _ = make_signer(AK, SK, REGION)
    out: dict[str, dict[str, float]] = {}
    async with new_session(64) as session:
        client = S3Client(session, server.base, "bench", sign)
        await client.create_bucket()
        for name in PHASES:  # warm-up: every reader and writer connection open, statements prepared
            await phase(client, name, 200, streams, "w")
        pids = backends(dsn) if dsn else []
        counter = Counter(server, pids)
        for name in PHASES:
            g0, b0 = counter.read()
            rate = await phase(client, name, n, streams, "m")
            g1, b1 = counter.read()
            out[name] = {"rate": rate, "gw_ms": (g1 - g0) / n * 1e3, "db_ms": (b1 - b0) / n * 1e3}
        if dsn and shutil.which("strace") and rt_n:
            for name in PHASES:
                tracer = Strace(backends(dsn), work / f"strace-{name}.txt")
                try:
                    await phase(client, name, rt_n, streams, "r")
                finally:
                    out[name]["rt"] = tracer.count() / rt_n
    return out


def ratio(value: float, base: float) -> str:
    """`value / base` as "1.23x", or "-" when the base measured nothing (CPU is read in clock ticks,
    10 ms each: a short run may see none)."""
    return f"{value / base:.2f}x" if base > 0 else "-"


def table(res: dict[str, dict[str, dict[str, float]]]) -> str:
    rows = []
    for name in PHASES:
        sq = res["SQLite"][name]
        for target, r in res.items():
            cpu = r[name]["gw_ms"] + r[name]["db_ms"]
            rt = r[name].get("rt")
            rows.append([LABELS[name], target, "-" if rt is None else f"{rt:.1f}",
                         f"{r[name]['gw_ms']:.2f} + {r[name]['db_ms']:.2f} = {cpu:.2f}",
                         ratio(cpu, sq["gw_ms"] + sq["db_ms"]), f"{r[name]['rate']:,.0f}",
                         ratio(r[name]["rate"], sq["rate"])])
    return report.md_table(["request", "engine", "round trips", "CPU ms (gateway + database)", "CPU / SQLite's",
                            "ops/s", "ops/s / SQLite's"], rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg", default=os.environ.get("COFFER_BENCH_PG") or os.environ.get("COFFER_TEST_PG"))
    p.add_argument("-n", type=int, default=2000, help="requests per phase (CPU and rate)")
    p.add_argument("--rt-n", type=int, default=300, help="requests per phase under strace (0: skip)")
    p.add_argument("--streams", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--work", default=str(HERE / "work" / "meta-cost"))
    p.add_argument("--baseline-src", help="also measure PostgreSQL with the server of another checkout "
                   "(its src/ folder): a before/after in one run")
    p.add_argument("--write", action="store_true", help="store the table as section meta-cost of RESULTS.md")
    args = p.parse_args(argv)
    if not args.pg or not args.pg.startswith(("postgresql://", "postgres://")):
        p.error("--pg postgresql://... (or COFFER_BENCH_PG / COFFER_TEST_PG) is required")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    load_before = machine.load_average()
    res: dict[str, dict[str, dict[str, float]]] = {}
    targets: list[tuple[str, bool, Path | None]] = [("SQLite", False, None), ("PostgreSQL", True, None)]
    if args.baseline_src:
        targets.append(("PostgreSQL, baseline", True, Path(args.baseline_src).resolve()))
    try:
        for name, on_pg, src in targets:
            dsn = new_database(args.pg) if on_pg else None
            srv = start(work, name.lower().replace(", ", "-"), dsn, args.workers, src)
            try:
                res[name] = asyncio.run(measure(srv, dsn, args.n, args.streams, args.rt_n, work))
            finally:
                srv.stop()
                if dsn:
                    drop_database(args.pg, dsn)
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    body = "\n".join([
        f"Cost per request (`bench/meta_cost.py`), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"commit {machine.git_commit()}" + (f" (baseline: {args.baseline_src})" if args.baseline_src else "")
        + f": {args.workers} workers, {args.streams} streams, {args.n:,} requests per phase (round trips: "
        f"{args.rt_n} under strace). Load average before: {load_before}; after: {machine.load_average()}.",
        "",
        table(res),
    ])
    print(body)
    if args.write:
        report.update_results_md(HERE / "RESULTS.md", "meta-cost", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
