"""Helpers the CLI tests import (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import subprocess


def lines(proc: subprocess.CompletedProcess) -> list[dict]:
    """The --json records of a run."""
    return [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]


def aws_json(proc: subprocess.CompletedProcess) -> dict:
    out = proc.stdout.decode().strip()
    return json.loads(out) if out else {}
