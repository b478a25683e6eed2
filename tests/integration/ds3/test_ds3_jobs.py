"""DS3 bulk jobs beyond the samples: restart and resume, cache rationing with Retry-After, job
lists with paging, modify, cancel, idle expiry, verify jobs, chunk allocation."""

from __future__ import annotations

import io
import os
import uuid

import pytest
from ds3_wire import Ds3Failed, Ds3WireClient


def _client(srv) -> Ds3WireClient:
    return Ds3WireClient(srv.endpoint, srv.access_key, srv.secret_key)


def _blobs(result: dict) -> list[dict]:
    return [b for ch in result["ObjectsList"] for b in ch["ObjectList"]]


def _put(c: Ds3WireClient, bucket: str, job: str, blob: dict, data: bytes) -> None:
    off = int(blob["Offset"])
    c.put_object(bucket, blob["Name"], blob["Length"], io.BytesIO(data[off:]), job=job, offset=off)


def test_restart_mid_job_and_second_client_resumes(server_factory):
    srv = server_factory()
    first = _client(srv)
    bucket = "resume-" + uuid.uuid4().hex[:8]
    first.put_bucket(bucket)
    data = {"a.bin": os.urandom(9000), "b.bin": os.urandom(3000), "c.txt": b"c" * 10}
    job = first.put_bulk_job(bucket, [(k, len(v)) for k, v in data.items()], max_upload_size=2048)
    job_id = job["JobId"]
    blobs = _blobs(job)
    half = blobs[: len(blobs) // 2]
    for b in half:
        _put(first, bucket, job_id, b, data[b["Name"]])
    srv.kill()  # kill -9 in the middle of the job
    srv.start()
    second = _client(srv)  # another client that only knows the job id
    state = second.get_job(job_id)
    assert state["Status"] == "IN_PROGRESS"
    done = {(b["Name"], b["Offset"]) for b in _blobs(state) if b["InCache"] == "true"}
    assert done == {(b["Name"], b["Offset"]) for b in half}
    assert "a.bin" not in [o["Key"] for o in second.get_bucket(bucket)["ContentsList"]]
    chunk_ids = {c["ChunkId"] for c in state["ObjectsList"]}
    while chunk_ids:
        ready, _ = second.chunks_ready(job_id)
        for ch in ready["ObjectsList"]:
            chunk_ids.discard(ch["ChunkId"])
            for b in ch["ObjectList"]:
                if b["InCache"] == "false":
                    _put(second, bucket, job_id, b, data[b["Name"]])
    final = second.get_job(job_id)
    assert final["Status"] == "COMPLETED" and final["CompletedSizeInBytes"] == final["OriginalSizeInBytes"]
    for name, body in data.items():
        out = io.BytesIO()
        second.get_object(bucket, name, out)
        assert out.getvalue() == body


def test_cache_full_answers_empty_list_with_retry_after(server_factory, monkeypatch):
    monkeypatch.setenv("COFFER_BULK_CACHE_BYTES", "4096")
    srv = server_factory()
    c = _client(srv)
    bucket = "cache-" + uuid.uuid4().hex[:8]
    c.put_bucket(bucket)
    first = c.put_bulk_job(bucket, [("one", 4000)])
    second = c.put_bulk_job(bucket, [("two", 4000)])
    ready1, retry1 = c.chunks_ready(first["JobId"])
    assert len(ready1["ObjectsList"]) == 1 and retry1 is None
    ready2, retry2 = c.chunks_ready(second["JobId"])  # the cache holds the first job's chunk
    assert ready2["ObjectsList"] == [] and retry2 is not None and retry2 > 0
    with pytest.raises(Ds3Failed) as e:
        c.call("PUT", "/_rest_/job_chunk/" + second["ObjectsList"][0]["ChunkId"], (200,), {"operation": "allocate"})
    assert e.value.status == 503
    _put(c, bucket, first["JobId"], _blobs(first)[0], b"1" * 4000)
    ready2, retry2 = c.chunks_ready(second["JobId"])
    assert len(ready2["ObjectsList"]) == 1 and retry2 is None
    allocated = c.parsed(c.call("PUT", "/_rest_/job_chunk/" + ready2["ObjectsList"][0]["ChunkId"], (200,),
                                {"operation": "allocate"}))
    assert allocated["ObjectList"][0]["Name"] == "two"


def test_job_lists_modify_cancel(endpoint):
    c = Ds3WireClient(endpoint.url, endpoint.access_key, endpoint.secret_key)
    bucket = "jobs-" + uuid.uuid4().hex[:8]
    c.put_bucket(bucket)
    a = c.put_bulk_job(bucket, [("a", 1)], name="first", priority="LOW")
    b = c.put_bulk_job(bucket, [("b", 3), ("bb", 3)], max_upload_size=1)
    assert a["Name"] == "first" and a["Priority"] == "LOW"
    modified = c.modify_job(b["JobId"], priority="HIGH", name="renamed")
    assert (modified["Priority"], modified["Name"]) == ("HIGH", "renamed")
    _put(c, bucket, a["JobId"], _blobs(a)[0], b"x")
    _put(c, bucket, b["JobId"], _blobs(b)[0], b"xyz")  # one of three blobs of "b"
    c.cancel_job(b["JobId"])
    assert c.get_job(b["JobId"])["Status"] == "CANCELED"
    with pytest.raises(Ds3Failed) as e:
        _put(c, bucket, b["JobId"], _blobs(b)[1], b"xyz")
    assert e.value.status == 410
    assert "b" not in [o["Key"] for o in c.get_bucket(bucket)["ContentsList"]]
    completed = c.parsed(c.call("GET", "/_rest_/completed_job", (200,), {"bucket_id": bucket}))
    assert [j["Id"] for j in completed["CompletedJobList"]] == [a["JobId"]]
    canceled = c.parsed(c.call("GET", "/_rest_/canceled_job", (200,), {"bucket_id": bucket}))
    assert [j["Id"] for j in canceled["CanceledJobList"]] == [b["JobId"]]
    assert canceled["CanceledJobList"][0]["CanceledDueToTimeout"] == "false"
    jobs = c.parsed(c.call("GET", "/_rest_/job", (200,), {"bucket_id": bucket, "full_details": None}))
    assert {j["JobId"] for j in jobs["JobList"]} == {a["JobId"], b["JobId"]}
    page = c.call("GET", "/_rest_/completed_job", (200,), {"page_length": 1, "page_offset": 0})
    assert page.header("Total-Result-Count") is not None and len(c.parsed(page)["CompletedJobList"]) == 1
    one = c.parsed(c.call("GET", "/_rest_/completed_job/" + a["JobId"], (200,)))
    assert one["Id"] == a["JobId"] and one["RequestType"] == "PUT"


def test_idle_jobs_expire(server_factory, monkeypatch):
    monkeypatch.setenv("COFFER_BULK_JOB_IDLE_SECONDS", "0")  # every job is idle at once
    srv = server_factory()
    c = _client(srv)
    bucket = "idle-" + uuid.uuid4().hex[:8]
    c.put_bucket(bucket)
    job = c.put_bulk_job(bucket, [("x", 10)])
    canceled = c.parsed(c.call("GET", "/_rest_/canceled_job", (200,)))
    assert [(j["Id"], j["CanceledDueToTimeout"]) for j in canceled["CanceledJobList"]] == [(job["JobId"], "true")]
    assert c.get_job(job["JobId"])["Status"] == "CANCELED"


def test_verify_job_and_preferred_chunks(endpoint):
    c = Ds3WireClient(endpoint.url, endpoint.access_key, endpoint.secret_key)
    bucket = "verify-" + uuid.uuid4().hex[:8]
    c.put_bucket(bucket)
    data = {f"k{i}": os.urandom(100) for i in range(3)}
    job = c.put_bulk_job(bucket, [(k, len(v)) for k, v in data.items()], max_upload_size=40)
    for b in _blobs(job):
        _put(c, bucket, job["JobId"], b, data[b["Name"]])
    verify = c.get_bulk_job(bucket, list(data), verify=True)
    assert verify["RequestType"] == "VERIFY" and verify["Status"] == "COMPLETED"
    get = c.get_bulk_job(bucket, list(data))
    assert all(b["InCache"] == "true" for b in _blobs(get))
    ready, _ = c.chunks_ready(get["JobId"], preferred=1)
    assert len(ready["ObjectsList"]) == 1
    # a ranged GET job: Offset/Length of one object
    r = c.parsed(c.call("PUT", "/_rest_/bucket/" + bucket, (200,), {"operation": "start_bulk_get"},
                        body=b'<Objects><Object Name="k1" Offset="10" Length="50"/></Objects>'))
    blobs = _blobs(r)
    assert (blobs[0]["Offset"], sum(int(b["Length"]) for b in blobs)) == ("10", 50)
    out = io.BytesIO()
    for b in blobs:
        c.get_object(bucket, "k1", out, job=r["JobId"], offset=int(b["Offset"]))
    assert out.getvalue() == data["k1"][10:60]


def test_kill_during_blob_upload_loses_nothing(server_factory):
    """kill -9 while a blob's body is half sent: the job still lacks that blob, nothing is visible,
    and resending it completes the object."""
    import socket
    import time

    srv = server_factory()
    c = _client(srv)
    bucket = "kill-" + uuid.uuid4().hex[:8]
    c.put_bucket(bucket)
    data = os.urandom(3 << 20)
    job = c.put_bulk_job(bucket, [("obj", len(data))], max_upload_size=1 << 20)
    blobs = _blobs(job)
    _put(c, bucket, job["JobId"], blobs[0], data)
    target, headers, _ = c.prepare("PUT", f"/{bucket}/obj", {"job": job["JobId"], "offset": blobs[1]["Offset"]},
                                   {"Content-Length": blobs[1]["Length"]}, True)
    sock = socket.create_connection(("127.0.0.1", srv.port))
    head = f"PUT {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sock.sendall(head.encode() + data[1 << 20: (1 << 20) + 300_000])  # part of the body only
    time.sleep(0.2)  # let the server start receiving (not an assertion on time)
    srv.kill()
    sock.close()
    srv.start()
    state = c.get_job(job["JobId"])
    assert [b["InCache"] for b in _blobs(state)] == ["true", "false", "false"]
    assert c.get_bucket(bucket)["ContentsList"] == []
    for b in _blobs(state)[1:]:
        _put(c, bucket, job["JobId"], b, data)
    out = io.BytesIO()
    c.get_object(bucket, "obj", out)
    assert out.getvalue() == data and c.get_job(job["JobId"])["Status"] == "COMPLETED"


def test_bulk_put_honours_versioning_and_default_encryption(endpoint, s3):
    """Multi-blob objects follow CompleteMultipartUpload's rules: a new version in a versioned
    bucket, sealed with the bucket's default encryption; a folder delete leaves delete markers."""
    c = Ds3WireClient(endpoint.url, endpoint.access_key, endpoint.secret_key)
    bucket = "vers-" + uuid.uuid4().hex[:8]
    c.put_bucket(bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    data = {"dir/big": os.urandom(5000), "dir/small": b"small"}
    for _round in range(2):
        job = c.put_bulk_job(bucket, [(k, len(v)) for k, v in data.items()], max_upload_size=2000)
        for b in _blobs(job):
            _put(c, bucket, job["JobId"], b, data[b["Name"]])
    got = s3.get_object(Bucket=bucket, Key="dir/big")
    assert got["Body"].read() == data["dir/big"] and got["ServerSideEncryption"] == "AES256"
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert sorted(v["Key"] for v in versions) == ["dir/big", "dir/big", "dir/small", "dir/small"]
    c.delete_folder_recursively(bucket, "dir")
    listed = s3.list_object_versions(Bucket=bucket)
    assert len(listed["Versions"]) == 4 and len(listed.get("DeleteMarkers", [])) == 2
    assert c.get_bucket(bucket)["ContentsList"] == []
    # a bulk GET of encrypted objects answers the plaintext
    current = {"dir/big": os.urandom(5000), "dir/small": b"again"}
    job = c.put_bulk_job(bucket, [(k, len(v)) for k, v in current.items()], max_upload_size=2000)
    for b in _blobs(job):
        _put(c, bucket, job["JobId"], b, current[b["Name"]])
    get = c.get_bulk_job(bucket, list(current))
    for name, body in current.items():
        out = io.BytesIO()
        for b in [b for b in _blobs(get) if b["Name"] == name]:
            c.get_object(bucket, name, out, job=get["JobId"], offset=int(b["Offset"]))
        assert out.getvalue() == body


def test_bulk_put_raises_bucket_notifications(endpoint, s3):
    """A job's objects announce themselves like S3 writes: one ObjectCreated event per object, when
    it becomes visible (not per blob)."""
    from webhook_receiver import Receiver, notification_config

    from ports import free_port

    receiver = Receiver(free_port())
    receiver.start()
    try:
        c = Ds3WireClient(endpoint.url, endpoint.access_key, endpoint.secret_key)
        bucket = "notify-" + uuid.uuid4().hex[:8]
        c.put_bucket(bucket)
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=notification_config(
            receiver.url, ["s3:ObjectCreated:*"]))
        data = {"multi": os.urandom(3000), "single": b"one"}
        job = c.put_bulk_job(bucket, [(k, len(v)) for k, v in data.items()], max_upload_size=1000)
        for b in _blobs(job):
            _put(c, bucket, job["JobId"], b, data[b["Name"]])
        s3.put_object(Bucket=bucket, Key="sentinel", Body=b"s")  # a per-blob event would arrive before it
        records = receiver.wait_for(3)
        got = sorted((r["eventName"], r["s3"]["object"]["key"], r["s3"]["object"]["size"]) for r in records)
        assert got == [("ObjectCreated:CompleteMultipartUpload", "multi", 3000), ("ObjectCreated:Put", "sentinel", 1),
                       ("ObjectCreated:Put", "single", 3)]
    finally:
        receiver.stop()
