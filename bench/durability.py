"""What an acknowledged small PUT has cost on disk: fsync-family system calls per 1,000 PUTs, per target.

The small-object ratios (`small.py`) compare servers that may promise different things. Coffer answers a
PUT only after its metadata commit (and, above the inline size, its data) is fdatasync'ed; this script
shows what each target actually does, by counting with strace the `fsync`, `fdatasync`, `sync_file_range`,
`msync`, `sync` and `syncfs` calls all its processes and threads make while a fixed number of 4 KiB PUTs
are answered, and by listing the open flags (O_SYNC / O_DSYNC, which would make plain writes durable
without those calls) of the files the server holds open in its data folder.

    .venv/bin/python bench/durability.py                       # coffer, seaweedfs, limit; 2,000 PUTs
    .venv/bin/python bench/durability.py --targets seaweedfs --puts 5000

Needs strace (Debian: `apt-get install strace`) and permission to trace (root, or ptrace_scope 0).
Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import procs
from harness.s3client import Payload, S3Client, make_signer, new_session
from harness.workloads import run_streams
from small import start_limit

AK, SK, REGION = "benchak", "benchsecretkey0123456789", "us-east-1"
SYNC_CALLS = "fsync,fdatasync,sync_file_range,msync,sync,syncfs"
O_DSYNC, O_SYNC = 0o10000, 0o4010000


def count_syncs(strace_out: Path) -> dict[str, int]:
    """The `calls` column of strace -c's table, by system call."""
    calls: dict[str, int] = {}
    for line in strace_out.read_text(errors="replace").splitlines():
        parts = line.split()  # % time, seconds, usecs/call, calls, [errors,] syscall
        if len(parts) >= 5 and parts[-1] in SYNC_CALLS.split(","):
            calls[parts[-1]] = int(parts[3])
    return calls


def sync_flagged_files(pids: list[int], data: Path) -> tuple[int, int]:
    """(files open under the data folder, of which opened O_SYNC or O_DSYNC)."""
    seen = flagged = 0
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
            except OSError:
                continue
            if not target.startswith(str(data)):
                continue
            flags = int(info.split("flags:")[1].split()[0], 8)
            seen += 1
            flagged += bool(flags & O_DSYNC)
    return seen, flagged


async def one(name: str, server: procs.Server, puts: int, streams: int, work: Path) -> list[str]:
    sign, _ = make_signer(AK, SK, REGION)
    async with new_session(streams) as s:
        c = S3Client(s, server.base, server.bucket, sign)
        if name == "limit":
            await c.create_bucket()
        else:
            from run import ensure_bucket

            await ensure_bucket(c, Payload.of(b"x" * 4096))
        pids = procs.group_members(server.procs[0].pid)
        out = work / f"{name}.strace"
        tracer = subprocess.Popen(["strace", "-f", "-c", "-e", f"trace={SYNC_CALLS}", "-o", str(out),
                                   *[a for p in pids for a in ("-p", str(p))]],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.0)  # attached to every thread before the first PUT
        payload = Payload.of(os.urandom(4096))
        m = await run_streams(lambda _s, i: c.put(f"durable/{i:07d}", payload), streams, 600, puts)
        time.sleep(0.5)
        tracer.terminate()
        tracer.wait(30)
        files, flagged = sync_flagged_files(pids, server.data_dir or work)
    calls = count_syncs(out)
    total = sum(calls.values())
    what = ", ".join(f"{k} {v}" for k, v in sorted(calls.items())) or "none"
    return [name, f"{m.ops:,}", f"{m.errors}", what, f"{1000 * total / max(m.ops, 1):,.0f}",
            f"{flagged} of {files}"]


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default="coffer,seaweedfs,limit")
    ap.add_argument("--puts", type=int, default=2000)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    if not shutil.which("strace"):
        raise SystemExit("strace is not installed (Debian: apt-get install strace)")
    work = Path(tempfile.mkdtemp(prefix="durability-"))
    starts = {
        "coffer": lambda: procs.start_coffer(work, AK, SK, a.workers, None, "coffer"),
        "seaweedfs": lambda: procs.start_seaweedfs(work, AK, SK),
        "limit": lambda: start_limit(work, a.workers),
    }
    rows = []
    try:
        for name in a.targets.split(","):
            server = starts[name]()
            try:
                rows.append(await one(name, server, a.puts, a.streams, work))
            finally:
                server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    head = ["target", "4 KiB PUTs answered", "errors", "fsync-family calls (strace -c)", "per 1,000 PUTs",
            "data files open O_SYNC/O_DSYNC"]
    print(f"| {' | '.join(head)} |\n|{'---|' * len(head)}")
    for r in rows:
        print(f"| {' | '.join(r)} |")


if __name__ == "__main__":
    asyncio.run(main())
