"""Aliases imported from mc (config.json, MC_HOST_*) and rclone (type s3), and shell completion of
aliases, buckets and keys through click's completion protocol."""

from __future__ import annotations

import json

from cli_helpers import lines


def test_import_from_mc_and_rclone(run, endpoint, bucket, tmp_path):
    mc = tmp_path / "mc.json"
    mc.write_text(json.dumps({"version": "10", "aliases": {
        "mcsrv": {"url": endpoint.url, "accessKey": endpoint.access_key, "secretKey": endpoint.secret_key,
                  "api": "S3v4", "path": "auto"},
        "dev": {"url": "http://127.0.0.1:9", "accessKey": "x", "secretKey": "y"}}}))
    got = lines(run("alias", "import", "mc", "--file", str(mc), "--json"))
    assert {r["alias"]: r["imported"] for r in got} == {"dev": False, "mcsrv": True}  # dev exists: kept
    run("pipe", f"mcsrv/{bucket}/via-mc", stdin=b"m")
    rc = tmp_path / "rclone.conf"
    rc.write_text(f"[rc]\ntype = s3\nprovider = Other\naccess_key_id = {endpoint.access_key}\n"
                  f"secret_access_key = {endpoint.secret_key}\nendpoint = {endpoint.url}\n\n"
                  "[local]\ntype = local\n")
    got = lines(run("alias", "import", "rclone", "--file", str(rc), "--json"))
    assert [r["alias"] for r in got] == ["rc"]
    assert run("cat", f"rc/{bucket}/via-mc").stdout == b"m"
    shown = {r["name"]: r for r in lines(run("alias", "ls", "--json"))}
    assert shown["rc"]["url"] == endpoint.url and endpoint.secret_key not in json.dumps(shown)
    host = endpoint.url.replace("http://", f"http://{endpoint.access_key}:{endpoint.secret_key}@")
    assert run("cat", f"mcenv/{bucket}/via-mc", extra_env={"MC_HOST_mcenv": host}).stdout == b"m"


def _complete(run, *words: str) -> list[str]:
    proc = run(extra_env={"COMP_WORDS": " ".join(("coffer", *words)), "COMP_CWORD": str(len(words)),
                          "_COFFER_COMPLETE": "bash_complete"})
    return [line.split(",", 1)[1] for line in proc.stdout.decode().splitlines()]


def test_completion_of_aliases_buckets_keys(run, bucket):
    for key in ("dir/a.txt", "dir/b.txt", "top.txt"):
        run("pipe", f"dev/{bucket}/{key}", stdin=b"x")
    assert _complete(run, "ls", "de") == ["dev/"]
    assert f"dev/{bucket}/" in _complete(run, "ls", f"dev/{bucket[:6]}")
    assert _complete(run, "cat", f"dev/{bucket}/") == [f"dev/{bucket}/dir/", f"dev/{bucket}/top.txt"]
    assert _complete(run, "cp", f"dev/{bucket}/dir/a") == [f"dev/{bucket}/dir/a.txt"]
    assert _complete(run, "rm", f"nosuch/{bucket}/") == [f"nosuch/{bucket}/"]  # not an alias: a file name
    script = run("completion", "bash").stdout.decode()
    assert "_COFFER_COMPLETE=bash_complete" in script
