"""Cost as the store grows: PUT, GET, HEAD and first-page-list latency in a big bucket vs an empty one.

Two Coffer servers side by side, each on its own store: bucket `empty` in one, `big` in the other (one store's
buckets share one objects index, so a second bucket would not be an empty baseline). Between sizes the servers
are stopped and `big` is filled through the SQLite metadata store's own write path (`ops.put_object`, 10,000
rows per transaction: loading a million keys over HTTP would take longer than the measurement is worth), with
0-byte inline objects `k/NNNNNNNNN`. The big store also holds `--other-buckets` small buckets (`--other-keys` keys
each, created over HTTP and filled through the same path before the first size), so at the last size it is "a
bucket of 10M keys in a store of 100 buckets". Then, at each size, both buckets get the same workload in alternating
rounds (so other people's load hits both alike): `--streams` concurrent clients PUT 4 KiB objects under `m/`,
GET and HEAD them back, and list the bucket's first page (1,000 keys). Reported: p50 and p99 of each operation
in each bucket, and big/empty — the goal is within 1.2×.

    .venv/bin/python bench/growth.py --sizes 10000,100000,1000000 --rounds 3
    .venv/bin/python bench/growth.py --sizes 10000,100000,1000000,10000000 --rounds 3 --ops 200  # ~20 min
    .venv/bin/python bench/growth.py --reuse --sizes 10000000 --rounds 4   # again, on the stores left behind

Beside the client's latencies it reports the server's own (its access log): on a loaded 2-core machine the
client's share (a 1,000-key page is parsed in the client) moves the client-side figures more than the store.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if str(HERE.parent / "src") not in sys.path:
    sys.path.insert(1, str(HERE.parent / "src"))

from harness import machine, procs, report  # noqa: E402
from harness.s3client import RequestFailed, S3Client, make_payloads, make_signer, new_session  # noqa: E402

AK, SK, REGION = "benchak", "benchsecretkey0123456789", "us-east-1"
OPS = ("put", "get", "head", "list")
EMPTY_MD5 = hashlib.md5(b"").hexdigest()


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))] * 1000


async def head(c: S3Client, key: str) -> None:
    url = c.url(key)
    from yarl import URL
    headers = c._headers("HEAD", url, {}, c._empty_hash())
    async with c.session.head(URL(url, encoded=True), headers=headers) as r:
        if r.status != 200:
            raise RequestFailed(f"HEAD {key}: HTTP {r.status}")


async def measure(server: procs.Server, bucket: str, sign, payloads, ops: int, streams: int,
                  tag: str) -> dict[str, list[float]]:
    """`ops` PUTs, then GETs and HEADs of those keys, then `ops // 4` first-page listings; latencies."""
    lat: dict[str, list[float]] = {o: [] for o in OPS}
    keys = [f"m/{tag}-{i:06d}" for i in range(ops)]
    async with new_session(streams) as s:
        c = S3Client(s, server.base, bucket, sign)

        async def run(name: str, items: list, fn) -> None:
            it = iter(items)

            async def stream() -> None:
                for x in it:
                    t = time.perf_counter()
                    await fn(x)
                    lat[name].append(time.perf_counter() - t)

            await asyncio.gather(*(stream() for _ in range(streams)))

        await run("put", list(range(ops)), lambda i: c.put(keys[i], payloads[i % len(payloads)]))
        await run("get", keys[::-1], lambda k: c.get(k, expect=4096))
        await run("head", keys, lambda k: head(c, k))

        async def first_page(_i: int) -> None:
            page = await c.list_page("", None, 1000)
            if not page.keys:
                raise RequestFailed("first page is empty")

        await run("list", list(range(max(8, ops // 4))), first_page)
    return lat


def preload(data: Path, bucket: str, start: int, stop: int, owner: str) -> float:
    """Add keys k/start..k/stop-1 to `bucket` through the store's own insert; returns seconds."""
    from coffer.server.meta.model import ObjectRecord
    from coffer.server.meta.sqlite import ops as sqlite_ops
    from coffer.server.meta.sqlite.store import SqliteMetaStore

    async def go() -> None:
        store = SqliteMetaStore(data / "meta" / "coffer.sqlite3")
        await store.open()
        try:
            now = time.time()
            for lo in range(start, stop, 10_000):
                hi = min(stop, lo + 10_000)
                recs = [ObjectRecord(bucket=bucket, key=f"k/{i:09d}", size=0, etag=EMPTY_MD5,
                                     last_modified=now, owner=owner, inline=b"") for i in range(lo, hi)]

                def fill(conn, recs=recs) -> None:
                    for r in recs:
                        sqlite_ops.put_object(conn, r, None)

                await store._write(fill)  # the store's own writer: one transaction per 10,000 rows
        finally:
            await store.close()

    t0 = time.perf_counter()
    asyncio.run(go())
    return time.perf_counter() - t0


def preloaded(data: Path, bucket: str) -> int:
    """How many keys k/0.. a previous run preloaded into `bucket` (they are numbered densely from 0)."""
    import sqlite3
    conn = sqlite3.connect(data / "meta" / "coffer.sqlite3")
    try:
        top = conn.execute("SELECT max(key) FROM objects WHERE bucket = ? AND key >= ? AND key < ?",
                           (bucket, b"k/", b"k0")).fetchone()[0]
    finally:
        conn.close()
    return int(top[2:]) + 1 if top else 0


ACCESS_OPS = {"PutObject": "put", "GetObject": "get", "HeadObject": "head", "ListObjects": "list",
              "ListObjectsV2": "list"}


def server_times(log: Path, offset: int) -> dict[str, list[float]]:
    """Per operation, the server's own durations (seconds, from its access log) after byte `offset`: the
    request's time inside the server, without the client's share (parsing a 1,000-key page is most of
    a listing's latency as the client sees it on a loaded machine)."""
    out: dict[str, list[float]] = {o: [] for o in OPS}
    with open(log, "rb") as f:
        f.seek(offset)
        for raw in f:
            parts = raw.decode(errors="replace").split()
            if len(parts) > 9 and parts[-1].endswith("ms") and "coffer.access" in parts:
                op = next((ACCESS_OPS[x] for x in parts if x in ACCESS_OPS), None)
                if op:
                    try:
                        out[op].append(float(parts[-1][:-2]) / 1000)
                    except ValueError:
                        pass
    return out


def owner_of(data: Path, bucket: str) -> str:
    import sqlite3
    conn = sqlite3.connect(data / "meta" / "coffer.sqlite3")
    try:
        return conn.execute("SELECT owner FROM buckets WHERE name = ?", (bucket,)).fetchone()[0]
    finally:
        conn.close()


def create_stores(a: argparse.Namespace, stores: dict[str, Path], others: list[str], sign) -> int:
    """Fresh stores: bucket `empty` with one page of keys in one, `big` and the `others` in the other."""
    for b, folder in stores.items():
        server = procs.start_coffer(folder.parent, AK, SK, a.workers, None, folder.name)
        names = (b, *others) if b == "big" else (b,)
        try:
            async def make(server: procs.Server = server, names: tuple[str, ...] = names) -> None:
                async with new_session(2) as s:
                    for name in names:
                        st = await S3Client(s, server.base, name, sign).create_bucket()
                        if st != 200:
                            raise RuntimeError(f"create bucket {name}: HTTP {st}")
            asyncio.run(make())
        finally:
            server.procs[0].stop()
    data = {b: folder / "data" for b, folder in stores.items()}
    # the baseline holds exactly one first page of keys, so both list 1,000 entries
    preload(data["empty"], "empty", 0, 1000, owner_of(data["empty"], "empty"))
    owner = owner_of(data["big"], "big")
    t0 = time.perf_counter()
    for name in others:
        preload(data["big"], name, 0, a.other_keys, owner)
    if others:
        print(f"big's store also holds {len(others)} buckets of {a.other_keys:,} keys "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--ops", type=int, default=400, help="PUTs (and GETs, HEADs) per bucket per round")
    p.add_argument("--streams", type=int, default=4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--other-buckets", type=int, default=99, help="small buckets beside `big` in its store")
    p.add_argument("--other-keys", type=int, default=100, help="keys in each of those buckets")
    p.add_argument("--reuse", action="store_true",
                   help="measure again on the stores a previous run left in --work-dir (sizes below what "
                        "`big` holds are skipped)")
    p.add_argument("--work-dir", type=Path, default=HERE / "work")
    p.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    p.add_argument("--section", default="growth")
    p.add_argument("--no-write", action="store_true")
    argv = sys.argv[1:]
    a = p.parse_args(argv)
    sizes = [int(x) for x in a.sizes.split(",") if x]
    sign, _ = make_signer(AK, SK, REGION)
    payloads = make_payloads(4096, 16, seed=3)
    work = a.work_dir
    work.mkdir(parents=True, exist_ok=True)
    rows: list[list[str]] = []
    loads = [machine.load_average()]
    # Two stores, two servers side by side: `empty` holds one page of keys, `big` grows. They are
    # separate stores (not two buckets of one) because every bucket shares one objects index: a
    # lookup in an empty bucket of a big store walks the same deep B-tree as one in the big bucket.
    stores = {"empty": work / "coffer-empty", "big": work / "coffer-big"}
    others = [f"other-{i:03d}" for i in range(a.other_buckets)]
    data = {b: folder / "data" for b, folder in stores.items()}
    if a.reuse:
        have = preloaded(data["big"], "big")
        owner = owner_of(data["big"], "big")
        sizes = [x for x in sizes if x >= have]
        print(f"reusing the stores in {work}: big holds {have:,} keys", flush=True)
    else:
        have = create_stores(a, stores, others, sign)
        owner = owner_of(data["big"], "big")
    server_rows: list[list[str]] = []
    for size in sizes:
        secs = preload(data["big"], "big", have, size, owner) if size > have else 0.0
        print(f"[{time.strftime('%H:%M:%S')}] big holds {size:,} keys (+{size - have:,} in {secs:.1f} s)",
              flush=True)
        have = size
        servers: dict[str, procs.Server] = {}
        logs = {b: stores[b] / "server.log" for b in stores}
        offsets = {b: logs[b].stat().st_size if logs[b].exists() else 0 for b in stores}
        try:
            for b in ("empty", "big"):
                port = procs.free_port()
                proc = procs.Proc(f"coffer-{b}", [
                    sys.executable, "-m", "coffer", "serve", "--data", str(data[b]), "--address",
                    f"127.0.0.1:{port}", "--access-key", AK, "--secret-key", SK, "--workers", str(a.workers)],
                    stores[b] / "server.log")
                proc.start(env={"PYTHONPATH": procs._coffer_env()["PYTHONPATH"]}, cwd=procs.REPO)
                servers[b] = procs.Server(f"coffer-{b}", f"http://127.0.0.1:{port}", b, True, [proc], None)
                procs.wait_http(proc, f"{servers[b].base}/health/ready", timeout=60)
            lat: dict[str, dict[str, list[float]]] = {"empty": {o: [] for o in OPS}, "big": {o: [] for o in OPS}}
            per_round: dict[str, list[float]] = {o: [] for o in OPS}
            for r in range(a.rounds):
                got = {}
                for b in (("empty", "big") if r % 2 == 0 else ("big", "empty")):
                    got[b] = asyncio.run(measure(servers[b], b, sign, payloads, a.ops, a.streams, f"{size}-{r}"))
                    for o in OPS:
                        lat[b][o] += got[b][o]
                for o in OPS:
                    per_round[o].append(pct(got["big"][o], 50) / pct(got["empty"][o], 50))
                print(f"  round {r + 1}: " + ", ".join(
                    f"{o} p50 {pct(got['empty'][o], 50):.2f}/{pct(got['big'][o], 50):.2f} ms" for o in OPS)
                    + f" (empty/big), load {machine.load_average()}", flush=True)
            for o in OPS:
                e50, b50 = pct(lat["empty"][o], 50), pct(lat["big"][o], 50)
                e99, b99 = pct(lat["empty"][o], 99), pct(lat["big"][o], 99)
                med = statistics.median(per_round[o])
                verdict = "PASS" if b50 / e50 <= 1.2 and b99 / e99 <= 1.2 else "over 1.2×"
                rows.append([f"{size:,}", o.upper() if o != "list" else "first page (1,000)",
                             f"{e50:.2f} / {e99:.2f}", f"{b50:.2f} / {b99:.2f}",
                             f"{b50 / e50:.2f}× / {b99 / e99:.2f}×", f"{med:.2f}×", verdict])
        finally:
            for server in servers.values():
                server.procs[0].stop()
        inside = {b: server_times(logs[b], offsets[b]) for b in stores}
        for o in OPS:
            e, g = inside["empty"][o], inside["big"][o]
            if e and g:
                e50, b50, e99, b99 = pct(e, 50), pct(g, 50), pct(e, 99), pct(g, 99)
                server_rows.append([f"{size:,}", o.upper() if o != "list" else "first page (1,000)",
                                    f"{e50:.1f} / {e99:.1f}", f"{b50:.1f} / {b99:.1f}",
                                    f"{b50 / e50:.2f}× / {b99 / e99:.2f}×" if e50 and e99 else "—"])
        loads.append(machine.load_average())
    facts = machine.machine_facts(work)
    text = "\n".join([
        f"### growth: {time.strftime('%Y-%m-%d %H:%M')} ({a.rounds} rounds, {a.ops} ops per bucket per round, "
        f"{a.streams} streams, --workers {a.workers}; "
        + ("stores reused from a previous run" if a.reuse
           else f"big's store also holds {a.other_buckets} buckets of {a.other_keys:,} keys") + ")", "",
        f"- machine: {facts.get('cpu')}, {facts.get('cores')} cores, {facts.get('disk (work dir)')}",
        f"- coffer commit: {facts.get('coffer commit')}",
        f"- load average at start and after each size: {' | '.join(loads)}", "",
        "```sh", f".venv/bin/python bench/growth.py {' '.join(argv)}".rstrip(), "```", "",
        report.md_table(["keys in big", "operation", "empty p50 / p99 ms", "big p50 / p99 ms",
                         "big/empty p50 / p99", "per-round p50 ratio (median)", "within 1.2×"], rows),
        "", "The same requests timed inside the server (its access log, 0.1 ms resolution: without the client's "
        "share, e.g. parsing the 1,000-key page):", "",
        report.md_table(["keys in big", "operation", "empty p50 / p99 ms", "big p50 / p99 ms",
                         "big/empty p50 / p99"], server_rows),
    ]) + "\n"
    print(text)
    if not a.no_write:
        report.update_results_md(a.results, a.section, text)
    os.sync()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
