"""`--limit-rate` on `coffer cp` / `coffer sync`: how rates are written, and that the cap holds.

The cap is checked as behaviour, not speed: a 16 MiB transfer capped at 8 MiB/s cannot finish in
less than ~2 s (the token bucket starts empty), and must not take absurdly longer either.
"""

from __future__ import annotations

import os
import time
import uuid

import click
import pytest

from coffer.cli._cmd_transfer import Rate

MiB = 1 << 20


@pytest.mark.parametrize(("text", "rate"), [
    ("512K", 512 * 1024), ("10M", 10 * MiB), ("10m", 10 * MiB), ("1.5G", 3 * 512 * MiB),
    ("10MiB/s", 10 * MiB), ("64KB", 64 * 1024), ("1048576", MiB),
])
def test_rates_parse(text, rate):
    assert Rate().convert(text, None, None) == rate


@pytest.mark.parametrize("text", ["fast", "", "0", "-5M", "10X"])
def test_bad_rates_are_refused(text):
    with pytest.raises(click.BadParameter):
        Rate().convert(text, None, None)


@pytest.fixture
def bucket(run):
    name = f"cli-{uuid.uuid4().hex[:12]}"
    run("mb", f"dev/{name}")
    yield name
    run("rb", "--force", f"dev/{name}", ok=False)


def test_limit_rate_caps_cp_and_sync(run, bucket, tmp_path):
    src = tmp_path / "up"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(16 * MiB))
    expected = 16 * MiB / (8 * MiB)  # seconds at the cap

    t0 = time.monotonic()
    run("cp", "--limit-rate", "8M", str(src / "a.bin"), f"dev/{bucket}/a.bin")
    up = time.monotonic() - t0
    t0 = time.monotonic()
    run("sync", "--limit-rate", "8M", f"dev/{bucket}", str(tmp_path / "down"))
    down = time.monotonic() - t0
    assert (tmp_path / "down" / "a.bin").read_bytes() == (src / "a.bin").read_bytes()
    for elapsed in (up, down):
        assert 0.9 * expected <= elapsed < 4 * expected, (up, down)

    proc = run("cp", "--limit-rate", "fast", str(src / "a.bin"), f"dev/{bucket}/b.bin", ok=False)
    assert proc.returncode == 2 and b"not a rate" in proc.stderr
