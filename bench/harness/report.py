"""Turning results into the comparison: ratios, the issue's goals, the console table and RESULTS.md.

Results are `{target: {workload: summary}}` where a summary is Measure.summary() (or the disk baseline's
dict): only `value`, `unit`, `errors` and `first_error` are read here.  RESULTS.md is rewritten only
between `<!-- bench:SECTION:begin/end -->` markers, so notes written by hand around them survive reruns.
"""

from __future__ import annotations

import re
from pathlib import Path

WORKLOADS = [
    ("put_large", "PUT 64 MiB, 4 streams"),
    ("get_large", "GET 64 MiB, 4 streams"),
    ("put_small", "PUT 4 KiB, 32 streams"),
    ("get_small", "GET 4 KiB, 32 streams"),
    ("list_load", "load list keys (PUT 0 B, 64 streams)"),
    ("list", "ListObjectsV2 all keys, 1000/page"),
]
# Which reference each workload is held against: (target, workload in that target, what it is)
LIMITS = {
    "put_large": ("disk", "disk_write", "disk, fdatasync'd"),
    "get_large": ("nginx", "get_large", "nginx sendfile"),
    "put_small": ("nginx", "put_small", "nginx PUT, no fsync"),
    "get_small": ("nginx", "get_small", "nginx sendfile"),
}
GOALS = {"get_large": 0.8, "put_large": 0.8}  # Coffer must reach this fraction of the limit
COFFERS = ("coffer", "coffer-uvloop")


def best(rounds: list[dict]) -> dict:
    """Per target and phase, the summary of its best round.  On a shared machine other people's load can
    only slow a round down, never speed it up, so the best round is the closest to what the target can
    do (the reasoning behind timeit's minimum).  Errors are never hidden by a better round: a phase that
    failed in any round reports that failure.  All rounds' values are kept in `rounds`."""
    out: dict[str, dict[str, list[dict]]] = {}
    for rnd in rounds:
        for target, phases in rnd.items():
            for w, s in phases.items():
                out.setdefault(target, {}).setdefault(w, []).append(s)

    def key(s: dict) -> float:
        bad = s.get("errors") or s.get("timed_out") or s.get("value") is None
        return float("-inf") if bad else float(s["value"])

    result: dict[str, dict[str, dict]] = {}
    for target, phases in out.items():
        for w, ss in phases.items():
            pick = dict(min(ss, key=key) if any(key(s) == float("-inf") for s in ss) else max(ss, key=key))
            if len(ss) > 1:
                pick["rounds"] = [s.get("value") for s in ss]
            result.setdefault(target, {})[w] = pick
    return result


def value(results: dict, target: str, workload: str) -> float | None:
    s = results.get(target, {}).get(workload)
    if not s or s.get("errors") or s.get("value") is None or s.get("timed_out"):
        return None
    return float(s["value"])


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "—"
    s = f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}" if abs(x) >= 10 else f"{x:,.2f}"
    return f"{s} {unit}".strip()


def fmt_ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}×"


def cell(results: dict, target: str, workload: str) -> str:
    s = results.get(target, {}).get(workload)
    if not s:
        return "—"
    if s.get("errors") or s.get("timed_out"):
        why = "timed out" if s.get("timed_out") else f"{s['errors']} errors"
        return f"FAILED ({why})"
    return fmt(s.get("value"), s.get("unit", ""))


def goal_checks(results: dict) -> list[tuple[str, str, str]]:
    """(goal, what was measured, PASS / FAIL / not measured) for each of the issue's goals."""
    rows = []
    coffer = next((c for c in COFFERS if c in results), None)
    for w, label in WORKLOADS:
        r = ratio(value(results, coffer, w), value(results, "seaweedfs", w)) if coffer else None
        rows.append((f"{label}: Coffer ≥ SeaweedFS", fmt_ratio(r), _verdict(r, 1.0)))
    for w, frac in GOALS.items():
        tgt, tw, what = LIMITS[w]
        r = ratio(value(results, coffer, w), value(results, tgt, tw)) if coffer else None
        label = dict(WORKLOADS)[w]
        rows.append((f"{label}: Coffer ≥ {frac:.0%} of {what}", fmt_ratio(r), _verdict(r, frac)))
    return rows


def _verdict(r: float | None, need: float) -> str:
    if r is None:
        return "not measured"
    return "PASS" if r >= need else "FAIL"


def table(results: dict) -> tuple[list[str], list[list[str]]]:
    coffers = [c for c in COFFERS if c in results]
    head = ["workload", *coffers, "seaweedfs", "limit", "limit is"]
    for c in coffers:
        head += [f"{c}/seaweedfs", f"{c}/limit"]
    rows = []
    for w, label in WORKLOADS:
        tgt, tw, what = LIMITS.get(w, (None, None, "—"))
        limit = cell(results, tgt, tw) if tgt else "—"
        row = [label, *(cell(results, c, w) for c in coffers), cell(results, "seaweedfs", w), limit, what]
        for c in coffers:
            row.append(fmt_ratio(ratio(value(results, c, w), value(results, "seaweedfs", w))))
            row.append(fmt_ratio(ratio(value(results, c, w), value(results, tgt, tw))) if tgt else "—")
        rows.append(row)
    return head, rows


def print_console(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    head, rows = table(results)
    t = Table(title="Coffer vs SeaweedFS vs limits (higher is better)")
    for h in head:
        t.add_column(h, overflow="fold")
    for r in rows:
        t.add_row(*r)
    g = Table(title="Goals from the issue")
    for h in ("goal", "measured", "verdict"):
        g.add_column(h)
    for r in goal_checks(results):
        g.add_row(*r)
    con = Console(width=200)
    con.print(t)
    con.print(g)


def md_table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def server_cost(s: dict) -> str:
    """The server's CPU for the phase: as a share of one core, and per GiB or per operation."""
    cpu, secs = s.get("server_cpu_s"), s.get("seconds")
    if cpu is None or not secs:
        return "—"
    if s.get("unit") == "MiB/s":
        per = f"{cpu / (s['bytes'] / 2**30):.2f} s/GiB" if s.get("bytes") else "—"
    else:
        per = f"{1000 * cpu / s['ops']:.2f} ms/op" if s.get("ops") else "—"
    return f"{100 * cpu / secs:.0f}%, {per}"


def per_unit(s: dict | None) -> float | None:
    """Server CPU seconds per GiB (large phases) or milliseconds per operation, None if not measured."""
    if not s or s.get("errors") or s.get("server_cpu_s") is None:
        return None
    if s.get("unit") == "MiB/s":
        return s["server_cpu_s"] / (s["bytes"] / 2**30) if s.get("bytes") else None
    return 1000 * s["server_cpu_s"] / s["ops"] if s.get("ops") else None


def cost_table(results: dict) -> tuple[list[str], list[list[str]]]:
    """Server CPU per unit of work, side by side (lower is better)."""
    targets = [t for t in (*COFFERS, "seaweedfs", "nginx") if t in results]
    head = ["workload", "unit", *targets]
    coffer = next((c for c in COFFERS if c in results), None)
    if coffer and "seaweedfs" in results:
        head.append(f"{coffer}/seaweedfs")
    rows = []
    for w, label in WORKLOADS:
        if w == "list":
            continue  # one client request at a time: the server is mostly idle, the figure says little
        unit = "CPU s/GiB" if w.endswith("_large") else "CPU ms/op"
        vals = {t: per_unit(results[t].get(w)) for t in targets}
        row = [label, unit, *(fmt(vals[t]) for t in targets)]
        if coffer and "seaweedfs" in results:
            row.append(fmt_ratio(ratio(vals[coffer], vals["seaweedfs"])))
        rows.append(row)
    return head, rows


def details(results: dict) -> list[list[str]]:
    """Every measured phase with its raw counts, latency and first error."""
    rows = []
    for target, phases in results.items():
        for w, s in phases.items():
            err = s.get("first_error") or ""
            rate = fmt(s.get("value"), s.get("unit", ""))
            if s.get("rounds"):
                rate += " (rounds: " + ", ".join(fmt(v) for v in s["rounds"]) + ")"
            cpu = s.get("client_cpu_pct")
            rows.append([target, w, rate, str(s.get("ops", "")),
                         f"{s.get('seconds', 0):.2f}", fmt(s.get("p50_ms")), fmt(s.get("p99_ms")),
                         "—" if cpu is None else f"{cpu:.0f}%", server_cost(s), str(s.get("errors", 0)),
                         err[:160]])
    return rows


def render(facts: dict[str, str], commands: list[str], settings: dict[str, str], results: dict,
           profiles: dict[str, str], title: str) -> str:
    head, rows = table(results)
    parts = [f"### {title}", "", "**Machine**", ""]
    parts += [f"- {k}: {v}" for k, v in facts.items()]
    parts += ["", "**Reproduce**", "", "```sh", *commands, "```", "", "**Settings**", ""]
    parts += [f"- {k}: {v}" for k, v in settings.items()]
    parts += ["", "**Results** (higher is better; the limit is what the same client gets from nginx, "
              "or the disk's fdatasync'd write rate)", "", md_table(head, rows), "",
              "**Goals**", "",
              md_table(["goal", "measured", "verdict"], [list(r) for r in goal_checks(results)]),
              "", "**Server CPU per unit of work** (lower is better: all processes of the server, user + "
              "system; others' load on the machine moves this far less than it moves throughput)", "",
              md_table(*cost_table(results)),
              "", "**Every phase**", "",
              md_table(["target", "phase", "rate", "ops", "s", "p50 ms", "p99 ms", "client CPU",
                        "server CPU", "errors", "first error"], details(results))]
    for name, text in profiles.items():
        parts += ["", f"**Where {name}'s time goes** (py-spy, server processes)", "",
                  "```", text.rstrip(), "```"]
    return "\n".join(parts) + "\n"


def update_results_md(path: Path, section: str, body: str) -> None:
    """Replace the marked section of `path` with `body` (appending the section if it is new)."""
    begin, end = f"<!-- bench:{section}:begin -->", f"<!-- bench:{section}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    found = pattern.search(old)
    new = pattern.sub(lambda _m: block, old, count=1) if found else f"{old.rstrip()}\n\n{block}"
    path.write_text(new.rstrip() + "\n")
