"""bench/meta_bench.py end to end at toy sizes: both engines start, every row is measured and printed
(no RESULTS.md write). Skips without a PostgreSQL server (COFFER_TEST_PG, see tests/pg_server.py)."""

from __future__ import annotations

import os

import meta_bench
import pytest


@pytest.mark.skipif(not (os.environ.get("COFFER_TEST_PG") or "").startswith("postgresql://"),
                    reason="needs COFFER_TEST_PG=postgresql://... (a server the bench may create a database in)")
def test_meta_bench_smoke(tmp_path, capsys):
    assert meta_bench.main(["--small", "20", "--keys", "1200", "--rounds", "1", "--no-write",
                            "--work", str(tmp_path / "w")]) == 0
    out = capsys.readouterr().out
    for row in ("PUT 4 KiB", "GET 4 KiB", "load 1,200 keys", "no delimiter", "delimiter '/'"):
        assert row in out


@pytest.mark.skipif(not (os.environ.get("COFFER_TEST_PG") or "").startswith("postgresql://"),
                    reason="needs COFFER_TEST_PG=postgresql://... (a server the bench may create a database in)")
def test_meta_cost_smoke(tmp_path, capsys):
    import meta_cost

    src = str(meta_cost.HERE.parent / "src")
    assert meta_cost.main(["-n", "30", "--rt-n", "10", "--streams", "4", "--workers", "1",
                           "--baseline-src", src, "--work", str(tmp_path / "w")]) == 0
    out = capsys.readouterr().out
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| PUT") or line.startswith("| GET")]
    assert len(rows) == 9  # 3 requests x (SQLite, PostgreSQL, baseline)
    for cells in rows:
        assert float(cells[4].split("=")[1]) >= 0  # CPU ms per request (clock ticks: a toy run may see none)
        assert float(cells[6].replace(",", "")) > 0  # ops/s
        if "PostgreSQL" in cells[2] and meta_cost.shutil.which("strace"):
            assert float(cells[3]) >= 1  # at least one round trip per request


def test_ratio_of_nothing_is_a_dash():
    import meta_cost

    assert meta_cost.ratio(1.0, 0.0) == "-"
    assert meta_cost.ratio(3.0, 2.0) == "1.50x"
