"""Credential caches follow changes made at another gateway: PostgreSQL LISTEN/NOTIFY, not the TTL.

Two gateways (data folders of their own, one PostgreSQL database) started with a credential cache
TTL of 60 s (COFFER_CREDENTIAL_CACHE_TTL). Gateway B's cache is warmed with a request, the access key,
token or user is removed through gateway A's admin API (or the `coffer token` CLI), and B must refuse
it within 10 s: with the notification it does so at once, without it B would accept it for a minute.
Needs COFFER_TEST_PG (tests/pg_server.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError
from helpers import client

import pg_server
from coffer.sdk._client import Client

pytestmark = pytest.mark.skipif(not pg_server.configured(), reason=pg_server.SKIP_REASON)

WITHIN = 10.0  # seconds B may take (the cache TTL is 60)


@pytest.fixture
def database() -> Iterator[str]:
    dsn = pg_server.new_database("inval")
    yield dsn
    pg_server.drop_database(dsn)


def cli(database: str, data: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "coffer", *args, "--data", str(data)],
                         env={**os.environ, "COFFER_META": database}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def s3_accepts(endpoint: str, ak: str, sk: str) -> bool:
    try:
        client(endpoint, ak, sk, checksums=False).list_buckets()
        return True
    except ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidAccessKeyId", e.response
        return False


def token_accepted(endpoint: str, token: str) -> bool:
    r = requests.get(f"{endpoint}/v1/buckets", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code in (200, 401, 403), r.text
    return r.status_code == 200


def refused_within(accepts: Callable[[], bool], seconds: float = WITHIN) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not accepts():
            return True
        time.sleep(0.05)
    return False


def test_a_key_token_or_user_removed_at_one_gateway_is_refused_at_the_other(
        database: str, server_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COFFER_CREDENTIAL_CACHE_TTL", "60")
    a, b = server_factory(meta=database), server_factory(meta=database)
    try:
        admin = Client(a.endpoint, a.access_key, a.secret_key).admin
        first = admin.add_user("carol", access_key="CAROLKEY00000001", secret_key="carol-secret-0123456789")
        assert [k["access_key"] for k in first["access_keys"]] == ["CAROLKEY00000001"]
        second = admin.create_key("carol")
        ak, sk = second["access_key"], second["secret_key"]
        for gw in (a, b):  # both gateways know both keys (and cache them for 60 s)
            assert s3_accepts(gw.endpoint, "CAROLKEY00000001", "carol-secret-0123456789")
            assert s3_accepts(gw.endpoint, ak, sk)

        admin.delete_key(ak)  # through A: only the notification reaches B's cache
        assert refused_within(lambda: s3_accepts(b.endpoint, ak, sk))
        assert s3_accepts(b.endpoint, "CAROLKEY00000001", "carol-secret-0123456789")  # the other key stays

        token = cli(database, a.data, "token", "create", "--user", "carol").strip()
        assert token_accepted(b.endpoint, token)  # B caches the check
        cli(database, a.data, "token", "revoke", token)
        assert refused_within(lambda: token_accepted(b.endpoint, token))

        admin.remove_user("carol")  # the user and every key of theirs
        assert refused_within(lambda: s3_accepts(b.endpoint, "CAROLKEY00000001", "carol-secret-0123456789"))
        assert not s3_accepts(a.endpoint, "CAROLKEY00000001", "carol-secret-0123456789")
    finally:
        a.stop()
        b.stop()
