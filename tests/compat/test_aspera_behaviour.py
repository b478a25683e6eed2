"""What the guide promises beyond its code: subscribers' event order, pause/resume/cancel "with no
side effects", and target_rate_mbps as a real cap. ibm_boto3 clients against a real Coffer server;
what the server holds is checked with IBM's client (ListMultipartUploads, HeadObject).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from aspera_files import make_file, make_tree, read_tree
from ibm_botocore.exceptions import ClientError

from coffer.compat.aspera import (
    AsperaBaseSubscriber,
    AsperaConfig,
    AsperaTransferManager,
    CancelledError,
)

MiB = 1 << 20


class Recorder(AsperaBaseSubscriber):
    """Every event with the total it reported, in the order they came."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def on_queued(self, future, **kwargs):
        with self.lock:
            self.events.append(("queued", 0))

    def on_progress(self, future, bytes_transferred, **kwargs):
        with self.lock:
            self.events.append(("progress", bytes_transferred))

    def on_done(self, future, **kwargs):
        with self.lock:
            self.events.append(("done", 0))

    @property
    def total(self) -> int:
        with self.lock:
            return max((n for kind, n in self.events if kind == "progress"), default=0)


def _check_sequence(rec: Recorder, size: int) -> None:
    kinds = [k for k, _ in rec.events]
    assert kinds[0] == "queued" and kinds.count("queued") == 1
    assert kinds[-1] == "done" and kinds.count("done") == 1
    totals = [n for k, n in rec.events if k == "progress"]
    assert len(totals) >= 2 and totals == sorted(set(totals))  # repeated, strictly rising
    assert totals[-1] == size


def test_subscriber_sequence_file_and_directory(client, cos_bucket, tmp_path):
    big = make_file(tmp_path / "big.bin", 70 * MiB)  # above the 60 MB threshold: split in parts
    small = make_file(tmp_path / "small.bin", 3 * MiB)
    tree = tmp_path / "tree"
    files = make_tree(tree, 200, 4096)
    cfg = AsperaConfig(multi_session=4, multi_session_threshold_mb=60)
    with AsperaTransferManager(client, transfer_config=cfg) as tm:
        for path, key in ((big, "big.bin"), (small, "small.bin")):
            rec = Recorder()
            tm.upload(str(path), cos_bucket, key, None, [rec]).result()
            _check_sequence(rec, path.stat().st_size)  # done has run by the time result() returns
            rec = Recorder()
            tm.download(cos_bucket, key, str(tmp_path / f"{key}.copy"), None, [rec]).result()
            _check_sequence(rec, path.stat().st_size)
        rec = Recorder()
        tm.upload_directory(str(tree), cos_bucket, "tree", None, [rec]).result()
        _check_sequence(rec, 200 * 4096)  # one transfer to its subscribers, however many files
        out = tmp_path / "out"
        out.mkdir()
        rec = Recorder()
        tm.download_directory(cos_bucket, "tree", str(out), None, [rec]).result()
        _check_sequence(rec, 200 * 4096)
    assert read_tree(out) == files


def _connections_to(port: int) -> int:
    """This process's established TCP connections to ``port`` on loopback (from /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "01" and int(f[2].rsplit(":", 1)[1], 16) == port and f[9] in inodes:
                count += 1
    return count


def _settle(fut, quiet: float = 0.6, limit: float = 30.0) -> int:
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


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")}


def test_pause_then_resume_mid_directory(client, cos_bucket, tmp_path, endpoint):
    src = tmp_path / "src"
    files = make_tree(src, 2000, 8 * 1024)  # 2,000 files, 15.6 MiB
    total = sum(len(d) for d in files.values())
    with AsperaTransferManager(client) as tm:
        tm.upload_directory(str(src), cos_bucket, "dir").result()
    port = int(endpoint.url.rsplit(":", 1)[1])
    sessions = 3
    # 64 Mbps = 8 MB/s: the directory takes about two seconds, so a pause lands in the middle
    cfg = AsperaConfig(multi_session=sessions, target_rate_mbps=64)
    down = tmp_path / "down"
    down.mkdir()
    rec = Recorder()
    baseline = _connections_to(port)
    with AsperaTransferManager(client, transfer_config=cfg) as tm:
        fut = tm.download_directory(cos_bucket, "dir", str(down), None, [rec])
        while fut.bytes_transferred < total // 4:
            time.sleep(0.01)
        assert fut.pause()
        frozen = _settle(fut)
        before = _snapshot(down)
        time.sleep(0.8)
        # paused: nothing moves, nothing new appears, and only a bounded number of sockets stay open
        assert fut.bytes_transferred == frozen < total
        assert _snapshot(down) == before and 0 < len(before) < len(files)
        assert _connections_to(port) <= baseline + sessions + 1  # the streams + the listing's
        assert not fut.is_done()
        assert fut.resume()
        fut.result(timeout=120)
        after = _snapshot(down)
    assert read_tree(down) == files
    # resumed, not restarted: files finished before the pause were not written again ...
    assert all(after[rel] == stamp for rel, stamp in before.items())
    # ... and no byte was fetched twice
    assert fut.bytes_transferred == total == rec.total
    _check_sequence(rec, total)


def test_pause_then_resume_mid_file_upload(client, cos_bucket, tmp_path):
    src = make_file(tmp_path / "f.bin", 80 * MiB)
    cfg = AsperaConfig(multi_session=2, multi_session_threshold_mb=60, target_rate_mbps=400)
    with AsperaTransferManager(client, transfer_config=cfg) as tm:
        fut = tm.upload(str(src), cos_bucket, "f.bin")
        while fut.bytes_transferred < 20 * MiB:
            time.sleep(0.01)
        fut.pause()
        frozen = _settle(fut)
        time.sleep(0.5)
        assert fut.bytes_transferred == frozen < 80 * MiB
        # the parts stored so far are all whole parts of one pending upload
        ups = client.list_multipart_uploads(Bucket=cos_bucket).get("Uploads", [])
        assert [u["Key"] for u in ups] == ["f.bin"]
        parts = client.list_parts(Bucket=cos_bucket, Key="f.bin", UploadId=ups[0]["UploadId"]).get("Parts", [])
        assert sum(p["Size"] for p in parts) == frozen
        fut.resume()
        fut.result(timeout=120)
    assert fut.bytes_transferred == 80 * MiB  # nothing re-sent
    assert fut.coffer_future.bytes_resumed == 0
    body = client.get_object(Bucket=cos_bucket, Key="f.bin")["Body"].read()
    assert body == src.read_bytes()
    assert client.list_multipart_uploads(Bucket=cos_bucket).get("Uploads", []) == []


def test_cancel_mid_file_leaves_nothing(client, cos_bucket, tmp_path):
    src = make_file(tmp_path / "f.bin", 64 * MiB)
    slow = AsperaConfig(multi_session=2, multi_session_threshold_mb=60, target_rate_mbps=80)  # 10 MB/s
    with AsperaTransferManager(client, transfer_config=slow) as tm:
        fut = tm.upload(str(src), cos_bucket, "f.bin")
        while fut.bytes_transferred < 16 * MiB:
            time.sleep(0.01)
        assert fut.cancel()
        with pytest.raises(CancelledError):
            fut.result(timeout=60)
        assert fut.is_done() and not fut.is_success()
    assert client.list_multipart_uploads(Bucket=cos_bucket).get("Uploads", []) == []
    with pytest.raises(ClientError):
        client.head_object(Bucket=cos_bucket, Key="f.bin")

    client.upload_file(str(src), cos_bucket, "f.bin")
    down = tmp_path / "down"
    down.mkdir()
    with AsperaTransferManager(client, transfer_config=slow) as tm:
        fut = tm.download(cos_bucket, "f.bin", str(down / "f.bin"))
        while fut.bytes_transferred < 16 * MiB:
            time.sleep(0.01)
        fut.cancel()
        with pytest.raises(CancelledError):
            fut.result(timeout=60)
    assert list(down.iterdir()) == []  # neither the file nor a partial temporary


def test_target_rate_is_a_cap(client, cos_bucket, tmp_path, record_property):
    """256 MiB each way at target_rate_mbps=400 (50 MB/s): the average rate is within 10% of it."""
    src = make_file(tmp_path / "big.bin", 256 * MiB)
    cfg = AsperaConfig(multi_session=4, multi_session_threshold_mb=100, target_rate_mbps=400)
    target = 400 * 1_000_000 / 8
    rates = {}
    with AsperaTransferManager(client, transfer_config=cfg) as tm:
        t0 = time.monotonic()
        tm.upload(str(src), cos_bucket, "big.bin").result()
        rates["upload"] = src.stat().st_size / (time.monotonic() - t0)
        t0 = time.monotonic()
        tm.download(cos_bucket, "big.bin", str(tmp_path / "copy.bin")).result()
        rates["download"] = src.stat().st_size / (time.monotonic() - t0)
    for direction, rate in rates.items():
        record_property(f"{direction}_MBps", round(rate / 1e6, 2))
        print(f"target 50.00 MB/s, {direction} averaged {rate / 1e6:.2f} MB/s")
    for rate in rates.values():
        assert 0.9 * target <= rate <= 1.1 * target
    assert (tmp_path / "copy.bin").stat().st_size == src.stat().st_size
