"""A full disk: new data is refused with a clear 507 (never a 500), deletes always commit (the metadata
reserve), and writes work again once space is freed. The data folder is a small tmpfs."""

from __future__ import annotations

import contextlib
import os

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from ec_support import tmpfs

MiB = 1024 * 1024


def fill(path) -> None:
    """Write `path` until the disk refuses another byte (another process filling the disk)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)


def test_full_disk_refuses_writes_clearly_and_deletes_still_work(server_factory, tmp_path):
    mount = tmp_path / "small"
    with tmpfs(mount, "48m"):
        srv = server_factory(extra_args=["--min-free", "12"])
        srv.stop()
        srv.data = mount / "data"  # the same server, on the small disk
        srv.start()
        s3 = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=srv.access_key,
                          aws_secret_access_key=srv.secret_key, region_name="us-east-1",
                          config=BotoConfig(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
        s3.create_bucket(Bucket="full")
        stored = []
        with pytest.raises(ClientError) as e:
            for i in range(100):
                s3.put_object(Bucket="full", Key=f"o{i}", Body=os.urandom(MiB))
                stored.append(f"o{i}")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 507
        assert e.value.response["Error"]["Code"] == "InsufficientStorage"
        assert 10 < len(stored) < 40
        # another process takes the last byte: still no 500, and deletes still commit
        fill(mount / "filler")
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket="full", Key="more", Body=b"x")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 507
        for key in stored:
            s3.delete_object(Bucket="full", Key=key)
        assert "Contents" not in s3.list_objects_v2(Bucket="full")
        (mount / "filler").unlink()
        s3.put_object(Bucket="full", Key="again", Body=os.urandom(MiB))
        assert len(s3.get_object(Bucket="full", Key="again")["Body"].read()) == MiB
        srv.stop()
