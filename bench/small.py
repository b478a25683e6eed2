"""Small objects, side by side: Coffer vs SeaweedFS vs the machine's durable-append limit.

Every round starts each target fresh and runs the same phases against it, in the same order, so a burst
of other people's load hits one round of every target rather than all of one. Reported per phase: each
target's best round, the ratio Coffer/SeaweedFS of the bests, every round's paired ratio and their median
(the steadier figure on a shared machine), and p50/p99 latency.

    .venv/bin/python bench/small.py --rounds 3            # ~3 minutes a round with 100k keys
    .venv/bin/python bench/small.py --quick --no-write    # smoke check

Phases (the `limit` target runs the PUT and GET phases; its GET answers from memory):
  put_small      4 KiB PUT, 32 streams                         ops/s, p50/p99
  put_small_128  4 KiB PUT, 128 streams                        ops/s, p50/p99
  get_small      4 KiB GET of what put_small stored, 32 streams
  list_load      0-byte PUT of --keys keys, 64 streams
  list           ListObjectsV2 of all of them, 1000/page
  list_delim     the same with delimiter=/ (keys are flat under the prefix, so every key is still listed:
                 what it measures is the delimiter path's cost per key)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if str(HERE.parent / "src") not in sys.path:
    sys.path.insert(1, str(HERE.parent / "src"))

from harness import machine, procs, report  # noqa: E402
from harness.s3client import S3Client, make_payloads, make_signer, new_session  # noqa: E402
from harness.workloads import Measure, Plan, get_phase, list_load, put_phase  # noqa: E402

AK, SK, REGION = "benchak", "benchsecretkey0123456789", "us-east-1"
PHASES = [
    ("put_small", "PUT 4 KiB, 32 streams"),
    ("put_small_128", "PUT 4 KiB, 128 streams"),
    ("get_small", "GET 4 KiB, 32 streams"),
    ("list_load", "load keys (PUT 0 B, 64 streams)"),
    ("list", "ListObjectsV2, 1000/page"),
    ("list_delim", "ListObjectsV2 delimiter=/, 1000/page"),
]
GOALS = {"put_small": 1.5, "put_small_128": 1.5, "get_small": 2.0, "list_load": 1.5, "list": 1.5,
         "list_delim": 1.5}


def start_limit(work: Path, workers: int) -> procs.Server:
    data = work / "limit"
    import shutil
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    port = procs.free_port()
    argv = [sys.executable, str(HERE / "harness" / "limit_server.py"), "--address", f"127.0.0.1:{port}",
            "--data", str(data / "log"), "--workers", str(workers)]
    proc = procs.Proc("limit", argv, data / "server.log")
    proc.start(cwd=data)
    server = procs.Server("limit", f"http://127.0.0.1:{port}", "bench", True, [proc], data)
    try:
        procs.wait_http(proc, f"{server.base}/health/ready", timeout=30)
    except BaseException:
        server.stop(keep_data=True)
        raise
    return server


async def list_pass(c: S3Client, prefix: str, expected: int, delimiter: str | None, repeats: int) -> Measure:
    best: Measure | None = None
    for _ in range(repeats):
        m = Measure(unit="keys/s")
        t0 = time.perf_counter()
        try:
            keys, pages = await asyncio.wait_for(c.list_all(prefix, 1000, delimiter=delimiter), timeout=300)
        except Exception as e:
            m.errors, m.first_error = 1, f"{e.__class__.__name__}: {e}"[:400]
            m.seconds = time.perf_counter() - t0
            return m
        m.seconds = time.perf_counter() - t0
        m.ops = keys
        m.extra.update(pages=pages, passes=repeats)
        if keys != expected:
            m.errors, m.first_error = 1, f"listed {keys} keys, expected {expected}"
        if best is None or m.seconds < best.seconds:
            best = m
    assert best is not None
    return best


class SmallRun:
    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.plan = Plan(duration=a.duration, list_keys=a.keys)
        self.sign, _ = make_signer(AK, SK, REGION)
        self.small = make_payloads(4096, 64, seed=2)
        self.rounds: list[dict[str, dict[str, dict]]] = []
        self.load: list[str] = []
        self.profiles: dict[str, str] = {}

    def log(self, msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    async def phase(self, server: procs.Server, name: str, coro) -> object:
        sampler = None
        if self.a.profile and server.name == "coffer" and name in ("put_small", "get_small", "list_load"):
            out = self.a.work_dir / "profiles" / f"small-{name}.txt"
            sampler = machine.Sampler(server.procs[0].pid, out, min(8.0, self.a.duration), gil=True)
            await sampler.start()
        pgid = server.procs[0].pid
        cpu0 = procs.group_cpu_seconds(pgid)
        m = await coro
        measure = m[0] if isinstance(m, tuple) else m
        passes = int(measure.extra.get("passes", 1))
        measure.extra["server_cpu_s"] = round((procs.group_cpu_seconds(pgid) - cpu0) / passes, 3)
        measure.latencies.sort()
        s = measure.summary()
        s["load1"] = machine.load_average().split()[0]
        self.rounds[-1].setdefault(server.name, {})[name] = s
        if sampler is not None:
            self.profiles[name] = await sampler.result()
        lat = f" p50 {s['p50_ms']} ms p99 {s['p99_ms']} ms" if s.get("p99_ms") is not None else ""
        err = f", {s['errors']} errors: {s['first_error']}" if s["errors"] else ""
        self.log(f"  {server.name:10s} {name:14s} {s['value']:>10,.1f} {s['unit']:6s}{lat}{err}")
        return m

    async def target(self, server: procs.Server) -> None:
        from run import ensure_bucket  # the same readiness dance as the main run

        p, d = self.plan, self.a.duration
        async with new_session(4) as s:
            c = S3Client(s, server.base, server.bucket, self.sign)
            if server.name == "limit":
                await c.create_bucket()
            else:
                await ensure_bucket(c, self.small[0])
        async with new_session(32) as s:
            c = S3Client(s, server.base, server.bucket, self.sign)
            _, keys = await self.phase(server, "put_small", put_phase(c, "small", self.small, 32, d,
                                                                     p.small_max_ops, "ops/s"))
            await self.phase(server, "get_small", get_phase(c, keys, 4096, 32, d, p.small_max_ops, "ops/s"))
        async with new_session(128) as s:
            c = S3Client(s, server.base, server.bucket, self.sign)
            await self.phase(server, "put_small_128", put_phase(c, "c128", self.small, 128, d,
                                                               p.small_max_ops, "ops/s"))
        async with new_session(64) as s:
            c = S3Client(s, server.base, server.bucket, self.sign)
            _, stored = await self.phase(server, "list_load", list_load(c, p))
            if server.name != "limit":
                await self.phase(server, "list", list_pass(c, "list/", stored, None, self.a.list_repeats))
                await self.phase(server, "list_delim", list_pass(c, "list/", stored, "/", self.a.list_repeats))

    async def one(self, name: str, start) -> None:
        self.log(f"starting {name}")
        try:
            server = await asyncio.to_thread(start)
        except procs.StartError as e:
            self.log(f"{name} did not start: {e}")
            return
        try:
            await self.target(server)
        finally:
            server.stop(keep_data=self.a.keep_data)
            self.log(f"stopped {name}")

    async def main(self) -> None:
        work, w = self.a.work_dir, self.a.workers
        starts = {
            "coffer": lambda: procs.start_coffer(work, AK, SK, w, None, "coffer"),
            "seaweedfs": lambda: procs.start_seaweedfs(work, AK, SK),
            "limit": lambda: start_limit(work, w),
        }
        if self.a.baseline_src:  # the same phases against another checkout's src/, e.g. main's
            starts["coffer-base"] = lambda: procs.start_coffer(work, AK, SK, w, None, "coffer-base",
                                                               self.a.baseline_src)
        for i in range(self.a.rounds):
            self.log(f"round {i + 1} of {self.a.rounds}, load {machine.load_average()}")
            self.load.append(machine.load_average())
            self.rounds.append({})
            for t in self.a.targets:
                await self.one(t, starts[t])
        self.load.append(machine.load_average())


def paired_ratios(rounds: list[dict], phase: str, a: str = "coffer", b: str = "seaweedfs") -> list[float]:
    out = []
    for r in rounds:
        x, y = r.get(a, {}).get(phase), r.get(b, {}).get(phase)
        if x and y and not x.get("errors") and not y.get("errors") and y.get("value"):
            out.append(x["value"] / y["value"])
    return out


def lat(s: dict | None) -> str:
    if not s or s.get("p99_ms") is None or s.get("unit") != "ops/s":
        return ""
    return f"{s['p50_ms']} / {s['p99_ms']}"


def render(run: SmallRun, argv: list[str]) -> str:
    a = run.a
    best = report.best(run.rounds)
    facts = machine.machine_facts(a.work_dir)
    lines = [f"### small: {time.strftime('%Y-%m-%d %H:%M')} ({a.rounds} round(s), {a.keys} keys, "
             f"{a.duration:g} s phases, --workers {a.workers})", ""]
    lines += [f"- {k}: {v}" for k, v in facts.items() if k in ("cpu", "cores", "disk (work dir)", "weed",
                                                             "coffer commit", "python")]
    lines.append(f"- load average 1/5/15 min at each round's start, and the end: {' | '.join(run.load)}")
    lines += ["", "```sh", f".venv/bin/python bench/small.py {' '.join(argv)}".rstrip(), "```", ""]
    base = any("coffer-base" in r for r in run.rounds)
    head = ["workload", "coffer (best)", "seaweedfs (best)", "ratio of bests", "paired ratios (median)",
            "goal", "limit (PUT: append+fdatasync; GET: from memory)", "coffer/limit", "limit/seaweedfs",
            "p50 / p99 ms coffer", "p50 / p99 ms seaweedfs"]
    rows = []
    for ph, title in PHASES:
        c, s, lim = (best.get(t, {}).get(ph) for t in ("coffer", "seaweedfs", "limit"))
        cv, sv, lv = (report.value(best, t, ph) for t in ("coffer", "seaweedfs", "limit"))
        pr = paired_ratios(run.rounds, ph)
        med = statistics.median(pr) if pr else None
        need = GOALS.get(ph)
        verdict = "" if med is None or need is None else (f"≥{need}×: " + ("PASS" if med >= need else "FAIL"))
        rows.append([title, report.cell(best, "coffer", ph), report.cell(best, "seaweedfs", ph),
                     report.fmt_ratio(report.ratio(cv, sv)),
                     (", ".join(f"{r:.2f}" for r in pr) + f" ({med:.2f}×)") if pr else "—", verdict,
                     report.cell(best, "limit", ph) if lim else "—",
                     report.fmt_ratio(report.ratio(cv, lv)) if lim else "—",
                     report.fmt_ratio(report.ratio(lv, sv)) if lim else "—", lat(c), lat(s)])
        if base:
            bp = paired_ratios(run.rounds, ph, "coffer", "coffer-base")
            rows[-1] += [report.cell(best, "coffer-base", ph),
                         (", ".join(f"{r:.2f}" for r in bp) + f" ({statistics.median(bp):.2f}×)") if bp else "—"]
    if base:
        head += ["coffer-base (best)", "coffer/coffer-base paired (median)"]
    lines.append(report.md_table(head, rows))
    cpu_rows = []
    for ph, title in PHASES:
        per = [report.per_unit(best.get(t, {}).get(ph)) for t in ("coffer", "seaweedfs")]
        if any(per):
            cpu_rows.append([title] + [f"{x:.3f}" if x else "—" for x in per]
                            + [report.fmt_ratio(report.ratio(per[0], per[1]))])
    lines += ["", "Server CPU per operation (ms; keys for listings), best rounds:", "",
              report.md_table(["workload", "coffer", "seaweedfs", "coffer/seaweedfs"], cpu_rows)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", default="coffer,seaweedfs,limit")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--keys", type=int, default=100_000)
    p.add_argument("--list-repeats", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--baseline-src", type=Path, default=None,
                   help="also run target coffer-base from this src/ folder (A/B against another commit)")
    p.add_argument("--profile", action="store_true",
                   help="py-spy --gil the Coffer server during put_small, get_small and list_load")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--work-dir", type=Path, default=HERE / "work")
    p.add_argument("--keep-data", action="store_true")
    p.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    p.add_argument("--section", default="small")
    p.add_argument("--no-write", action="store_true")
    used = list(argv if argv is not None else sys.argv[1:])
    a = p.parse_args(used)
    a.targets = [t for t in a.targets.split(",") if t]
    if a.baseline_src and "coffer-base" not in a.targets:
        a.targets.insert(0, "coffer-base")
    if a.quick:
        a.duration, a.keys, a.rounds, a.list_repeats = 1.5, 2000, 1, 1
    a.work_dir.mkdir(parents=True, exist_ok=True)
    run = SmallRun(a)
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        runner(run.main())
    except KeyboardInterrupt:
        run.log("interrupted: results left alone")
        return 130
    finally:
        procs.stop_all()
    (a.work_dir / "small.json").write_text(json.dumps({"rounds": run.rounds, "load": run.load}, indent=1))
    text = render(run, used)
    for name, prof in run.profiles.items():
        print(f"\n--- coffer {name}: Python work holding the GIL (py-spy --gil) ---\n{prof}")
    print(text)
    if not a.no_write:
        report.update_results_md(a.results, a.section, text)
        run.log(f"wrote {a.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
