"""Coffer SDK bulk jobs and the `coffer bulk` CLI, against a live server."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from coffer import BulkJob, NotFound


@pytest.fixture
def bkt(coffer_bkt):
    return coffer_bkt


def test_bulk_put_chunks_blobs_status(coffer_client, bkt):
    data = {"a.bin": os.urandom(5000), "dir/b.txt": b"hello bulk"}
    job = coffer_client.bulk_put(bkt.name, [(k, len(v)) for k, v in data.items()], blob_size=2048, name="sdk job")
    assert isinstance(job, BulkJob) and job.request_type == "PUT"
    st = job.status()
    assert (st.state, st.bytes_total, st.bytes_done, st.name) == ("IN_PROGRESS", 5010, 0, "sdk job")
    chunks = job.chunks_ready()
    blobs = [b for c in chunks for b in c.blobs]
    assert sorted((b.name, b.offset, b.length) for b in blobs) == [
        ("a.bin", 0, 2048), ("a.bin", 2048, 2048), ("a.bin", 4096, 904), ("dir/b.txt", 0, 10)]
    for b in blobs:
        job.put_blob(b.name, b.offset, data[b.name][b.offset: b.offset + b.length])
        if b.name == "a.bin" and b.offset == 0:
            with pytest.raises(NotFound):
                bkt.object("a.bin").get_reader().read_all()  # not visible before its last blob
    st = job.status()
    assert (st.state, st.bytes_done) == ("COMPLETED", 5010)
    assert bkt.object("a.bin").get_reader().read_all() == data["a.bin"]
    # a second client resumes nothing, but sees the same job
    assert coffer_client.job(job.id).status().state == "COMPLETED"
    get = coffer_client.bulk_get(bkt.name, "dir/")
    assert [b.name for b in get.blobs()] == ["dir/b.txt"]
    assert get.get_blob("dir/b.txt", 0, 10) == b"hello bulk"
    assert get.status().state == "COMPLETED"
    assert job.id in [s.job_id for s in coffer_client.jobs("COMPLETED")]


def test_bulk_cancel_frees_partial_objects(coffer_client, bkt):
    job = coffer_client.bulk_put(bkt.name, [("big", 3000)], blob_size=1000)
    job.put_blob("big", 0, b"x" * 1000)
    assert len(list(bkt.list_uploads())) == 1  # the blobs of an unfinished object are parts of an upload
    job.cancel()
    assert job.status().state == "CANCELED"
    assert list(bkt.list_uploads()) == []
    with pytest.raises(NotFound):
        bkt.object("big").head()


def test_bulk_put_files_and_get_files(coffer_client, bkt, tmp_path):
    src = tmp_path / "src"
    (src / "nested" / "deeper").mkdir(parents=True)
    files = {"one.txt": b"1" * 10, "nested/two.bin": os.urandom(70_000), "nested/deeper/three": b"",
             "nested/deeper/four.bin": os.urandom(3000)}
    for rel, body in files.items():
        (src / rel).write_bytes(body)
    job = coffer_client.bulk_put_files(bkt.name, src, prefix="set/", blob_size=16384, workers=4)
    assert job.status().state == "COMPLETED"
    dest = tmp_path / "dest"
    got = coffer_client.bulk_get_files(bkt.name, "set/", dest, workers=4)
    assert got.status().state == "COMPLETED"
    for rel, body in files.items():
        assert (dest / "set" / rel).read_bytes() == body
    single = coffer_client.bulk_put_files(bkt.name, [src / "one.txt"], prefix="flat/")
    assert single.status().state == "COMPLETED" and bkt.object("flat/one.txt").get_reader().read_all() == b"1" * 10


# -- CLI -------------------------------------------------------------------------------------------
def _json(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]


def test_cli_bulk(run, bkt, tmp_path, coffer_client):
    src = tmp_path / "data"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"aaa")
    (src / "sub" / "b.bin").write_bytes(os.urandom(5000))
    put = _json(run("bulk", "put", str(src), f"dev/{bkt.name}/p/", "--json", "--blob-size", "2000"))[0]
    assert put["state"] == "COMPLETED" and put["bytes_total"] == 5003
    status = _json(run("bulk", "status", "dev", put["job_id"], "--json"))[0]
    assert status["state"] == "COMPLETED" and status["request_type"] == "PUT"
    out = tmp_path / "out"
    got = _json(run("bulk", "get", f"dev/{bkt.name}/p/", str(out), "--json"))[0]
    assert got["state"] == "COMPLETED"
    assert (out / "p" / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    pending = coffer_client.bulk_put(bkt.name, [("later", 10)])
    run("bulk", "cancel", "dev", pending.id)
    listed = {j["job_id"]: j["state"] for j in _json(run("bulk", "list", "dev", "--json"))}
    assert listed[put["job_id"]] == "COMPLETED" and listed[pending.id] == "CANCELED"
    text = run("bulk", "list", "dev", "--state", "CANCELED").stdout.decode()
    assert pending.id in text and put["job_id"] not in text
    missing = run("bulk", "status", "dev", str(uuid.uuid4()), ok=False)
    assert missing.returncode == 3
