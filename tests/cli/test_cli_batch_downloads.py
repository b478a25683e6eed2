"""cp -r downloads of small objects in batches (Coffer's batch GET, cli/_small_files.py) against a real
server, counted through a proxy: a few requests instead of one per file, every file right and reported
once; --no-batch goes back to one GET per file; a batch answer cut short has its missing files fetched
by their own GETs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cli_helpers import lines

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))

from sdk_faults import CuttingProxy


def _upload(run, tmp_path: Path, bucket: str, count: int = 40) -> dict[str, bytes]:
    made = {f"d{i % 2}/f{i:03d}.bin": os.urandom(1000 + i * 50) for i in range(count)}
    for rel, data in made.items():
        (tmp_path / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / rel).write_bytes(data)
    run("cp", "-r", "src", f"dev/{bucket}/b/")
    return made


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_small_downloads_go_in_batches_and_no_batch_turns_it_off(run, bucket, tmp_path, endpoint):
    made = _upload(run, tmp_path, bucket)
    proxy = CuttingProxy(endpoint.url)
    try:
        run("alias", "set", "px", proxy.url, endpoint.access_key, endpoint.secret_key)
        before = proxy.requests
        down = lines(run("cp", "-r", "--json", "--concurrency", "4", f"px/{bucket}/b/", "back"))
        batched = proxy.requests - before
        assert _files(tmp_path / "back") == made  # byte for byte, no hidden .part files left
        assert sorted(r["target"] for r in down) == sorted(str(Path("back", rel)) for rel in made)
        assert all(r["action"] == "download" and "error" not in r for r in down)
        assert batched <= 8, batched  # the listing, a probe, 4 batches: not one GET per file

        before = proxy.requests
        run("cp", "-r", "--no-batch", f"px/{bucket}/b/", "single")
        assert _files(tmp_path / "single") == made
        assert proxy.requests - before >= len(made)
    finally:
        proxy.close()


def test_a_cut_batch_answer_is_completed_by_single_gets(run, bucket, tmp_path, endpoint):
    made = _upload(run, tmp_path, bucket, 30)
    proxy = CuttingProxy(endpoint.url)
    try:
        run("alias", "set", "px", proxy.url, endpoint.access_key, endpoint.secret_key)
        # one batch of 30 files (~60 KB): the listing and probe come first, then the answer is cut mid-way
        proxy.cut_down(after=40_000)
        before = proxy.requests
        down = lines(run("cp", "-r", "--json", "--concurrency", "1", f"px/{bucket}/b/", "back"))
        assert proxy.cuts == 1
        assert proxy.requests - before < len(made)  # the files before the cut came in the batch
        assert _files(tmp_path / "back") == made
        assert len(down) == len(made) and all("error" not in r for r in down)  # each file said once
    finally:
        proxy.close()


def test_a_missing_key_in_a_batch_is_that_file_s_error(run, bucket, tmp_path, endpoint):
    """The listing named it, it was deleted before the batch read it: that file fails, the others arrive."""
    from coffer import TransferConfig
    from coffer.cli import _small_files
    from coffer.cli._aliases import Alias, Remote
    from coffer.cli._cmd_transfer import Job

    made = _upload(run, tmp_path, bucket, 6)
    proxy = CuttingProxy(endpoint.url)
    alias = Alias("px", proxy.url, endpoint.access_key, endpoint.secret_key)
    jobs = [Job("download", Remote(alias, bucket, f"b/{rel}"), tmp_path / "back" / rel, len(data))
            for rel, data in made.items()]
    jobs.insert(3, Job("download", Remote(alias, bucket, "b/gone.bin"), tmp_path / "back" / "gone.bin", 5))
    outcomes: dict[str, BaseException | None] = {}
    try:
        _small_files.run(jobs, TransferConfig(max_concurrency=1), None, None, [],
                         lambda job, exc: outcomes.__setitem__(job.dst.name, exc))
        assert proxy.requests <= 2  # the probe and one batch
    finally:
        proxy.close()
    assert set(outcomes) == {Path(rel).name for rel in made} | {"gone.bin"}
    assert type(outcomes.pop("gone.bin")).__name__ == "NoSuchKey"
    assert all(exc is None for exc in outcomes.values())
    assert _files(tmp_path / "back") == made
