"""The bulk-jobs service on a real SQLite store and data folder (no HTTP): planning rules, and the
repair of an object whose last blob was recorded but whose completion a crash cut short."""

from __future__ import annotations

import asyncio
import time

import pytest

from coffer.protocol.errors import S3Error
from coffer.server.config import Limits
from coffer.server.data import LocalDataStore
from coffer.server.meta.model import Bucket
from coffer.server.meta.sqlite.store import SqliteMetaStore
from coffer.server.service import Integrity, Principal, PutParams, Service

WHO = Principal("u1", "u1")


async def _one(data: bytes):
    yield data


def run(tmp_path, fn, **limits):
    async def main():
        meta = SqliteMetaStore(tmp_path / "meta.sqlite3")
        await meta.open()
        store = LocalDataStore(tmp_path / "data", fsync=False)
        store.open()
        svc = Service(meta, store, Limits(**limits), "us-east-1")
        await meta.create_bucket(Bucket("b", "u1", time.time(), "us-east-1"))
        try:
            return await fn(svc, meta)
        finally:
            svc.close()
            await meta.close()

    return asyncio.run(main())


def test_planning_blobs_and_chunks(tmp_path):
    async def fn(svc, meta):
        job, chunks = await svc.jobs.create_put(WHO, "b", [("a", 10), ("b", 0), ("c", 25)], max_upload_size=10)
        blobs = [(b.name, b.offset, b.length, b.chunk) for c in chunks for b in c.blobs]
        assert blobs == [("a", 0, 10, 1), ("b", 0, 0, 1), ("c", 0, 10, 2), ("c", 10, 10, 2), ("c", 20, 5, 3)]
        assert job.total_bytes == 35
        for bad in ([("x", 1), ("x", 2)], [], [("y", -1)]):
            with pytest.raises(S3Error):
                await svc.jobs.create_put(WHO, "b", bad)
        with pytest.raises(S3Error) as e:
            await svc.jobs.create_put(WHO, "nope", [("x", 1)])
        assert e.value.code == "NoSuchBucket"

    run(tmp_path, fn, bulk_chunk_bytes=20, bulk_chunk_blobs=2)


def test_object_completed_after_crash_between_last_blob_and_completion(tmp_path):
    async def fn(svc, meta):
        job, chunks = await svc.jobs.create_put(WHO, "b", [("obj", 6)], max_upload_size=3)
        _first, last = [b for c in chunks for b in c.blobs]
        await svc.jobs.put_blob(WHO, "b", "obj", job.id, 0, _one(b"abc"), Integrity(content_length=3), PutParams())
        # what put_blob does for the last blob, minus the completion (the process "dies" there)
        got = await svc.core.receive(_one(b"def"), Integrity(content_length=3), allow_inline=False, max_size=10)
        await svc.multipart._store_part(last.upload_id, last.index + 1, got.size, got.md5.hex(), got.checksums,
                                        got.segment)
        await svc.jobs.store.mark_blob(job.id, "obj", 3, time.time())
        assert await meta.get_object("b", "obj") is None
        status, _ = await svc.jobs.detail(WHO, job.id)  # the next status request repairs it
        assert status.status == "COMPLETED"
        rec = await meta.get_object("b", "obj")
        assert rec is not None and rec.size == 6
        assert await meta.get_upload(last.upload_id) is None

    run(tmp_path, fn)
