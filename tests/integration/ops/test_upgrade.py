"""Upgrades: a data folder written by an earlier Coffer (schema version 2) opens, migrates and serves
every object unchanged; the newer-schema refusal is in test_startup.py."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tarfile
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig

FIXTURES = Path(__file__).parent / "fixtures"


def test_schema_2_folder_migrates_and_serves(server_factory, tmp_path):
    from coffer.server.meta.sqlite.schema import SCHEMA_VERSION

    old = tmp_path / "old"
    with tarfile.open(FIXTURES / "datafolder-schema2.tar.gz") as tar:
        tar.extractall(old, filter="data")
    db = old / "meta" / "coffer.sqlite3"
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 2
    manifest = json.loads((FIXTURES / "datafolder-schema2.json").read_text())

    srv = server_factory(meta="")  # an SQLite data folder of an earlier release, whatever COFFER_TEST_META says
    srv.stop()
    srv.data, srv.access_key, srv.secret_key = old, "OLDACCESSKEY", "old-secret-key-0123456789"
    srv.start()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    s3 = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=srv.access_key,
                      aws_secret_access_key=srv.secret_key, region_name="us-east-1",
                      config=BotoConfig(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == ["old-docs", "old-photos"]
    for path, md5 in manifest.items():
        bucket, key = path.split("/", 1)
        got = s3.get_object(Bucket=bucket, Key=key)
        assert hashlib.md5(got["Body"].read()).hexdigest() == md5, path
        if bucket == "old-photos":
            assert got["Metadata"]["n"] == key.rsplit("-", 1)[1].split(".")[0]
            assert got["ContentType"] == "application/x-test"
    listed = s3.list_objects_v2(Bucket="old-photos", Prefix="dir/")["Contents"]
    assert len(listed) == 5
    # what the newer schema added works on the old buckets
    s3.put_bucket_versioning(Bucket="old-docs", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="old-docs", Key="readme.txt", Body=b"new version")
    versions = s3.list_object_versions(Bucket="old-docs", Prefix="readme.txt")["Versions"]
    assert len(versions) == 2
    old_version = next(v for v in versions if not v["IsLatest"])
    body = s3.get_object(Bucket="old-docs", Key="readme.txt", VersionId=old_version["VersionId"])["Body"].read()
    assert body == b"written by the old release"
