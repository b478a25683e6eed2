"""The cluster's keys live in the shared PostgreSQL metadata: two gateways with data folders of their own
encrypt and decrypt with the same SSE master key and KMS keys, and accept each other's bearer tokens.

Objects are small (stored inline in the metadata row) so that no data folder is shared; without shared
keys each gateway would make a master key and a token key of its own in its folder, and reading through
the other gateway would fail. Needs COFFER_TEST_PG (tests/pg_server.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from helpers import client

import pg_server

pytestmark = pytest.mark.skipif(not pg_server.configured(), reason=pg_server.SKIP_REASON)


@pytest.fixture
def database() -> Iterator[str]:
    dsn = pg_server.new_database("keys")
    yield dsn
    pg_server.drop_database(dsn)


def cli(database: str, data: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "coffer", *args, "--data", str(data)],
                         env={**os.environ, "COFFER_META": database}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_encrypted_objects_and_tokens_work_through_either_gateway(database: str, server_factory) -> None:
    one, two = server_factory(meta=database), server_factory(meta=database)
    try:
        c1 = client(one.endpoint, one.access_key, one.secret_key)
        c2 = client(two.endpoint, two.access_key, two.secret_key)
        c1.create_bucket(Bucket="sealed")
        c1.put_object(Bucket="sealed", Key="s3", Body=b"sse-s3 " * 1000, ServerSideEncryption="AES256")
        assert c2.get_object(Bucket="sealed", Key="s3")["Body"].read() == b"sse-s3 " * 1000
        c2.put_object(Bucket="sealed", Key="back", Body=b"the other way", ServerSideEncryption="AES256")
        assert c1.get_object(Bucket="sealed", Key="back")["Body"].read() == b"the other way"

        key = json.loads(cli(database, one.data, "kms", "key", "create", "--alias", "shared", "--json"))
        c1.put_object(Bucket="sealed", Key="kms", Body=b"sse-kms", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId="alias/shared")
        got = c2.get_object(Bucket="sealed", Key="kms")
        assert got["Body"].read() == b"sse-kms" and got["SSEKMSKeyId"].endswith(key["id"])
        listed = cli(database, two.data, "kms", "key", "list", "--json")  # the other folder sees the key
        assert key["id"] in listed
        for srv in (one, two):  # the keys are in the database, not in either folder
            assert not (srv.data / "keys" / "master.key").exists() and not (srv.data / "keys" / "kms.json").exists()

        token = cli(database, one.data, "token", "create", "--user", "root").strip()
        r = requests.get(f"{two.endpoint}/v1/buckets", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200, r.text
    finally:
        one.stop()
        two.stop()


def test_a_folder_with_another_master_key_is_refused(database: str, server_factory, tmp_path: Path) -> None:
    one = server_factory(meta=database)
    try:
        c1 = client(one.endpoint, one.access_key, one.secret_key)
        c1.create_bucket(Bucket="sealed")
        c1.put_object(Bucket="sealed", Key="k", Body=b"x", ServerSideEncryption="AES256")  # the cluster's key
    finally:
        one.stop()
    folder = tmp_path / "other"
    (folder / "keys").mkdir(parents=True, mode=0o700)
    (folder / "keys" / "master.key").write_text("A" * 43 + "=\n")
    (folder / "keys" / "master.key").chmod(0o600)
    out = subprocess.run([sys.executable, "-m", "coffer", "serve", "--data", str(folder), "--meta", database,
                          "--address", "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "another master key than the cluster's" in out.stderr
