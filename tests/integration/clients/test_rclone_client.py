"""Other S3 clients against Coffer: rclone (a Go client with its own signer and multipart logic).

Owns the check that a client written independently of botocore can copy a tree up and back
byte-for-byte, including a file large enough for rclone's own multipart upload. rclone is
configured purely through RCLONE_CONFIG_* environment variables (provider Other, path style);
the test skips with a reason when the binary is absent.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from helpers import MiB, data

RCLONE = shutil.which("rclone")
pytestmark = pytest.mark.skipif(RCLONE is None, reason="rclone is not installed (apt-get install -y rclone)")


@pytest.fixture
def rclone(endpoint, tmp_path):
    config = tmp_path / "rclone.conf"
    config.write_text("")  # never read the user's configuration
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RCLONE_", "AWS_"))}
    env.update(
        RCLONE_CONFIG=str(config),
        RCLONE_CONFIG_COFFER_TYPE="s3",
        RCLONE_CONFIG_COFFER_PROVIDER="Other",
        RCLONE_CONFIG_COFFER_ENV_AUTH="false",
        RCLONE_CONFIG_COFFER_ACCESS_KEY_ID=endpoint.access_key,
        RCLONE_CONFIG_COFFER_SECRET_ACCESS_KEY=endpoint.secret_key,
        RCLONE_CONFIG_COFFER_ENDPOINT=endpoint.url,
        RCLONE_CONFIG_COFFER_REGION="us-east-1",
        RCLONE_CONFIG_COFFER_FORCE_PATH_STYLE="true",
    )

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert RCLONE is not None
        # Small multipart cutoff and chunk size so the 12 MiB file goes up in several parts.
        cmd = [RCLONE, "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", "--retries", "1",
               "--low-level-retries", "1", *args]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
        if check:
            assert proc.returncode == 0, f"rclone {' '.join(args)} -> {proc.returncode}\n{proc.stderr[-3000:]}"
        return proc

    return run


def _make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "small.txt": b"hello from rclone\n",
        "nested/deeper/one.bin": data(300_000, seed=31),
        "nested/big.bin": data(12 * MiB, seed=32),
        "nested/empty": b"",
        "odd name (1)+&=.txt": b"characters clients encode differently",
    }
    for rel, body in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)
    return files


def _digest_tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


def test_rclone_copy_tree_up_and_back(rclone, s3, tmp_path):
    bucket = f"rclone-{uuid.uuid4().hex[:12]}"
    src, back = tmp_path / "src", tmp_path / "back"
    files = _make_tree(src)
    rclone("mkdir", f"coffer:{bucket}")
    try:
        rclone("copy", str(src), f"coffer:{bucket}/tree")
        keys = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
        assert keys == {f"tree/{k}": len(v) for k, v in files.items()}
        big = s3.head_object(Bucket=bucket, Key="tree/nested/big.bin")
        assert big["ETag"].strip('"').endswith("-3"), "rclone should have uploaded 3 parts of 5 MiB"

        # rclone's own verification: sizes and hashes (MD5, from ETags and its metadata) agree.
        rclone("check", str(src), f"coffer:{bucket}/tree")
        rclone("copy", f"coffer:{bucket}/tree", str(back))
        assert _digest_tree(back) == _digest_tree(src)
        assert len(_digest_tree(back)) == len(files)

        listed = set(rclone("lsf", "-R", "--files-only", f"coffer:{bucket}/tree").stdout.splitlines())
        assert listed == set(files)
    finally:
        rclone("purge", f"coffer:{bucket}", check=False)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
