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
