"""`coffer meta copy` and `coffer meta migrate`: a single-node SQLite store moves to PostgreSQL.

A real single-node server fills a data folder (users, inline and on-disk objects, versions, a multipart
upload in progress), stops; `coffer meta copy --data DIR --to URL` moves its metadata into an empty
PostgreSQL database; the same folder served again now runs on PostgreSQL and answers exactly as
before, and the upload left open completes. Copy refuses a non-empty target; migrate reports versions
and refuses a schema newer than the code, and so does `coffer serve`. Needs COFFER_TEST_PG.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from helpers import client

import pg_server

pytestmark = pytest.mark.skipif(not pg_server.configured(), reason=pg_server.SKIP_REASON)


def coffer(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "COFFER_META"}
    return subprocess.run([sys.executable, "-m", "coffer", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def snapshot(s3) -> dict:
    out: dict = {}
    for b in sorted(x["Name"] for x in s3.list_buckets()["Buckets"]):
        objs = s3.list_objects_v2(Bucket=b).get("Contents", [])
        out[b] = {
            "objects": [(o["Key"], o["Size"], o["ETag"]) for o in objs],
            "bodies": {o["Key"]: s3.get_object(Bucket=b, Key=o["Key"])["Body"].read() for o in objs},
            "versions": [(v["Key"], v["VersionId"], v["IsLatest"])
                         for v in s3.list_object_versions(Bucket=b).get("Versions", [])],
            "markers": [(m["Key"], m["VersionId"]) for m in s3.list_object_versions(Bucket=b).get("DeleteMarkers", [])],
            "prefixes": [p["Prefix"] for p in s3.list_objects_v2(Bucket=b, Delimiter="/").get("CommonPrefixes", [])],
        }
    return out


def test_copy_a_single_node_store_into_postgresql(tmp_path: Path, server_factory) -> None:
    srv = server_factory(meta="")  # SQLite, whatever COFFER_TEST_META says
    dsn = pg_server.new_database("copy")
    try:
        s3 = client(srv.endpoint, srv.access_key, srv.secret_key, checksums=False)
        s3.create_bucket(Bucket="photos")
        for k in ["a", "a-b", "a.b", "a/b", "ab", "B", "Zoo", "dir/x", "dir/y"]:
            s3.put_object(Bucket="photos", Key=k, Body=k.encode() * 3)
        s3.put_object(Bucket="photos", Key="big.bin", Body=os.urandom(300 * 1024))  # data file, not inline
        s3.create_bucket(Bucket="history")
        s3.put_bucket_versioning(Bucket="history", VersioningConfiguration={"Status": "Enabled"})
        for i in range(3):
            s3.put_object(Bucket="history", Key="doc", Body=b"v%d" % i)
        s3.delete_object(Bucket="history", Key="gone-soon")
        up = s3.create_multipart_upload(Bucket="photos", Key="later")["UploadId"]
        part = s3.upload_part(Bucket="photos", Key="later", UploadId=up, PartNumber=1, Body=b"p" * (5 * 1024 * 1024))
        out = coffer("user", "add", "dave", "--access-key", "DAVEKEY000000001", "--secret-key", "dave-secret-0123456",
                     "--data", str(srv.data))
        assert out.returncode == 0, out.stderr
        before = snapshot(s3)
        srv.stop()

        out = coffer("meta", "copy", "--data", str(srv.data), "--to", dsn)
        assert out.returncode == 0, out.stderr
        assert "objects:" in out.stdout and (srv.data / "meta" / "metadata.url").exists()
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*) FROM objects WHERE bucket = 'photos'").fetchone()[0] == 10

        srv.meta = None  # served again with --data only: the folder is bound to PostgreSQL now
        srv.start()
        s3 = client(srv.endpoint, srv.access_key, srv.secret_key, checksums=False)
        assert snapshot(s3) == before
        done = s3.complete_multipart_upload(Bucket="photos", Key="later", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
        assert done["ETag"]
        assert s3.head_object(Bucket="photos", Key="later")["ContentLength"] == 5 * 1024 * 1024
        dave = client(srv.endpoint, "DAVEKEY000000001", "dave-secret-0123456", checksums=False)
        dave.create_bucket(Bucket="daves")
        s3.put_object(Bucket="photos", Key="new", Body=b"after the move")
        with psycopg.connect(dsn) as conn:  # new writes land in PostgreSQL
            assert conn.execute("SELECT count(*) FROM objects WHERE bucket = 'photos'").fetchone()[0] == 12
        srv.stop()

        # a second copy into a non-empty database is refused, and so is one from a bound folder
        other = tmp_path / "other"
        (other / "meta").mkdir(parents=True)
        (other / "meta" / "coffer.sqlite3").write_bytes((srv.data / "meta" / "coffer.sqlite3").read_bytes())
        out = coffer("meta", "copy", "--data", str(other), "--to", dsn)
        assert out.returncode != 0 and "not empty" in out.stderr
        out = coffer("meta", "copy", "--data", str(srv.data), "--to", dsn)
        assert out.returncode != 0 and "already uses PostgreSQL" in out.stderr
    finally:
        srv.stop()
        pg_server.drop_database(dsn)


def test_migrate_reports_and_refuses_a_newer_schema(server_factory) -> None:
    from coffer.server.meta.postgres.schema import SCHEMA_VERSION

    dsn = pg_server.new_database("migrate")
    try:
        out = coffer("meta", "migrate", "--meta", dsn)
        assert out.returncode == 0, out.stderr
        assert f"schema version 0 -> {SCHEMA_VERSION}" in out.stdout
        out = coffer("meta", "migrate", "--meta", dsn)
        assert f"schema version {SCHEMA_VERSION} -> {SCHEMA_VERSION}" in out.stdout
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 5,))
        out = coffer("meta", "migrate", "--meta", dsn)
        assert out.returncode != 0 and "newer than this Coffer supports" in out.stderr
        assert "Traceback" not in out.stderr
        with pytest.raises(RuntimeError, match="newer than this Coffer supports") as failed:
            server_factory(meta=dsn)
        assert "Traceback" not in str(failed.value)
        out = coffer("meta", "migrate", "--meta", "mysql://nope")
        assert out.returncode != 0 and "postgresql://" in out.stderr
    finally:
        pg_server.drop_database(dsn)
