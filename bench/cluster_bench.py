#!/usr/bin/env python
"""`python bench/cluster_bench.py`: the gateway over storage nodes, on loopback.

Starts 4 `coffer node serve` processes (2 volumes each, one zone each: EC-4+2 is the default policy)
and gateways (`coffer serve --cluster-secret`, one worker each, sharing a data folder: SQLite
metadata and cluster map), all on this machine, and drives them with the benchmark's async client
(harness.s3client):

* large objects through one gateway: PUT, GET, then GET with one node killed (kill -9: every
  stripe decoded around its two fragments);
* 4 KiB objects, 32 streams: PUT and GET through one gateway, then through two (the client deals
  requests round-robin over both): the aggregate small-object throughput of stateless gateways.

With `--meta postgresql://ADMIN-URL` the nodes and gateways share a fresh PostgreSQL database made for
the run (metadata and cluster map; each gateway has a data folder of its own, as on separate hosts);
`--small-only` skips the large-object phases.

Best round of each phase (the machine is shared: see RESULTS.md). Writes the `cluster` section of
bench/RESULTS.md unless --no-write.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if str(HERE.parent / "src") not in sys.path:
    sys.path.insert(1, str(HERE.parent / "src"))

from harness import machine, procs, report  # noqa: E402
from harness.s3client import S3Client, make_payloads, make_signer, new_session  # noqa: E402

AK, SK, REGION = "BENCHACCESSKEY00", "bench-secret-key-0123456789abcdef", "us-east-1"
SECRET = "bench-cluster-secret-0123456789"
MiB = 1 << 20


def _env() -> dict[str, str]:
    return {"PYTHONPATH": procs._coffer_env()["PYTHONPATH"]}


def start_node(work: Path, i: int, meta: Path | str) -> procs.Proc:
    port = procs.free_port()
    folder = work / f"node{i}"
    argv = [sys.executable, "-m", "coffer", "node", "serve", "--address", f"127.0.0.1:{port}",
            "--cluster-secret", SECRET, "--zone", f"z{i}", "--meta", str(meta), "--node-id", f"node{i}",
            "--heartbeat", "1", "--volume", str(folder / "vol0"), "--volume", str(folder / "vol1")]
    proc = procs.Proc(f"node{i}", argv, folder / "node.log")
    proc.start(env=_env(), cwd=procs.REPO)
    procs.wait_http(proc, f"http://127.0.0.1:{port}/_node/v1/info", timeout=60, ok=lambda s: s == 403)
    return proc


def start_gateway(work: Path, name: str, meta_url: str | None = None) -> procs.Server:
    port = procs.free_port()
    folder = work / (f"{name}-data" if meta_url else "gateway-data")
    argv = [sys.executable, "-m", "coffer", "serve", "--data", str(folder), "--address",
            f"127.0.0.1:{port}", "--access-key", AK, "--secret-key", SK, "--workers", "1",
            "--heal-interval", "0", "--cluster-secret", SECRET] + (["--meta", meta_url] if meta_url else [])
    proc = procs.Proc(name, argv, work / f"{name}.log")
    proc.start(env=_env(), cwd=procs.REPO)
    server = procs.Server(name, f"http://127.0.0.1:{port}", "bench", True, [proc], work)
    procs.wait_http(proc, f"{server.base}/health/ready", timeout=60)
    return server


async def _pass(clients: list[S3Client], op: str, keys: list[str], payloads, streams: int) -> tuple[float, float]:
    """(bytes per second, requests per second) of one pass over keys, `streams` in flight."""
    queue = list(keys)
    deal = itertools.cycle(clients)
    total = 0

    async def worker() -> None:
        nonlocal total
        while queue:
            key = queue.pop()
            client = next(deal)
            i = int(key.rsplit("-", 1)[1])
            if op == "put":
                total += await client.put(key, payloads[i % len(payloads)])
            else:
                total += await client.get(key, expect=len(payloads[0].data))

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(streams)))
    dt = time.perf_counter() - t0
    return total / dt, len(keys) / dt


async def measure(gateways: list[procs.Server], bucket: str, count: int, rounds: int, payloads, streams: int,
                  ops=("put", "get")) -> dict[str, tuple[float, float]]:
    sign, _ = make_signer(AK, SK, REGION)
    out: dict[str, tuple[float, float]] = {}
    async with new_session(max(2, streams)) as session:
        clients = [S3Client(session, g.base, bucket, sign) for g in gateways]
        if "put" in ops:
            await clients[0].create_bucket()
        keys = [f"obj-{i}" for i in range(count)]
        for op in ops:
            out[op] = max([await _pass(clients, op, keys, payloads, streams) for _ in range(rounds)],
                          key=lambda r: r[0])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mib", type=int, default=32, help="large object size in MiB")
    p.add_argument("--count", type=int, default=3, help="large objects per phase")
    p.add_argument("--small", type=int, default=600, help="4 KiB objects per phase")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--label", default="", help="a word for this run's row (e.g. before/after)")
    p.add_argument("--work", default=str(HERE / "work" / "cluster"))
    p.add_argument("--no-write", action="store_true", help="print only, do not update RESULTS.md")
    p.add_argument("--meta", default=None, metavar="ADMIN-URL",
                   help="PostgreSQL server to make the run's database in (default: SQLite in the gateways' folder)")
    p.add_argument("--small-only", action="store_true", help="only the 4 KiB phases")
    args = p.parse_args(argv)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    meta: Path | str = work / "gateway-data" / "meta" / "cluster.sqlite3"
    meta_url = None
    if args.meta:
        from meta_bench import drop_database, new_database

        meta = meta_url = new_database(args.meta)
    large = make_payloads(args.mib * MiB, 2)
    small = make_payloads(4096, 16)
    load_before = machine.load_average()
    facts = machine.machine_facts(work)
    res: dict[str, dict[str, tuple[float, float]]] = {}
    try:
        nodes = [start_node(work, i, meta) for i in range(4)]
        g1 = start_gateway(work, "gateway1", meta_url)
        time.sleep(3)  # every node registered and probed
        if not args.small_only:
            res["large"] = asyncio.run(measure([g1], "large", args.count, args.rounds, large, 1))
        res["small, 1 gateway"] = asyncio.run(measure([g1], "small1", args.small, args.rounds, small, 32))
        g2 = start_gateway(work, "gateway2", meta_url)
        time.sleep(3)
        res["small, 2 gateways"] = asyncio.run(measure([g1, g2], "small2", args.small, args.rounds, small, 32))
        if not args.small_only:
            nodes[3].stop(grace=0)  # SIGTERM then SIGKILL at once: the node is gone
            res["large, one node down"] = asyncio.run(
                measure([g1], "large", args.count, args.rounds, large, 1, ops=("get",)))
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
        if meta_url:
            drop_database(args.meta, meta_url)
    mib = lambda r: f"{r[0] / MiB:.0f}"  # noqa: E731
    ops = lambda r: f"{r[1]:,.0f}"  # noqa: E731
    rows = [] if args.small_only else [
        [f"{args.mib} MiB, 1 stream, 1 gateway", mib(res["large"]["put"]) + " MiB/s",
         mib(res["large"]["get"]) + " MiB/s"],
        [f"{args.mib} MiB, 1 stream, node3 killed", "-", mib(res["large, one node down"]["get"]) + " MiB/s"],
    ]
    rows += [
        ["4 KiB, 32 streams, 1 gateway", ops(res["small, 1 gateway"]["put"]) + " ops/s",
         ops(res["small, 1 gateway"]["get"]) + " ops/s"],
        ["4 KiB, 32 streams, 2 gateways", ops(res["small, 2 gateways"]["put"]) + " ops/s",
         ops(res["small, 2 gateways"]["get"]) + " ops/s"],
    ]
    body = "\n".join([
        f"Cluster benchmark (`bench/cluster_bench.py`){' — ' + args.label if args.label else ''}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: 4 nodes x 2 volumes on loopback, EC-4+2, "
        f"gateways with one worker each, metadata and cluster map on "
        f"{'PostgreSQL (a data folder per gateway)' if meta_url else 'SQLite (one folder shared by the gateways)'}, "
        f"best of {args.rounds} rounds. Load average before: {load_before}; "
        f"after: {machine.load_average()}. Everything (client, gateways, 4 nodes) shares this machine's cores.",
        "",
        f"Machine: {facts['cpu']}, {facts['cores']} cores, {facts['memory']}; Python {facts['python']}; "
        f"commit {facts['coffer commit']}.",
        "",
        report.md_table(["workload", "PUT", "GET"], rows),
    ])
    print(body)
    if not args.no_write:
        report.update_results_md(HERE / "RESULTS.md", "cluster" + (f"-{args.label}" if args.label else ""), body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
