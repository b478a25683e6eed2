"""Every example script runs to completion against the live server (as a user would run it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("0*.py"))


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_runs(script, coffer_target, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DS3_")) and "proxy" not in k.lower()}
    env.update({
        "PYTHONPATH": str(ROOT / "src"), "HOME": str(tmp_path),
        "COFFER_ENDPOINT": coffer_target.url, "COFFER_ACCESS_KEY": coffer_target.access_key,
        "COFFER_SECRET_KEY": coffer_target.secret_key, "EXAMPLE_FILES": "30", "EXAMPLE_MIB": "12",
    })
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script)], env=env, capture_output=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    assert proc.stdout.strip()
