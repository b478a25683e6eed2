"""bench/ec_server_bench.py end to end at toy sizes: it starts its servers, measures every row,
loses fragments for the degraded row and prints the table (no RESULTS.md write)."""

from __future__ import annotations

import ec_server_bench


def test_ec_server_bench_smoke(tmp_path, capsys):
    assert ec_server_bench.main(["--mib", "1", "--count", "1", "--rounds", "1", "--no-write",
                                 "--work", str(tmp_path / "w")]) == 0
    out = capsys.readouterr().out
    for row in ("| SINGLE |", "| EC-4+2 |", "| EC-4+2 degraded |", "2 streams, 2 worker(s)"):
        assert row in out
    assert "(2 files)" in out  # fragments 0 and 1 of the one object were deleted
