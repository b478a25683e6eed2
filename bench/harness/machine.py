"""The machine side of the benchmark: what the machine is (for the report), what its disk can do (the
PUT limit), and where a server's CPU goes during a workload (py-spy sampling).

The disk baseline is the rate a plain program reaches writing durably into the same filesystem as the
servers' data: 1 MiB writes into 64 MiB files, fdatasync per file and at the end — the same durability
an object store owes for each acknowledged large PUT.

py-spy is optional (`pip install py-spy`); without it, or without ptrace rights, the sampler reports why
it could not run instead of failing the benchmark.  It samples beside the measurement (non-blocking, so
the server is never paused) and costs some CPU, which is why run.py only profiles when asked to.  Its
collapsed ("raw") stacks are folded into functions by own time (the leaf frame) and by inclusive time,
as a share of the samples taken while a thread was busy.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from .procs import REPO, VENV_BIN, tool_version

MiB = 1 << 20


def disk_write_rate(folder: Path, total: int = 1024 * MiB, min_seconds: float = 0.0,
                    max_total: int = 16 * 1024 * MiB, file_size: int = 64 * MiB,
                    block: int = MiB) -> dict[str, float]:
    """Write files of `file_size` in `block` writes, fdatasync each, until at least `total` bytes and
    `min_seconds` have gone by (never more than `max_total`); MiB/s over the whole.

    The time floor exists because a virtual disk absorbs a short burst in its host's cache: 1 GiB has
    been measured here at 220 and at 1,336 MiB/s minutes apart, while a PUT phase writes for several
    seconds; the same duration makes the two comparable."""
    folder.mkdir(parents=True, exist_ok=True)
    buf = os.urandom(block)
    written = 0
    files = []
    t0 = time.perf_counter()

    def more() -> bool:
        elapsed = time.perf_counter() - t0
        return written < total or (elapsed < min_seconds and written < max_total)

    try:
        while more():
            path = folder / f"disk-{len(files):04d}.bin"
            files.append(path)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                n = 0
                while n < file_size:
                    n += os.write(fd, buf)
                os.fdatasync(fd)
            finally:
                os.close(fd)
            written += n
        # and the directory entries, as a store must for a new object to survive a crash
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        seconds = time.perf_counter() - t0
    finally:
        for f in files:
            f.unlink(missing_ok=True)
    return {"value": round(written / MiB / seconds, 2), "unit": "MiB/s", "bytes": written,
            "seconds": round(seconds, 3), "errors": 0}


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def mem_total() -> str:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            kib = int(line.split()[1])
            return f"{kib / (1 << 20):.1f} GiB"
    return "unknown"


def disk_info(folder: Path) -> str:
    try:
        out = subprocess.run(["findmnt", "-n", "-T", str(folder), "-o", "SOURCE,FSTYPE"], capture_output=True,
                             text=True, timeout=10).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        out = []
    source, fstype = [*out, "?", "?"][:2]
    kind = ""
    dev = Path(source).name
    rot = _read(f"/sys/block/{dev}/queue/rotational").strip()
    if rot:
        # virtual disks often claim to be rotational whatever backs them: say who says so
        kind = ", kernel reports rotational" if rot == "1" else ", kernel reports non-rotational"
    usage = shutil.disk_usage(folder)
    return f"{source} ({fstype}{kind}), {usage.total / 2**30:.0f} GiB, {usage.free / 2**30:.0f} GiB free"


def _pkg(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() + (" (src/ has uncommitted changes)" if dirty else "")


def machine_facts(work: Path, nginx: str = "nginx") -> dict[str, str]:
    weed = str(VENV_BIN / "weed")
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": mem_total(),
        "disk (work dir)": disk_info(work),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "weed": tool_version([weed, "version"]),
        "nginx": tool_version([nginx, "-v"]),
        "aiohttp": _pkg("aiohttp"),
        "uvloop": _pkg("uvloop"),
        "coffer commit": git_commit(),
    }


def load_average() -> str:
    """1/5/15-minute load averages: on a shared machine, how much else was running."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


# --- where the server's time goes -------------------------------------------------------------------


def py_spy_path() -> str | None:
    local = VENV_BIN / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


# Leaf frames where a sampled thread is almost surely waiting, not working: py-spy's idle check misses
# threads blocked inside these calls, and counting them as work would make every server look busy.
WAITING = frozenset({
    "EpollSelector.select (selectors.py)", "_worker (futures/thread.py)", "_supervise (server/runner.py)",
    "Condition.wait (threading.py)", "Event.wait (threading.py)", "Queue.get (queue.py)",
    "SimpleQueue.get (queue.py)", "Thread._wait_for_tstate_lock (threading.py)",
})
# Frames that are on every stack of a Coffer process (start-up and supervision): no information.
_PLUMBING = ("coffer/entry.py", "coffer/__main__.py", "server/cli.py", "server/runner.py")


def _short(frame: str) -> tuple[str, bool]:
    """`handle (/x/src/coffer/server/http/app.py:123)` -> (`handle (http/app.py)`, is it Coffer's own
    code?): the line number splits one function into many rows, and the folder prefix adds nothing."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    ours = "/coffer/" in "/" + path and not path.endswith(_PLUMBING)
    return (f"{name} ({'/'.join(path.split('/')[-2:])})" if path else name), ours


@dataclass
class Folded:
    samples: int = 0
    waiting: int = 0
    own: list[tuple[str, float]] = field(default_factory=list)  # leaf function, % of working samples
    coffer: list[tuple[str, float]] = field(default_factory=list)  # Coffer function, inclusive %


def fold(raw: str, top: int = 12) -> Folded:
    """Fold py-spy raw output (`frame;frame;... COUNT` per line).  Lines that do not end in a sample
    count are skipped: the file comes from another program and is read defensively."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    out = Folded()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        # py-spy puts "process NNN:..." and "thread (0x...)" frames first: not functions
        frames = [_short(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        out.samples += n
        if frames[-1][0] in WAITING:
            out.waiting += n
            continue
        own[frames[-1][0]] += n
        for name in {f for f, ours in frames if ours}:
            incl[name] += n
    working = out.samples - out.waiting
    if working:
        out.own = [(f, 100 * n / working) for f, n in own.most_common(top)]
        out.coffer = [(f, 100 * n / working) for f, n in incl.most_common(top)]
    return out


def render(raw: str, seconds: float, rate: int) -> str:
    f = fold(raw)
    working = f.samples - f.waiting
    if not working:
        return "no working samples (the server was idle, or py-spy could not read it)"
    lines = [f"{working} working samples in {seconds:.0f} s at {rate} Hz ≈ {working / (seconds * rate):.2f} "
             f"threads busy on average ({f.waiting} more samples were threads waiting)", "",
             "own time (leaf function, % of working samples):"]
    lines += [f"  {p:5.1f}%  {name}" for name, p in f.own]
    lines += ["", "inclusive time in Coffer's code:"]
    lines += [f"  {p:5.1f}%  {name}" for name, p in f.coffer]
    return "\n".join(lines)


class Sampler:
    """Sample one process tree for `seconds` in the background; `result()` waits and summarises."""

    def __init__(self, pid: int, out: Path, seconds: float, rate: int = 100, gil: bool = False) -> None:
        """gil=True samples only the thread holding the GIL: Python's CPU work, without the time
        threads spend in fsync, sleeps or lock waits."""
        self.pid, self.out, self.seconds, self.rate, self.gil = pid, out, seconds, rate, gil
        self.proc: asyncio.subprocess.Process | None = None
        self.error: str | None = None

    async def start(self) -> None:
        exe = py_spy_path()
        if exe is None:
            self.error = "py-spy is not installed (.venv/bin/pip install py-spy)"
            return
        self.out.parent.mkdir(parents=True, exist_ok=True)
        argv = [exe, "record", "--pid", str(self.pid), "--subprocesses", "--nonblocking", "--format", "raw",
                "--rate", str(self.rate), "--duration", str(max(1, int(self.seconds))),
                "--output", str(self.out)] + (["--gil"] if self.gil else [])
        self.proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                         stderr=asyncio.subprocess.PIPE)

    async def result(self) -> str:
        if self.proc is None:
            return self.error or "not sampled"
        try:
            _, err = await asyncio.wait_for(self.proc.communicate(), timeout=self.seconds + 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            return "py-spy did not finish in time"
        if not self.out.exists():
            return f"py-spy failed: {err.decode(errors='replace').strip()[-300:]}"
        return render(self.out.read_text(errors="replace"), self.seconds, self.rate)
