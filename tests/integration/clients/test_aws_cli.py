"""The aws CLI against Coffer, used the way a person uses it.

Owns the end-to-end check that the most common S3 client works unmodified: `aws s3 mb/cp/sync/ls/
rm/rb` (including a 20 MiB file, which the CLI uploads as a multipart upload at its 8 MiB default
threshold) and a few `aws s3api` calls. The CLI runs as a subprocess with its credentials in the
environment and a private config file, so nothing on the machine leaks into the test.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from helpers import MiB, data, md5_hex, multipart_etag


def _aws_binary() -> str | None:
    local = Path(sys.executable).with_name("aws")
    return str(local) if local.exists() else shutil.which("aws")


AWS = _aws_binary()
pytestmark = pytest.mark.skipif(AWS is None, reason="the aws CLI is not installed")


@pytest.fixture(scope="module")
def cli_env(endpoint, tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("awscli")
    config = home / "config"
    # Path-style addressing: Coffer's endpoint is an IP address with no wildcard DNS.
    config.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=endpoint.access_key,
        AWS_SECRET_ACCESS_KEY=endpoint.secret_key,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
        HOME=str(home),
    )
    return env


@pytest.fixture
def aws(endpoint, cli_env):
    def run(*args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        assert AWS is not None
        cmd = [AWS, "--endpoint-url", endpoint.url, *args]
        proc = subprocess.run(cmd, env=cli_env, capture_output=True, text=True, timeout=180, cwd=cwd)
        if check:
            assert proc.returncode == 0, f"{' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    return run


@pytest.fixture
def cli_bucket(aws, s3):
    """A bucket made with `aws s3 mb` and removed with `aws s3 rb --force` (checked in a test)."""
    name = f"cli-{uuid.uuid4().hex[:16]}"
    out = aws("s3", "mb", f"s3://{name}").stdout
    assert f"make_bucket: {name}" in out
    yield name
    if name in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        aws("s3", "rb", "--force", f"s3://{name}", check=False)


def _tree(root: Path) -> dict[str, bytes]:
    files = {
        "a.txt": b"alpha\n",
        "dir/b.bin": data(70_000, seed=1),
        "dir/sub/c.bin": data(1_000, seed=2),
        "dir/sub/empty": b"",
        "with space/d é.txt": "unicode and spaces ✓".encode(),
    }
    for rel, body in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)
    return files


def _read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_cp_large_file_up_and_down(aws, s3, cli_bucket, tmp_path):
    body = data(20 * MiB, seed=20)
    src = tmp_path / "big.bin"
    src.write_bytes(body)
    aws("s3", "cp", str(src), f"s3://{cli_bucket}/big.bin")
    head = s3.head_object(Bucket=cli_bucket, Key="big.bin")
    assert head["ContentLength"] == len(body)
    # The CLI's defaults: 8 MiB threshold and 8 MiB parts -> 8 + 8 + 4 MiB, a 3-part ETag.
    parts = [body[i : i + 8 * MiB] for i in range(0, len(body), 8 * MiB)]
    assert head["ETag"] == multipart_etag(parts)
    dst = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{cli_bucket}/big.bin", str(dst))
    assert hashlib.sha256(dst.read_bytes()).digest() == hashlib.sha256(body).digest()


def test_cp_recursive_ls_and_sync(aws, s3, cli_bucket, tmp_path):
    src = tmp_path / "src"
    files = _tree(src)
    aws("s3", "cp", "--recursive", str(src), f"s3://{cli_bucket}/tree/")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=cli_bucket)["Contents"]}
    assert keys == {f"tree/{k}" for k in files}

    top = aws("s3", "ls", f"s3://{cli_bucket}/tree/").stdout
    assert "PRE dir/" in top and "PRE with space/" in top and "a.txt" in top
    assert "b.bin" not in top  # a plain ls stops at the delimiter
    everything = aws("s3", "ls", "--recursive", f"s3://{cli_bucket}/").stdout
    for k in files:
        assert f"tree/{k}" in everything
    assert str(len(files["dir/b.bin"])) in everything

    back = tmp_path / "back"
    aws("s3", "cp", "--recursive", f"s3://{cli_bucket}/tree/", str(back))
    assert _read_tree(back) == files

    # sync: the first run uploads everything, the second finds nothing to do.
    first = aws("s3", "sync", str(src), f"s3://{cli_bucket}/synced").stdout
    assert first.count("upload:") == len(files)
    second = aws("s3", "sync", str(src), f"s3://{cli_bucket}/synced")
    assert "upload:" not in second.stdout, second.stdout
    # ... and after one local change, exactly that file.
    (src / "a.txt").write_bytes(b"alpha, changed and longer\n")
    third = aws("s3", "sync", str(src), f"s3://{cli_bucket}/synced").stdout
    assert third.count("upload:") == 1 and "a.txt" in third
    got = s3.get_object(Bucket=cli_bucket, Key="synced/a.txt")["Body"].read()
    assert got == b"alpha, changed and longer\n"


def test_rm_and_rb(aws, s3, cli_bucket, tmp_path):
    src = tmp_path / "src"
    files = _tree(src)
    aws("s3", "cp", "--recursive", str(src), f"s3://{cli_bucket}/")
    aws("s3", "rm", f"s3://{cli_bucket}/a.txt")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=cli_bucket)["Contents"]}
    assert keys == set(files) - {"a.txt"}

    aws("s3", "rm", "--recursive", f"s3://{cli_bucket}/dir/")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=cli_bucket).get("Contents", [])}
    assert keys == {"with space/d é.txt"}

    # rb without --force refuses a non-empty bucket; with --force it empties and removes it.
    refused = aws("s3", "rb", f"s3://{cli_bucket}", check=False)
    assert refused.returncode != 0 and "BucketNotEmpty" in refused.stderr
    aws("s3", "rb", "--force", f"s3://{cli_bucket}")
    assert cli_bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_s3api_calls(aws, cli_bucket, tmp_path):
    body = b"s3api body\n" * 100
    src = tmp_path / "in.txt"
    src.write_bytes(body)
    put = json.loads(aws("s3api", "put-object", "--bucket", cli_bucket, "--key", "x/y.txt", "--body", str(src),
                         "--content-type", "text/plain", "--metadata", "owner=tests").stdout)
    assert put["ETag"] == f'"{md5_hex(body)}"'

    head = json.loads(aws("s3api", "head-object", "--bucket", cli_bucket, "--key", "x/y.txt").stdout)
    assert head["ContentLength"] == len(body)
    assert head["ContentType"] == "text/plain"
    assert head["Metadata"] == {"owner": "tests"}

    out = tmp_path / "out.txt"
    got = json.loads(aws("s3api", "get-object", "--bucket", cli_bucket, "--key", "x/y.txt", "--range", "bytes=0-9",
                         str(out)).stdout)
    assert got["ContentRange"] == f"bytes 0-9/{len(body)}"
    assert out.read_bytes() == body[:10]

    listing = json.loads(aws("s3api", "list-objects-v2", "--bucket", cli_bucket, "--prefix", "x/").stdout)
    assert [o["Key"] for o in listing["Contents"]] == ["x/y.txt"]

    missing = aws("s3api", "head-object", "--bucket", cli_bucket, "--key", "nope", check=False)
    assert missing.returncode != 0 and "404" in missing.stderr


def test_cli_sse_c_multipart(aws, s3, bucket, tmp_path):
    """`aws s3 cp --sse-c` of a 9 MiB file: a multipart upload whose every part carries the customer key;
    the download needs the key again."""
    src = tmp_path / "secret.bin"
    src.write_bytes(data(9 * MiB, 77))
    key = "k" * 32
    aws("s3", "cp", str(src), f"s3://{bucket}/c.bin", "--sse-c", "AES256", "--sse-c-key", key)
    head = s3.head_object(Bucket=bucket, Key="c.bin", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert head["ETag"].endswith('-2"') and head["SSECustomerAlgorithm"] == "AES256"
    assert aws("s3", "cp", f"s3://{bucket}/c.bin", str(tmp_path / "x"), check=False).returncode != 0
    out = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{bucket}/c.bin", str(out), "--sse-c", "AES256", "--sse-c-key", key)
    assert md5_hex(out.read_bytes()) == md5_hex(src.read_bytes())
