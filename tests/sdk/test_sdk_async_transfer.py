"""The async transfer manager against a real Coffer server: folders both ways with filters and
subscribers, multipart files under one concurrency limit, per-file failures, cancellation."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from sdk_faults import CuttingProxy

from coffer import AsyncClient, AsyncTransferManager, ClientConfig, TransferConfig, TransferFailed

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
    _tree(src, {f"f{i:03d}": 1000 + i for i in range(60)} | {"big": 16 * MiB})
    proxy = CuttingProxy(coffer_target.url)
    try:
        async def main() -> None:
            async with _client(coffer_target) as c:
                b = await c.bucket(f"sdk-atx-{uuid.uuid4().hex[:12]}").create()
            async with AsyncClient(proxy.url, coffer_target.access_key, coffer_target.secret_key, proxy="",
                                   config=ClientConfig(max_attempts=3, backoff_base=0.01)) as c:
                tm = c.transfer(SMALL_PARTS)
                res = await tm.upload_directory(src, b.name, "")
                assert res.files == 61
                res = await tm.download_directory(b.name, "", tmp_path / "dst")
                assert res.files == 61 and res.bytes == 16 * MiB + sum(1000 + i for i in range(60))
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
