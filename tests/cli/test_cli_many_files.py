"""cp -r of many small files (the event-loop path, cli/_small_files.py) against a real server: contents
both ways, no temporary files left, one error line per failing file and exit code 1, --json records,
and corrupted downloads refused (through a proxy that flips bytes)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from cli_helpers import lines

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))

from sdk_faults import CuttingProxy


def _tree(root: Path, count: int = 60) -> dict[str, bytes]:
    """``count`` small files in three folders, plus one file above a 5 MiB part size (multipart)."""
    made = {}
    for i in range(count):
        rel = f"d{i % 3}/sub/f{i:03d}.bin" if i % 2 else f"f{i:03d}.bin"
        made[rel] = os.urandom(i * 37 % 5000)  # empty files too
    made["big/huge.bin"] = os.urandom(6 * 1024 * 1024 + 3)
    for rel, data in made.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return made


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_many_small_files_up_and_down(run, bucket, tmp_path):
    made = _tree(tmp_path / "src")
    up = lines(run("cp", "-r", "--json", "--part-size", "5", "src", f"dev/{bucket}/p"))
    assert sorted(r["target"] for r in up) == sorted(f"dev/{bucket}/p/{rel}" for rel in made)
    assert all(r["action"] == "upload" and "error" not in r for r in up)
    sizes = {r["target"].removeprefix(f"dev/{bucket}/p/"): r["size"] for r in up}
    assert sizes == {rel: len(data) for rel, data in made.items()}
    # "dir/" is the same as "dir": the contents go under the prefix
    run("cp", "-r", "src/", f"dev/{bucket}/q/")
    listed = {r["key"] for r in lines(run("ls", "--json", "-r", f"dev/{bucket}/"))}
    assert listed == {f"p/{rel}" for rel in made} | {f"q/{rel}" for rel in made}

    down = lines(run("cp", "-r", "--json", "--part-size", "5", f"dev/{bucket}/p/", "back"))
    assert len(down) == len(made) and all(r["action"] == "download" for r in down)
    assert _files(tmp_path / "back") == made  # byte for byte, and no hidden .part files left over
    # again over existing files: replaced in place, still nothing left beside them
    (tmp_path / "back" / "f000.bin").write_bytes(b"stale")
    run("cp", "-r", f"dev/{bucket}/p", "back/")
    assert _files(tmp_path / "back") == made


def test_one_failing_file_among_many(run, bucket, tmp_path):
    made = _tree(tmp_path / "src", 20)
    # A key longer than S3's 1024 bytes: the server refuses this one file, the others go up.
    deep = tmp_path.joinpath("src", *(c * 250 for c in "vwxyz"))
    deep.mkdir(parents=True)
    (deep / "too-long.bin").write_bytes(b"data")
    proc = run("cp", "-r", "src", f"dev/{bucket}/p/", ok=False)
    assert proc.returncode == 1
    errors = proc.stderr.decode().strip().splitlines()
    assert len(errors) == 1 and "too-long.bin" in errors[0], errors
    assert len(proc.stdout.decode().splitlines()) == len(made)

    # Downloads: one target is in the way (a folder where the file should go), the rest arrive.
    (tmp_path / "back" / "f000.bin").mkdir(parents=True)
    proc = run("cp", "-r", "--json", f"dev/{bucket}/p/", "back/", ok=False)
    assert proc.returncode == 1
    records = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    failed = [r for r in records if "error" in r]
    assert len(failed) == 1 and failed[0]["target"].endswith("f000.bin") and failed[0]["action"] == "download"
    assert len(records) == len(made)  # every file said exactly once
    got = _files(tmp_path / "back")
    assert got == {rel: data for rel, data in made.items() if rel != "f000.bin"}
    assert proc.stderr.decode() == ""  # --json: the error is a record on stdout, not a line on stderr


def test_corrupted_small_downloads_are_refused(run, bucket, tmp_path, endpoint):
    made = {f"f{i}.bin": os.urandom(60_000) for i in range(12)}
    for rel, data in made.items():
        (tmp_path / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / rel).write_bytes(data)
    run("cp", "-r", "src", f"dev/{bucket}/c/")
    proxy = CuttingProxy(endpoint.url)
    try:
        run("alias", "set", "flaky", proxy.url, endpoint.access_key, endpoint.secret_key)
        # One flipped byte inside one body: that file is fetched again, everything arrives intact.
        # (The listing's connection takes the first armed flip and ends before byte 10,000.)
        proxy.corrupt_down(at=10_000, times=2)
        run("cp", "-r", f"flaky/{bucket}/c/", "once/")
        assert proxy.corruptions == 1
        assert _files(tmp_path / "once") == made
        # Every body corrupted, every try: each file fails with an integrity error, none is written.
        proxy.corrupt_down(at=8_000, times=100_000)  # the listing is shorter
        proc = run("cp", "-r", f"flaky/{bucket}/c/", "bad/", ok=False)
        assert proc.returncode == 1
        errors = proc.stderr.decode().strip().splitlines()
        assert len(errors) == len(made) and "mismatch" in errors[0], errors
        assert not (tmp_path / "bad").exists() or _files(tmp_path / "bad") == {}
    finally:
        proxy.close()


def test_object_grown_since_the_listing_is_fetched_in_ranges(run, bucket, tmp_path, endpoint):
    """The listing said small, the object is now above the part size: not one in-memory GET, but the
    async transfer manager's ranged download, checked and renamed into place like the others."""
    from coffer import TransferConfig
    from coffer.cli import _small_files
    from coffer.cli._aliases import Alias, Remote
    from coffer.cli._cmd_transfer import Job

    big = os.urandom(6 * 1024 * 1024 + 7)
    small = b"still small"
    (tmp_path / "big.bin").write_bytes(big)
    (tmp_path / "small.bin").write_bytes(small)
    run("cp", "big.bin", f"dev/{bucket}/g/big.bin")
    run("cp", "small.bin", f"dev/{bucket}/g/small.bin")
    alias = Alias("dev", endpoint.url, endpoint.access_key, endpoint.secret_key)
    jobs = [Job("download", Remote(alias, bucket, "g/big.bin"), tmp_path / "back" / "big.bin", 10),
            Job("download", Remote(alias, bucket, "g/small.bin"), tmp_path / "back" / "small.bin", len(small))]
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    assert all(_small_files.fits(j, config) for j in jobs)
    outcomes: list = []
    _small_files.run(jobs, config, None, None, [], lambda job, exc: outcomes.append((job.dst.name, exc)))
    assert sorted(outcomes, key=lambda o: o[0]) == [("big.bin", None), ("small.bin", None)]
    assert _files(tmp_path / "back") == {"big.bin": big, "small.bin": small}
