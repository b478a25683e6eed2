"""Start-up safety of `coffer serve`: one server per data folder, keys never changed by a start, every
refused start one clear line with a non-zero exit, and signals that say what they do."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig

from ports import free_port


def serve(data: Path, *args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "coffer", "serve", "--data", str(data), "--workers", "1", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def one_line_refusal(res: subprocess.CompletedProcess) -> str:
    """The refused start's message: non-zero exit, exactly one line on stderr, no traceback."""
    assert res.returncode != 0, res
    assert "Traceback" not in res.stderr + res.stdout
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    return lines[0]


def users(data: Path) -> str:
    res = subprocess.run([sys.executable, "-m", "coffer", "user", "list", "--data", str(data), "--json"],
                         capture_output=True, text=True, timeout=60, check=True)
    return res.stdout


def client(srv, secret: str | None = None):
    return boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=srv.access_key,
                        aws_secret_access_key=secret or srv.secret_key, region_name="us-east-1",
                        config=BotoConfig(retries={"max_attempts": 1}))


def test_second_server_on_a_data_folder_is_refused_naming_the_pid(server_factory):
    srv = server_factory()
    line = one_line_refusal(serve(srv.data, "--address", f"127.0.0.1:{free_port()}"))
    assert f"pid {srv.proc.pid}" in line and "in use" in line
    client(srv).list_buckets()  # the first server is untouched


def test_a_start_that_fails_on_a_busy_port_changes_no_keys(server_factory, tmp_path):
    srv = server_factory()
    client(srv).create_bucket(Bucket="kept")
    srv.stop()
    blocker = server_factory()  # holds a port of its own
    # the old data folder, a busy port, other keys: refused, and the root keys are what they were
    line = one_line_refusal(serve(srv.data, "--address", f"127.0.0.1:{blocker.port}",
                                  "--access-key", srv.access_key, "--secret-key", "another-secret-0123456789"))
    assert "differ from the root user's keys" in line
    line = one_line_refusal(serve(srv.data, "--address", f"127.0.0.1:{blocker.port}"))
    assert "cannot listen" in line and str(blocker.port) in line
    # a new data folder and a busy port: no root user is created
    fresh = tmp_path / "fresh"
    line = one_line_refusal(serve(fresh, "--address", f"127.0.0.1:{blocker.port}",
                                  "--access-key", "NEWKEY", "--secret-key", "new-secret-0123456789"))
    assert "cannot listen" in line
    assert "NEWKEY" not in users(fresh)
    srv.start()
    assert [b["Name"] for b in client(srv).list_buckets()["Buckets"]] == ["kept"]


def test_root_keys_change_only_by_the_user_command(server_factory):
    srv = server_factory()
    srv.stop()
    new_secret = "rotated-secret-0123456789abcdef"
    subprocess.run([sys.executable, "-m", "coffer", "user", "add", "root", "--admin", "--access-key", srv.access_key,
                    "--secret-key", new_secret, "--data", str(srv.data)], check=True, capture_output=True, timeout=60)
    srv.secret_key = new_secret
    srv.start()
    client(srv, new_secret).list_buckets()


def test_bad_data_folders_are_one_line(tmp_path):
    port = f"127.0.0.1:{free_port()}"
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "not a directory" in one_line_refusal(serve(afile, "--address", port))

    corrupt = tmp_path / "corrupt"
    (corrupt / "meta").mkdir(parents=True)
    (corrupt / "meta" / "coffer.sqlite3").write_bytes(b"this is not an SQLite database at all" * 200)
    assert "corrupt" in one_line_refusal(serve(corrupt, "--address", port))

    newer = tmp_path / "newer"
    (newer / "meta").mkdir(parents=True)
    conn = sqlite3.connect(newer / "meta" / "coffer.sqlite3")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    line = one_line_refusal(serve(newer, "--address", port))
    assert "999" in line and "newer" in line


def test_bad_flags_are_one_line(tmp_path):
    for args in (["--address", "nowhere"], ["--address", "127.0.0.1:99999"], ["--workers", "0"],
                 ["--access-key", "onlyone"], ["--tls-cert", str(tmp_path / "c.pem")]):
        res = serve(tmp_path / "d", *args)
        assert res.returncode == 2, (args, res)
        assert "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1, (args, res.stderr)
    bad_key = tmp_path / "master.key"
    bad_key.write_text("short")
    line = one_line_refusal(serve(tmp_path / "d", "--address", f"127.0.0.1:{free_port()}",
                                  "--master-key-file", str(bad_key)))
    assert "master key" in line


def test_sigterm_and_ctrl_c_say_what_they_do(server_factory):
    for sig, workers in ((signal.SIGTERM, 1), (signal.SIGINT, 2)):
        srv = server_factory(workers=workers)
        srv.proc.send_signal(sig)
        assert srv.proc.wait(30) == 0
        log = srv.log_text()
        assert f"{sig.name} received: no new connections" in log
        assert log.rstrip().endswith("coffer: stopped")
