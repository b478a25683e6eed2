"""IBM's ibm_boto3 and fsspec's s3fs against Coffer, unchanged.

s3fs pins an older botocore (through aiobotocore) than boto3 needs, so it lives in its own venv,
`.venv-clients` (made by .ci/run); its test runs a script there and skips where that venv is absent.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CLIENTS_PY = ROOT / ".venv-clients" / "bin" / "python"


def test_ibm_boto3_basic_flow(endpoint, tmp_path):
    ibm_boto3 = pytest.importorskip("ibm_boto3")
    from ibm_botocore.client import Config

    cos = ibm_boto3.client(
        "s3", endpoint_url=endpoint.url, aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=endpoint.secret_key, config=Config(signature_version="s3v4"),
        region_name="us-east-1",
    )
    bucket = f"ibm-{uuid.uuid4().hex[:12]}"
    cos.create_bucket(Bucket=bucket)
    cos.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello from ibm_boto3", Metadata={"owner": "ibm"})
    got = cos.get_object(Bucket=bucket, Key="hello.txt")
    assert got["Body"].read() == b"hello from ibm_boto3"
    assert got["Metadata"] == {"owner": "ibm"}
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    from ibm_boto3.s3.transfer import TransferConfig

    cos.upload_file(str(big), bucket, "big.bin",
                    Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
    out = tmp_path / "out.bin"
    cos.download_file(bucket, "big.bin", str(out))
    assert hashlib.md5(out.read_bytes()).digest() == hashlib.md5(big.read_bytes()).digest()
    keys = [o["Key"] for o in cos.list_objects(Bucket=bucket)["Contents"]]
    assert keys == ["big.bin", "hello.txt"]
    cos.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    cos.delete_bucket(Bucket=bucket)


def test_s3fs_round_trip(endpoint, tmp_path):
    if not CLIENTS_PY.exists():
        pytest.skip(".venv-clients with s3fs is not installed (made by .ci/run)")
    script = textwrap.dedent(f"""
        import hashlib, os, s3fs
        fs = s3fs.S3FileSystem(key={endpoint.access_key!r}, secret={endpoint.secret_key!r},
                               client_kwargs={{"endpoint_url": {endpoint.url!r}, "region_name": "us-east-1"}})
        b = "s3fs-{uuid.uuid4().hex[:12]}"
        fs.mkdir(b)
        data = os.urandom(7 * 1024 * 1024)
        with fs.open(b + "/dir/big.bin", "wb", block_size=5 * 1024 * 1024) as f:
            f.write(data)
        fs.pipe(b + "/dir/small.txt", b"small")
        assert fs.cat(b + "/dir/small.txt") == b"small"
        with fs.open(b + "/dir/big.bin", "rb") as f:
            f.seek(1000)
            assert f.read(10) == data[1000:1010]
        assert hashlib.md5(fs.cat(b + "/dir/big.bin")).digest() == hashlib.md5(data).digest()
        assert sorted(fs.ls(b + "/dir")) == [b + "/dir/big.bin", b + "/dir/small.txt"]
        assert fs.ls(b) == [b + "/dir"]
        fs.rm(b, recursive=True)
        print("s3fs ok")
    """)
    r = subprocess.run([str(CLIENTS_PY), "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "s3fs ok" in r.stdout
