"""Micro-benchmark of the erasure-coding engine: codec speed, and EC-4+2 against SINGLE on disk.

Measures, on one core (the engine's functions are synchronous; the server runs them in threads):

1. the codec alone on 1 MiB blocks: EC-4+2 encode, decode from the four data fragments (a healthy
   read), decode with two data fragments missing (a degraded read), and CRC32C over the same bytes
   (the bitrot check every read pays);
2. the engine on real files: writing an object with ``StripeWriter`` as SINGLE over one volume and as
   EC-4+2 over six, then reading it back healthy and with two fragments deleted (degraded).

    PYTHONPATH=src .venv/bin/python bench/ec_bench.py                    # 64 MiB objects
    PYTHONPATH=src .venv/bin/python bench/ec_bench.py --mib 16 --fsync   # smaller, with fdatasync

Files go to bench/work/ec/ (git-ignored), removed at the end. The page cache is not dropped, so the
on-disk figures are CPU-and-copy bound (what the engine itself costs), not disk bound; pass --fsync to
include durability. Prints a markdown table in MiB/s of object bytes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from awscrt.checksums import crc32c

from coffer.server.data.volumes.storage_policy import Policy, codec_for
from coffer.server.data.volumes.stripes import ObjectReader, StripeWriter
from coffer.server.data.volumes.volume import VolumeSet

MIB = 1 << 20


def rate(nbytes: int, fn: Callable[[], object], rounds: int = 3) -> float:
    """Best of a few rounds, in MiB/s: the machine is shared, the best round is the least disturbed."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return nbytes / MIB / best


def codec_rows(blocks: int) -> list[tuple[str, float]]:
    block = os.urandom(MIB)
    codec = codec_for(Policy.ec(4, 2))
    payloads = codec.encode(block)
    healthy = dict(enumerate(payloads[:4]))
    degraded = {i: payloads[i] for i in (2, 3, 4, 5)}
    n = blocks * MIB

    def repeat(fn: Callable[[], object]) -> Callable[[], None]:
        # Results are dropped at once, as the reader does stripe by stripe: keeping them would
        # measure page faults on fresh memory, not the codec.
        def run() -> None:
            for _ in range(blocks):
                fn()
        return run

    return [
        ("codec EC-4+2 encode", rate(n, repeat(lambda: codec.encode(block)))),
        ("codec EC-4+2 decode, healthy (views, no copy)", rate(n, repeat(lambda: codec.pieces(healthy, MIB)))),
        ("codec EC-4+2 decode, 2 data lost", rate(n, repeat(lambda: codec.pieces(degraded, MIB)))),
        ("crc32c", rate(n, repeat(lambda: crc32c(block)))),
    ]


def write(vset: VolumeSet, policy: Policy, data: bytes) -> str:
    w = StripeWriter(vset, policy)
    for pos in range(0, len(data), MIB):
        w.write(data[pos:pos + MIB])
    return w.commit().ref


def read(vset: VolumeSet, ref: str) -> int:
    with ObjectReader(vset, ref) as r:
        return sum(len(chunk) for chunk in r.iter_range())


def engine_rows(work: Path, mib: int, fsync: bool) -> list[tuple[str, float]]:
    data = os.urandom(mib * MIB)
    n = len(data)
    single = VolumeSet.open([work / "single"], create=True, fsync=fsync)
    six = VolumeSet.open([work / f"ec{i}" for i in range(6)], create=True, fsync=fsync)
    refs: dict[str, str] = {}

    def put(name: str, vset: VolumeSet, policy: Policy) -> None:
        refs[name] = write(vset, policy, data)

    rows = [
        ("PUT SINGLE (1 volume)", rate(n, lambda: put("single", single, Policy.single()))),
        ("PUT EC-4+2 (6 volumes)", rate(n, lambda: put("ec", six, Policy.ec(4, 2)))),
        ("GET SINGLE", rate(n, lambda: read(single, refs["single"]))),
        ("GET EC-4+2, healthy", rate(n, lambda: read(six, refs["ec"]))),
    ]
    for _vol, index, path in six.find_fragments(refs["ec"]):
        if index in (0, 1):
            os.unlink(path)
    rows.append(("GET EC-4+2, 2 data fragments lost", rate(n, lambda: read(six, refs["ec"]))))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=64, help="object size for the on-disk rows (MiB)")
    ap.add_argument("--fsync", action="store_true", help="fdatasync fragment files as the server does")
    ap.add_argument("--work", type=Path, default=Path(__file__).resolve().parent / "work" / "ec")
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    try:
        rows = codec_rows(min(args.mib, 64)) + engine_rows(args.work, args.mib, args.fsync)
    finally:
        shutil.rmtree(args.work, ignore_errors=True)
    print(f"\n{args.mib} MiB objects, 1 MiB blocks, fsync={'on' if args.fsync else 'off'}, one thread\n")
    print("| what | MiB/s |\n| --- | ---: |")
    for name, value in rows:
        print(f"| {name} | {value:,.0f} |")


if __name__ == "__main__":
    main()
