"""What the machine is (for the report) and what its disk can do (the PUT limit).

The disk baseline is the rate a plain program reaches writing durably into the same filesystem as the
servers' data: 1 MiB writes into 64 MiB files, fdatasync per file and at the end — the same durability
an object store owes for each acknowledged large PUT.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from .procs import REPO, VENV_BIN, tool_version

MiB = 1 << 20


def disk_write_rate(folder: Path, total: int = 1024 * MiB, file_size: int = 64 * MiB,
                    block: int = MiB) -> dict[str, float]:
    """Write `total` bytes as files of `file_size` in `block` writes, fdatasync each file; MiB/s."""
    folder.mkdir(parents=True, exist_ok=True)
    buf = os.urandom(block)
    written = 0
    files = []
    t0 = time.perf_counter()
    try:
        i = 0
        while written < total:
            path = folder / f"disk-{i:04d}.bin"
            files.append(path)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                n = 0
                while n < file_size and written < total:
                    n += os.write(fd, buf)
                    written += block
                os.fdatasync(fd)
            finally:
                os.close(fd)
            i += 1
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
    source, fstype = (out + ["?", "?"])[:2]
    kind = ""
    dev = Path(source).name
    rot = _read(f"/sys/block/{dev}/queue/rotational").strip()
    if rot:
        kind = ", rotational" if rot == "1" else ", non-rotational"
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
    load = os.getloadavg()
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
        "load average at start": " ".join(f"{x:.2f}" for x in load),
    }
