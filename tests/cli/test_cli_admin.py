"""`coffer admin info` and `coffer quota` (mc's names) against a real server with an admin alias."""

from __future__ import annotations

import uuid

from cli_helpers import lines


def test_admin_info(run, bucket):
    run("pipe", f"dev/{bucket}/x", stdin=b"y" * 100)
    info = lines(run("--json", "admin", "--alias", "dev", "info"))[0]
    assert info["server"].startswith("Coffer") and info["users"] >= 1 and info["buckets"] >= 1
    assert info["objects"] >= 1 and info["bytes"] >= 100
    text = run("admin", "-a", "dev", "info").stdout.decode()
    assert "Stored   :" in text and "Volumes  :" in text


def test_quota_by_bucket_owner_and_user(run, bucket):
    shown = lines(run("quota", "info", "--json", f"dev/{bucket}"))[0]
    owner = shown["user"]
    try:
        run("quota", "set", f"dev/{bucket}", "--size", "1KiB", "--objects", "50")
        q = lines(run("quota", "info", "--json", "dev", owner))[0]
        assert q["quota"]["max_bytes"] == 1024 and q["quota"]["max_objects"] == 50
        refused = run("pipe", f"dev/{bucket}/too-big-{uuid.uuid4().hex[:6]}", stdin=b"z" * 4096, ok=False)
        assert refused.returncode != 0 and b"Quota" in refused.stderr
        assert "1.0KiB" in run("quota", "info", "dev", owner).stdout.decode()
    finally:
        run("quota", "clear", "dev", owner)
    assert lines(run("quota", "info", "--json", "dev", owner))[0]["quota"] == {}
    assert run("quota", "set", f"dev/{bucket}", ok=False).returncode == 2
