"""`--json` on the server's commands (serve, user, token, kms, meta), given after the command or to
`coffer` before it, as on every client command: one JSON document on stdout per result."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from coffer.cli._output import GLOBAL_KEY as CLIENT_GLOBAL_KEY
from coffer.server.cli import GLOBAL_KEY as SERVER_GLOBAL_KEY
from ports import free_port


def coffer(*args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "coffer", *args], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_the_global_flags_live_under_one_name():
    assert SERVER_GLOBAL_KEY == CLIENT_GLOBAL_KEY


def test_user_token_kms_and_meta_commands_answer_json(tmp_path: Path):
    data = str(tmp_path / "data")
    added = json.loads(coffer("user", "add", "alice", "--access-key", "ALICEKEY0123", "--secret-key",
                              "alice-secret-0123456789", "--data", data, "--json"))
    assert added == {"user": "alice", "access_key": "ALICEKEY0123", "admin": False, "added": True}
    assert coffer("user", "add", "bob", "--access-key", "BOBKEY012345", "--secret-key", "bob-secret-0123456789",
                  "--data", data) == "user bob added\n"  # text stays the default
    made = json.loads(coffer("--json", "token", "create", "--user", "alice", "--data", data))  # flag before
    listed = json.loads(coffer("token", "list", "--data", data, "--json"))
    assert [(t["id"], t["user"], t["state"]) for t in listed] == [(made["id"], "alice", "active")]
    assert json.loads(coffer("--json", "token", "revoke", made["id"], "--data", data)) == {
        "id": made["id"], "user": "alice", "revoked": True}
    assert json.loads(coffer("--json", "token", "list", "--data", data))[0]["state"] == "revoked"
    key = json.loads(coffer("kms", "key", "create", "--data", data, "--json"))
    assert json.loads(coffer("--json", "kms", "key", "disable", key["id"], "--data", data)) == {
        "id": key["id"], "state": "Disabled"}
    assert json.loads(coffer("kms", "key", "enable", key["id"], "--data", data, "--json"))["state"] == "Enabled"
    migrated = json.loads(coffer("meta", "migrate", "--data", data, "--json"))
    assert migrated["before"] == migrated["after"] == migrated["this_coffer"]
    assert json.loads(coffer("--json", "user", "remove", "bob", "--data", data)) == {"user": "bob", "removed": True}
    assert [u["id"] for u in json.loads(coffer("--json", "user", "list", "--data", data))] == ["alice"]


def _ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/health/ready", timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_serve_json_announces_itself_and_logs_as_json(tmp_path: Path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "coffer", "--json", "serve", "--data", str(tmp_path / "data"),
                             "--address", f"127.0.0.1:{port}", "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        root = json.loads(proc.stdout.readline())  # a new data folder: its root user's keys come first
        assert root["event"] == "root-user-created" and root["access_key"] and root["secret_key"]
        start = json.loads(proc.stdout.readline())
        assert start["event"] == "serving" and start["front"] == "s3"
        assert start["url"] == f"http://127.0.0.1:{port}" and start["workers"] == 1
        _ready(start["url"])  # its signal handlers are in place: SIGTERM is a clean stop
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    logged = [json.loads(ln) for ln in err.splitlines() if ln.startswith("{")]
    assert logged, err  # the stop is logged, as JSON like every log line
