"""`coffer admin backup` / `restore`: a live server's metadata copied consistently while writes go on,
restored with the object data into a new data folder, and every object read back."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import threading

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig

MiB = 1024 * 1024


def coffer(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "coffer", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def client(srv):
    return boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=srv.access_key,
                        aws_secret_access_key=srv.secret_key, region_name="us-east-1",
                        config=BotoConfig(retries={"max_attempts": 2}, s3={"addressing_style": "path"}))


def test_live_backup_restores_every_object(server_factory, tmp_path):
    master = tmp_path / "outside" / "master.key"  # the SSE master key lives outside the data folder
    master.parent.mkdir()
    master.write_text(base64.b64encode(os.urandom(32)).decode())
    master.chmod(0o600)
    # SQLite's online backup is what this tests: on PostgreSQL metadata, pg_dump is the tool (docs/operations.md)
    srv = server_factory(workers=2, extra_args=["--master-key-file", str(master)], meta="")
    s3 = client(srv)
    expected: dict[tuple[str, str], str] = {}
    for b in ("photos", "logs"):
        s3.create_bucket(Bucket=b)
    sizes = [0, 1, 1000, 100 * 1024, 200 * 1024, 3 * MiB]
    for i in range(24):
        body = os.urandom(sizes[i % len(sizes)])
        bucket = ("photos", "logs")[i % 2]
        extra = {"ServerSideEncryption": "AES256"} if i % 5 == 0 else {}
        s3.put_object(Bucket=bucket, Key=f"k/{i}", Body=body, **extra)
        expected[(bucket, f"k/{i}")] = hashlib.md5(body).hexdigest()
    big = os.urandom(11 * MiB)  # multipart: several segments
    (tmp_path / "big").write_bytes(big)
    s3.upload_file(str(tmp_path / "big"), "photos", "big", Config=TransferConfig(multipart_threshold=5 * MiB,
                                                                              multipart_chunksize=5 * MiB))
    expected[("photos", "big")] = hashlib.md5(big).hexdigest()

    # writes keep going while the backup is taken
    stop = threading.Event()

    def writer() -> None:
        w = client(srv)
        n = 0
        while not stop.is_set():
            w.put_object(Bucket="logs", Key=f"during/{n}", Body=os.urandom(150 * 1024))
            n += 1

    t = threading.Thread(target=writer)
    t.start()
    env = {**os.environ, "COFFER_CONFIG_DIR": str(tmp_path / "cfg"),
           "COFFER_HOST_SRC": f"http://{srv.access_key}:{srv.secret_key}@127.0.0.1:{srv.port}"}
    try:
        dest = tmp_path / "meta-backup.sqlite3"
        res = coffer("admin", "-a", "src", "backup", str(dest), env=env)
        assert res.returncode == 0, res.stderr
        assert "objects" in res.stdout
        direct = coffer("admin", "backup", str(tmp_path / "direct.sqlite3"), "--data", str(srv.data), env=env)
        assert direct.returncode == 0, direct.stderr
    finally:
        stop.set()
        t.join()
    # restoring under a running server is refused
    refused = coffer("admin", "restore", str(dest), "--data", str(srv.data), "--force", env=env)
    assert refused.returncode != 0 and "stop it" in refused.stderr
    srv.stop()

    # disaster: a new machine gets the object data (copied after the backup) and the backup
    new = tmp_path / "new" / "data"
    new.mkdir(parents=True)
    shutil.copytree(srv.data / "objects", new / "objects")
    res = coffer("admin", "restore", str(dest), "--data", str(new), env=env)
    assert res.returncode == 0, res.stderr
    again = coffer("admin", "restore", str(dest), "--data", str(new), env=env)
    assert again.returncode != 0 and "--force" in again.stderr
    srv.data = new
    srv.start()
    s3 = client(srv)
    for (bucket, key), md5 in expected.items():
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.md5(body).hexdigest() == md5, (bucket, key)
    for key in (o["Key"] for o in s3.list_objects_v2(Bucket="logs", Prefix="during/").get("Contents", [])):
        s3.get_object(Bucket="logs", Key=key)["Body"].read()  # what the snapshot holds reads back whole


def test_backup_needs_admin_keys(server_factory, tmp_path):
    srv = server_factory()
    env = {**os.environ, "COFFER_CONFIG_DIR": str(tmp_path / "cfg")}
    subprocess.run([sys.executable, "-m", "coffer", "user", "add", "bob", "--access-key", "BOBKEY", "--secret-key",
                    "bob-secret-0123456789", "--data", str(srv.data)], check=True, capture_output=True, timeout=60)
    env["COFFER_HOST_BOB"] = f"http://BOBKEY:bob-secret-0123456789@127.0.0.1:{srv.port}"
    res = coffer("admin", "-a", "bob", "backup", str(tmp_path / "b.sqlite3"), env=env)
    assert res.returncode != 0 and not (tmp_path / "b.sqlite3").exists()
