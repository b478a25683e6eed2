"""The transfer manager on live servers: multipart up/down/copy, directories, subscribers, and the
hard cases with real interruptions (a connection cut mid-part, pause/resume, cancel, a killed uploader)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sdk_faults import CuttingProxy

from coffer import Client, ClientConfig, ClientRequestError, TransferCancelled, TransferConfig
from coffer.protocol import checksums

MiB = 1024 * 1024
SMALL_PARTS = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.progress = 0
        self.lock = threading.Lock()

    def on_queued(self, future) -> None:
        self.events.append("queued")

    def on_progress(self, future, n) -> None:
        with self.lock:
            self.progress += n

    def on_done(self, future) -> None:
        self.events.append("done")


def _file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def test_multipart_upload_download_copy(any_client, bkt, tmp_path):
    data = _file(tmp_path / "big.bin", 12 * MiB + 123)
    rec = Recorder()
    with any_client.transfer(SMALL_PARTS) as tm:
        fut = tm.upload(tmp_path / "big.bin", bkt, "big.bin", subscribers=[rec])
        result = fut.result(timeout=120)
        assert result.etag.endswith("-3")
        assert (fut.total, fut.bytes_transferred, rec.progress) == (len(data),) * 3
        assert rec.events == ["queued", "done"] and fut.state == "done" and fut.done()
        down = tm.download(bkt.name, "big.bin", tmp_path / "out" / "big.bin")
        assert down.result(timeout=120).size == len(data)
        assert (tmp_path / "out" / "big.bin").read_bytes() == data
        copy = tm.copy(bkt.name, "big.bin", bkt.name, "copied.bin", metadata={"k": "v"})
        copy.result(timeout=120)
    props = bkt.object("copied.bin").head()
    assert props.size == len(data) and props.custom == {"k": "v"}
    assert list(bkt.list_uploads()) == []


def test_copy_part_by_part(any_client, bkt):
    data = os.urandom(11 * MiB)
    bkt.object("src").put(data, content_type="application/x-test")
    cfg = TransferConfig(multipart_chunksize=5 * MiB, copy_threshold=5 * MiB)
    with any_client.transfer(cfg) as tm:
        tm.copy(bkt, "src", bkt, "dst").result(timeout=120)
    assert bkt.object("dst").read() == data
    assert bkt.object("dst").head().content_type == "application/x-test"


def test_copy_of_an_older_version_whole_and_part_by_part(any_client, bkt):
    bkt.enable_versioning()
    old_small, old_big = os.urandom(1000), os.urandom(11 * MiB)
    v_small = bkt.object("small").put(old_small).version_id
    v_big = bkt.object("big").put(old_big).version_id
    bkt.object("small").put(b"newer")
    bkt.object("big").put(b"newer")
    assert v_small and v_big
    cfg = TransferConfig(multipart_chunksize=5 * MiB, copy_threshold=5 * MiB)
    with any_client.transfer(cfg) as tm:
        tm.copy(bkt, "small", bkt, "small-old", version_id=v_small).result(timeout=120)
        tm.copy(bkt, "big", bkt, "big-old", version_id=v_big).result(timeout=120)  # UploadPartCopy
        tm.copy(bkt, "big", bkt, "big-now").result(timeout=120)
    assert bkt.object("small-old").read() == old_small
    assert bkt.object("big-old").read() == old_big
    assert bkt.object("big-now").read() == b"newer"


def test_upload_from_streams(any_client, bkt):
    data = os.urandom(11 * MiB + 1)
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as w:
            w.write(data)

    threading.Thread(target=feed, daemon=True).start()
    with any_client.transfer(SMALL_PARTS) as tm, os.fdopen(read_fd, "rb") as pipe:
        fut = tm.upload(pipe, bkt, "piped")
        fut.result(timeout=120)
    assert fut.total == len(data)
    assert bkt.object("piped").read() == data


def test_directories_both_ways(any_client, bkt, tmp_path):
    src = tmp_path / "src"
    files = {"a.txt": 10, "sub/b.bin": 5000, "sub/deeper/c": 0, "big.bin": 6 * MiB}
    for rel, size in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        _file(src / rel, size)
    rec = Recorder()
    with any_client.transfer(SMALL_PARTS) as tm:
        up = tm.upload_directory(src, bkt, "backup", subscribers=[rec])
        res = up.result(timeout=120)
        assert res.files == 4 and sorted(res.keys) == sorted(f"backup/{k}" for k in files)
        assert rec.progress == sum(files.values()) == up.total
        hostile = ["backup/../escape"]  # a key like this must not leave the target folder
        try:
            bkt.object(hostile[0]).put(b"x")
        except ClientRequestError:  # SeaweedFS refuses such keys outright
            hostile = []
        down = tm.download_directory(bkt, "backup/", tmp_path / "dst")
        res = down.result(timeout=120)
    assert res.files == 4 and res.skipped == hostile
    for rel in files:
        assert (tmp_path / "dst" / rel).read_bytes() == (src / rel).read_bytes()
    assert not (tmp_path / "escape").exists()


def test_directory_filters(coffer_client, coffer_bkt, tmp_path):
    src = tmp_path / "src"
    for rel in ("a.jpg", "b.tmp", "cache/c.jpg", "d.txt"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(rel.encode())
    with coffer_client.transfer(SMALL_PARTS) as tm:
        res = tm.upload_directory(src, coffer_bkt, "f", exclude=["*.tmp", "cache/*"]).result(timeout=60)
        assert sorted(res.keys) == ["f/a.jpg", "f/d.txt"]
        res = tm.upload_directory(src, coffer_bkt, "g", exclude=["*"], include=["*.jpg"]).result(timeout=60)
        assert sorted(res.keys) == ["g/a.jpg", "g/cache/c.jpg"]
        res = tm.download_directory(coffer_bkt, "g/", tmp_path / "dst", include=["cache/*"]).result(timeout=60)
    assert res.keys == ["g/cache/c.jpg"]
    assert [p.relative_to(tmp_path / "dst").as_posix() for p in (tmp_path / "dst").rglob("*") if p.is_file()] == [
        "cache/c.jpg"]


def _settled(fut, quiet: float = 0.4, limit: float = 20.0) -> int:
    """Wait until the future's byte count stops moving (the in-flight parts are done)."""
    deadline = time.monotonic() + limit
    last, since = fut.bytes_transferred, time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = fut.bytes_transferred
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    raise AssertionError("transfer never went quiet after pause()")


def test_pause_resume_and_cancel(coffer_client, coffer_bkt, tmp_path):
    data = _file(tmp_path / "slow.bin", 25 * MiB)
    cfg = TransferConfig(multipart_chunksize=5 * MiB, max_concurrency=2, max_bandwidth=20 * MiB)
    with coffer_client.transfer(cfg) as tm:
        fut = tm.upload(tmp_path / "slow.bin", coffer_bkt, "slow.bin")
        while fut.bytes_transferred < 3 * MiB:
            time.sleep(0.01)
        fut.pause()
        frozen = _settled(fut)  # parts in flight finish, no new one starts
        time.sleep(0.5)
        assert fut.bytes_transferred == frozen < len(data) and fut.state == "paused"
        fut.resume()
        fut.result(timeout=60)
        assert coffer_bkt.object("slow.bin").read() == data

        fut = tm.upload(tmp_path / "slow.bin", coffer_bkt, "cancelled.bin")
        while fut.bytes_transferred < 6 * MiB:
            time.sleep(0.01)
        assert fut.cancel()
        with pytest.raises(TransferCancelled):
            fut.result(timeout=60)
        assert fut.cancelled()
        dl = tm.download(coffer_bkt, "slow.bin", tmp_path / "partial.bin")
        while dl.bytes_transferred < 2 * MiB:
            time.sleep(0.01)
        dl.cancel()
        with pytest.raises(TransferCancelled):
            dl.result(timeout=60)
    assert not coffer_bkt.object("cancelled.bin").exists()
    assert list(coffer_bkt.list_uploads()) == []  # the aborted upload left nothing behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.bin"]  # no partial download


def test_connection_cut_mid_part(coffer_target, coffer_bkt, tmp_path):
    proxy = CuttingProxy(coffer_target.url)
    try:
        client = Client(proxy.url, coffer_target.access_key, coffer_target.secret_key, proxy="",
                        config=ClientConfig(max_attempts=4, backoff_base=0.01))
        data = _file(tmp_path / "f.bin", 16 * MiB)
        proxy.cut_up(after=2 * MiB, times=2)
        proxy.cut_down(after=3 * MiB)
        with client.transfer(SMALL_PARTS) as tm:
            fut = tm.upload(tmp_path / "f.bin", coffer_bkt.name, "f.bin")
            fut.result(timeout=120)
            assert fut.bytes_transferred == len(data)  # progress of the cut attempts was taken back
            tm.download(coffer_bkt.name, "f.bin", tmp_path / "g.bin").result(timeout=120)
        assert proxy.cuts == 3
        assert (tmp_path / "g.bin").read_bytes() == data
    finally:
        proxy.close()


UPLOADER = textwrap.dedent("""
    import sys
    from coffer import Client, TransferConfig
    url, ak, sk, bucket, path = sys.argv[1:6]
    cfg = TransferConfig(multipart_chunksize=5 << 20, max_concurrency=1, max_bandwidth=8 << 20)
    with Client(url, ak, sk, proxy="").transfer(cfg) as tm:
        tm.upload(path, bucket, "resumed.bin").result()
""")


def test_killed_upload_resumes_from_stored_parts(coffer_target, coffer_client, coffer_bkt, tmp_path):
    data = _file(tmp_path / "r.bin", 30 * MiB + 7)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen([sys.executable, "-c", UPLOADER, coffer_target.url, coffer_target.access_key,
                             coffer_target.secret_key, coffer_bkt.name, str(tmp_path / "r.bin")], env=env)
    try:
        deadline = time.monotonic() + 60
        stored: list = []
        while time.monotonic() < deadline and len(stored) < 2:
            assert proc.poll() is None, "the uploader exited before it could be killed"
            uploads = list(coffer_bkt.list_uploads())
            if uploads:
                from coffer.sdk import _multipart as mp

                stored = mp.list_parts(coffer_client._transport, coffer_bkt.name, "resumed.bin",
                                       uploads[0].upload_id)
            time.sleep(0.05)
        assert len(stored) >= 2, "the uploader never stored two parts"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert not coffer_bkt.object("resumed.bin").exists()
    with coffer_client.transfer(TransferConfig(multipart_chunksize=8 * MiB)) as tm:
        fut = tm.upload(tmp_path / "r.bin", coffer_bkt, "resumed.bin")
        fut.result(timeout=120)
    assert fut.bytes_resumed >= 10 * MiB  # the stored parts were reused (their 5 MiB layout adopted)
    assert hashlib.md5(coffer_bkt.object("resumed.bin").read()).digest() == hashlib.md5(data).digest()
    props = coffer_bkt.object("resumed.bin").head()
    assert props.checksums == {"CRC32C": checksums.checksum_b64("CRC32C", data)}  # end to end
    assert list(coffer_bkt.list_uploads()) == []
