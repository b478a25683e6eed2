"""Intent recovery after a crash (real SQLite store): multi-key intents (DeleteObjects, multi-object
deletes) and delete markers in versioned buckets get the events they owe, and only those."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from coffer.server.meta.model import Bucket, ObjectRecord
from coffer.server.meta.sqlite.store import SqliteMetaStore
from coffer.server.service.events.notifications import Notifier, recover_held

HOOK = {"id": "h", "kind": "Url", "target": "http://127.0.0.1:9/hook", "filter": [],
        "events": ["s3:ObjectRemoved:*", "s3:ObjectCreated:*", "s3:LifecycleExpiration:*"]}


def _rec(bucket: str, key: str, version: str | None = None, marker: bool = False) -> ObjectRecord:
    return ObjectRecord(bucket=bucket, key=key, size=0 if marker else 3, etag="" if marker else "e",
                        last_modified=time.time(), owner="o", inline=None if marker else b"abc", version_id=version,
                        delete_marker=marker)


async def _setup(tmp_path) -> tuple[SqliteMetaStore, Notifier]:
    meta = SqliteMetaStore(tmp_path / "m.sqlite3")
    await meta.open()
    await meta.create_bucket(Bucket("plain", "o", 0.0, "r", props={"notification": [HOOK]}))
    await meta.create_bucket(Bucket("ver", "o", 0.0, "r", props={"notification": [HOOK], "versioning": "Enabled"}))
    return meta, Notifier(SimpleNamespace(meta=meta, region="r"))  # the real store behind it


async def _queued(meta: SqliteMetaStore) -> list[tuple[str, str, str | None]]:
    out = []
    for e in await meta.claim_events(100, 30.0):
        r = e.payload["Records"][0]
        out.append((r["eventName"], r["s3"]["object"]["key"], r["s3"]["object"].get("versionId")))
    return sorted(out, key=str)


def test_multi_key_intent_owes_events_for_the_keys_removed(tmp_path):
    async def go():
        meta, notifier = await _setup(tmp_path)
        b = await meta.get_bucket("plain")
        for k in ("a", "b", "c"):
            await meta.put_object(_rec("plain", k))
        await notifier.intend(b, "s3:ObjectRemoved:Delete", "", "o", "req", keys=["a", "b", "c"])
        await meta.delete_objects("plain", ["a", "b"])  # the delete committed; then the process died
        assert await recover_held(meta, "r") == 2
        assert await _queued(meta) == [("ObjectRemoved:Delete", "a", None), ("ObjectRemoved:Delete", "b", None)]
        assert await meta.held_events() == []
        await meta.close()

    asyncio.run(go())


def test_recovery_in_a_versioned_bucket_names_the_delete_marker(tmp_path):
    async def go():
        meta, notifier = await _setup(tmp_path)
        b = await meta.get_bucket("ver")
        await meta.put_object(_rec("ver", "k", "v1"), versioning="Enabled")
        await meta.put_object(_rec("ver", "gone", "v2"), versioning="Enabled")
        await notifier.intend(b, "s3:ObjectRemoved:Delete", "k", "o", "req")
        await meta.add_delete_marker(_rec("ver", "k", "m1", marker=True), "Enabled")
        # a lifecycle expiry of one version (owed), and a delete whose write never committed (not owed)
        await notifier.intend(b, "s3:LifecycleExpiration:Delete", "gone", "o", "lc", version="v2")
        await notifier.intend(b, "s3:ObjectRemoved:Delete", "gone", "o", "req")
        await meta.delete_version("ver", "gone", "v2")
        await meta.put_object(_rec("ver", "gone", "v3"), versioning="Enabled")
        await recover_held(meta, "r")
        assert await _queued(meta) == [("LifecycleExpiration:Delete", "gone", "v2"),
                                       ("ObjectRemoved:DeleteMarkerCreated", "k", "m1")]
        await meta.close()

    asyncio.run(go())
