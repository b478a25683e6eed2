"""Several processes writing one SQLite metadata file through their group-commit writers.

Isolates the metadata write path from HTTP: P processes (as `--workers P` would fork), each with its own
`GroupCommitWriter` and C concurrent writers inserting rows the size of an object row, synchronous=FULL
(every acknowledged write fsync'ed). Writers of different processes contend through SQLite's busy
handler, as the server's workers do. It measures what the metadata layer alone can take, to set beside
the HTTP rates of bench/small.py, and compares writer implementations: run it alternately with
PYTHONPATH pointing at two checkouts' src/ (the other checkout is imported first).

    .venv/bin/python bench/meta_writers.py --rounds 3 --seconds 3
    PYTHONPATH=/tmp/base/src .venv/bin/python bench/meta_writers.py --rounds 3 --seconds 3
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if not any(p.endswith("/src") for p in sys.path):
    sys.path.insert(0, str(HERE.parent / "src"))

from coffer.server.meta.sqlite.engine import GroupCommitWriter, connect  # noqa: E402

ROW = os.urandom(300)  # about what an object row with its JSON columns weighs


def worker(db: str, concurrency: int, seconds: float, index: int, out: mp.Queue) -> None:
    async def main() -> tuple[int, list[float], int]:
        writer = GroupCommitWriter(connect(db, synchronous="FULL", busy_timeout_ms=10000))
        lat: list[float] = []
        deadline = time.perf_counter() + seconds
        n = 0

        async def one(c: int) -> None:
            nonlocal n
            while time.perf_counter() < deadline:
                k = f"w{index}-{c}-{n}"
                n += 1
                t = time.perf_counter()
                await writer.write(lambda conn, k=k: conn.execute(
                    "INSERT INTO t (k, v) VALUES (?, ?)", (k, ROW)))
                lat.append(time.perf_counter() - t)

        await asyncio.gather(*(one(c) for c in range(concurrency)))
        commits = writer.commits
        await asyncio.to_thread(writer.close)
        return len(lat), lat, commits

    out.put(asyncio.run(main()))


def one_run(procs: int, concurrency: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory(dir=HERE / "work") as d:
        db = f"{d}/meta.db"
        conn = connect(db, synchronous="FULL", busy_timeout_ms=10000)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB)")
        conn.close()
        q: mp.Queue = mp.Queue()
        ps = [mp.Process(target=worker, args=(db, concurrency, seconds, i, q)) for i in range(procs)]
        t0 = time.perf_counter()
        for p in ps:
            p.start()
        res = [q.get() for _ in ps]
        for p in ps:
            p.join()
        elapsed = time.perf_counter() - t0
    ops = sum(r[0] for r in res)
    lat = sorted(x for r in res for x in r[1])
    return {"ops_s": ops / max(elapsed, seconds), "p50": lat[len(lat) // 2] * 1000,
            "p99": lat[int(len(lat) * 0.99)] * 1000, "per_commit": ops / max(1, sum(r[2] for r in res))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=16, help="concurrent writers per process")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    (HERE / "work").mkdir(exist_ok=True)
    import coffer
    print(f"coffer from {Path(coffer.__file__).parent}", flush=True)
    rates = []
    for r in range(a.rounds):
        m = one_run(a.procs, a.concurrency, a.seconds)
        rates.append(m["ops_s"])
        print(f"round {r + 1} {m['ops_s']:8.0f} writes/s  p50 {m['p50']:6.2f} ms  p99 {m['p99']:7.2f} ms  "
              f"{m['per_commit']:5.1f} writes/commit  load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"median {statistics.median(rates):.0f} writes/s")


if __name__ == "__main__":
    main()
