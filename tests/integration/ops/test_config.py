"""`coffer serve` configuration: TOML file, COFFER_* environment, flags; flag > env > file > default."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
import urllib.request

import boto3
from botocore.config import Config as BotoConfig

from ports import free_port


def print_config(*args: str, env: dict[str, str] | None = None) -> dict:
    res = subprocess.run([sys.executable, "-m", "coffer", "serve", *args, "--print-config"],
                         capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}, check=True)
    return tomllib.loads(res.stdout)  # the printout is itself a config file


def test_precedence_flag_over_env_over_file_over_default(tmp_path):
    conf = tmp_path / "coffer.toml"
    conf.write_text('region = "file-region"\nscrub-rate = 5\nworkers = 3\ndomain = ["a.example", "b.example"]\n'
                    'secret_key = "file-secret-0123456789"\naccess_key = "FILEKEY"\n')
    got = print_config("--config", str(conf), "--workers", "7", env={"COFFER_SCRUB_RATE": "9"})
    assert got["workers"] == 7  # flag over file
    assert got["scrub-rate"] == 9.0  # env over file
    assert got["region"] == "file-region"  # file over default
    assert got["domain"] == ["a.example", "b.example"]
    assert got["heal-interval"] == 2.0  # default
    assert got["secret-key"] == "********"  # secrets masked
    assert "file-secret" not in str(got)
    got = print_config(env={"COFFER_CONFIG": str(conf), "COFFER_REGION": "env-region", "COFFER_DOMAIN": "x y"})
    assert got["region"] == "env-region" and got["domain"] == ["x", "y"] and got["workers"] == 3


def test_unknown_setting_or_bad_toml_is_one_line(tmp_path):
    for text in ("colour = 'blue'\n", "workers = [\n"):
        conf = tmp_path / "bad.toml"
        conf.write_text(text)
        res = subprocess.run([sys.executable, "-m", "coffer", "serve", "--config", str(conf)],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and "--config" in res.stderr


def test_server_runs_from_a_config_file_and_environment(tmp_path):
    port = free_port()
    conf = tmp_path / "coffer.toml"
    conf.write_text(f'data = "{tmp_path / "data"}"\naddress = "127.0.0.1:{port}"\nworkers = 1\nregion = "eu-west-3"\n')
    env = {**os.environ, "COFFER_ACCESS_KEY": "ENVKEY", "COFFER_SECRET_KEY": "env-secret-0123456789"}
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - the server's output, closed at the end
    proc = subprocess.Popen([sys.executable, "-m", "coffer", "serve", "--config", str(conf)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.1)
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="ENVKEY",
                          aws_secret_access_key="env-secret-0123456789", region_name="eu-west-3",
                          config=BotoConfig(retries={"max_attempts": 1}))
        s3.create_bucket(Bucket="configured", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
        assert s3.get_bucket_location(Bucket="configured")["LocationConstraint"] == "eu-west-3"
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
