#!/usr/bin/env python
"""`python bench/meta_bench.py`: PostgreSQL metadata against SQLite metadata, one host, through the server.

Starts `coffer serve` twice on loopback with fresh folders, the same options and the same client
(harness.s3client): once on SQLite (the default), once with `--meta postgresql://...` on a fresh database
of the PostgreSQL server named by --pg (or COFFER_BENCH_PG / COFFER_TEST_PG), then measures

* PUT and GET of 4 KiB objects, 32 streams (small writes: the group-commit path);
* a 0-byte key load of --keys keys, 64 streams, laid out as 1,000 "folders" (`dNNN/`);
* ListObjectsV2 of every key, 1,000 per page, without a delimiter (a range scan per page);
* ListObjectsV2 with delimiter "/" (1,000 common prefixes: the seek-past-each-prefix walk, which on
  PostgreSQL is one recursive query per page).

Best of --rounds rounds per phase (the machine is shared: see RESULTS.md). Writes the `meta` section of
bench/RESULTS.md unless --no-write.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if str(HERE.parent / "src") not in sys.path:
    sys.path.insert(1, str(HERE.parent / "src"))

from harness import machine, procs, report  # noqa: E402
from harness.s3client import S3Client, make_payloads, make_signer, new_session, parse_list_page  # noqa: E402
from yarl import URL  # noqa: E402

AK, SK, REGION = "BENCHACCESSKEY00", "bench-secret-key-0123456789abcdef", "us-east-1"
FOLDERS = 1000


def start(work: Path, name: str, meta: str | None, workers: int, src: Path | None = None) -> procs.Server:
    """`coffer serve` on loopback; src: run another checkout's code (default: this one's)."""
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    port = procs.free_port()
    argv = [sys.executable, "-m", "coffer", "serve", "--data", str(folder / "data"), "--address",
            f"127.0.0.1:{port}", "--access-key", AK, "--secret-key", SK, "--workers", str(workers),
            "--heal-interval", "0"]
    if meta:
        argv += ["--meta", meta]
    proc = procs.Proc(name, argv, folder / "server.log")
    proc.start(env={"PYTHONPATH": procs._coffer_env(src)["PYTHONPATH"]}, cwd=procs.REPO)
    server = procs.Server(name, f"http://127.0.0.1:{port}", "bench", True, [proc], folder)
    procs.wait_http(proc, f"{server.base}/health/ready", timeout=60)
    return server


async def _pool(items: list, streams: int, fn) -> float:
    """Items per second with `streams` workers."""
    queue = list(reversed(items))

    async def worker() -> None:
        while queue:
            await fn(queue.pop())

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(streams)))
    return len(items) / (time.perf_counter() - t0)


async def list_delimited(client: S3Client, max_pages: int = 10_000) -> tuple[int, float]:
    """Every common prefix of the bucket with delimiter "/"; (prefixes, seconds)."""
    token, n, pages = None, 0, 0
    t0 = time.perf_counter()
    while pages < max_pages:
        params = [("delimiter", "/"), ("list-type", "2"), ("max-keys", "1000")]
        if token:
            params.append(("continuation-token", token))
        url = client.url(query="&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in sorted(params)))
        headers = client._headers("GET", url, {}, client._empty_hash())
        async with client.session.get(URL(url, encoded=True), headers=headers) as r:
            body = await r.read()
            if r.status != 200:
                raise RuntimeError(f"ListObjectsV2 delimiter: HTTP {r.status} {body[:200]!r}")
        n += body.count(b"<CommonPrefixes>")
        pages += 1
        page = parse_list_page(body)
        if not page.truncated:
            break
        token = page.token
    return n, time.perf_counter() - t0


async def measure(server: procs.Server, small: int, keys: int, rounds: int) -> dict[str, float]:
    sign, _ = make_signer(AK, SK, REGION)
    payload = make_payloads(4096, 1)[0]
    empty = make_payloads(0, 1)[0]
    out: dict[str, float] = {}
    async with new_session(64) as session:
        client = S3Client(session, server.base, "bench", sign)
        await client.create_bucket()
        names = [f"small/{i:06d}" for i in range(small)]
        out["put4k"] = max([await _pool(names, 32, lambda k: client.put(k, payload)) for _ in range(rounds)])
        out["get4k"] = max([await _pool(names, 32, lambda k: client.get(k, expect=4096)) for _ in range(rounds)])
        load = [f"d{i % FOLDERS:03d}/k{i:07d}" for i in range(keys)]
        out["load0"] = await _pool(load, 64, lambda k: client.put(k, empty))
        best = 0.0
        for _ in range(rounds):
            t0 = time.perf_counter()
            n, _pages = await client.list_all("d", page_size=1000)
            assert n == keys, (n, keys)
            best = max(best, n / (time.perf_counter() - t0))
        out["list"] = best
        best_d = 0.0
        for _ in range(rounds):
            n, secs = await list_delimited(client)
            assert n == FOLDERS + 1, n  # d000/ .. d999/ and small/
            best_d = max(best_d, n / secs)
        out["list_delim"] = best_d
    return out


def new_database(admin: str) -> str:
    import psycopg

    name = f"coffer_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(admin)._replace(path="/" + name))


def drop_database(admin: str, dsn: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(dsn).path.lstrip("/")}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg", default=os.environ.get("COFFER_BENCH_PG") or os.environ.get("COFFER_TEST_PG"),
                   help="postgresql:// URL of a server the benchmark may create a database in")
    p.add_argument("--small", type=int, default=2000, help="4 KiB objects per phase")
    p.add_argument("--keys", type=int, default=100_000, help="0-byte keys loaded, then listed")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--work", default=str(HERE / "work" / "meta"))
    p.add_argument("--no-write", action="store_true", help="print only, do not update RESULTS.md")
    args = p.parse_args(argv)
    if not args.pg or not args.pg.startswith(("postgresql://", "postgres://")):
        p.error("--pg postgresql://... (or COFFER_BENCH_PG / COFFER_TEST_PG) is required")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    load_before = machine.load_average()
    facts = machine.machine_facts(work)
    res: dict[str, dict[str, float]] = {}
    dsn = new_database(args.pg)
    try:
        for name, meta in (("SQLite", None), ("PostgreSQL", dsn)):
            srv = start(work, name.lower(), meta, args.workers)
            try:
                res[name] = asyncio.run(measure(srv, args.small, args.keys, args.rounds))
            finally:
                srv.stop()
    finally:
        procs.stop_all()
        drop_database(args.pg, dsn)
        shutil.rmtree(work, ignore_errors=True)
    sq, pg = res["SQLite"], res["PostgreSQL"]
    labels = [("put4k", "PUT 4 KiB, 32 streams", "ops/s"), ("get4k", "GET 4 KiB, 32 streams", "ops/s"),
              ("load0", f"load {args.keys:,} keys (PUT 0 B, 64 streams)", "ops/s"),
              ("list", f"ListObjectsV2 {args.keys:,} keys, no delimiter", "keys/s"),
              ("list_delim", f"ListObjectsV2 delimiter '/', {FOLDERS:,} prefixes", "prefixes/s")]
    rows = [[label, f"{sq[k]:,.0f} {unit}", f"{pg[k]:,.0f} {unit}", f"{pg[k] / sq[k]:.2f}x"]
            for k, label, unit in labels]
    body = "\n".join([
        f"Metadata engines (`bench/meta_bench.py`), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: the same "
        f"server options ({args.workers} workers, single-folder data), the same client, SQLite then PostgreSQL 15 "
        f"(loopback, fsync on, synchronous_commit on) on this host; best of {args.rounds} rounds "
        f"(the key load: one pass). Load average before: {load_before}; after: {machine.load_average()}. "
        "**Shared, noisy machine**: compare the ratios within this run.",
        "",
        f"Machine: {facts['cpu']}, {facts['cores']} cores, {facts['memory']}, {facts['disk (work dir)']}; "
        f"Python {facts['python']}; commit {facts['coffer commit']}.",
        "",
        report.md_table(["workload", "SQLite", "PostgreSQL", "PostgreSQL / SQLite"], rows),
    ])
    print(body)
    if not args.no_write:
        report.update_results_md(HERE / "RESULTS.md", "meta", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
