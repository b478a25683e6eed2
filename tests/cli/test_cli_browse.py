"""du, find, tree, diff, head, pipe / cp -, incomplete uploads and resumed cp, checked against the aws CLI."""

from __future__ import annotations

import os
import re

from cli_helpers import aws_json, lines


def _tree(tmp_path):
    root = tmp_path / "tree"
    (root / "a" / "b").mkdir(parents=True)
    (root / "c").mkdir()
    (root / "a" / "b" / "n.txt").write_text("".join(f"{i}\n" for i in range(1, 101)))
    (root / "c" / "x.tmp").write_bytes(b"x" * 5000)
    (root / "top.txt").write_text("top\n")
    return root


def test_du_matches_aws_summarize(run, aws, bucket, tmp_path):
    _tree(tmp_path)
    aws("s3", "cp", "--recursive", "tree", f"s3://{bucket}/t/")
    summary = aws("s3", "ls", "--recursive", "--summarize", f"s3://{bucket}/t/").stdout.decode()
    objects = int(re.search(r"Total Objects: (\d+)", summary).group(1))
    size = int(re.search(r"Total Size: (\d+)", summary).group(1))
    rows = lines(run("du", "--json", "-d", "1", f"dev/{bucket}/t"))
    assert rows[-1] == {"prefix": "t", "size": size, "objects": objects}
    assert {r["prefix"]: r["objects"] for r in rows[:-1]} == {"t/a/": 1, "t/c/": 1}
    assert "objects" in run("du", f"dev/{bucket}").stdout.decode()


def test_find_name_size_age_exec(run, bucket, tmp_path):
    _tree(tmp_path)
    run("cp", "-r", "tree", f"dev/{bucket}/t")
    found = run("find", f"dev/{bucket}", "--name", "*.txt").stdout.decode().split()
    assert found == [f"dev/{bucket}/t/a/b/n.txt", f"dev/{bucket}/t/top.txt"]
    big = [r["key"] for r in lines(run("find", "--json", f"dev/{bucket}", "--larger", "1KiB"))]
    assert big == ["t/c/x.tmp"]
    assert run("find", f"dev/{bucket}", "--older-than", "1d").stdout == b""
    assert len(run("find", f"dev/{bucket}", "--newer-than", "1h").stdout.split()) == 3
    assert run("find", f"dev/{bucket}", "--exclude", "*.tmp", "--exclude", "*.txt").stdout == b""
    ran = run("find", f"dev/{bucket}", "--name", "top.txt", "--exec", "coffer-missing-tool {}", ok=False)
    assert ran.returncode != 0
    out = run("find", f"dev/{bucket}", "--path", "*/b/*", "--exec", "echo seen {} done").stdout.decode()
    assert out.strip() == f"seen dev/{bucket}/t/a/b/n.txt done"


def test_tree_and_head(run, bucket, tmp_path):
    _tree(tmp_path)
    run("cp", "-r", "tree", f"dev/{bucket}")
    drawn = run("tree", f"dev/{bucket}").stdout.decode().splitlines()
    assert drawn == [f"dev/{bucket}/", "├─ a/", "│  └─ b/", "└─ c/"]
    with_files = run("tree", "-f", f"dev/{bucket}").stdout.decode()
    assert "top.txt (4B)" in with_files and "n.txt (292B)" in with_files
    assert run("head", "-n", "3", f"dev/{bucket}/a/b/n.txt").stdout == b"1\n2\n3\n"
    assert run("head", "-n", "500", f"dev/{bucket}/a/b/n.txt").stdout.count(b"\n") == 100


def test_diff_local_and_remote(run, aws, bucket, tmp_path):
    root = _tree(tmp_path)
    aws("s3", "sync", "tree", f"s3://{bucket}/copy")
    assert run("diff", "tree", f"dev/{bucket}/copy").returncode == 0
    (root / "top.txt").write_text("changed size\n")
    (root / "new.txt").write_text("n")
    aws("s3", "rm", f"s3://{bucket}/copy/c/x.tmp")
    aws("s3", "cp", "tree/top.txt", f"s3://{bucket}/copy/only-remote.txt")
    got = run("diff", "tree", f"dev/{bucket}/copy/", ok=False)
    assert got.returncode == 1
    assert got.stdout.decode().splitlines() == ["< c/x.tmp", "< new.txt", "> only-remote.txt", "! top.txt"]


def test_pipe_and_cp_stdin_stdout(run, aws, bucket, tmp_path):
    data = os.urandom(12 << 20)  # bigger than one part: a multipart upload from a pipe
    run("pipe", f"dev/{bucket}/piped.bin", stdin=data)
    aws("s3", "cp", f"s3://{bucket}/piped.bin", "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == data
    run("cp", "-", f"dev/{bucket}/small.txt", stdin=b"small\n")
    assert run("cp", f"dev/{bucket}/small.txt", "-").stdout == b"small\n"
    assert run("cp", "-", f"dev/{bucket}/", stdin=b"x", ok=False).returncode == 2


def test_cp_several_sources_into_a_folder(run, bucket, tmp_path):
    for name in ("one.txt", "two.txt"):
        (tmp_path / name).write_text(name)
    run("cp", "one.txt", "two.txt", f"dev/{bucket}/into")
    assert [r["key"] for r in lines(run("ls", "--json", "-r", f"dev/{bucket}"))] == ["into/one.txt", "into/two.txt"]


def test_incomplete_uploads(run, aws, bucket):
    up = aws_json(aws("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "dir/half.bin"))
    aws("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "other.bin")
    shown = lines(run("ls", "--json", "--incomplete", f"dev/{bucket}"))
    assert {(r["key"], r["upload_id"]) for r in shown} >= {("dir/half.bin", up["UploadId"])}
    assert "UPLOAD" in run("ls", "-I", f"dev/{bucket}").stdout.decode()
    run("rm", "--incomplete", f"dev/{bucket}/dir/half.bin")
    left = aws_json(aws("s3api", "list-multipart-uploads", "--bucket", bucket)).get("Uploads", [])
    assert [u["Key"] for u in left] == ["other.bin"]
    run("rm", "--incomplete", "-r", f"dev/{bucket}")
    assert not aws_json(aws("s3api", "list-multipart-uploads", "--bucket", bucket)).get("Uploads")


def test_interrupted_cp_says_it_resumed(run, aws, bucket, tmp_path):
    """A pending upload whose first part holds the file's first 8 MiB: cp reuses it and says so."""
    data = os.urandom(20 << 20)
    (tmp_path / "big.bin").write_bytes(data)
    (tmp_path / "part1.bin").write_bytes(data[: 8 << 20])
    up = aws_json(aws("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "big.bin"))
    aws("s3api", "upload-part", "--bucket", bucket, "--key", "big.bin", "--upload-id", up["UploadId"],
        "--part-number", "1", "--body", "part1.bin")
    done = run("cp", "big.bin", f"dev/{bucket}/")
    assert "resumed: 8.0MiB were already uploaded" in done.stdout.decode(), done.stdout
    aws("s3", "cp", f"s3://{bucket}/big.bin", "again.bin")
    assert (tmp_path / "again.bin").read_bytes() == data
    fresh = lines(run("cp", "--json", "big.bin", f"dev/{bucket}/second.bin"))
    assert fresh[0]["resumed_bytes"] == 0
