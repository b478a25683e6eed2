"""What the listen API costs the small-PUT path: 4 KiB PUTs with nobody listening, with a listen stream
on another bucket, and with one on the bucket written to (every PUT then logs its event).

    PYTHONPATH=src .venv/bin/python bench/listen_bench.py --rounds 3
    PYTHONPATH=src .venv/bin/python bench/listen_bench.py --baseline-src /path/to/other/checkout/src

Each round starts every case fresh (own data folder, SQLite, `--workers`), in the same order, so a
burst of other people's load hits one round of every case. `--baseline-src` adds a case served by
another checkout (e.g. the commit before the listen API) with nobody listening. The listener is a
separate process (the SDK's `Bucket.listen`) that counts what it receives; in the `listened` case
it must receive one event per PUT. Reported: each case's best round (ops/s), p50/p99 latency, and
the server's CPU time per PUT (its process group's user+system time over the phase: the figure that
others' load on a shared machine moves least).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if str(HERE.parent / "src") not in sys.path:
    sys.path.insert(1, str(HERE.parent / "src"))

from harness import procs  # noqa: E402
from harness.s3client import S3Client, make_payloads, make_signer, new_session  # noqa: E402
from harness.workloads import Measure, put_phase  # noqa: E402

AK, SK, REGION = "benchak", "benchsecretkey0123456789", "us-east-1"
# The listener: counts the events of `bucket` until stdin closes, then prints the count.
LISTENER = """
import sys, threading
from coffer import Client
c = Client(sys.argv[1], sys.argv[2], sys.argv[3])
stream = c.bucket(sys.argv[4]).listen(events=["s3:ObjectCreated:*"])
print("ready", flush=True)
n = 0
def count():
    global n
    try:
        for _ in stream:
            n += 1
    except Exception:
        pass
threading.Thread(target=count, daemon=True).start()
sys.stdin.read()
print(n, flush=True)
"""


def listener(base: str, bucket: str) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", LISTENER, base, AK, SK, bucket], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=procs._coffer_env())
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    return p


async def put_round(base: str, streams: int, seconds: float, payloads: list, prefix: str) -> Measure:
    sign, _ = make_signer(AK, SK, REGION)
    async with new_session(streams) as session:
        client = S3Client(session, base, "bench", sign)
        m, _keys = await put_phase(client, prefix, payloads, streams, seconds, 10**9, "ops/s")
        return m


async def create(base: str, bucket: str) -> None:
    sign, _ = make_signer(AK, SK, REGION)
    async with new_session(1) as session:
        await S3Client(session, base, bucket, sign).create_bucket()


def one_case(work: Path, case: str, src: Path | None, args: argparse.Namespace, payloads: list) -> dict:
    server = procs.start_coffer(work, AK, SK, args.workers, None, f"listen-{case}", src=src)
    watcher = None
    try:
        asyncio.run(create(server.base, "bench"))
        asyncio.run(create(server.base, "other"))
        if case in ("other_listened", "listened"):
            watcher = listener(server.base, "bench" if case == "listened" else "other")
        pgid = server.procs[0].pid
        cpu0 = procs.group_cpu_seconds(pgid)
        m = asyncio.run(put_round(server.base, args.streams, args.seconds, payloads, "k"))
        cpu = procs.group_cpu_seconds(pgid) - cpu0
        out = {"ops_s": round(m.value, 1), "p50_ms": round(m.pct(50), 2), "p99_ms": round(m.pct(99), 2),
               "server_cpu_ms_per_put": round(cpu * 1000 / max(m.ops, 1), 3), "ops": m.ops, "errors": m.errors}
        if watcher is not None:
            time.sleep(1.0)  # the stream polls every 0.25 s
            got, _ = watcher.communicate("", timeout=60)
            out["events_received"] = int(got.strip() or 0)
        return out
    finally:
        if watcher is not None and watcher.poll() is None:
            watcher.kill()
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--streams", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline-src", type=Path, default=None, help="another checkout's src/ (nobody listening)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/coffer-listen-bench"))
    args = ap.parse_args()
    payloads = make_payloads(4096, 64)
    cases: list[tuple[str, Path | None]] = [("idle", None), ("other_listened", None), ("listened", None)]
    if args.baseline_src:
        cases.insert(0, ("baseline", args.baseline_src))
    rounds: dict[str, list[dict]] = {c: [] for c, _ in cases}
    for r in range(args.rounds):
        for case, src in cases:
            res = one_case(args.work, case, src, args, payloads)
            rounds[case].append(res)
            print(f"round {r + 1} {case:15} {json.dumps(res)}", flush=True)
    print(json.dumps({c: max(rs, key=lambda x: x["ops_s"]) for c, rs in rounds.items()}, indent=1))


if __name__ == "__main__":
    main()
