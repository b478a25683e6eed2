"""Packaging for operators: the dependencies the README's install needs, the Dockerfile, the systemd unit,
and docs/operations.md listing every `coffer serve` setting."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import tomllib
import uuid
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_erasure_coding_needs_no_extra():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(re.match(r"pyeclib\b", d) for d in deps)


def test_dockerfile_runs_as_a_user_with_a_data_volume_and_a_healthcheck():
    text = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r'^VOLUME\s+\["/data"\]', text, re.M)
    assert re.search(r"^HEALTHCHECK\s.*\n?.*health/ready", text, re.M)
    assert re.search(r'^ENTRYPOINT\s+\["coffer", "serve"\]', text, re.M)


def test_docker_image_builds_and_serves(tmp_path):
    engine = shutil.which("docker") or shutil.which("podman")
    if engine is None:
        pytest.skip("no container engine (docker or podman) on this machine: the image is not built here")
    if subprocess.run([engine, "info"], capture_output=True, timeout=60).returncode != 0:
        pytest.skip(f"{engine} is installed but no container engine runs here: the image is not built")
    tag = f"coffer-test-{uuid.uuid4().hex[:8]}"
    subprocess.run([engine, "build", "-t", tag, str(ROOT)], check=True, timeout=1800)
    try:
        out = subprocess.run([engine, "run", "--rm", tag, "--print-config"], capture_output=True, text=True,
                             check=True, timeout=120).stdout
        assert 'data = "/data"' in out and "environment" in out
    finally:
        subprocess.run([engine, "rmi", "-f", tag], check=False, timeout=120)


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((ROOT / "packaging" / "coffer.service").read_text())
    return parser


def test_systemd_unit_is_hardened():
    svc = unit()["Service"]
    assert svc["User"] == "coffer"
    for key, value in {"NoNewPrivileges": "true", "ProtectSystem": "strict", "PrivateTmp": "true",
                       "ProtectHome": "true", "CapabilityBoundingSet": "", "ExecReload": "/bin/kill -HUP $MAINPID"
                       }.items():
        assert svc[key] == value, key
    assert "coffer serve" in svc["ExecStart"]


def test_systemd_unit_verifies():
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed here")
    res = subprocess.run([tool, "verify", str(ROOT / "packaging" / "coffer.service")], capture_output=True,
                         text=True, timeout=60)
    problems = [ln for ln in res.stderr.splitlines() if "coffer.service" in ln and "Command /usr/local/bin" not in ln]
    assert not problems, res.stderr


def test_operations_doc_lists_every_serve_setting():
    from coffer.server.cli.serve import serve_cmd

    doc = (ROOT / "docs" / "operations.md").read_text()
    for param in serve_cmd.params:
        if isinstance(param, click.Option):
            assert f"`{param.opts[0]}`" in doc, param.opts[0]
            if param.envvar:
                assert f"`{param.envvar}`" in doc, param.envvar


def test_grafana_dashboard_uses_metrics_the_server_exports():
    import json

    dash = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    source = (ROOT / "src" / "coffer" / "server" / "metrics.py").read_text()
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert exprs
    for name in {n for e in exprs for n in re.findall(r"coffer_[a-z_]+", e)}:
        base = re.sub(r"_(total|bucket|sum|count)$", "", name)
        assert f'"{base}"' in source, name
