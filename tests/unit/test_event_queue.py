"""The metadata store's notification queue and snapshots (SQLite backend, real database files)."""

from __future__ import annotations

import asyncio
import time

import pytest

from coffer.server.meta.interface import BucketExists, NoSuchBucket
from coffer.server.meta.model import Bucket, ObjectRecord, Segment
from coffer.server.meta.sqlite.store import SqliteMetaStore


def run(coro):
    return asyncio.run(coro)


async def _open(path) -> SqliteMetaStore:
    store = SqliteMetaStore(path)
    await store.open()
    return store


def test_queue_survives_reopen_and_leases_exclude_other_claimers(tmp_path):
    async def go():
        db = tmp_path / "m.sqlite3"
        a = await _open(db)
        await a.enqueue_events([("http://h/1", {"n": i}) for i in range(5)])
        await a.close()
        a, b = await _open(db), await _open(db)  # reopened: the queue is on disk; two "workers"
        first = await a.claim_events(3, 30.0)
        second = await b.claim_events(10, 30.0)
        assert [e.payload["n"] for e in first] == [0, 1, 2]
        assert [e.payload["n"] for e in second] == [3, 4]  # leased ones are not handed out twice
        assert await b.claim_events(10, 30.0) == []
        await a.event_done(first[0].id)
        await a.event_retry(first[1].id, 0.0, "HTTP 503")  # failed: due again at once, attempts + 1
        await a.event_retry(first[2].id, 3600.0, "down")  # failed: due in an hour
        again = await b.claim_events(10, 30.0)
        assert [(e.payload["n"], e.attempts) for e in again] == [(1, 1)]
        await b.event_retry(again[0].id, 0.0, "")  # a release: no attempt counted
        assert [(e.payload["n"], e.attempts) for e in await a.claim_events(10, 30.0)] == [(1, 1)]
        await a.close()
        await b.close()

    run(go())


def test_expired_lease_is_claimable_again(tmp_path):
    async def go():
        s = await _open(tmp_path / "m.sqlite3")
        await s.enqueue_events([("http://h/", {"x": 1})])
        assert len(await s.claim_events(1, 0.05)) == 1
        deadline = time.time() + 5
        got = []
        while not got and time.time() < deadline:
            got = await s.claim_events(1, 30.0)
        assert [e.payload for e in got] == [{"x": 1}]
        await s.close()

    run(go())


def test_snapshot_copies_rows_and_counts_refs(tmp_path):
    async def go():
        s = await _open(tmp_path / "m.sqlite3")
        await s.create_bucket(Bucket("src", "u", 1.0, "r"))
        rec = ObjectRecord(bucket="src", key="k", size=10, etag="e", last_modified=1.0, owner="u",
                           segments=[Segment("a" * 32, 10)])
        await s.put_object(rec)
        await s.put_object(ObjectRecord(bucket="src", key="i", size=2, etag="f", last_modified=1.0, owner="u",
                                        inline=b"hi"))
        assert await s.snapshot_bucket("src", Bucket("snap", "u", 2.0, "r", {"frozen": True})) == 2
        snap = await s.get_object("snap", "k")
        assert snap is not None and snap.segments == rec.segments
        assert (await s.get_object("snap", "i")).inline == b"hi"
        assert (await s.get_bucket("snap")).props == {"frozen": True}
        _, freed = await s.delete_object("src", "k")
        assert freed == []  # the snapshot still refers to the data
        _, freed = await s.delete_object("snap", "k")
        assert freed == ["a" * 32]
        with pytest.raises(BucketExists):
            await s.snapshot_bucket("src", Bucket("snap", "u", 2.0, "r"))
        with pytest.raises(NoSuchBucket):
            await s.snapshot_bucket("nope", Bucket("snap2", "u", 2.0, "r"))
        await s.close()

    run(go())


def test_intents_left_by_a_crash_are_resolved_from_the_objects(tmp_path):
    from coffer.server.service.events.notifications import recover_held

    config = [{"id": "c", "kind": "Url", "target": "http://h/", "events": ["s3:ObjectCreated:*",
                                                                           "s3:ObjectRemoved:*"], "filter": []}]

    async def go():
        s = await _open(tmp_path / "m.sqlite3")
        await s.create_bucket(Bucket("b", "u", 1.0, "r", {"notification": config}))
        old = ObjectRecord(bucket="b", key="old", size=1, etag="e1", last_modified=time.time() - 60, owner="u",
                           inline=b"x")
        await s.put_object(old)

        def intent(event, key):
            return ("", {"bucket": "b", "event": event, "key": key, "principal": "u", "request_id": "r",
                         "source_ip": "", "time": time.time()})

        # crashed after the commit: the object is there, newer than the intent -> its event
        (h1,) = await s.enqueue_events([intent("s3:ObjectCreated:Put", "new")])
        await s.put_object(ObjectRecord(bucket="b", key="new", size=3, etag="e2", last_modified=time.time(),
                                        owner="u", inline=b"abc"))
        # crashed before the commit: the object is older than the intent (or absent) -> nothing
        await s.enqueue_events([intent("s3:ObjectCreated:Put", "old"), intent("s3:ObjectCreated:Put", "never")])
        # deletes: absent -> event; still there -> nothing
        await s.enqueue_events([intent("s3:ObjectRemoved:Delete", "gone"),
                                intent("s3:ObjectRemoved:Delete", "old")])
        assert await s.claim_events(10, 30.0) == []  # intents are never delivered
        assert await recover_held(s, "r", older_than=600.0) == 0  # young intents: requests may be running
        assert len(await s.held_events()) == 5
        assert await recover_held(s, "r") == 2
        assert await s.held_events() == []
        # a resolver that lost the race (the intent is gone) queues nothing
        assert await s.enqueue_events([("http://h/", {"dup": 1})], h1, only_if_held=True) == []
        got = await s.claim_events(10, 30.0)
        recs = [e.payload["Records"][0] for e in got]
        assert [(r["eventName"], r["s3"]["object"]["key"]) for r in recs] == \
            [("ObjectCreated:Put", "new"), ("ObjectRemoved:Delete", "gone")]
        assert recs[0]["s3"]["object"]["size"] == 3 and recs[0]["s3"]["object"]["eTag"] == "e2"
        assert h1 > 0
        await s.close()

    run(go())


def test_lazy_commits_leave_the_writer_durable(tmp_path):
    """A non-durable write (intents, delivery bookkeeping) commits with synchronous=NORMAL; the
    writer connection must be back to FULL for every write after it, alone or batched with it."""

    async def go():
        s = await _open(tmp_path / "m.sqlite3")
        writer = s._writer
        assert writer is not None

        def mode(conn):
            return conn.execute("PRAGMA synchronous").fetchone()[0]

        assert await writer.write(mode) == 2  # FULL
        assert await writer.write(mode, durable=False) == 1  # NORMAL, inside the lazy batch
        assert await writer.write(mode) == 2
        both = await asyncio.gather(writer.write(mode, durable=False), writer.write(mode))
        assert both[1] == 2 and both[0] in (1, 2)  # a durable op is never in a lazy batch
        (hold,) = await s.enqueue_events([("", {"x": 1})], durable=False)
        assert await s.held_events() == [(hold, {"x": 1})]
        assert await writer.write(mode) == 2
        await s.close()

    run(go())
