"""`coffer cp` against `aws s3 cp` and `rclone` on the same Coffer server: one big file and many small
files, each way, as a user runs them, all three at the same concurrency (8 MiB parts, 10 concurrent
requests: the coffer and aws defaults; rclone is given them, see RCLONE_FLAGS).

    PYTHONPATH=src .venv/bin/python bench/cli_bench.py                 # 1 GiB, 10,000 x 4 KiB
    PYTHONPATH=src .venv/bin/python bench/cli_bench.py --big-mib 256 --files 2000

Each CLI runs as a subprocess (start-up included, as a user pays it); each case runs ``--rounds``
times rotating which CLI goes first, and the best round of each counts (others' load on a shared
machine only ever slows a round down). rclone (``--rclone``, default ``rclone`` on PATH; skipped
when missing) reaches the server through an S3 remote made of environment variables
(``RCLONE_CONFIG_B_TYPE=s3`` ...), no config file; it uploads to a fresh prefix each round, since it
would skip files already there. Every run starts after an (untimed) ``os.sync()``, so none pays for
writing back an earlier run's files; Coffer's sources are byte-compiled first, as ``pip install``
does. Prints a Markdown table for bench/RESULTS.md.
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
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sdk_bench import start_coffer

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024


# rclone's defaults are 4 transfers, 4 part uploads per file, 5 MiB parts and 4 download streams
# above 250 MiB; these give it the concurrency and part size the other two use by default.
RCLONE_FLAGS = ["--transfers", "10", "--checkers", "10", "--s3-upload-concurrency", "10", "--s3-chunk-size", "8M",
                "--multi-thread-streams", "10", "--multi-thread-cutoff", "8M"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--file-size", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rclone", default=shutil.which("rclone") or "")
    args = ap.parse_args()
    # Byte-compile Coffer's sources first, as `pip install` does for a user (an editable checkout with
    # PYTHONDONTWRITEBYTECODE set would compile every module on every start, ~50 ms per command).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "coffer")], check=True,
                   stdout=subprocess.DEVNULL)
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="cli-bench-"))
    proc, url, ak, sk = start_coffer(work)
    # A CA bundle from the environment makes rclone's AWS SDK refuse its own transport; loopback is plain HTTP.
    env = {**{k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"},
           "PYTHONPATH": str(ROOT / "src"), "COFFER_CONFIG_DIR": str(work / "cfg"),
           "AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk, "AWS_DEFAULT_REGION": "us-east-1",
           "RCLONE_CONFIG": str(work / "rclone.conf"), "RCLONE_CONFIG_B_TYPE": "s3",
           "RCLONE_CONFIG_B_PROVIDER": "Other", "RCLONE_CONFIG_B_ENDPOINT": url,
           "RCLONE_CONFIG_B_ACCESS_KEY_ID": ak, "RCLONE_CONFIG_B_SECRET_ACCESS_KEY": sk,
           "RCLONE_CONFIG_B_REGION": "us-east-1", "RCLONE_CONFIG_B_FORCE_PATH_STYLE": "true"}
    aws = [str(Path(sys.executable).parent / "aws"), "--endpoint-url", url]
    coffer = [sys.executable, "-m", "coffer.cli.main"]
    rclone = [args.rclone, "-q", *RCLONE_FLAGS] if args.rclone else []
    tools = ["coffer cp", "aws s3 cp"] + (["rclone"] if rclone else [])

    def sh(cmd: list[str]) -> float:
        t = time.perf_counter()
        done = subprocess.run(cmd, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if done.returncode:
            raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
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
        many = f"{args.files} x {args.file_size // 1024} KiB files"
        # case -> tool -> round -> command
        cases: dict[str, dict[str, Callable[[int], list[str]]]] = {
            f"upload {args.big_mib} MiB file": {
                "coffer cp": lambda r: [*coffer, "-q", "cp", "big.bin", "b/bench/c/big.bin"],
                "aws s3 cp": lambda r: [*aws, "s3", "cp", "--only-show-errors", "big.bin", "s3://bench/a/big.bin"],
                "rclone": lambda r: [*rclone, "copyto", "big.bin", f"b:bench/r{r}/big.bin"]},
            f"download {args.big_mib} MiB file": {
                "coffer cp": lambda r: [*coffer, "-q", "cp", "b/bench/c/big.bin", "down-c.bin"],
                "aws s3 cp": lambda r: [*aws, "s3", "cp", "--only-show-errors", "s3://bench/a/big.bin", "down-a.bin"],
                "rclone": lambda r: [*rclone, "copyto", "b:bench/r0/big.bin", "down-r.bin"]},
            f"upload {many}": {
                "coffer cp": lambda r: [*coffer, "-q", "cp", "-r", "small", "b/bench/cs/"],
                "aws s3 cp": lambda r: [*aws, "s3", "cp", "--only-show-errors", "--recursive", "small",
                                        "s3://bench/as/"],
                "rclone": lambda r: [*rclone, "copy", "small", f"b:bench/rs{r}/"]},
            f"download {many}": {
                "coffer cp": lambda r: [*coffer, "-q", "cp", "-r", "b/bench/cs/", "dc/"],
                "aws s3 cp": lambda r: [*aws, "s3", "cp", "--only-show-errors", "--recursive", "s3://bench/as/",
                                        "da/"],
                "rclone": lambda r: [*rclone, "copy", "b:bench/rs0/", "dr/"]},
        }
        suffix = {"coffer cp": "c", "aws s3 cp": "a", "rclone": "r"}

        def check(case: str, who: str) -> None:
            """A download that came back short is a failed run, not a fast one."""
            if case.startswith("download") and case.endswith("file"):
                got = (work / f"down-{suffix[who]}.bin").stat().st_size
                if got != args.big_mib * MiB:
                    raise SystemExit(f"{who}: downloaded {got} bytes of {args.big_mib * MiB}")
            elif case.startswith("download"):
                got = sum(1 for p in (work / f"d{suffix[who]}").rglob("*") if p.is_file())
                if got != args.files:
                    raise SystemExit(f"{who}: downloaded {got} files of {args.files}")

        rows = []
        for name, cmds in cases.items():
            best = {t: float("inf") for t in tools}
            seen: dict[str, list[float]] = {t: [] for t in tools}
            for r in range(args.rounds):
                order = tools[r % len(tools):] + tools[:r % len(tools)]
                for who in order:
                    for d in ("dc", "da", "dr"):
                        shutil.rmtree(work / d, ignore_errors=True)
                    for f in ("down-c.bin", "down-a.bin", "down-r.bin"):
                        (work / f).unlink(missing_ok=True)
                    os.sync()  # untimed: no run pays for the write-back of an earlier one's files
                    seen[who].append(sh(cmds[who](r)))
                    best[who] = min(seen[who])
                    check(name, who)
            rows.append((name, best))
            print(f"{name}: " + ", ".join(f"{t} {best[t]:.2f} s (rounds: {' '.join(f'{s:.2f}' for s in seen[t])})"
                                          for t in tools), file=sys.stderr)
        load = os.getloadavg()
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        versions = [subprocess.run([aws[0], "--version"], capture_output=True, text=True).stdout.split(" ")[0]]
        if rclone:
            versions.append(subprocess.run([args.rclone, "version"], capture_output=True, text=True)
                            .stdout.splitlines()[0])
        print(f"\nMachine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python "
              f"{platform.python_version()}, loopback, one `coffer serve` (default workers); commit {commit}; "
              f"{', '.join(versions)}; load average before {load_before[0]:.1f} / {load_before[1]:.1f}, after "
              f"{load[0]:.1f} / {load[1]:.1f}; best of {args.rounds} rounds.\n")
        others = tools[1:]
        print("| transfer | " + " | ".join(tools) + " | " + " | ".join(f"vs {t}" for t in others) + " |")
        print("|---" * (len(tools) + len(others) + 1) + "|")
        for name, best in rows:
            c = best["coffer cp"]
            print(f"| {name} | " + " | ".join(f"{best[t]:.2f} s" for t in tools) + " | "
                  + " | ".join(f"{best[t] / c:.2f}x" for t in others) + " |")
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
