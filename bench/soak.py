"""Memory over a long mixed run: does each worker's RSS stay flat?

Starts `coffer serve --workers N` on a fresh data folder and runs a mixed small-object workload for
`--minutes`, `--streams` concurrent clients sharing a total rate cap (`--rate` ops/s, so the machine stays
usable). Each stream owns its keys (no stream reads or deletes what another is writing), and picks per
operation: 4 KiB PUT 50%, GET of one of its keys 25% (length checked), HEAD 10%, ListObjectsV2 first page
5% (half with `delimiter=/`), DELETE 5%. Beside them one more client, every `--big-every` seconds, PUTs an
object of 1-8 MiB or (every third time) a multipart upload of 3 parts of 5 MiB, reads it back (length
checked) and deletes it.

Every `--sample-seconds` it records the RSS (VmRSS) of the server's master and of each worker (the members
of its process group), the server's CPU, the operations and errors since the last sample and the load
average. Reported: the samples, and per process the growth of RSS from minute `--settle` (default 5) to
the end — "flat" if within 10%. Section `soak` of RESULTS.md.

    .venv/bin/python bench/soak.py                                  # 30 minutes, 8 streams, 300 ops/s
    .venv/bin/python bench/soak.py --minutes 1 --sample-seconds 10 --no-write   # smoke check
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if str(HERE.parent / "src") not in sys.path:
    sys.path.insert(1, str(HERE.parent / "src"))

from harness import machine, procs, report  # noqa: E402
from harness.s3client import S3Client, make_payloads, make_signer, new_session  # noqa: E402

AK, SK, REGION = "benchak", "benchsecretkey0123456789", "us-east-1"
MiB = 1 << 20
MIX = (("put", 50), ("get", 25), ("head", 10), ("list", 5), ("delete", 5))
OPS = ("put", "get", "head", "list", "delete", "big_put", "multipart")


def rss_kib(pid: int) -> int | None:
    """VmRSS of `pid` in KiB, None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s)) - 1))] * 1000


@dataclass
class Counters:
    ops: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPS, 0))
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)
    put_lat: list[float] = field(default_factory=list)

    def error(self, op: str, e: BaseException) -> None:
        self.errors += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(f"{time.strftime('%H:%M:%S')} {op}: {e.__class__.__name__}: {e}"[:300])


class Limiter:
    """A shared pace: at most `rate` acquisitions per second over all streams (0: no cap)."""

    def __init__(self, rate: float) -> None:
        self.gap = 1.0 / rate if rate > 0 else 0.0
        self.next = time.monotonic()

    async def wait(self) -> None:
        if not self.gap:
            return
        now = time.monotonic()
        at = max(self.next, now)
        self.next = at + self.gap
        if at > now:
            await asyncio.sleep(at - now)


class Soak:
    def __init__(self, a: argparse.Namespace, server: procs.Server) -> None:
        self.a, self.server = a, server
        self.sign, _ = make_signer(AK, SK, REGION)
        self.small = make_payloads(4096, 64, seed=5)
        self.big = [make_payloads(n * MiB, 1, seed=50 + n)[0] for n in range(1, 9)]
        self.parts = make_payloads(5 * MiB, 3, seed=70)
        self.c = Counters()
        self.samples: list[dict] = []
        self.t0 = 0.0
        self.stop_at = 0.0
        self.pids: dict[int, str] = {}

    def log(self, msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    async def stream(self, c: S3Client, n: int, limiter: Limiter) -> None:
        rnd = random.Random(n)
        names, weights = zip(*MIX, strict=True)
        keys: list[str] = []
        made = 0
        while time.monotonic() < self.stop_at:
            await limiter.wait()
            op = rnd.choices(names, weights)[0]
            if op in ("get", "head", "delete") and not keys:
                op = "put"
            try:
                if op == "put":
                    key = f"s{n:02d}/{made:08d}"
                    made += 1
                    t = time.perf_counter()
                    await c.put(key, self.small[made % len(self.small)])
                    self.c.put_lat.append(time.perf_counter() - t)
                    keys.append(key)
                elif op == "get":
                    await c.get(rnd.choice(keys), expect=4096)
                elif op == "head":
                    await c.head(rnd.choice(keys))
                elif op == "list":
                    await c.list_page(f"s{n:02d}/" if rnd.random() < 0.5 else "", None, 1000,
                                      "/" if rnd.random() < 0.5 else None)
                else:
                    i = rnd.randrange(len(keys))
                    keys[i], keys[-1] = keys[-1], keys[i]
                    await c.delete(keys.pop())
                self.c.ops[op] += 1
            except Exception as e:  # counted and carried on: a soak wants to see every error, not the first
                self.c.error(op, e)

    async def large(self, c: S3Client) -> None:
        rnd = random.Random(99)
        i = 0
        while time.monotonic() + self.a.big_every < self.stop_at:
            await asyncio.sleep(self.a.big_every)
            i += 1
            key = f"large/{i:06d}"
            op = "multipart" if i % 3 == 0 and not self.a.no_multipart else "big_put"
            try:
                if op == "multipart":
                    size = await c.multipart(key, self.parts)
                else:
                    size = await c.put(key, rnd.choice(self.big))
                await c.get(key, expect=size)
                await c.delete(key)
                self.c.ops[op] += 1
            except Exception as e:
                self.c.error(op, e)

    def sample(self) -> dict:
        pgid = self.server.procs[0].pid
        rss: dict[str, float] = {}
        for pid in sorted(procs.group_members(pgid)):
            if pid not in self.pids:
                self.pids[pid] = "master" if pid == pgid else f"worker {sum(1 for p in self.pids if p != pgid) + 1}"
            kib = rss_kib(pid)
            if kib is not None:
                rss[self.pids[pid]] = round(kib / 1024, 1)
        s = {"t": round(time.monotonic() - self.t0, 1), "rss_mib": rss, "ops": dict(self.c.ops),
             "errors": self.c.errors, "cpu_s": round(procs.group_cpu_seconds(pgid), 1),
             "load": machine.load_average(), "put_p50_ms": pct(self.c.put_lat, 50),
             "put_p99_ms": pct(self.c.put_lat, 99)}
        self.c.put_lat = []
        self.samples.append(s)
        return s

    async def sampler(self) -> None:
        prev = self.sample()
        self.log("start: " + ", ".join(f"{k} {v} MiB" for k, v in prev["rss_mib"].items()))
        while time.monotonic() < self.stop_at:
            await asyncio.sleep(min(self.a.sample_seconds, max(0.0, self.stop_at - time.monotonic())))
            s = self.sample()
            dt = s["t"] - prev["t"]
            rate = (sum(s["ops"].values()) - sum(prev["ops"].values())) / dt if dt else 0.0
            self.log(f"{s['t'] / 60:5.1f} min: " + ", ".join(f"{k} {v} MiB" for k, v in s["rss_mib"].items())
                     + f"; {rate:.0f} ops/s, errors {s['errors']}, PUT p50/p99 {s['put_p50_ms'] or 0:.1f}/"
                     f"{s['put_p99_ms'] or 0:.1f} ms, load {s['load']}")
            if not self.server.procs[0].alive():
                self.log("the server exited: stopping")
                self.stop_at = 0.0
            prev = s

    async def run(self) -> None:
        async with new_session(self.a.streams + 1) as s:
            c = S3Client(s, self.server.base, "soak", self.sign)
            status = await c.create_bucket()
            if status != 200:
                raise RuntimeError(f"create bucket: HTTP {status}")
            self.t0 = time.monotonic()
            self.stop_at = self.t0 + self.a.minutes * 60
            limiter = Limiter(self.a.rate)
            await asyncio.gather(self.sampler(), self.large(c),
                                 *(self.stream(c, n, limiter) for n in range(self.a.streams)))


def at_minute(samples: list[dict], minute: float) -> dict:
    """The first sample taken at or after `minute` (the last one if none is)."""
    return next((s for s in samples if s["t"] >= minute * 60), samples[-1])


def render(soak: Soak, argv: list[str], facts: dict[str, str]) -> tuple[str, bool]:
    a, samples = soak.a, soak.samples
    names = list(dict.fromkeys(n for s in samples for n in s["rss_mib"]))
    rows = []
    for prev, s in zip([None, *samples], samples, strict=False):
        dt = s["t"] - prev["t"] if prev else 0.0
        rate = (sum(s["ops"].values()) - sum(prev["ops"].values())) / dt if prev and dt else None
        rows.append([f"{s['t'] / 60:.1f}", *(f"{s['rss_mib'].get(n, '—')}" for n in names),
                     "—" if rate is None else f"{rate:.0f}", str(s["errors"]),
                     "—" if s["put_p50_ms"] is None else f"{s['put_p50_ms']:.1f} / {s['put_p99_ms']:.1f}",
                     s["load"].split(" / ")[0]])
    base, end = at_minute(samples, a.settle), samples[-1]
    verdicts = []
    flat = True
    for n in names:
        x, y = base["rss_mib"].get(n), end["rss_mib"].get(n)
        if x is None or y is None:
            verdicts.append([n, "—", "—", "—", "process missing"])
            flat = False
            continue
        ok = abs(y - x) <= 0.10 * x
        flat = flat and (ok or n == "master")
        verdicts.append([n, f"{samples[0]['rss_mib'].get(n, '—')}", f"{x}", f"{y}",
                         f"{y - x:+.1f} MiB ({100 * (y - x) / x:+.1f}%): " + ("flat" if ok else "NOT flat")])
    total = sum(end["ops"].values())
    secs = end["t"] or 1.0
    loads = [s["load"].split(" / ")[0] for s in samples]
    lines = [
        f"### soak: {time.strftime('%Y-%m-%d %H:%M')} ({end['t'] / 60:.1f} min, {a.streams} streams, "
        f"rate cap {a.rate:g} ops/s, --workers {a.workers})", "",
        f"- machine: {facts.get('cpu')}, {facts.get('cores')} cores, {facts.get('memory')}, "
        f"{facts.get('disk (work dir)')}",
        f"- coffer commit: {facts.get('coffer commit')}, python {facts.get('python')}",
        f"- load average (1 min) over the run: min {min(loads, key=float)}, max {max(loads, key=float)}; "
        f"at start {samples[0]['load']}, at end {end['load']}",
        f"- operations: {total:,} in {secs / 60:.1f} min ({total / secs:.0f} ops/s): "
        + ", ".join(f"{k} {v:,}" for k, v in end["ops"].items())
        + f"; errors {end['errors']}" + (f" (first: {'; '.join(soak.c.first_errors)})" if soak.c.errors else ""),
        f"- server CPU: {end['cpu_s'] - samples[0]['cpu_s']:.0f} s over the run "
        f"({100 * (end['cpu_s'] - samples[0]['cpu_s']) / secs:.0f}% of a core)",
        "", "```sh", f".venv/bin/python bench/soak.py {' '.join(argv)}".rstrip(), "```", "",
        f"RSS from minute {a.settle:g} to the end (flat: within 10%; the master's figure is shown, the verdict "
        "is on the workers):", "",
        report.md_table(["process", "start MiB", f"minute {base['t'] / 60:.1f} MiB", f"end ({end['t'] / 60:.1f}) MiB",
                         "growth"], verdicts), "",
        f"**Verdict: {'flat' if flat else 'NOT flat'}**", "",
        "<details><summary>every sample</summary>", "",
        report.md_table(["minute", *(f"{n} MiB" for n in names), "ops/s", "errors (total)",
                         "4 KiB PUT p50 / p99 ms", "load 1 min"], rows), "", "</details>",
    ]
    return "\n".join(lines) + "\n", flat


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--streams", type=int, default=8)
    p.add_argument("--rate", type=float, default=300.0, help="total ops/s cap over all streams (0: none)")
    p.add_argument("--sample-seconds", type=float, default=30.0)
    p.add_argument("--settle", type=float, default=5.0, help="minute from which growth is measured")
    p.add_argument("--big-every", type=float, default=20.0, help="seconds between 1-8 MiB / multipart uploads")
    p.add_argument("--no-multipart", action="store_true")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--work-dir", type=Path, default=HERE / "work")
    p.add_argument("--keep-data", action="store_true")
    p.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    p.add_argument("--section", default="soak")
    p.add_argument("--no-write", action="store_true")
    argv = sys.argv[1:]
    a = p.parse_args(argv)
    a.work_dir.mkdir(parents=True, exist_ok=True)
    server = procs.start_coffer(a.work_dir, AK, SK, a.workers, None, "coffer-soak")
    soak = Soak(a, server)
    try:
        try:
            import uvloop
            uvloop.run(soak.run())
        except ImportError:
            asyncio.run(soak.run())
    except KeyboardInterrupt:
        soak.log("interrupted")
    finally:
        server.stop(keep_data=a.keep_data)
        procs.stop_all()
    if len(soak.samples) < 2:
        soak.log("fewer than two samples: nothing to report")
        return 1
    (a.work_dir / "soak.json").write_text(json.dumps({"samples": soak.samples,
                                                      "errors": soak.c.first_errors}, indent=1))
    text, flat = render(soak, argv, machine.machine_facts(a.work_dir))
    print(text)
    if not a.no_write:
        report.update_results_md(a.results, a.section, text)
        soak.log(f"wrote {a.results}")
    return 0 if flat else 2


if __name__ == "__main__":
    raise SystemExit(main())
