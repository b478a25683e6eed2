"""Crash safety: kill -9 at the worst moments never loses acknowledged data or leaves partial objects.

Owns the durability promises, tested on a real `coffer serve` process with its own data
folder (server_factory, one worker so that SIGKILL of the process kills the server):

* kill -9 in the middle of a large PUT body: after restart the key holds its previous version,
  every earlier object is intact (MD5), and the start-up sweep leaves nothing in DATA/tmp/.
* kill -9 right after CompleteMultipartUpload is sent: the object is whole and correct, or absent
  with the upload still listable and completable - never a partial object.
* kill -9 five times while 4 threads PUT: every PUT answered 200 is readable with its bytes.
* SIGTERM during an upload: the upload finishes, the process exits 0.

Data layout observed (and relied on only to prove the kill hit mid-write): DATA/tmp/<ref>.tmp
while a body is written, DATA/objects/ab/cd/<ref> once committed, DATA/meta/coffer.sqlite3.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from helpers import MiB, client, data, md5_hex, multipart_etag, wait_for
from rawhttp import UNSIGNED_PAYLOAD, Signer, exchange, parse_response

pytestmark = pytest.mark.slow


def s3_for(srv):
    return client(srv.endpoint, srv.access_key, srv.secret_key)


def signer_for(srv) -> Signer:
    return Signer(srv.endpoint, srv.access_key, srv.secret_key)


def files_under(root: Path, name: str) -> list[Path]:
    """Regular files inside every directory called `name` below root."""
    return [p for d in root.rglob(name) if d.is_dir() for p in d.rglob("*") if p.is_file()]


def put_objects(s3, bucket: str, sizes: list[int], prefix: str) -> dict[str, str]:
    out = {}
    for i, size in enumerate(sizes):
        body = data(size, seed=1000 + i)
        s3.put_object(Bucket=bucket, Key=f"{prefix}{i}", Body=body)
        out[f"{prefix}{i}"] = md5_hex(body)
    return out


def assert_md5s(s3, bucket: str, expected: dict[str, str]) -> None:
    for key, md5 in expected.items():
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert md5_hex(got) == md5, f"{key} changed across the crash"


def test_kill9_during_large_put(server_factory):
    srv = server_factory()
    s3 = s3_for(srv)
    s3.create_bucket(Bucket="crash")
    # Inline-sized and file-backed objects both (the inline threshold is 128 KiB).
    earlier = put_objects(s3, "crash", [0, 10, 4_000, 200_000, 3 * MiB], "earlier-")
    previous = data(600_000, seed=5)
    s3.put_object(Bucket="crash", Key="big", Body=previous)

    total = 64 * MiB
    req = signer_for(srv).sign("PUT", "/crash/big", payload_hash=UNSIGNED_PAYLOAD, content_length=False,
                               headers=[("Content-Length", str(total))])
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        sock.sendall(req.to_bytes())
        chunk = data(MiB, seed=9)
        for _ in range(24):  # 24 of 64 MiB: the body is half-sent when the server dies
            sock.sendall(chunk)
        tmp = srv.data / "tmp"
        wait_for(lambda: any(p.stat().st_size > MiB for p in files_under(srv.data, "tmp")), 10,
                 f"a partly written body under {tmp} (layout: {sorted(map(str, srv.data.rglob('*')))[:20]})")
        srv.kill()
    finally:
        sock.close()
    assert files_under(srv.data, "tmp"), "the kill should leave a partial temporary file behind"

    srv.start()
    assert files_under(srv.data, "tmp") == [], "the start-up sweep must empty the tmp area"
    s3 = s3_for(srv)
    assert s3.get_object(Bucket="crash", Key="big")["Body"].read() == previous
    assert_md5s(s3, "crash", earlier)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="crash")["Contents"]}
    assert keys == {*earlier, "big"}


@pytest.mark.parametrize("delay", [0.0, 0.003, 0.03])
def test_kill9_during_complete_multipart(server_factory, delay):
    srv = server_factory()
    s3 = s3_for(srv)
    s3.create_bucket(Bucket="crash")
    earlier = put_objects(s3, "crash", [1_000, 300_000], "earlier-")
    up = s3.create_multipart_upload(Bucket="crash", Key="mpu")["UploadId"]
    parts = [data(5 * MiB, seed=100 + i) for i in range(10)] + [data(123_456, seed=99)]
    done = []
    for n, body in enumerate(parts, 1):
        etag = s3.upload_part(Bucket="crash", Key="mpu", UploadId=up, PartNumber=n, Body=body)["ETag"]
        done.append({"PartNumber": n, "ETag": etag})
    xml = "<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{p['PartNumber']}</PartNumber><ETag>{p['ETag']}</ETag></Part>" for p in done
    ) + "</CompleteMultipartUpload>"
    req = signer_for(srv).sign("POST", f"/crash/mpu?uploadId={up}", body=xml.encode())

    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(req.to_bytes())
        time.sleep(delay)  # spread the kill over before / during / just after the commit
        os.kill(srv.proc.pid, signal.SIGKILL)  # no waiting for the answer
        srv.proc.wait(10)

    srv.start()
    s3 = s3_for(srv)
    whole = b"".join(parts)
    listed = s3.list_objects_v2(Bucket="crash", Prefix="mpu").get("Contents", [])
    print(f"kill after {delay}s: {'completed' if listed else 'not completed'}")
    if listed:  # completed before the kill: then complete and correct
        got = s3.get_object(Bucket="crash", Key="mpu")
        assert got["ContentLength"] == len(whole)
        assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(whole).digest()
        assert got["ETag"] == multipart_etag(parts)
    else:  # not completed: the upload survives with every part, and completing it still works
        uploads = s3.list_multipart_uploads(Bucket="crash").get("Uploads", [])
        assert [u["UploadId"] for u in uploads] == [up]
        listed_parts = s3.list_parts(Bucket="crash", Key="mpu", UploadId=up)["Parts"]
        assert [p["ETag"] for p in listed_parts] == [p["ETag"] for p in done]
        s3.complete_multipart_upload(Bucket="crash", Key="mpu", UploadId=up, MultipartUpload={"Parts": done})
        got = s3.get_object(Bucket="crash", Key="mpu")["Body"].read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(whole).digest()
    assert_md5s(s3, "crash", earlier)
    assert files_under(srv.data, "tmp") == []


def test_kill9_loop_under_concurrent_puts(server_factory):
    srv = server_factory()
    s3_for(srv).create_bucket(Bucket="crash")
    acked: dict[str, str] = {}  # key -> md5 of a PUT that was answered 200
    attempted: dict[str, str] = {}  # key -> md5 of every PUT sent (answered or not)
    lock = threading.Lock()

    def writer(tid: int, rnd: int, stop: threading.Event) -> None:
        s3 = s3_for(srv)
        rng = random.Random(tid * 100 + rnd)
        i = 0
        while not stop.is_set():
            size = rng.choice([rng.randint(0, 10_000), rng.randint(150_000, MiB)])
            body = rng.randbytes(size)
            key = f"r{rnd}/t{tid}/{i}"
            with lock:
                attempted[key] = md5_hex(body)
            try:
                s3.put_object(Bucket="crash", Key=key, Body=body)
            except (BotoCoreError, ClientError):
                return  # the server is gone: this PUT is unacknowledged
            with lock:
                acked[key] = md5_hex(body)
            i += 1

    for rnd in range(5):
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(t, rnd, stop)) for t in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.0 + 0.3 * rnd)
        srv.kill()
        stop.set()
        for t in threads:
            t.join(30)
        srv.start()
        s3 = s3_for(srv)
        with lock:
            acked_now, attempted_now = dict(acked), dict(attempted)
        present = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="crash")
                   for o in page.get("Contents", [])}
        missing = sorted(set(acked_now) - present)
        assert not missing, f"round {rnd}: acknowledged PUTs lost: {missing[:10]}"
        # Read back this round's objects now and every object once more after the last round.
        for key in sorted(k for k in present if rnd == 4 or k.startswith(f"r{rnd}/")):
            got = md5_hex(s3.get_object(Bucket="crash", Key=key)["Body"].read())
            # Acknowledged: exactly its bytes. Unacknowledged but present: whole, never partial.
            assert got == attempted_now[key], f"round {rnd}: {key} is not the bytes that were PUT"
        assert files_under(srv.data, "tmp") == []
    assert len(acked) > 20, "the writers should have completed many PUTs"


def test_sigterm_lets_inflight_upload_finish(server_factory):
    srv = server_factory()
    s3_for(srv).create_bucket(Bucket="crash")
    body = data(8 * MiB, seed=77)
    req = signer_for(srv).sign("PUT", "/crash/inflight", body=body)
    raw = req.to_bytes()
    head_len = len(raw) - len(body)
    pieces = [raw[: head_len + MiB]] + [raw[i : i + MiB] for i in range(head_len + MiB, len(raw), MiB)]

    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
        sock.sendall(pieces[0])
        time.sleep(0.3)  # the request is now in flight
        srv.proc.send_signal(signal.SIGTERM)
        for p in pieces[1:]:
            time.sleep(0.1)
            sock.sendall(p)
        buf = b""
        while (parsed := parse_response(buf)) is None:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed before the answer: {buf[:300]!r}"
            buf += chunk
    assert parsed[0].status == 200, parsed[0].describe()
    assert srv.proc.wait(25) == 0, srv.log_text()

    srv.start()
    assert s3_for(srv).get_object(Bucket="crash", Key="inflight")["Body"].read() == body
    assert exchange(srv.endpoint, b"GET /health/ready HTTP/1.1\r\nHost: x\r\n\r\n").status == 200
