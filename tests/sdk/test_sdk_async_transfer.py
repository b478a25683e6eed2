"""The async transfer manager against a real Coffer server: folders both ways with filters and
subscribers, multipart files under one concurrency limit, per-file failures, cancellation, and the
sync manager's hard cases: the bandwidth limit, pause/resume/cancel through the futures, and an
upload killed mid-way resumed from its stored parts."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from sdk_faults import CuttingProxy

from coffer import (
    AsyncClient,
    AsyncTransferFuture,
    AsyncTransferManager,
    BadDigest,
    ClientConfig,
    TransferCancelled,
    TransferConfig,
    TransferFailed,
)

MiB = 1024 * 1024
SMALL_PARTS = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=3)


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.progress = 0

    def on_queued(self, future) -> None:
        self.events.append("queued")

    def on_progress(self, future, n) -> None:
        self.progress += n

    def on_done(self, future) -> None:
        self.events.append(future.state)


def _client(target, **kw) -> AsyncClient:
    kw.setdefault("config", ClientConfig(max_attempts=3, backoff_base=0.01))
    return AsyncClient(target.url, target.access_key, target.secret_key, proxy="", **kw)


def _tree(root: Path, files: dict[str, int]) -> None:
    for rel, size in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(os.urandom(size))


def test_directories_both_ways_with_filters(coffer_target, tmp_path):
    src = tmp_path / "src"
    files = {"a.txt": 10, "sub/b.bin": 5000, "sub/deeper/c": 0, "big.bin": 11 * MiB + 7, "skip.tmp": 3}
    _tree(src, files)
    kept = {k: v for k, v in files.items() if not k.endswith(".tmp")}

    async def main() -> None:
        async with _client(coffer_target) as c:
            b = await c.bucket(f"sdk-atx-{uuid.uuid4().hex[:12]}").create()
            tm = c.transfer(SMALL_PARTS)
            assert isinstance(tm, AsyncTransferManager)
            rec = Recorder()
            res = await tm.upload_directory(src, b, "backup", subscribers=[rec], exclude=["*.tmp"])
            assert res.files == len(kept) and sorted(res.keys) == sorted(f"backup/{k}" for k in kept)
            assert res.bytes == rec.progress == sum(kept.values())
            assert rec.events == ["queued", "done"]
            props = await b.object("backup/big.bin").head()
            assert props.size == files["big.bin"] and props.etag.endswith("-3")  # multipart, 5 MiB parts
            assert await b.list_uploads() == []

            await b.object("backup/../escape").put(b"x")  # must not leave the target folder
            rec = Recorder()
            res = await tm.download_directory(b, "backup/", tmp_path / "dst", subscribers=[rec])
            assert res.files == len(kept) and res.skipped == ["backup/../escape"]
            assert rec.progress == sum(kept.values())
            only = await tm.download_directory(b, "backup/", tmp_path / "only", include=["sub/*"])
            assert sorted(only.keys) == ["backup/sub/b.bin", "backup/sub/deeper/c"]
            await b.delete(force=True)

    asyncio.run(main())
    for rel in kept:
        assert (tmp_path / "dst" / rel).read_bytes() == (src / rel).read_bytes()
    assert not (tmp_path / "dst" / "skip.tmp").exists() and not (tmp_path / "escape").exists()
    assert sorted(p.name for p in (tmp_path / "only").rglob("*") if p.is_file()) == ["b.bin", "c"]
    assert not list((tmp_path / "dst").rglob("*.part"))


def test_many_files_stay_under_the_concurrency_limit(coffer_target, tmp_path):
    """Requests in flight never pass max_concurrency, counted at the server's side of a proxy."""
    src = tmp_path / "src"
    _tree(src, {f"f{i:03d}": 1000 + i for i in range(60)} | {"big": 16 * MiB, "big2": 6 * MiB, "big3": 6 * MiB})
    proxy = CuttingProxy(coffer_target.url)
    try:
        async def main() -> None:
            async with _client(coffer_target) as c:
                b = await c.bucket(f"sdk-atx-{uuid.uuid4().hex[:12]}").create()
            async with AsyncClient(proxy.url, coffer_target.access_key, coffer_target.secret_key, proxy="",
                                   config=ClientConfig(max_attempts=3, backoff_base=0.01)) as c:
                tm = c.transfer(SMALL_PARTS)
                res = await tm.upload_directory(src, b.name, "")
                assert res.files == 63
                res = await tm.download_directory(b.name, "", tmp_path / "dst")
                assert res.files == 63 and res.bytes == 28 * MiB + sum(1000 + i for i in range(60))
            async with _client(coffer_target) as c:
                await c.bucket(b.name).delete(force=True)

        asyncio.run(main())
        # Connections are only opened for requests in flight (idle ones are reused); +1 for the
        # listing, which pages beside the file transfers.
        assert 1 < proxy.peak_connections <= SMALL_PARTS.max_concurrency + 1
    finally:
        proxy.close()
    assert (tmp_path / "dst" / "big").read_bytes() == (src / "big").read_bytes()


def test_failed_files_are_reported_and_the_rest_finish(coffer_target, tmp_path):
    async def main() -> None:
        async with _client(coffer_target) as c:
            b = await c.bucket(f"sdk-atx-{uuid.uuid4().hex[:12]}").create()
            tm = c.transfer(SMALL_PARTS)
            for i in range(5):
                await b.object(f"p/ok{i}").put(b"data %d" % i)
            (tmp_path / "dst").mkdir()
            (tmp_path / "dst" / "ok2").mkdir()  # a directory where a file must go: that file fails
            with pytest.raises(TransferFailed) as info:
                await tm.download_directory(b, "p/", tmp_path / "dst")
            assert list(info.value.failures) == ["p/ok2"]
            assert sorted(p.name for p in (tmp_path / "dst").iterdir() if p.is_file()) == [
                "ok0", "ok1", "ok3", "ok4"]
            with pytest.raises(NotADirectoryError):
                await tm.upload_directory(tmp_path / "missing", b, "x")
            await b.delete(force=True)

    asyncio.run(main())


def test_cancel_aborts_the_multipart_upload_and_leaves_no_partial_file(coffer_target, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(40 * MiB))
    slow = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=1)

    async def main() -> None:
        async with _client(coffer_target) as c:
            b = await c.bucket(f"sdk-atx-{uuid.uuid4().hex[:12]}").create()
            tm = c.transfer(slow)
            rec = Recorder()
            task = asyncio.create_task(tm.upload(big, b, "big.bin", subscribers=[rec]))
            while rec.progress == 0:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert rec.events == ["queued", "cancelled"]
            assert await b.list_uploads() == [] and not await b.object("big.bin").exists()

            await tm.upload(big, b, "whole.bin")
            rec = Recorder()
            task = asyncio.create_task(tm.download(b, "whole.bin", tmp_path / "out" / "whole.bin",
                                                   subscribers=[rec]))
            while rec.progress == 0:
                await asyncio.sleep(0.005)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await b.delete(force=True)

    asyncio.run(main())
    assert list((tmp_path / "out").iterdir()) == []


def test_server_side_copies_whole_and_part_by_part_and_of_an_older_version(coffer_target):
    cfg = TransferConfig(multipart_chunksize=5 * MiB, copy_threshold=5 * MiB, max_concurrency=3)
    old, new = os.urandom(11 * MiB + 3), os.urandom(2000)

    async def main() -> None:
        async with _client(coffer_target) as c:
            b = await c.bucket(f"sdk-atx-{uuid.uuid4().hex[:12]}").create()
            await b.enable_versioning()
            v_old = (await b.object("src").put(old, content_type="application/x-test",
                                               metadata={"k": "v"})).version_id
            await b.object("src").put(new)
            tm = c.transfer(cfg)
            rec = Recorder()
            await tm.copy(b, "src", b, "now")  # 2000 bytes: one CopyObject
            await tm.copy(b, "src", b, "then", subscribers=[rec], version_id=v_old)  # 3 UploadPartCopy
            await tm.copy(b.name, "src", b.name, "relabelled", version_id=v_old, metadata={"x": "y"})
            assert await b.object("now").read() == new
            assert await b.object("then").read() == old
            assert rec.progress == len(old) and rec.events[-1] == "done"
            then = await b.object("then").head()
            assert then.content_type == "application/x-test" and then.custom == {"k": "v"}
            assert then.etag.endswith("-3")
            assert (await b.object("relabelled").head()).custom == {"x": "y"}
            assert await b.list_uploads() == []
            await b.delete(force=True)

    asyncio.run(main())


def test_bandwidth_limit_is_one_cap_for_every_transfer_up_and_down(coffer_target, tmp_path):
    """Two files moved at once under max_bandwidth take at least bytes / cap seconds (less the
    quarter second of budget the bucket may hold): a check that the cap holds, not a speed test."""
    cap = 4 * MiB
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4,
                         max_bandwidth=cap)
    sizes = {"small.bin": 3 * MiB, "big.bin": 6 * MiB + 5}  # one PutObject/GET, one multipart/ranged
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(os.urandom(size))
    floor = (sum(sizes.values()) - cap / 4) / cap  # about 2 s

    async def main() -> tuple[float, float]:
        async with _client(coffer_target) as c:
            b = await c.bucket(f"sdk-atx-{uuid.uuid4().hex[:12]}").create()
            tm = c.transfer(cfg)
            started = time.monotonic()
            await asyncio.gather(*(tm.upload(tmp_path / n, b, n) for n in sizes))
            up = time.monotonic() - started
            started = time.monotonic()
            await asyncio.gather(*(tm.download(b, n, tmp_path / "out" / n) for n in sizes))
            down = time.monotonic() - started
            await b.delete(force=True)
            return up, down

    up, down = asyncio.run(main())
    assert up >= floor and down >= floor, (up, down, floor)
    for name in sizes:
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / name).read_bytes()


async def _settled(fut: AsyncTransferFuture, quiet: float = 0.4, limit: float = 20.0) -> int:
    """Wait until the future's byte count stops moving (the in-flight parts are done)."""
    deadline = time.monotonic() + limit
    last, since = fut.bytes_transferred, time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        now = fut.bytes_transferred
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    raise AssertionError("transfer never went quiet after pause()")


async def _stored_parts(c: AsyncClient, bucket: str, key: str) -> int:
    from coffer.sdk._async._io import find_upload, list_parts

    upload_id = await find_upload(c._transport, bucket, key)
    return len(await list_parts(c._transport, bucket, key, upload_id)) if upload_id else 0


def test_pause_resume_and_cancel_through_the_futures(coffer_target, tmp_path):
    data = os.urandom(25 * MiB)
    (tmp_path / "slow.bin").write_bytes(data)
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=2,
                         max_bandwidth=10 * MiB)

    async def main() -> None:
        async with _client(coffer_target) as c:
            b = await c.bucket(f"sdk-atx-{uuid.uuid4().hex[:12]}").create()
            tm = c.transfer(cfg)
            rec = Recorder()
            fut = tm.start_upload(tmp_path / "slow.bin", b, "slow.bin", subscribers=[rec])
            assert isinstance(fut, AsyncTransferFuture) and not fut.done()
            with pytest.raises(asyncio.InvalidStateError):
                fut.result()  # would block the loop: await it instead
            while fut.bytes_transferred < 5 * MiB:
                await asyncio.sleep(0.01)
            assert fut.pause()
            frozen = await _settled(fut)  # parts in flight finish, no new one starts
            parts = await _stored_parts(c, b.name, "slow.bin")
            await asyncio.sleep(1.0)
            assert await _stored_parts(c, b.name, "slow.bin") == parts < 5  # no new part while paused
            assert fut.bytes_transferred == frozen < len(data) and fut.state == "paused"
            assert fut.resume()
            result = await fut
            assert result.etag.endswith("-5") and fut.state == "done" and rec.events == ["queued", "done"]
            assert fut.result() == result  # done: no waiting needed
            assert await b.object("slow.bin").read() == data

            held = tm.start_upload(tmp_path / "slow.bin", b, "held.bin")
            held.pause()  # paused before it ran: it takes no slot at all
            await asyncio.sleep(0.5)
            assert held.bytes_transferred == 0 and held.state == "paused"
            assert held.cancel()
            with pytest.raises(TransferCancelled):
                await held
            assert held.cancelled()
            rec = Recorder()
            early = tm.start_upload(tmp_path / "slow.bin", b, "early.bin", subscribers=[rec])
            assert early.cancel()  # before its task ever ran
            with pytest.raises(TransferCancelled):
                await early
            assert early.state == "cancelled" and rec.events == ["queued", "cancelled"]

            rec = Recorder()
            fut = tm.start_upload(tmp_path / "slow.bin", b, "cancelled.bin", subscribers=[rec])
            while fut.bytes_transferred < 5 * MiB:
                await asyncio.sleep(0.01)
            assert fut.cancel()
            with pytest.raises(TransferCancelled):
                await fut
            assert fut.cancelled() and rec.events == ["queued", "cancelled"] and not fut.cancel()
            dl = tm.start_download(b, "slow.bin", tmp_path / "partial.bin")
            while dl.bytes_transferred < 2 * MiB:
                await asyncio.sleep(0.01)
            dl.cancel()
            with pytest.raises(TransferCancelled):
                await dl
            assert not await b.object("cancelled.bin").exists() and not await b.object("held.bin").exists()
            assert await b.list_uploads() == []  # the cancelled uploads were aborted
            await b.delete(force=True)

    asyncio.run(main())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.bin"]  # no partial download


def test_a_paused_directory_pauses_its_files(coffer_target, tmp_path):
    src = tmp_path / "src"
    _tree(src, {f"f{i}.bin": 6 * MiB for i in range(4)} | {f"s{i}": 100 for i in range(5)})
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=2,
                         max_bandwidth=8 * MiB)

    async def main() -> None:
        async with _client(coffer_target) as c:
            b = await c.bucket(f"sdk-atx-{uuid.uuid4().hex[:12]}").create()
            tm = c.transfer(cfg)
            rec = Recorder()
            fut = tm.start_upload_directory(src, b, "d", subscribers=[rec])
            while fut.bytes_transferred < 3 * MiB:
                await asyncio.sleep(0.01)
            fut.pause()
            frozen = await _settled(fut)
            await asyncio.sleep(0.8)
            assert fut.bytes_transferred == frozen < fut.total and fut.state == "paused"
            assert fut.children and all(child.state == "paused" for child in fut.children)
            fut.resume()
            res = await fut
            assert res.files == 9 and res.bytes == rec.progress == fut.total == 24 * MiB + 500
            assert rec.events == ["queued", "done"]

            fut = tm.start_download_directory(b, "d/", tmp_path / "dst")
            while fut.bytes_transferred < 2 * MiB:
                await asyncio.sleep(0.01)
            fut.cancel()  # reaches the files: each one is cancelled and cleaned up
            with pytest.raises(TransferCancelled):
                await fut
            await b.delete(force=True)

    asyncio.run(main())
    left = {p.name: p.stat().st_size for p in (tmp_path / "dst").rglob("*") if p.is_file()}
    assert all(size == (src / name).stat().st_size for name, size in left.items())  # finished files only
    assert "f3.bin" not in left  # the last big file had not finished: nothing of it is left


UPLOADER = textwrap.dedent("""
    import asyncio, sys
    from coffer import AsyncClient, TransferConfig
    url, ak, sk, bucket, path = sys.argv[1:6]
    cfg = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20, max_concurrency=1,
                         max_bandwidth=8 << 20)

    async def main():
        async with AsyncClient(url, ak, sk, proxy="") as c:
            await c.transfer(cfg).upload(path, bucket, "resumed.bin")

    asyncio.run(main())
""")


def test_killed_upload_resumes_from_stored_parts(coffer_target, tmp_path):
    data = os.urandom(30 * MiB + 7)
    (tmp_path / "r.bin").write_bytes(data)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}

    async def main() -> None:
        async with _client(coffer_target) as c:
            b = await c.bucket(f"sdk-atx-{uuid.uuid4().hex[:12]}").create()
            proc = subprocess.Popen([sys.executable, "-c", UPLOADER, coffer_target.url, coffer_target.access_key,
                                     coffer_target.secret_key, b.name, str(tmp_path / "r.bin")], env=env)
            try:
                deadline = time.monotonic() + 60
                stored = 0
                while time.monotonic() < deadline and stored < 2:
                    assert proc.poll() is None, "the uploader exited before it could be killed"
                    stored = await _stored_parts(c, b.name, "resumed.bin")
                    await asyncio.sleep(0.05)
                assert stored >= 2, "the uploader never stored two parts"
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
            assert not await b.object("resumed.bin").exists()
            rec = Recorder()
            fut = c.transfer(TransferConfig(multipart_chunksize=8 * MiB)).start_upload(
                tmp_path / "r.bin", b, "resumed.bin", subscribers=[rec])
            await fut
            assert fut.bytes_resumed >= 10 * MiB  # the stored parts were reused (their 5 MiB layout adopted)
            assert fut.bytes_transferred == rec.progress == len(data)
            got = await b.object("resumed.bin").read()
            assert hashlib.md5(got).digest() == hashlib.md5(data).digest()
            assert await b.list_uploads() == []
            await b.delete(force=True)

    asyncio.run(main())


def test_a_cut_download_goes_on_from_its_last_byte(coffer_target, tmp_path):
    """Downloads read through the resuming reader: a cut body is asked again from where it stopped
    (pinned to the ETag), so the bytes already received are neither fetched again nor counted twice."""
    small, big = os.urandom(4 * MiB), os.urandom(16 * MiB + 9)
    proxy = CuttingProxy(coffer_target.url)
    try:
        async def main() -> None:
            async with _client(coffer_target) as c:
                b = await c.bucket(f"sdk-atx-{uuid.uuid4().hex[:12]}").create()
                await b.object("small").put(small)
                await b.object("big").put(big)
            async with AsyncClient(proxy.url, coffer_target.access_key, coffer_target.secret_key, proxy="",
                                   config=ClientConfig(max_attempts=3, backoff_base=0.01)) as c:
                tm = c.transfer(SMALL_PARTS)
                before = proxy.bytes_down
                proxy.cut_down(after=3 * MiB)
                fut = tm.start_download(b.name, "small", tmp_path / "small")  # one GET: cut 3 MiB in
                await fut
                assert proxy.cuts == 1 and fut.bytes_transferred == len(small)
                assert proxy.bytes_down - before < len(small) + 256 * 1024  # headers, not a second body
                proxy.cut_down(after=2 * MiB, times=2)
                fut = tm.start_download(b.name, "big", tmp_path / "big")  # ranged GETs, two cut
                await fut
                assert proxy.cuts == 3 and fut.bytes_transferred == len(big)
            async with _client(coffer_target) as c:
                await c.bucket(b.name).delete(force=True)

        asyncio.run(main())
    finally:
        proxy.close()
    assert (tmp_path / "small").read_bytes() == small and (tmp_path / "big").read_bytes() == big


def _crc_b64(algo: str, data: bytes) -> str:
    """The object's CRC as S3 shows it, computed without Coffer's code."""
    import base64
    import zlib

    import awscrt.checksums

    value = zlib.crc32(data) if algo == "CRC32" else awscrt.checksums.crc32c(data)
    return base64.b64encode(value.to_bytes(4, "big")).decode()


@pytest.mark.parametrize("algo", ["CRC32C", "CRC32"])
def test_uploads_carry_the_configured_full_object_crc(coffer_target, tmp_path, algo):
    """Single PUT and multipart: HEAD with ChecksumMode=ENABLED (boto3) shows the configured CRC of the
    whole file, as a FULL_OBJECT checksum, as after the sync manager's uploads."""
    import boto3
    from botocore.config import Config

    files = {"single.bin": os.urandom(MiB + 17), "multi.bin": os.urandom(12 * MiB + 123)}  # 1 and 3 parts
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=3,
                            checksum_algorithm=algo)
    bucket = f"sdk-atx-{uuid.uuid4().hex[:12]}"

    async def main() -> None:
        async with _client(coffer_target) as c:
            await c.bucket(bucket).create()
            tm = c.transfer(config)
            for name in files:
                await tm.upload(tmp_path / name, bucket, name)

    asyncio.run(main())
    s3 = boto3.client("s3", endpoint_url=coffer_target.url, aws_access_key_id=coffer_target.access_key,
                      aws_secret_access_key=coffer_target.secret_key, region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}))
    try:
        for name, data in files.items():
            head = s3.head_object(Bucket=bucket, Key=name, ChecksumMode="ENABLED")
            assert head.get("Checksum" + algo) == _crc_b64(algo, data), (name, head)
            assert head.get("ChecksumType") == "FULL_OBJECT", (name, head)
            assert head["ETag"].endswith('-3"') == (name == "multi.bin")
    finally:
        asyncio.run(_drop(coffer_target, bucket))


async def _drop(target, bucket: str) -> None:
    async with _client(target) as c:
        await c.bucket(bucket).delete(force=True)


def test_a_part_corrupted_on_the_way_is_refused(coffer_target, tmp_path):
    """A byte flipped inside a part (by a proxy, after the part's CRC was computed): the server refuses
    the part by its CRC, the upload fails and (resume off) is aborted, and no object appears."""
    (tmp_path / "multi.bin").write_bytes(os.urandom(12 * MiB))
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=3,
                            resume=False)
    bucket = f"sdk-atx-{uuid.uuid4().hex[:12]}"
    proxy = CuttingProxy(coffer_target.url)

    async def main() -> None:
        async with _client(coffer_target) as c:
            await c.bucket(bucket).create()
        async with AsyncClient(proxy.url, coffer_target.access_key, coffer_target.secret_key, proxy="",
                               config=ClientConfig(max_attempts=1)) as c:
            proxy.corrupt_up(at=100_000)  # past the create's few hundred bytes: inside a part's body
            with pytest.raises(BadDigest, match="CRC32C"):
                await c.transfer(config).upload(tmp_path / "multi.bin", bucket, "multi.bin")
            assert proxy.corruptions == 1
        async with _client(coffer_target) as c:
            b = c.bucket(bucket)
            assert [o async for o in b.list_objects()] == []
            assert list(await b.list_uploads()) == []  # aborted

    try:
        asyncio.run(main())
    finally:
        proxy.close()
        asyncio.run(_drop(coffer_target, bucket))
