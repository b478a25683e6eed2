#!/usr/bin/env python
"""`python bench/ec_server_bench.py`: the erasure-coded server against SINGLE, over HTTP.

Starts Coffer servers on loopback with fresh folders and drives them with the benchmark's async client
(harness.s3client): 64 MiB PUTs and GETs against

* ``SINGLE``: no --volume, the data folder as today (GET is sendfile, no block checksums);
* ``EC-4+2``: six volume directories (the default policy for six), every GET block verified;

then the cost of a degraded read (EC-4+2 with two data fragments of every object deleted: every stripe
decoded). The GIL question (pyeclib's encode holds it) is answered by PUT with two client streams against
one worker process and against two. Best round of each phase (the machine is shared: see RESULTS.md).
Writes the `ec` section of bench/RESULTS.md unless --no-write.
"""

from __future__ import annotations

import argparse
import asyncio
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
MiB = 1 << 20


def start(work: Path, name: str, volumes: int, workers: int) -> procs.Server:
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    port = procs.free_port()
    argv = [sys.executable, "-m", "coffer", "serve", "--data", str(folder / "data"), "--address",
            f"127.0.0.1:{port}", "--access-key", AK, "--secret-key", SK, "--workers", str(workers),
            "--heal-interval", "0"]
    for i in range(volumes):
        argv += ["--volume", str(folder / f"vol{i}")]
    proc = procs.Proc(name, argv, folder / "server.log")
    proc.start(env={"PYTHONPATH": procs._coffer_env()["PYTHONPATH"]}, cwd=procs.REPO)
    server = procs.Server(name, f"http://127.0.0.1:{port}", "bench", True, [proc], folder)
    procs.wait_http(proc, f"{server.base}/health/ready", timeout=60)
    return server


async def phase(client: S3Client, op: str, keys: list[str], payloads, streams: int) -> float:
    """MiB/s of one pass over keys with `streams` requests in flight."""
    queue = list(keys)
    total = 0

    async def worker() -> None:
        nonlocal total
        while queue:
            key = queue.pop()
            i = int(key.rsplit("-", 1)[1])
            if op == "put":
                total += await client.put(key, payloads[i % len(payloads)])
            else:
                total += await client.get(key, expect=len(payloads[0].data))

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(streams)))
    return total / MiB / (time.perf_counter() - t0)


async def measure(server: procs.Server, count: int, rounds: int, payloads, streams: int = 1,
                  put: bool = True, get: bool = True, prefix: str = "obj") -> dict[str, float]:
    sign, _ = make_signer(AK, SK, REGION)
    out: dict[str, float] = {}
    async with new_session(max(2, streams)) as session:
        client = S3Client(session, server.base, "bench", sign)
        await client.create_bucket()
        keys = [f"{prefix}-{i}" for i in range(count)]
        cpu0 = procs.group_cpu_seconds(server.procs[0].pid)
        if put:
            out["put"] = max([await phase(client, "put", keys, payloads, streams) for _ in range(rounds)])
            out["put_cpu_s_per_gib"] = (procs.group_cpu_seconds(server.procs[0].pid) - cpu0) / (
                rounds * count * len(payloads[0].data) / (1 << 30))
        if get:
            cpu0 = procs.group_cpu_seconds(server.procs[0].pid)
            out["get"] = max([await phase(client, "get", keys, payloads, streams) for _ in range(rounds)])
            out["get_cpu_s_per_gib"] = (procs.group_cpu_seconds(server.procs[0].pid) - cpu0) / (
                rounds * count * len(payloads[0].data) / (1 << 30))
    return out


def lose_data_fragments(server: procs.Server, indices: tuple[int, ...]) -> int:
    removed = 0
    for vol in sorted(server.data_dir.glob("vol*")):
        for f in (vol / "fragments").rglob("*"):
            if f.is_file() and int(f.name.rsplit(".", 1)[1]) in indices:
                f.unlink()
                removed += 1
    return removed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mib", type=int, default=64, help="object size in MiB")
    p.add_argument("--count", type=int, default=4, help="objects per phase")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--work", default=str(HERE / "work" / "ec-server"))
    p.add_argument("--no-write", action="store_true", help="print only, do not update RESULTS.md")
    args = p.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    payloads = make_payloads(args.mib * MiB, 2)
    rows: list[list[str]] = []
    res: dict[str, dict[str, float]] = {}
    load_before = machine.load_average()
    facts = machine.machine_facts(work)
    try:
        for name, vols in (("SINGLE", 0), ("EC-4+2", 6)):
            srv = start(work, name.lower(), vols, workers=1)
            try:
                res[name] = asyncio.run(measure(srv, args.count, args.rounds, payloads))
                if vols:
                    n = lose_data_fragments(srv, (0, 1))
                    res["EC-4+2 degraded"] = asyncio.run(measure(srv, args.count, args.rounds, payloads, put=False))
                    res["EC-4+2 degraded"]["lost"] = n
            finally:
                srv.stop()
        for workers in (1, 2):
            srv = start(work, f"ec-w{workers}", 6, workers=workers)
            try:
                res[f"EC-4+2 PUT, 2 streams, {workers} worker(s)"] = asyncio.run(
                    measure(srv, args.count, args.rounds, payloads, streams=2, get=False))
            finally:
                srv.stop()
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    single = res["SINGLE"]
    for name, r in res.items():
        rows.append([name, f"{r['put']:.0f}" if "put" in r else "-", f"{r['get']:.0f}" if "get" in r else "-",
                     f"{r['get'] / single['get']:.2f}" if "get" in r else "-",
                     f"{r['put_cpu_s_per_gib']:.1f}" if "put" in r else "-",
                     f"{r['get_cpu_s_per_gib']:.1f}" if "get" in r else "-"])
    body = "\n".join([
        f"EC server benchmark (`bench/ec_server_bench.py`), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
        f"{args.mib} MiB objects, {args.count} per phase, best of {args.rounds} rounds, one client stream, one "
        f"worker process unless said. Load average before: {load_before}; after: {machine.load_average()}. "
        "**Shared, noisy machine**: compare the ratios within this run, not the absolutes across runs.",
        "",
        f"Machine: {facts['cpu']}, {facts['cores']} cores, {facts['memory']}, {facts['disk (work dir)']}; "
        f"Python {facts['python']}; commit {facts['coffer commit']}.",
        "",
        report.md_table(["configuration", "PUT MiB/s", "GET MiB/s", "GET / SINGLE", "PUT CPU-s/GiB",
                         "GET CPU-s/GiB"], rows),
        "",
        f"Degraded: fragments 0 and 1 (data) of every object deleted ({res['EC-4+2 degraded']['lost']} files), so "
        "every stripe is decoded from two data and two parity fragments.",
    ])
    print(body)
    if not args.no_write:
        report.update_results_md(HERE / "RESULTS.md", "ec", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
