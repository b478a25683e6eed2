"""cp -r of many small files to a Coffer server: tar batches (snowball PUTs, cli/_small_files.py),
each file still checked (its CRC in a pax record), typed, and reported on its own line."""

from __future__ import annotations

import json
import urllib.request

import boto3
import pytest
from botocore.config import Config

from coffer.protocol import checksums


def _lines(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]


def _puts(url: str) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("coffer_requests_total{") and 'operation="PutObject"' in line)


@pytest.fixture
def s3c(endpoint):
    return boto3.client("s3", endpoint_url=endpoint.url, aws_access_key_id=endpoint.access_key,
                        aws_secret_access_key=endpoint.secret_key, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}))


def _tree(tmp_path, n: int = 40):
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    files = {}
    for i in range(n):
        rel = f"sub/f{i:02d}.json" if i % 2 else f"f{i:02d}.txt"
        body = f'{{"i": {i}}}'.encode() * (i + 1)
        (src / rel).write_bytes(body)
        files[rel] = body
    return files


def test_cp_recursive_sends_batches(run, bucket, tmp_path, endpoint, s3c):
    files = _tree(tmp_path)
    before = _puts(endpoint.url)
    up = _lines(run("cp", "-r", "--json", "--attr", "team=blue", "tree", f"dev/{bucket}/t"))
    assert _puts(endpoint.url) - before < 5  # one tar batch, not one PUT per file
    assert sorted(r["target"] for r in up) == sorted(f"dev/{bucket}/t/{k}" for k in files)
    assert all(r["action"] == "upload" and "error" not in r for r in up)
    for rel, body in files.items():
        got = s3c.get_object(Bucket=bucket, Key=f"t/{rel}", ChecksumMode="ENABLED")
        assert got["Body"].read() == body
        assert got["ChecksumCRC32C"] == checksums.checksum_b64("CRC32C", body)
        assert got["ContentType"] == ("application/json" if rel.endswith(".json") else "text/plain")
        assert got["Metadata"] == {"team": "blue"}
    keys = [o["Key"] for o in s3c.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == len(files)  # no archive object left behind


def test_no_batch_and_a_refused_key(run, bucket, tmp_path, endpoint, s3c):
    files = _tree(tmp_path, 12)
    before = _puts(endpoint.url)
    run("cp", "-r", "--no-batch", "tree", f"dev/{bucket}/nb")
    assert _puts(endpoint.url) - before == len(files)
    s3c.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/p/f04.txt"},
    ]}))
    proc = run("cp", "-r", "--json", "tree", f"dev/{bucket}/p", ok=False)
    assert proc.returncode == 1
    failed = [r for r in _lines(proc) if "error" in r]
    assert [r["target"] for r in failed] == [f"dev/{bucket}/p/f04.txt"] and failed[0]["error"] == "AccessDenied"
    done = [r["target"] for r in _lines(proc) if "error" not in r]
    assert len(done) == len(files) - 1
    s3c.delete_bucket_policy(Bucket=bucket)


def test_other_servers_get_one_put_per_file(run, bucket, tmp_path, endpoint, s3c):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))
    from sdk_faults import CuttingProxy

    files = _tree(tmp_path, 10)
    proxy = CuttingProxy(endpoint.url)
    proxy.disguise = True  # not known to extract: a snowball would be stored as one .tar object
    try:
        run("alias", "set", "other", proxy.url, endpoint.access_key, endpoint.secret_key)
        before = _puts(endpoint.url)
        run("cp", "-r", "tree", f"other/{bucket}/o")
        assert _puts(endpoint.url) - before == len(files)
    finally:
        proxy.close()
    assert sorted(o["Key"] for o in s3c.list_objects_v2(Bucket=bucket)["Contents"]) == sorted(f"o/{k}" for k in files)
