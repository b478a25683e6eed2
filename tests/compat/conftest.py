"""Fixtures for the compatibility layers' tests: IBM's own client (ibm_boto3, HMAC keys) against the
shared Coffer server of tests/conftest.py (``endpoint``), fresh buckets emptied afterwards, and file
trees to move.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ibm_boto3 = pytest.importorskip("ibm_boto3")
from ibm_botocore.client import Config  # noqa: E402


@pytest.fixture(scope="session")
def client(endpoint):
    """An ibm_boto3 S3 client with HMAC keys, as IBM's guide makes one for S3-compatible tools."""
    return ibm_boto3.client("s3", aws_access_key_id=endpoint.access_key, aws_secret_access_key=endpoint.secret_key,
                            endpoint_url=endpoint.url, region_name="us-east-1",
                            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


def _empty(client, name: str) -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
    for up in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
        client.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    client.delete_bucket(Bucket=name)


@pytest.fixture
def cos_bucket(client) -> Iterator[str]:
    """A fresh bucket made and removed with ibm_boto3."""
    name = f"t-asp-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    yield name
    try:
        _empty(client, name)
    except Exception:
        pass


def make_file(path: Path, size: int, seed: int = 0) -> Path:
    """A file of ``size`` pseudo-random bytes (fast: one random MiB repeated with a counter)."""
    block = bytearray(os.urandom(1 << 20))
    with open(path, "wb") as f:
        left, n = size, seed
        while left > 0:
            block[:8] = n.to_bytes(8, "little")
            chunk = bytes(block[: min(left, len(block))])
            f.write(chunk)
            left -= len(chunk)
            n += 1
    return path


def make_tree(root: Path, count: int, size: int = 1024) -> dict[str, bytes]:
    """``count`` small files in sub-folders of ``root``; returns {relative path: content}."""
    files = {}
    for i in range(count):
        rel = f"d{i % 20:02d}/f{i:05d}.bin"
        data = i.to_bytes(4, "little") * (size // 4)
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        files[rel] = data
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
