"""Shared pieces of the multi-volume integration tests: a server over N volume directories,
the admin API through the SDK's signed transport, fragment paths from `locate`, byte flipping.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import client

from coffer.sdk._client import Client


def volume_args(paths: list[Path]) -> list[str]:
    out: list[str] = []
    for p in paths:
        out += ["--volume", str(p)]
    return out


def start(server_factory, tmp_path: Path, n: int = 6, extra: list[str] | None = None, healer: bool = False):
    """A one-worker server over n fresh volume directories (returns server, volume paths). The
    background healer is off unless asked for, so tests see damage until they repair it."""
    vols = [tmp_path / f"vol{i}" for i in range(n)]
    args = volume_args(vols) + (extra or []) + ([] if healer else ["--heal-interval", "0"])
    srv = server_factory(extra_args=args)
    return srv, vols


def s3_for(srv):
    """boto3 for a server started by `start` (its own keys)."""
    return client(srv.endpoint, srv.access_key, srv.secret_key)


def cluster(server_factory, tmp_path: Path, bucket: str, n: int = 6):
    """`start` with n volumes plus a fresh bucket: (server, volume paths, boto3 client)."""
    srv, vols = start(server_factory, tmp_path, n)
    s3 = s3_for(srv)
    s3.create_bucket(Bucket=bucket)
    return srv, vols, s3


def admin(srv, method: str, name: str, **query) -> dict:
    client = Client(srv.endpoint, srv.access_key, srv.secret_key)
    try:
        q = {k: str(v) for k, v in query.items() if v is not None}
        resp = client._transport.request(method, "_coffer", "admin/v1/" + name, query=q or None, retries=False)
        return json.loads(resp.data)
    finally:
        client.close()


def fragments(srv, bucket: str, key: str) -> list[dict]:
    """The fragments of a one-segment object, by index (from `locate`)."""
    seg = admin(srv, "GET", "locate", bucket=bucket, key=key)["segments"][0]
    return sorted(seg["fragments"], key=lambda f: f["index"])


def state(srv, bucket: str, key: str) -> str:
    return admin(srv, "GET", "locate", bucket=bucket, key=key)["segments"][0]["state"]


def flip(path: str | Path, offset: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ 0xFF]))


def health(srv) -> dict:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(srv.endpoint + "/health/data", timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


def _run(*cmd: str) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[None]:
    """A small tmpfs at path (a volume that really fills up); skips where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)):
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights): full-volume test not run")
    try:
        yield
    finally:
        _run("umount", "-l", str(path))


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a volume read-only for real (root ignores permission bits): a read-only bind mount over
    it, else the immutable attribute; skips when neither is possible."""
    if os.geteuid() == 0 and _run("mount", "--bind", str(path), str(path)):
        if _run("mount", "-o", "remount,ro,bind", str(path)):
            try:
                yield
            finally:
                _run("umount", "-l", str(path))
            return
        _run("umount", "-l", str(path))
    dirs = [str(path / "tmp"), str(path / "fragments"), str(path)]
    if _run("chattr", "+i", *dirs):
        try:
            yield
        finally:
            _run("chattr", "-i", *dirs)
        return
    if os.geteuid() != 0:
        os.chmod(path / "tmp", 0o555)
        try:
            yield
        finally:
            os.chmod(path / "tmp", 0o755)
        return
    pytest.skip("cannot make a directory read-only for root here (no bind mount, no chattr)")
