"""The client CLI as a person uses it: a subprocess per command, real files, real server.

Each command runs ``python -m coffer.cli.main`` with its own config folder, and the tests check what
a user sees: output lines, --json records, files on disk, and exit codes.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from pathlib import Path

import pytest


@pytest.fixture
def bucket(run):
    name = f"cli-{uuid.uuid4().hex[:12]}"
    run("mb", f"dev/{name}")
    yield name
    run("rb", "--force", f"dev/{name}", ok=False)


def _lines(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]


def test_aliases(run, coffer_target):
    shown = run("alias", "ls", "--json")
    rows = _lines(shown)
    assert rows[0]["name"] == "dev" and rows[0]["url"] == coffer_target.url
    assert coffer_target.secret_key.encode() not in shown.stdout  # secrets are never printed
    saved = _lines(run("alias", "set", "offline", "http://127.0.0.1:9", "K", "S", "--no-check", "--json"))[0]
    assert Path(saved["file"]).stat().st_mode & 0o777 == 0o600  # the alias file holds secrets
    assert {r["name"] for r in _lines(run("alias", "ls", "--json"))} == {"dev", "offline"}
    failing = run("ls", "offline", ok=False)  # nothing listens there
    assert failing.returncode == 1 and b"ConnectionFailed" in failing.stderr
    run("alias", "rm", "offline")
    t = coffer_target
    host = t.url.replace("http://", f"http://{t.access_key}:{t.secret_key}@")
    env_alias = run("ls", "--json", "envsrv", extra_env={"COFFER_HOST_ENVSRV": host})
    assert env_alias.returncode == 0
    assert run("alias", "rm", "nope", ok=False).returncode == 2
    assert run("ls", "nosuch/bucket", ok=False).returncode == 2


def test_object_round_trip(run, bucket, tmp_path):
    (tmp_path / "notes.txt").write_text("hello coffer\n")
    run("cp", "notes.txt", f"dev/{bucket}/docs/")
    listed = _lines(run("ls", "--json", "-r", f"dev/{bucket}"))
    assert [r["key"] for r in listed] == ["docs/notes.txt"] and listed[0]["size"] == 13
    assert b"docs/" in run("ls", f"dev/{bucket}").stdout
    assert run("cat", f"dev/{bucket}/docs/notes.txt").stdout == b"hello coffer\n"
    stat = _lines(run("stat", "--json", f"dev/{bucket}/docs/notes.txt"))[0]
    assert stat["size"] == 13 and stat["content_type"] == "text/plain"
    (tmp_path / "down").mkdir()
    run("cp", f"dev/{bucket}/docs/notes.txt", "down/")
    assert (tmp_path / "down" / "notes.txt").read_text() == "hello coffer\n"
    url = run("presign", f"dev/{bucket}/docs/notes.txt", "--expires", "60").stdout.decode().strip()
    with urllib.request.urlopen(url) as r:
        assert r.read() == b"hello coffer\n"
    run("append", f"dev/{bucket}/docs/notes.txt", stdin=b"one more line\n")
    assert run("cat", f"dev/{bucket}/docs/notes.txt").stdout == b"hello coffer\none more line\n"


def test_exit_codes_and_messages(run, bucket):
    missing = run("cat", f"dev/{bucket}/missing", ok=False)
    assert missing.returncode == 3 and b"NoSuchKey" in missing.stderr
    as_json = run("stat", "--json", f"dev/{bucket}/missing", ok=False)
    assert as_json.returncode == 3 and _lines(as_json)[0]["error"] == "NoSuchKey"
    nofile = run("cp", "nothere.bin", f"dev/{bucket}/k", ok=False)
    assert nofile.returncode == 3 and b"nothere.bin" in nofile.stderr
    assert run("mb", f"dev/{bucket}", ok=False).returncode == 1
    assert run("rm", f"dev/{bucket}/missing", ok=False).returncode == 3
    assert run("rm", "--force", f"dev/{bucket}/missing").returncode == 0
    assert run("cp", "a", "b", ok=False).returncode == 2  # two local paths


def test_recursive_copy_sync_and_move(run, bucket, tmp_path, coffer_target):
    src = tmp_path / "photos"
    (src / "2024").mkdir(parents=True)
    (src / "2024" / "a.jpg").write_bytes(os.urandom(1000))
    (src / "b.txt").write_text("b")
    (src / "big.bin").write_bytes(os.urandom(9 * 1024 * 1024))
    up = _lines(run("cp", "-r", "--json", "photos", f"dev/{bucket}/backup"))
    assert sorted(r["target"] for r in up) == [f"dev/{bucket}/backup/{k}" for k in ("2024/a.jpg", "b.txt", "big.bin")]
    run("cp", "-r", f"dev/{bucket}/backup", "restore")
    for rel in ("2024/a.jpg", "b.txt", "big.bin"):
        assert (tmp_path / "restore" / rel).read_bytes() == (src / rel).read_bytes()
    # sync: only the changed file moves; --delete removes what the source no longer has
    (src / "b.txt").write_text("changed")
    (src / "2024" / "a.jpg").unlink()
    moved = _lines(run("sync", "--json", "--delete", "photos", f"dev/{bucket}/backup"))
    assert {(r["action"], r["target"]) for r in moved} == {
        ("upload", f"dev/{bucket}/backup/b.txt"), ("delete", f"dev/{bucket}/backup/2024/a.jpg")}
    assert _lines(run("sync", "--json", "photos", f"dev/{bucket}/backup")) == []
    down = _lines(run("sync", "--json", "--delete", f"dev/{bucket}/backup", "restore"))
    assert {(r["action"], Path(r["target"]).name) for r in down} == {("download", "b.txt"), ("delete", "a.jpg")}
    assert _lines(run("sync", "--json", f"dev/{bucket}/backup", "restore")) == []
    assert (tmp_path / "restore" / "b.txt").read_text() == "changed"
    # mv: remote to remote, then local to remote (the local file goes away)
    run("mv", f"dev/{bucket}/backup/b.txt", f"dev/{bucket}/moved/b.txt")
    keys = [r["key"] for r in _lines(run("ls", "-r", "--json", f"dev/{bucket}"))]
    assert "moved/b.txt" in keys and "backup/b.txt" not in keys
    run("mv", "photos/big.bin", f"dev/{bucket}/moved/")
    assert not (src / "big.bin").exists()
    removed = _lines(run("rm", "-r", "--json", f"dev/{bucket}/moved"))
    assert {r["key"] for r in removed} == {"moved/b.txt", "moved/big.bin"}
    if coffer_target.client().is_coffer():  # SeaweedFS removes non-empty buckets anyway
        assert run("rb", f"dev/{bucket}", ok=False).returncode == 1  # backup/ still there
    run("rb", "--force", f"dev/{bucket}")
    assert run("ls", f"dev/{bucket}", ok=False).returncode == 3
