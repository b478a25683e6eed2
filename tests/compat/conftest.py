"""Fixtures for the compatibility layers' tests: IBM's own client (ibm_boto3, HMAC keys) against the
shared Coffer server of tests/conftest.py (``endpoint``), and fresh buckets emptied afterwards. File
and tree helpers are in aspera_files.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

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
