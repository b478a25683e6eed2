"""CLI test fixtures: the `coffer` command and the aws CLI, both as subprocesses, against the session's
real server (tests/conftest.py's ``endpoint``), each run with its own config folder and no proxy.

``run(*args)`` is ``python -m coffer.cli.main`` with alias ``dev`` set to the server; ``aws(*args)``
is the aws CLI of the same venv pointed at the same server with the same keys, so a test can make
data with one tool and read it with the other.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_SRC = str(Path(__file__).resolve().parents[2] / "src")
AWS = str(Path(sys.executable).parent / "aws")


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": _SRC, "COFFER_CONFIG_DIR": str(tmp_path / "cfg"), "TZ": "UTC",
           "HOME": str(tmp_path / "home")}
    for k in list(env):
        if k.startswith(("COFFER_HOST_", "COFFER_ENDPOINT", "AWS_", "MC_HOST_", "NO_COLOR", "FORCE_COLOR")) \
                or k.lower().endswith("_proxy"):
            env.pop(k)
    return env


@pytest.fixture
def run(tmp_path, endpoint) -> Callable[..., subprocess.CompletedProcess]:
    """`run(*args)`: the `coffer` CLI; raises on a non-zero exit unless ok=False."""
    env = _clean_env(tmp_path)

    def run(*args: str, stdin: bytes | None = None, ok: bool = True, extra_env: dict | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "coffer.cli.main", *args], input=stdin,
                              capture_output=True, env={**env, **(extra_env or {})}, cwd=tmp_path,
                              timeout=timeout)
        if ok and proc.returncode != 0:
            raise AssertionError(f"coffer {' '.join(args)} -> {proc.returncode}\n{proc.stderr.decode()}"
                                 f"\n{proc.stdout.decode()[-2000:]}")
        return proc

    run("alias", "set", "dev", endpoint.url, endpoint.access_key, endpoint.secret_key)
    return run


@pytest.fixture
def aws(tmp_path, endpoint) -> Callable[..., subprocess.CompletedProcess]:
    """`aws(*args)`: the aws CLI against the same server; `--output json` answers parsed by aws_json."""
    env = {**_clean_env(tmp_path), "AWS_ACCESS_KEY_ID": endpoint.access_key,
           "AWS_SECRET_ACCESS_KEY": endpoint.secret_key, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-cred")}

    def aws(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([AWS, "--endpoint-url", endpoint.url, *args], capture_output=True, env=env,
                              cwd=tmp_path, timeout=120)
        if ok and proc.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} -> {proc.returncode}\n{proc.stderr.decode()}")
        return proc

    return aws


@pytest.fixture
def bucket(run) -> Iterator[str]:
    name = f"cli-{uuid.uuid4().hex[:12]}"
    run("mb", f"dev/{name}")
    yield name
    run("rb", "--force", f"dev/{name}", ok=False)
