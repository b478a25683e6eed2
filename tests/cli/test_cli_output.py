"""How the CLI prints: global flags in either place, errors said once, binary units, ls columns,
NO_COLOR, and progress bars that never overwrite result lines (checked on a real pseudo-terminal)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

from cli_helpers import lines

from coffer.cli._output import human_size, parse_size


def test_global_flags_before_or_after(run, bucket, tmp_path):
    (tmp_path / "a.txt").write_text("alpha\n")
    run("cp", "a.txt", f"dev/{bucket}/")
    before = lines(run("--json", "ls", f"dev/{bucket}"))
    after = lines(run("ls", f"dev/{bucket}", "--json"))
    assert before == after and [r["key"] for r in before] == ["a.txt"]
    assert run("-q", "cp", "a.txt", f"dev/{bucket}/b.txt").stdout == b""
    assert run("cp", "a.txt", f"dev/{bucket}/c.txt", "--quiet").stdout == b""


def test_error_printed_once(run, bucket):
    plain = run("stat", f"dev/{bucket}/missing", ok=False)
    assert plain.returncode == 3 and plain.stdout == b""
    assert plain.stderr.decode().count("NoSuchKey") == 1 and len(plain.stderr.splitlines()) == 1
    as_json = run("--json", "stat", f"dev/{bucket}/missing", ok=False)
    assert as_json.returncode == 3 and as_json.stderr == b""
    (record,) = lines(as_json)
    assert record["error"] == "NoSuchKey" and record["status"] == 404 and record["exit_code"] == 3
    # a one-file transfer that fails: one line, not a per-file line and then the same error again
    down = run("cp", f"dev/{bucket}/missing", "here.bin", ok=False)
    assert down.returncode == 3 and len(down.stderr.splitlines()) == 1, down.stderr


def test_ls_columns_time_zone_and_storage_class(run, aws, bucket, tmp_path):
    (tmp_path / "f.bin").write_bytes(b"x" * 2048)
    aws("s3", "cp", "f.bin", f"s3://{bucket}/dir/f.bin")
    aws("s3", "cp", "f.bin", f"s3://{bucket}/top.bin")
    text = run("ls", f"dev/{bucket}").stdout.decode().splitlines()
    assert re.fullmatch(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\]\s+2\.0KiB STANDARD top\.bin", text[-1]), text
    assert any(re.fullmatch(r"\s+PRE\s+dir/", line) for line in text), text
    berlin = run("ls", f"dev/{bucket}/top.bin", extra_env={"TZ": "Europe/Berlin"}).stdout.decode()
    assert re.search(r" (CET|CEST)\]", berlin), berlin
    rec = lines(run("ls", "--json", "-r", f"dev/{bucket}"))
    assert {r["key"]: r["storage_class"] for r in rec} == {"dir/f.bin": "STANDARD", "top.bin": "STANDARD"}
    assert rec[0]["last_modified"].endswith("+00:00")  # ISO 8601 in JSON


def test_no_color(run, bucket, tmp_path):
    (tmp_path / "f").write_text("x")
    run("cp", "f", f"dev/{bucket}/sub/f")
    coloured = run("ls", f"dev/{bucket}", extra_env={"FORCE_COLOR": "1"}).stdout
    assert b"\x1b[1;34m" in coloured  # folders in blue on a (forced) terminal
    for env, extra in (({"FORCE_COLOR": "1", "NO_COLOR": "1"}, ()), ({"FORCE_COLOR": "1"}, ("--no-color",))):
        plain = run("ls", f"dev/{bucket}", *extra, extra_env=env).stdout
        assert not re.search(rb"\x1b\[[0-9;]*3[0-7]m", plain), plain
    err = run("stat", f"dev/{bucket}/nope", extra_env={"FORCE_COLOR": "1", "NO_COLOR": "1"}, ok=False).stderr
    assert b"\x1b[31m" not in err


def test_binary_units():
    assert human_size(1023) == "1023B" and human_size(1024) == "1.0KiB" and human_size(5 << 20) == "5.0MiB"
    assert human_size(3 << 30) == "3.0GiB"
    assert parse_size("4KiB") == 4096 and parse_size("1.5M") == 1572864 and parse_size("10") == 10


def test_progress_bar_never_overwrites_results(run, bucket, tmp_path, endpoint):
    """On a terminal, each result line clears the bar's line first and ends with a newline of its own."""
    src = tmp_path / "dd"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(24 << 20))
    (src / "small.txt").write_text("s")
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", ""), "COLUMNS": "120", "TZ": "UTC",
           "COFFER_CONFIG_DIR": str(tmp_path / "cfg")}
    env["PYTHONPATH"] = str(__import__("pathlib").Path(__file__).resolve().parents[2] / "src")
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "coffer.cli.main", "cp", "-r", "dd", f"dev/{bucket}/up/"],
                            stdout=slave, stderr=slave, stdin=slave, env=env, cwd=tmp_path)
    os.close(slave)
    screen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    assert proc.wait(60) == 0
    os.close(master)
    text = screen.decode(errors="replace")
    assert "MiB/s" in text and "24.0MiB/24.0MiB" in text  # the bar was shown, in binary units
    assert not re.search(r"\d(kB|MB|GB)\b", text)
    for name, size in (("big.bin", "24.0MiB"), ("small.txt", "1B")):
        # the line starts on a cleared line and ends with its own newline: the bar cannot overlap it
        assert re.search(rf"\x1b\[2Kdd/{name} -> dev/{bucket}/up/{name} \({re.escape(size)}\)\r\n", text), text
