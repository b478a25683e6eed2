"""`coffer cp` against `aws s3 cp` on the same Coffer server: one big file and many small files,
each way, both CLIs at their defaults (8 MiB parts, 10 concurrent requests), as a user runs them.

    PYTHONPATH=src .venv/bin/python bench/cli_bench.py                 # 1 GiB, 10,000 x 4 KiB
    PYTHONPATH=src .venv/bin/python bench/cli_bench.py --big-mib 256 --files 2000

Each CLI runs as a subprocess (start-up included, as a user pays it); each case runs ``--rounds``
times alternating which CLI goes first, and the best round of each counts (others' load on a shared
machine only ever slows a round down). Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sdk_bench import start_coffer

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--file-size", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cli-bench-"))
    proc, url, ak, sk = start_coffer(work)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COFFER_CONFIG_DIR": str(work / "cfg"),
           "AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk, "AWS_DEFAULT_REGION": "us-east-1"}
    aws = [str(Path(sys.executable).parent / "aws"), "--endpoint-url", url]
    coffer = [sys.executable, "-m", "coffer.cli.main"]

    def sh(cmd: list[str]) -> float:
        t = time.perf_counter()
        subprocess.run(cmd, env=env, cwd=work, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t

    try:
        sh([*coffer, "alias", "set", "b", url, ak, sk])
        sh([*coffer, "mb", "b/bench"])
        big = work / "big.bin"
        with open(big, "wb") as f:
            for _ in range(args.big_mib):
                f.write(os.urandom(MiB))
        small = work / "small"
        small.mkdir()
        for i in range(args.files):
            (small / f"f{i:05d}.bin").write_bytes(os.urandom(args.file_size))
        cases = {
            f"upload {args.big_mib} MiB file": (
                [*coffer, "-q", "cp", "big.bin", "b/bench/c/big.bin"],
                [*aws, "s3", "cp", "--only-show-errors", "big.bin", "s3://bench/a/big.bin"]),
            f"download {args.big_mib} MiB file": (
                [*coffer, "-q", "cp", "b/bench/c/big.bin", "down-c.bin"],
                [*aws, "s3", "cp", "--only-show-errors", "s3://bench/a/big.bin", "down-a.bin"]),
            f"upload {args.files} x {args.file_size // 1024} KiB files": (
                [*coffer, "-q", "cp", "-r", "small", "b/bench/cs/"],
                [*aws, "s3", "cp", "--only-show-errors", "--recursive", "small", "s3://bench/as/"]),
            f"download {args.files} x {args.file_size // 1024} KiB files": (
                [*coffer, "-q", "cp", "-r", "b/bench/cs/", "dc/"],
                [*aws, "s3", "cp", "--only-show-errors", "--recursive", "s3://bench/as/", "da/"]),
        }
        rows = []
        for name, (ours, theirs) in cases.items():
            best_c = best_a = float("inf")
            for r in range(args.rounds):
                order = [(ours, "c"), (theirs, "a")] if r % 2 == 0 else [(theirs, "a"), (ours, "c")]
                for cmd, who in order:
                    for d in ("dc", "da"):
                        shutil.rmtree(work / d, ignore_errors=True)
                    dt = sh(cmd)
                    if who == "c":
                        best_c = min(best_c, dt)
                    else:
                        best_a = min(best_a, dt)
            rows.append((name, best_c, best_a))
            print(f"{name}: coffer {best_c:.2f} s, aws {best_a:.2f} s", file=sys.stderr)
        load = os.getloadavg()
        print(f"\nMachine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python "
              f"{platform.python_version()}, loopback, one `coffer serve` (default workers); load average "
              f"{load[0]:.1f} at the end; best of {args.rounds} rounds.\n")
        print("| transfer | coffer cp | aws s3 cp | speed-up |\n|---|---|---|---|")
        for name, c, a in rows:
            print(f"| {name} | {c:.2f} s | {a:.2f} s | {a / c:.2f}x |")
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
