"""Append sessions in versioned and protected buckets, through the service layer (real SQLite and
data files, no HTTP): a flush is a new version, the previous current version becomes noncurrent and
keeps its bytes (the flush shares its segments), default retention applies, WORM is honoured.
"""

from __future__ import annotations

import time

import pytest
from service_env import ROOT, Env, put, run

from coffer.protocol.errors import S3Error
from coffer.server.service import Integrity
from coffer.server.service.worm.retention import LockRequest
from coffer.server.service.worm.rule import why_locked

BIG = b"a" * (200 * 1024)  # above the inline limit: the flush shares the base's segment files


async def _body(data: bytes):
    yield data


async def _append_flush(svc, bucket, key, pieces, existing=True):
    handle = None
    for p in pieces:
        handle = await svc.appends.append(ROOT, bucket, key, handle, existing, _body(p), Integrity())
    return await svc.appends.flush(ROOT, bucket, key, handle)


def test_flush_in_versioned_bucket_is_a_new_version(tmp_path):
    async def go():
        async with Env(tmp_path) as svc:
            await svc.buckets.create(ROOT, "vbk", None, {"versioning": "Enabled"})
            v1 = await put(svc, "vbk", "k", BIG)
            rec = await _append_flush(svc, "vbk", "k", [b"tail1", b"tail2"])
            assert rec.version_id and rec.version_id != v1
            assert rec.size == len(BIG) + 10
            versions = await svc.core.meta.key_versions("vbk", "k")
            assert [e.record.version_id for e in versions] == [rec.version_id, v1]
            assert versions[0].is_latest and not versions[1].is_latest
            old = await svc.objects.get(ROOT, "vbk", "k", version_id=v1)
            assert old.size == len(BIG)
            # removing the new version leaves the old one whole (segments are shared, refs counted)
            await svc.objects.delete(ROOT, "vbk", "k", version_id=rec.version_id)
            cur = await svc.objects.get(ROOT, "vbk", "k")
            assert cur.version_id == v1 and cur.size == len(BIG)
            data = b"".join(svc.core.data.path(seg.ref).read_bytes() for seg in cur.segments)
            assert data == BIG

    run(go())


def test_flush_inline_base_and_suspended(tmp_path):
    async def go():
        async with Env(tmp_path) as svc:
            await svc.buckets.create(ROOT, "sbk", None, {"versioning": "Enabled"})
            v1 = await put(svc, "sbk", "k", b"small")
            rec = await _append_flush(svc, "sbk", "k", [b"+more"])
            assert rec.version_id != v1 and rec.size == 10
            assert (await svc.objects.get(ROOT, "sbk", "k", version_id=v1)).inline == b"small"
            await svc.versioning.put(ROOT, "sbk", "Suspended")
            rec2 = await _append_flush(svc, "sbk", "k", [b"!"])
            assert rec2.version_id == "null"
            ids = [e.record.version_id for e in await svc.core.meta.key_versions("sbk", "k")]
            assert len(ids) == 3 and rec.version_id in ids and v1 in ids

    run(go())


def test_flush_gets_default_retention_and_keeps_locked_versions(tmp_path):
    async def go():
        async with Env(tmp_path) as svc:
            await svc.buckets.create(ROOT, "lbk", None, {"versioning": "Enabled", "object_lock": {
                "enabled": True, "mode": "GOVERNANCE", "days": 1}})
            far = time.time() + 365 * 86400
            v1 = await put(svc, "lbk", "k", BIG, LockRequest(mode="COMPLIANCE", until=far))
            rec = await _append_flush(svc, "lbk", "k", [b"x"])
            assert rec.props["retention"]["mode"] == "GOVERNANCE"
            old = await svc.objects.get(ROOT, "lbk", "k", version_id=v1)
            assert why_locked(old.props, time.time()) is not None  # still there, still locked

    run(go())


def test_flush_refused_over_protected_unversioned_object(tmp_path):
    async def go():
        async with Env(tmp_path) as svc:
            await svc.buckets.create(ROOT, "pbk", None, {})
            await svc.ibm.put_protection(ROOT, "pbk", "Retention", 1, 1, 10, False)
            await put(svc, "pbk", "k", BIG)
            with pytest.raises(S3Error):
                await _append_flush(svc, "pbk", "k", [b"x"])
            assert (await svc.objects.get(ROOT, "pbk", "k")).size == len(BIG)
            rec = await _append_flush(svc, "pbk", "new", [b"x"], existing=False)
            assert rec.props.get("ibm", {}).get("period") == 86400  # the bucket's default retention

    run(go())
