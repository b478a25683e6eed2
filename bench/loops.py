#!/usr/bin/env python
"""`python bench/loops.py`: Coffer on the default asyncio event loop vs uvloop, same workloads.

It is bench/run.py restricted to Coffer with `--coffer-loop both`, run in alternating rounds (asyncio,
uvloop, asyncio, uvloop, ...) so that load from others on a shared machine falls on both loops alike,
and it adds a uvloop/asyncio ratio per workload.  Its results go to the `loops` section of
bench/RESULTS.md, next to run.py's.  Any run.py flag may be passed through (--quick, --duration, ...);
the defaults here keep it to a few minutes: 2 rounds and 20,000 keys to list.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench
from harness import report

DEFAULTS = {"--rounds": "2", "--list-keys": "20000", "--section": "loops"}


def loop_table(results: dict) -> tuple[list[str], list[list[str]]]:
    head = ["workload", "asyncio", "uvloop", "uvloop/asyncio"]
    rows = []
    for w, label in report.WORKLOADS:
        a, u = report.value(results, "coffer", w), report.value(results, "coffer-uvloop", w)
        rows.append([label, report.cell(results, "coffer", w), report.cell(results, "coffer-uvloop", w),
                     report.fmt_ratio(report.ratio(u, a))])
    return head, rows


def build_argv(argv: list[str]) -> list[str]:
    """run.py's argv: Coffer only, both loops, and our defaults for whatever the caller left unset."""
    out = [*argv]
    for flag, default in DEFAULTS.items():
        if not any(a == flag or a.startswith(flag + "=") for a in argv):
            out += [flag, default]
    return [*out, "--targets", "coffer", "--coffer-loop", "both"]


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    full = build_argv(given)
    args = bench.parse_args(full)
    if not bench.procs.coffer_has_loop_option():
        print("coffer serve has no --loop option: nothing to compare", file=sys.stderr)
        return 2
    run = bench.execute(args)
    if run.interrupted:
        return 130
    head, rows = loop_table(run.results)
    print()
    for r in [head, *rows]:
        print("  ".join(f"{c:>22s}" if i else f"{c:40s}" for i, c in enumerate(r)))
    title = "\n**asyncio vs uvloop** (Coffer, same build, alternating rounds)\n\n"
    extra = title + report.md_table(head, rows)
    bench.publish(run, given, script="loops.py", extra=extra)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
