"""cp/sync/mirror filters (--exclude/--include/--newer-than/--older-than), --size-only, --checksum,
the dir vs dir/ rule, and mirror --watch, compared with the aws CLI on the same data."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from cli_helpers import lines


def _keys(run, bucket, prefix=""):
    return sorted(r["key"] for r in lines(run("ls", "--json", "-r", f"dev/{bucket}/{prefix}")))


def _make(root: Path) -> None:
    (root / "img").mkdir(parents=True)
    (root / "img" / "a.jpg").write_bytes(b"a" * 10)
    (root / "img" / "b.png").write_bytes(b"b" * 20)
    (root / "notes.txt").write_text("notes")
    (root / "cache.tmp").write_text("tmp")


def test_cp_exclude_include_like_aws(run, aws, bucket, tmp_path):
    _make(tmp_path / "src")
    aws("s3", "cp", "--recursive", "src", f"s3://{bucket}/aws/", "--exclude", "*", "--include", "*.jpg")
    run("cp", "-r", "src", f"dev/{bucket}/ours/", "--exclude", "*", "--include", "*.jpg")
    assert [k.removeprefix("aws/") for k in _keys(run, bucket, "aws/")] == \
        [k.removeprefix("ours/") for k in _keys(run, bucket, "ours/")] == ["img/a.jpg"]
    aws("s3", "cp", "--recursive", "src", f"s3://{bucket}/aws2", "--exclude", "*.tmp")
    run("cp", "-r", "src", f"dev/{bucket}/ours2", "--exclude", "*.tmp")
    assert [k.removeprefix("aws2/") for k in _keys(run, bucket, "aws2/")] == \
        [k.removeprefix("ours2/") for k in _keys(run, bucket, "ours2/")] == ["img/a.jpg", "img/b.png", "notes.txt"]


def test_dir_and_dir_slash_are_the_same(run, aws, bucket, tmp_path):
    _make(tmp_path / "src")
    run("cp", "-r", "src", f"dev/{bucket}/plain")
    run("cp", "-r", "src/", f"dev/{bucket}/slash/")
    aws("s3", "cp", "--recursive", "src", f"s3://{bucket}/aws")
    plain = [k.removeprefix("plain/") for k in _keys(run, bucket, "plain/")]
    assert plain == [k.removeprefix("slash/") for k in _keys(run, bucket, "slash/")]
    assert plain == [k.removeprefix("aws/") for k in _keys(run, bucket, "aws/")]


def test_age_filters(run, bucket, tmp_path):
    _make(tmp_path / "src")
    old = time.time() - 10 * 86400
    os.utime(tmp_path / "src" / "notes.txt", (old, old))
    run("cp", "-r", "src", f"dev/{bucket}/old", "--older-than", "7d")
    run("cp", "-r", "src", f"dev/{bucket}/new", "--newer-than", "7d")
    assert _keys(run, bucket, "old/") == ["old/notes.txt"]
    assert "new/notes.txt" not in _keys(run, bucket, "new/") and len(_keys(run, bucket, "new/")) == 3
    assert run("cp", "-r", "src", f"dev/{bucket}/x", "--newer-than", "7 days", ok=False).returncode == 2


def test_sync_filters_size_only_checksum(run, aws, bucket, tmp_path):
    src = tmp_path / "src"
    _make(src)
    run("sync", "src", f"dev/{bucket}/s", "--exclude", "*.tmp")
    assert "s/cache.tmp" not in _keys(run, bucket, "s/")
    # same size, newer, different bytes: time mode sends it, --size-only does not, --checksum does
    (src / "notes.txt").write_text("NOTES")
    future = time.time() + 60
    os.utime(src / "notes.txt", (future, future))
    assert run("sync", "--dry-run", "--size-only", "--json", "src", f"dev/{bucket}/s", "--exclude", "*.tmp").stdout \
        == b""
    planned = lines(run("sync", "--dry-run", "--json", "src", f"dev/{bucket}/s", "--exclude", "*.tmp"))
    assert [r["target"] for r in planned] == [f"dev/{bucket}/s/notes.txt"]
    past = time.time() - 3600  # older than the object: only --checksum notices the change
    os.utime(src / "notes.txt", (past, past))
    assert run("sync", "--dry-run", "--json", "src", f"dev/{bucket}/s", "--exclude", "*.tmp").stdout == b""
    run("sync", "--checksum", "src", f"dev/{bucket}/s", "--exclude", "*.tmp")
    assert run("cat", f"dev/{bucket}/s/notes.txt").stdout == b"NOTES"
    # a multipart object (CRC32C full-object checksum) that matches: --checksum leaves it alone
    (src / "big.bin").write_bytes(os.urandom(9 << 20))
    run("sync", "src", f"dev/{bucket}/s", "--exclude", "*.tmp")
    assert "big.bin" not in run("sync", "--dry-run", "--checksum", "src", f"dev/{bucket}/s", "--exclude",
                                "*.tmp").stdout.decode()
    # --delete never removes what the filters exclude
    aws("s3", "cp", "src/cache.tmp", f"s3://{bucket}/s/cache.tmp")
    aws("s3", "cp", "src/cache.tmp", f"s3://{bucket}/s/stray.txt")
    run("sync", "--delete", "src", f"dev/{bucket}/s", "--exclude", "*.tmp")
    keys = _keys(run, bucket, "s/")
    assert "s/cache.tmp" in keys and "s/stray.txt" not in keys


def test_mirror_watch(run, bucket, tmp_path):
    src = tmp_path / "watched"
    src.mkdir()
    (src / "first.txt").write_text("1")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
           "COFFER_CONFIG_DIR": str(tmp_path / "cfg")}
    proc = subprocess.Popen([sys.executable, "-m", "coffer.cli.main", "mirror", "--watch", "--interval", "0.3s",
                             "--remove", "watched", f"dev/{bucket}/m"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def wait_for(want: list[str]) -> list[str]:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                got = _keys(run, bucket, "m/")
                if got == want:
                    return got
                time.sleep(0.3)
            return got

        assert wait_for(["m/first.txt"]) == ["m/first.txt"]
        (src / "sub").mkdir()
        (src / "sub" / "second.txt").write_text("2")
        assert wait_for(["m/first.txt", "m/sub/second.txt"]) == ["m/first.txt", "m/sub/second.txt"]
        (src / "first.txt").unlink()
        assert wait_for(["m/sub/second.txt"]) == ["m/sub/second.txt"]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert b"sub/second.txt" in out
    # two local folders are not a mirror Coffer makes (a bucket source is followed by its listen stream:
    # tests/sdk/test_sdk_listen.py)
    (tmp_path / "elsewhere").mkdir()
    assert run("mirror", "--watch", str(src), str(tmp_path / "elsewhere"), ok=False).returncode == 2
