"""Test setup for the benchmark harness: puts bench/ (for `harness`) and src/ (for the signer) on sys.path,
the same way bench/run.py does when it is run as a script."""

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
for p in (BENCH, BENCH.parent / "src"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
