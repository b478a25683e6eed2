"""Versioning, undo, rb --force, tags, retention and legal holds: the CLI against a real server,
each result read back with the aws CLI (and the other way round)."""

from __future__ import annotations

import uuid

from cli_helpers import aws_json, lines


def _versions(aws, bucket):
    doc = aws_json(aws("s3api", "list-object-versions", "--bucket", bucket))
    return doc.get("Versions", []), doc.get("DeleteMarkers", [])


def test_versioning_ls_cat_rm_undo(run, aws, bucket, tmp_path):
    run("version", "enable", f"dev/{bucket}")
    assert aws_json(aws("s3api", "get-bucket-versioning", "--bucket", bucket))["Status"] == "Enabled"
    assert lines(run("version", "info", "--json", f"dev/{bucket}"))[0]["versioning"] == "Enabled"
    for text in ("first\n", "second\n"):
        (tmp_path / "v.txt").write_text(text)
        aws("s3", "cp", "v.txt", f"s3://{bucket}/doc.txt")
    versions, _ = _versions(aws, bucket)
    old = next(v["VersionId"] for v in versions if not v["IsLatest"])
    listed = lines(run("ls", "--versions", "--json", f"dev/{bucket}"))
    assert {r["version_id"] for r in listed} == {v["VersionId"] for v in versions}
    assert run("cat", "--version-id", old, f"dev/{bucket}/doc.txt").stdout == b"first\n"
    assert lines(run("stat", "--json", "--vid", old, f"dev/{bucket}/doc.txt"))[0]["version_id"] == old
    assert run("head", "-n", "1", "--version-id", old, f"dev/{bucket}/doc.txt").stdout == b"first\n"
    removed = lines(run("rm", "--json", f"dev/{bucket}/doc.txt"))[0]
    _, markers = _versions(aws, bucket)
    assert removed["delete_marker"] and [m["VersionId"] for m in markers] == [removed["version_id"]]
    assert " DEL doc.txt (latest)" in run("ls", "--versions", f"dev/{bucket}").stdout.decode()
    run("undo", f"dev/{bucket}/doc.txt")  # removes the delete marker: "second" is back
    aws("s3", "cp", f"s3://{bucket}/doc.txt", "now.txt")
    assert (tmp_path / "now.txt").read_text() == "second\n"
    run("undo", f"dev/{bucket}/doc.txt", "--version-id", old)  # copied over as a new version
    assert run("cat", f"dev/{bucket}/doc.txt").stdout == b"first\n"
    assert len(_versions(aws, bucket)[0]) == 3
    run("rm", "--version-id", old, f"dev/{bucket}/doc.txt")
    assert old not in {v["VersionId"] for v in _versions(aws, bucket)[0]}
    assert run("cp", "--version-id", old, f"dev/{bucket}/doc.txt", "gone.txt", ok=False).returncode == 3
    run("version", "suspend", f"dev/{bucket}")
    assert aws_json(aws("s3api", "get-bucket-versioning", "--bucket", bucket))["Status"] == "Suspended"


def test_cp_version_id(run, aws, bucket, tmp_path):
    run("version", "enable", f"dev/{bucket}")
    run("pipe", f"dev/{bucket}/k", stdin=b"old")
    old = lines(run("stat", "--json", f"dev/{bucket}/k"))[0]["version_id"]
    run("pipe", f"dev/{bucket}/k", stdin=b"new")
    run("cp", "--version-id", old, f"dev/{bucket}/k", "old.bin")
    assert (tmp_path / "old.bin").read_bytes() == b"old"
    run("cp", "--version-id", old, f"dev/{bucket}/k", f"dev/{bucket}/k-restored")
    aws("s3", "cp", f"s3://{bucket}/k-restored", "r.bin")
    assert (tmp_path / "r.bin").read_bytes() == b"old"


def test_rb_force_empties_versioned_bucket(run, aws):
    name = f"cli-rb-{uuid.uuid4().hex[:10]}"
    run("mb", f"dev/{name}")
    run("version", "enable", f"dev/{name}")
    for i in range(3):
        run("pipe", f"dev/{name}/k{i % 2}", stdin=b"x" * i)
    run("rm", f"dev/{name}/k0")  # a delete marker too
    run("rm", "--incomplete", "-r", f"dev/{name}", ok=False)
    aws("s3api", "create-multipart-upload", "--bucket", name, "--key", "pending")
    run("rb", "--force", f"dev/{name}")
    assert aws("s3api", "head-bucket", "--bucket", name, ok=False).returncode != 0


def test_rb_force_names_locked_versions(run, aws):
    name = f"cli-lock-{uuid.uuid4().hex[:10]}"
    aws("s3api", "create-bucket", "--bucket", name, "--object-lock-enabled-for-bucket")
    run("pipe", f"dev/{name}/held", stdin=b"keep me")
    run("retention", "set", "GOVERNANCE", "1d", f"dev/{name}/held")
    refused = run("rb", "--force", f"dev/{name}", ok=False)
    err = refused.stderr.decode()
    assert refused.returncode == 4 and "1 protected object versions" in err and "GOVERNANCE retention until" in err
    assert len(err.strip().splitlines()) == 1  # said once
    run("rb", "--force", "--bypass", f"dev/{name}")
    assert aws("s3api", "head-bucket", "--bucket", name, ok=False).returncode != 0


def test_tags_both_ways(run, aws, bucket):
    run("pipe", f"dev/{bucket}/t.txt", stdin=b"t")
    run("tag", "set", f"dev/{bucket}/t.txt", "project=coffer&tier=gold")
    got = aws_json(aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "t.txt"))["TagSet"]
    assert {t["Key"]: t["Value"] for t in got} == {"project": "coffer", "tier": "gold"}
    aws("s3api", "put-object-tagging", "--bucket", bucket, "--key", "t.txt",
        "--tagging", "TagSet=[{Key=from,Value=aws}]")
    assert lines(run("tag", "list", "--json", f"dev/{bucket}/t.txt"))[0]["tags"] == {"from": "aws"}
    assert run("find", f"dev/{bucket}", "--tags", "from=aws").stdout.decode().split() == [f"dev/{bucket}/t.txt"]
    assert run("find", f"dev/{bucket}", "--tags", "from=elsewhere").stdout == b""
    run("tag", "remove", f"dev/{bucket}/t.txt")
    assert aws_json(aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "t.txt"))["TagSet"] == []
    run("tag", "set", f"dev/{bucket}", "team=storage")
    got = aws_json(aws("s3api", "get-bucket-tagging", "--bucket", bucket))["TagSet"]
    assert got == [{"Key": "team", "Value": "storage"}]
    assert lines(run("stat", "--json", f"dev/{bucket}"))[0]["tags"] == {"team": "storage"}


def test_retention_and_legal_hold_s3(run, aws):
    name = f"cli-worm-{uuid.uuid4().hex[:10]}"
    aws("s3api", "create-bucket", "--bucket", name, "--object-lock-enabled-for-bucket")
    try:
        run("pipe", f"dev/{name}/doc", stdin=b"evidence")
        run("retention", "set", "governance", "2d", f"dev/{name}/doc")
        ret = aws_json(aws("s3api", "get-object-retention", "--bucket", name, "--key", "doc"))["Retention"]
        mine = lines(run("retention", "info", "--json", f"dev/{name}/doc"))[0]
        assert ret["Mode"] == mine["mode"] == "GOVERNANCE"
        assert mine["retain_until"][:16] == ret["RetainUntilDate"].replace("Z", "+00:00")[:16]
        assert run("rm", "--versions", f"dev/{name}/doc", ok=False).returncode != 0  # retained
        run("legalhold", "set", f"dev/{name}/doc")
        hold = aws_json(aws("s3api", "get-object-legal-hold", "--bucket", name, "--key", "doc"))
        assert hold["LegalHold"]["Status"] == "ON"
        assert "legal hold on" in run("legalhold", "info", f"dev/{name}/doc").stdout.decode()
        run("legalhold", "clear", f"dev/{name}/doc")
        hold = aws_json(aws("s3api", "get-object-legal-hold", "--bucket", name, "--key", "doc"))
        assert hold["LegalHold"]["Status"] == "OFF"
        run("retention", "set", "--default", "COMPLIANCE", "1d", f"dev/{name}")
        cfg = aws_json(aws("s3api", "get-object-lock-configuration", "--bucket", name))["ObjectLockConfiguration"]
        assert cfg["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": 1}
        info = lines(run("retention", "info", "--json", f"dev/{name}"))[0]
        assert info["object_lock"] and info["mode"] == "COMPLIANCE" and info["days"] == 1
        run("retention", "clear", "--default", f"dev/{name}")
        run("retention", "clear", f"dev/{name}/doc")
        assert lines(run("stat", "--json", f"dev/{name}"))[0]["object_lock"]["enabled"] is True
    finally:
        run("rb", "--force", "--bypass", f"dev/{name}", ok=False)


def test_ibm_protection_and_named_holds(run):
    name = f"cli-ibm-{uuid.uuid4().hex[:10]}"
    run("mb", f"dev/{name}")
    run("retention", "protect", f"dev/{name}", "--min-days", "0", "--default-days", "0", "--max-days", "30")
    info = lines(run("retention", "info", "--json", f"dev/{name}"))[0]
    assert info["ibm_protection"] == "Retention" and info["max_days"] == 30
    run("pipe", f"dev/{name}/case", stdin=b"file")
    run("legalhold", "set", "--id", "case-42", f"dev/{name}/case")
    run("legalhold", "set", "--id", "audit", f"dev/{name}/case")
    holds = lines(run("legalhold", "info", "--json", f"dev/{name}/case"))[0]["legal_holds"]
    assert sorted(h["id"] for h in holds) == ["audit", "case-42"]
    assert run("rm", f"dev/{name}/case", ok=False).returncode == 4
    run("legalhold", "clear", "--id", "case-42", f"dev/{name}/case")
    run("legalhold", "clear", "--id", "audit", f"dev/{name}/case")
    run("retention", "extend", f"dev/{name}/case", "--until-from-now", "1s")
    assert "legal holds" in run("retention", "info", f"dev/{name}/case").stdout.decode()
