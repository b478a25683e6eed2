"""Where a Python server's time goes during a workload: py-spy sampling of the server's processes.

py-spy is optional (`pip install py-spy`); without it, or without ptrace rights, profiling reports why it
could not run instead of failing the benchmark.  Sampling runs beside the measurement (non-blocking, so the
server is never paused), which is why run.py only profiles when asked to: the sampler costs some CPU.

The collapsed ("raw") stacks py-spy writes are folded here into two small tables: functions by own time
(the leaf frame) and by inclusive time, as a share of the samples taken while a thread was busy.
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from pathlib import Path

from .procs import VENV_BIN


def py_spy_path() -> str | None:
    local = VENV_BIN / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def _short(frame: str) -> str:
    """`handle (coffer/server/http/app.py:123)` -> `handle (http/app.py)`: the line number splits one
    function into many rows, and the folder prefix adds nothing."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    parts = path.split("/")
    return f"{name} ({'/'.join(parts[-2:])})" if path else name


def fold(raw: str, top: int = 12) -> tuple[int, list[tuple[str, float]], list[tuple[str, float]]]:
    """(samples, [(function, own %)], [(function, inclusive %)]) from py-spy raw output.  Lines that do
    not end in a sample count are skipped: the file comes from another program."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_short(f) for f in stack.split(";") if f]
        # py-spy puts "process NNN:..." and "thread (0x...)" frames first: not functions
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    if not total:
        return 0, [], []

    def pct(c: Counter[str]) -> list[tuple[str, float]]:
        return [(f, 100 * n / total) for f, n in c.most_common(top)]

    return total, pct(own), pct(incl)


def render(raw: str, seconds: float, rate: int) -> str:
    total, own, incl = fold(raw)
    if not total:
        return "no samples (the server was idle, or py-spy could not read it)"
    busy = total / (seconds * rate)
    lines = [f"{total} busy samples in {seconds:.0f} s at {rate} Hz ≈ {busy:.2f} busy threads on average", "",
             "own time:"]
    lines += [f"  {p:5.1f}%  {f}" for f, p in own]
    lines += ["", "inclusive time:"]
    lines += [f"  {p:5.1f}%  {f}" for f, p in incl]
    return "\n".join(lines)


class Sampler:
    """Sample one process tree for `seconds` in the background; `result()` waits and summarises."""

    def __init__(self, pid: int, out: Path, seconds: float, rate: int = 100) -> None:
        self.pid, self.out, self.seconds, self.rate = pid, out, seconds, rate
        self.proc: asyncio.subprocess.Process | None = None
        self.error: str | None = None

    async def start(self) -> None:
        exe = py_spy_path()
        if exe is None:
            self.error = "py-spy is not installed (.venv/bin/pip install py-spy)"
            return
        self.out.parent.mkdir(parents=True, exist_ok=True)
        argv = [exe, "record", "--pid", str(self.pid), "--subprocesses", "--nonblocking", "--format", "raw",
                "--rate", str(self.rate), "--duration", str(max(1, int(self.seconds))), "--output", str(self.out)]
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
