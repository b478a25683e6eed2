"""Conformance suite for metadata store backends: the MetaStore contract, backend by backend.

Owns the behavioural tests every MetaStore implementation must pass: each method, its errors and
preconditions, reference counting and `freed`, complete_upload atomicity, concurrent writers on one
database, reopening. Tests talk to real stores on real files (no mocks); a backend joins by adding
itself to `BACKENDS` (conftest.py) and `Backend.make` (meta_records.py). SQLite-only behaviour
(schema migrations, several OS processes on one file) is at the end. Listing semantics in depth are
in test_meta_listing_model.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from meta_records import Backend, asynctest, names, obj, part, upload, with_bucket

from coffer.server.meta.interface import (
    BucketExists,
    BucketNotEmpty,
    ConditionalConflict,
    MetaStore,
    NoSuchBucket,
    NoSuchUpload,
    NoSuchUser,
    PreconditionFailed,
)
from coffer.server.meta.model import (
    AccessKey,
    Bucket,
    Expect,
    MultipartUpload,
    ObjectEntry,
    ObjectRecord,
    PartInfo,
    Segment,
    User,
)
from coffer.server.meta.sqlite.schema import SCHEMA_VERSION, SchemaTooNew, migrate
from coffer.server.meta.sqlite.store import SqliteMetaStore

# -- users, keys, buckets ------------------------------------------------------------------------


@asynctest
async def test_users_and_access_keys(store: MetaStore) -> None:
    alice = User(id="u1", display_name="alice", email="a@x", created=1.0, props={"quota": 5})
    await store.put_user(alice)
    await store.put_user(User(id="u0", display_name="bob"))
    assert await store.get_user("u1") == alice and await store.get_user("nope") is None
    await store.put_user(User(id="u1", display_name="alice2"))  # replace
    assert [u.display_name for u in await store.list_users()] == ["bob", "alice2"]  # ordered by id
    k1, k2 = AccessKey("AK1", "s1", "u1", created=3.0), AccessKey("AK2", "s2", "u1", status="disabled")
    for k in (k2, k1, AccessKey("AK0", "s0", "u0")):
        await store.put_access_key(k)
    assert await store.get_access_key("AK1") == k1 and await store.get_access_key("X") is None
    assert [k.access_key for k in await store.list_access_keys("u1")] == ["AK1", "AK2"]
    assert len(await store.list_access_keys()) == 3
    await store.put_access_key(AccessKey("AK1", "new", "u1"))
    assert (await store.get_access_key("AK1")).secret_key == "new"
    assert await store.delete_access_key("AK2") and not await store.delete_access_key("AK2")
    assert await store.delete_user("u1") and not await store.delete_user("u1")
    assert await store.list_access_keys("u1") == []
    assert [k.access_key for k in await store.list_access_keys()] == ["AK0"]


@asynctest
async def test_modify_user_props_from_two_stores_keeps_every_change(backend: Backend) -> None:
    one, two = backend.make(), backend.make()
    await one.open()
    await two.open()
    try:
        await one.put_user(User(id="u1", display_name="alice", props={"keep": 1}))

        def add(i: int):
            def change(props: dict) -> dict:
                props.setdefault("tokens", {})[f"t{i}"] = i
                return props
            return change

        await asyncio.gather(*((one, two)[i % 2].modify_user_props("u1", add(i)) for i in range(40)))

        def refuse(props: dict) -> dict:
            props["gone"] = True
            raise ValueError("refused")

        with pytest.raises(ValueError):
            await two.modify_user_props("u1", refuse)
        with pytest.raises(NoSuchUser):
            await one.modify_user_props("nobody", add(0))
        user = await two.get_user("u1")
        assert user is not None and user.display_name == "alice"
        assert user.props == {"keep": 1, "tokens": {f"t{i}": i for i in range(40)}}
    finally:
        await one.close()
        await two.close()


@asynctest
async def test_bucket_lifecycle(store: MetaStore) -> None:
    await with_bucket(store, "b2", owner="u2")
    await with_bucket(store, "b1")
    with pytest.raises(BucketExists) as exc:
        await with_bucket(store, "b2", owner="u1")
    assert exc.value.owner == "u2"
    assert await store.get_bucket("b1") == Bucket("b1", "u1", 1.5, "us-east-1") and await store.get_bucket("x") is None
    assert [b.name for b in await store.list_buckets()] == ["b1", "b2"]
    assert [b.name for b in await store.list_buckets(owner="u2")] == ["b2"]
    await store.update_bucket_props("b1", {"versioning": "Enabled", "n": [1, 2]})
    assert (await store.get_bucket("b1")).props == {"versioning": "Enabled", "n": [1, 2]}
    with pytest.raises(NoSuchBucket):
        await store.update_bucket_props("x", {})
    with pytest.raises(NoSuchBucket):
        await store.delete_bucket("x")
    await store.put_object(obj("k", ("r1",), bucket="b1"))
    with pytest.raises(BucketNotEmpty):
        await store.delete_bucket("b1")
    await store.delete_object("b1", "k")
    # Deleting a bucket aborts its uploads and frees their parts' data.
    await store.create_upload(upload("up1", bucket="b1"))
    await store.put_part(part("up1", 1, "p1"))
    assert await store.delete_bucket("b1") == ["p1"]
    assert await store.get_bucket("b1") is None and await store.get_upload("up1") is None
    assert await store.referenced(["p1"]) == set()


@asynctest
async def test_a_failing_commit_observer_stops_no_write(store: MetaStore) -> None:
    """The commit observer (the metrics) runs on the writer thread: when it raises, the write is still
    answered and the writer thread lives on for the next ones."""
    from coffer.server.meta import interface as meta_interface

    seen: list[int] = []

    def broken(seconds: float, writes: int) -> None:
        seen.append(writes)
        raise RuntimeError("observer failed")

    before = meta_interface.commit_observer
    meta_interface.commit_observer = broken
    try:
        await with_bucket(store, "b1")
        for i in range(3):
            await asyncio.wait_for(store.put_object(obj(f"k{i}", (f"r{i}",), bucket="b1")), 30)
    finally:
        meta_interface.commit_observer = before
    assert seen
    assert names(await store.list_objects("b1")) == ["k0", "k1", "k2"]


# -- objects -------------------------------------------------------------------------------------


@asynctest
async def test_object_round_trip_keeps_every_field(store: MetaStore) -> None:
    await with_bucket(store)
    rec = ObjectRecord(
        bucket="b", key="dir/ünï\U0010ffff\x00 key", size=20, etag="abc-2", last_modified=1234.5678,
        owner="u1", content_type="text/plain", headers={"Cache-Control": "no-cache"},
        user_meta={"colour": "blue"}, checksums={"CRC32": "AAAAAA==-2"}, checksum_type="COMPOSITE",
        storage_class="STANDARD_IA", version_id="v1", segments=[Segment("r1", 10), Segment("r2", 10)],
        parts=[PartInfo(1, 10, "m1", {"CRC32": "x"}), PartInfo(2, 10, "m2")], props={"tags": {"a": "b"}},
    )
    assert await store.put_object(rec) == []
    assert await store.get_object("b", rec.key) == rec
    small = obj("small", inline=b"\x00hello")
    await store.put_object(small)
    assert await store.get_object("b", "small") == small
    await store.put_object(obj("empty", inline=b""))
    assert (await store.get_object("b", "empty")).inline == b""
    assert await store.get_object("b", "missing") is None
    with pytest.raises(NoSuchBucket):
        await store.put_object(obj("k", bucket="nobucket"))


@asynctest
async def test_get_objects_answers_many_keys_in_order(store: MetaStore) -> None:
    await with_bucket(store)
    keys = [f"k{i:04d}" for i in range(1200)]  # more than one query's worth of keys
    for k in keys[::3]:
        await store.put_object(obj(k, inline=k.encode()))
    await store.put_object(obj("ünï\x00", inline=b"u"))
    asked = ["ünï\x00", *reversed(keys), "k0000"]
    got = await store.get_objects("b", asked)
    assert len(got) == len(asked)
    for k, rec in zip(asked, got, strict=True):
        if k in keys[::3] or k == "ünï\x00":
            assert rec is not None and rec.key == k and rec == await store.get_object("b", k)
        else:
            assert rec is None
    assert await store.get_objects("b", []) == []
    assert await store.get_objects("nobucket", ["k0000"]) == [None]


@asynctest
async def test_replacing_and_deleting_free_only_unshared_refs(store: MetaStore) -> None:
    await with_bucket(store)
    await store.put_object(obj("a", ("r1", "r2")))
    await store.put_object(obj("b", ("r2",)))  # r2 now shared by two objects
    assert await store.put_object(obj("a", ("r1", "r3"))) == []  # r1 re-used, r2 still held by b
    assert await store.referenced(["r1", "r2", "r3", "zz"]) == {"r1", "r2", "r3"}
    assert await store.put_object(obj("a", ("r4",))) == ["r1", "r3"]
    assert await store.delete_object("b", "b") == (obj("b", ("r2",)), ["r2"])
    assert await store.delete_object("b", "b") == (None, [])
    assert await store.referenced(["r1", "r2", "r3", "r4"]) == {"r4"}
    # The same ref twice in one object is two references.
    await store.put_object(obj("c", ("r5", "r5")))
    await store.put_object(obj("d", ("r5",)))
    assert (await store.delete_object("b", "c"))[1] == [] and (await store.delete_object("b", "d"))[1] == ["r5"]


@asynctest
async def test_shared_put_needs_live_refs(store: MetaStore) -> None:
    """A copy sharing its source's data must not commit once that data has been freed."""
    await with_bucket(store)
    await store.put_object(obj("src", ("r1",)))
    assert await store.put_object(obj("copy", ("r1",)), shared=True) == []
    assert (await store.delete_object("b", "src"))[1] == []  # still held by the copy
    assert (await store.delete_object("b", "copy"))[1] == ["r1"]
    with pytest.raises(ConditionalConflict):
        await store.put_object(obj("late-copy", ("r1",)), shared=True)
    assert await store.get_object("b", "late-copy") is None
    assert await store.referenced(["r1"]) == set()


# -- garbage collection: pending refs and the GC queue --------------------------------------------


@asynctest
async def test_pending_refs_until_the_commit_that_references_them(store: MetaStore) -> None:
    await with_bucket(store)
    await store.add_pending("new", "gw1")
    await store.add_pending("new", "gw1")  # a refresh
    assert await store.live_refs(["new", "zz"], 3600) == {"new"}
    assert await store.referenced(["new"]) == set()
    assert await store.garbage_backlog() == (1, 0)
    await store.put_object(obj("k", ("new",)))  # the commit drops the mark in its transaction
    assert await store.garbage_backlog() == (0, 0)
    assert await store.live_refs(["new"], 3600) == {"new"} and await store.referenced(["new"]) == {"new"}
    # A write that aborts forgets its mark; a mark older than the pending age is not live.
    await store.add_pending("aborted", "gw1")
    await store.forget_refs(["aborted"])
    await store.add_pending("stale", "gw2")
    assert await store.live_refs(["aborted", "stale"], 3600) == {"stale"}
    await asyncio.sleep(0.05)
    assert await store.live_refs(["stale"], 0.01) == set()


@asynctest
async def test_freed_refs_are_queued_in_the_commit_that_frees_them(store: MetaStore) -> None:
    await with_bucket(store)
    await store.put_object(obj("a", ("r1", "r2")))
    await store.put_object(obj("b", ("r2",)))
    assert await store.put_object(obj("a", ("r3",))) == ["r1"]
    assert await store.garbage_backlog() == (0, 1)
    assert (await store.delete_object("b", "b"))[1] == ["r2"]
    await store.create_upload(upload("u1"))
    await store.put_part(part("u1", 1, "p1"))
    assert await store.abort_upload("u1") == ["p1"]
    assert await store.garbage_backlog() == (0, 3)
    # The process that committed deletes the data, then the rows (the fast path) ...
    await store.forget_refs(["r1"])
    # ... and what a crash left is leased to one collector at a time, until forgotten.
    claimed = await store.claim_garbage(10, 60, 3600)
    assert sorted(claimed) == ["p1", "r2"]
    assert await store.claim_garbage(10, 60, 3600) == []  # leased
    await store.forget_refs(claimed)
    assert await store.garbage_backlog() == (0, 0)
    # A lease that runs out (its collector died) makes the row claimable again.
    await store.put_object(obj("a", ()))
    assert await store.claim_garbage(10, 0.01, 3600) == ["r3"]
    await asyncio.sleep(0.05)
    assert await store.claim_garbage(10, 60, 3600) == ["r3"]


@asynctest
async def test_a_dead_writers_pending_ref_becomes_garbage_and_cannot_commit(store: MetaStore) -> None:
    await with_bucket(store)
    await store.add_pending("dead", "gw1")
    await store.add_pending("alive", "gw2")
    assert await store.claim_garbage(10, 60, 3600) == []  # both young
    await asyncio.sleep(1.2)
    await store.add_pending("alive", "gw2")  # its writer refreshed it
    assert await store.claim_garbage(10, 60, 1.0) == ["dead"]
    assert await store.garbage_backlog() == (1, 1)
    # The writer was only stalled: its commit after the collector took the ref is refused.
    with pytest.raises(ConditionalConflict):
        await store.put_object(obj("k", ("dead",)))
    assert await store.get_object("b", "k") is None
    await store.put_object(obj("k", ("alive",)))
    assert await store.garbage_backlog() == (0, 1)


@pytest.mark.parametrize(
    ("exists", "expect", "ok"),
    [
        (False, Expect(if_none_match_any=True), True),
        (True, Expect(if_none_match_any=True), False),
        (True, Expect(if_match="*"), True),
        (False, Expect(if_match="*"), False),
        (True, Expect(if_match="e1"), True),
        (True, Expect(if_match="other"), False),
        (False, Expect(if_match="e1"), False),
        (True, Expect(if_none_match="e1"), False),
        (True, Expect(if_none_match="other"), True),
        (False, Expect(if_none_match="e1"), True),
        (True, None, True),
    ],
)
@asynctest
async def test_put_preconditions(store: MetaStore, exists: bool, expect: Expect | None, ok: bool) -> None:
    await with_bucket(store)
    if exists:
        await store.put_object(obj("k", ("old",), etag="e1"))
    new = obj("k", ("new",), etag="e2")
    if ok:
        assert await store.put_object(new, expect) == (["old"] if exists else [])
        assert await store.get_object("b", "k") == new
    else:
        with pytest.raises(PreconditionFailed):
            await store.put_object(new, expect)
        assert (await store.get_object("b", "k") is None) != exists  # nothing changed
        assert await store.referenced(["old", "new"]) == ({"old"} if exists else set())


@asynctest
async def test_update_object_rewrites_metadata_only(store: MetaStore) -> None:
    await with_bucket(store)
    await store.put_object(obj("k", ("r1",), etag="e1", inline=None))
    changed = obj("k", ("other",), etag="e1", content_type="image/png", user_meta={"a": "1"}, props={"t": 1})
    await store.update_object(changed, expect_etag="e1")
    got = await store.get_object("b", "k")
    assert (got.content_type, got.user_meta, got.props) == ("image/png", {"a": "1"}, {"t": 1})
    assert got.segments == [Segment("r1", 10)] and await store.referenced(["r1", "other"]) == {"r1"}
    with pytest.raises(PreconditionFailed):
        await store.update_object(changed, expect_etag="nope")
    with pytest.raises(PreconditionFailed):
        await store.update_object(obj("gone"))


@asynctest
async def test_delete_objects_aligned_with_keys(store: MetaStore) -> None:
    await with_bucket(store)
    await store.put_object(obj("a", ("r1",)))
    await store.put_object(obj("c", ("r2",)))
    removed, freed = await store.delete_objects("b", ["a", "b", "c", "a"])
    assert removed == [obj("a", ("r1",)), None, obj("c", ("r2",)), None]
    assert sorted(freed) == ["r1", "r2"] and await store.count_objects("b") == (0, 0)


@asynctest
async def test_count_objects(store: MetaStore) -> None:
    await with_bucket(store)
    await with_bucket(store, "other")
    assert await store.count_objects("b") == (0, 0)
    for i in range(5):
        await store.put_object(obj(f"k{i}", ("r",) * i))
    await store.put_object(obj("x", ("r",), bucket="other"))
    assert await store.count_objects("b") == (5, 100)


@asynctest
async def test_list_objects_examples(store: MetaStore) -> None:
    await with_bucket(store)
    keys = ["photos/2006/jan/a.jpg", "photos/2006/feb/b.jpg", "photos/x.jpg", "readme", "z/é/1", "z/é/2"]
    for k in keys:
        await store.put_object(obj(k, inline=b"x"))
    page = await store.list_objects("b", delimiter="/")
    assert names(page) == ["photos/", "readme", "z/"] and not page.truncated and page.next_marker is None
    page = await store.list_objects("b", prefix="photos/", delimiter="/", limit=2)
    assert names(page) == ["photos/2006/", "photos/x.jpg"] and not page.truncated
    page = await store.list_objects("b", prefix="photos/2006/", delimiter="/", limit=1)
    assert names(page) == ["photos/2006/feb/"] and page.truncated and page.next_marker == "photos/2006/feb/"
    page = await store.list_objects("b", prefix="photos/2006/", delimiter="/", after=page.next_marker)
    assert names(page) == ["photos/2006/jan/"] and not page.truncated
    page = await store.list_objects("b", after="readme")
    assert names(page) == ["z/é/1", "z/é/2"]
    # listings carry only what ListObjects shows (never the inline data)
    first = page.entries[0]
    assert isinstance(first, ObjectEntry) and (first.key, first.size, first.etag) == ("z/é/1", 0, "e1")
    assert first.checksum_algorithm is None and not hasattr(first, "inline")
    await store.put_object(obj("z/é/1", checksums={"CRC64NVME": "AAAAAAAAAAA="}, checksum_type="FULL_OBJECT"))
    first = (await store.list_objects("b", after="readme")).entries[0]
    assert (first.checksum_algorithm, first.checksum_type) == ("CRC64NVME", "FULL_OBJECT")
    assert names(await store.list_objects("b", delimiter="é")) == [*sorted(keys[:4]), "z/é"]
    assert (await store.list_objects("b", limit=0)).entries == []


# -- multipart -----------------------------------------------------------------------------------


@asynctest
async def test_uploads_and_parts(store: MetaStore) -> None:
    with pytest.raises(NoSuchBucket):
        await store.create_upload(upload("u1"))
    await with_bucket(store)
    up = MultipartUpload("u1", "b", "big", 3.0, "u1", "text/x", {"Cache-Control": "c"}, {"m": "v"},
                         "STANDARD", "CRC32", "COMPOSITE", {"p": 1})
    await store.create_upload(up)
    assert await store.get_upload("u1") == up and await store.get_upload("nope") is None
    with pytest.raises(NoSuchUpload):
        await store.put_part(part("nope", 1, "p"))
    for n in (3, 1, 2):
        assert await store.put_part(part("u1", n, f"p{n}")) == []
    assert await store.put_part(part("u1", 2, "p2b")) == ["p2"]  # replaced part's data is freed
    parts, truncated = await store.list_parts("u1", limit=2)
    assert [p.segment.ref for p in parts] == ["p1", "p2b"] and truncated
    assert parts[0] == part("u1", 1, "p1")
    parts, truncated = await store.list_parts("u1", after=2)
    assert [p.number for p in parts] == [3] and not truncated
    assert sorted(await store.abort_upload("u1")) == ["p1", "p2b", "p3"]
    assert await store.get_upload("u1") is None and await store.referenced(["p1", "p2b", "p3"]) == set()
    with pytest.raises(NoSuchUpload):
        await store.abort_upload("u1")


@asynctest
async def test_complete_upload_moves_used_refs(store: MetaStore) -> None:
    await with_bucket(store)
    await store.put_object(obj("big", ("old",)))
    await store.create_upload(upload("u1"))
    for n in (1, 2, 3):
        await store.put_part(part("u1", n, f"p{n}"))
    final = obj("big", ("p1", "p3"), etag="x-2", parts=[PartInfo(1, 10, "md51"), PartInfo(3, 10, "md53")])
    freed = await store.complete_upload("u1", final, [1, 3])
    assert sorted(freed) == ["old", "p2"]
    assert await store.get_object("b", "big") == final and await store.get_upload("u1") is None
    assert await store.list_parts("u1") == ([], False)
    assert await store.referenced(["p1", "p2", "p3", "old"]) == {"p1", "p3"}
    assert sorted((await store.delete_object("b", "big"))[1]) == ["p1", "p3"]
    with pytest.raises(NoSuchUpload):
        await store.complete_upload("u1", final, [1, 3])


@asynctest
async def test_failed_complete_changes_nothing(store: MetaStore) -> None:
    await with_bucket(store)
    await store.put_object(obj("big", ("old",), etag="e1"))
    await store.create_upload(upload("u1"))
    await store.put_part(part("u1", 1, "p1"))
    final = obj("big", ("p1",), etag="x-1")
    with pytest.raises(PreconditionFailed):
        await store.complete_upload("u1", final, [1], Expect(if_none_match_any=True))
    # A part replaced after the caller read it: the record names freed data, must be refused.
    await store.put_part(part("u1", 1, "p1b"))
    with pytest.raises(ConditionalConflict):
        await store.complete_upload("u1", final, [1])
    with pytest.raises(ConditionalConflict):
        await store.complete_upload("u1", final, [1, 7])
    assert (await store.get_object("b", "big")).segments == [Segment("old", 10)]
    assert await store.get_upload("u1") is not None and len((await store.list_parts("u1"))[0]) == 1
    assert await store.referenced(["old", "p1", "p1b"]) == {"old", "p1b"}
    ok = obj("big", ("p1b",), etag="x-1")
    assert await store.complete_upload("u1", ok, [1], Expect(if_match="e1")) == ["old"]


@asynctest
async def test_list_uploads_examples(store: MetaStore) -> None:
    await with_bucket(store)
    for uid, key, t in [("u3", "a", 2.0), ("u1", "a", 1.0), ("u2", "a", 1.0), ("u4", "b/x", 1.0),
                        ("u5", "b/y", 1.0), ("u6", "c", 0.5)]:
        await store.create_upload(upload(uid, key, t))
    page = await store.list_uploads("b")
    assert [u.upload_id for u in page.uploads] == ["u1", "u2", "u3", "u4", "u5", "u6"] and not page.truncated
    page = await store.list_uploads("b", delimiter="/", limit=4)
    assert ([u.upload_id for u in page.uploads], page.prefixes) == (["u1", "u2", "u3"], ["b/"])
    assert page.truncated and (page.next_key_marker, page.next_upload_id_marker) == ("b/", None)
    page = await store.list_uploads("b", delimiter="/", key_marker="b/")
    assert [u.upload_id for u in page.uploads] == ["u6"] and page.prefixes == []
    page = await store.list_uploads("b", limit=2, key_marker="a", upload_id_marker="u1")
    assert [u.upload_id for u in page.uploads] == ["u2", "u3"] and page.truncated
    assert (page.next_key_marker, page.next_upload_id_marker) == ("a", "u3")
    assert [u.upload_id for u in (await store.list_uploads("b", key_marker="a")).uploads] == ["u4", "u5", "u6"]
    assert [u.upload_id for u in (await store.list_uploads("b", prefix="b/")).uploads] == ["u4", "u5"]


# -- concurrency and persistence -----------------------------------------------------------------


@asynctest
async def test_concurrent_writes_fail_alone(store: MetaStore) -> None:
    await with_bucket(store)
    await store.put_object(obj("taken", ("t",)))
    commits_before = getattr(store, "commits", 0)
    calls = [store.put_object(obj(f"k{i}", (f"r{i}",))) for i in range(64)]
    calls += [store.put_object(obj("taken", ("x",)), Expect(if_none_match_any=True))]
    calls += [store.put_object(obj("k", bucket="nobucket"))]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert results[:64] == [[]] * 64
    assert isinstance(results[64], PreconditionFailed) and isinstance(results[65], NoSuchBucket)
    assert await store.count_objects("b") == (65, 650)
    assert await store.referenced(["x", "t", "r0", "r63"]) == {"t", "r0", "r63"}
    if hasattr(store, "commits"):  # SQLite: the 66 writes shared transactions
        assert store.commits - commits_before < 66


@asynctest
async def test_user_and_key_changes_invalidate_other_stores_caches(backend: Backend) -> None:
    """PostgreSQL: every committed change of a user or key reaches `on_invalidate` subscribers of
    another store on the database, in commit order, and a rolled-back one never does. SQLite: a
    no-op (the caches' TTL is the bound across processes)."""
    one, two = backend.make(), backend.make()
    await one.open()
    await two.open()
    seen: list[str] = []
    try:
        two.on_invalidate(seen.append)

        async def until(pred, seconds: float = 10.0) -> None:
            deadline = time.monotonic() + seconds
            while not pred() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)

        if backend.kind == "postgresql":
            await until(lambda: "" in seen)  # LISTEN took effect: "" tells the caches to start afresh
            assert seen == [""]
            seen.clear()
        await one.put_user(User(id="u1", display_name="alice"))
        await one.put_access_key(AccessKey("AK1", "s", "u1", "active", 1.0))

        def refuse(props: dict) -> dict:
            raise ValueError("refused")

        with pytest.raises(ValueError):
            await one.modify_user_props("u1", refuse)
        await one.modify_user_props("u1", lambda props: {**props, "admin": True})
        assert await one.delete_access_key("AK1")
        await one.delete_user("u1")
        expected = ["user:u1", "key:AK1", "user:u1", "key:AK1", "user:u1"]
        if backend.kind == "postgresql":
            await until(lambda: len(seen) >= len(expected))
            await asyncio.sleep(0.2)  # nothing more comes (the refused change sent nothing)
            assert seen == expected
        else:
            await asyncio.sleep(0.2)
            assert seen == []
    finally:
        await one.close()
        await two.close()


@asynctest
async def test_postgres_invalidation_survives_a_lost_listen_connection(backend: Backend) -> None:
    """The LISTEN connection is killed: subscribers are told to drop everything (notifications may
    be missed), the listener reconnects, says so again, and later changes arrive as before."""
    if backend.kind != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    import psycopg

    store = backend.make()
    await store.open()
    seen: list[str] = []

    async def until(pred, seconds: float = 10.0) -> None:
        deadline = time.monotonic() + seconds
        while not pred() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    try:
        store.on_invalidate(seen.append)
        await until(lambda: seen == [""])
        assert seen == [""]
        with psycopg.connect(backend.dsn, autocommit=True) as admin:
            killed = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                                   "datname = current_database() AND application_name LIKE 'coffer-invalidate:%%'"
                                   ).fetchall()
        assert killed == [(True,)]
        await until(lambda: seen.count("") >= 3)  # one when it dropped, one when it listens again
        assert seen == ["", "", ""]
        await store.put_access_key(AccessKey("AK2", "s", "u2", "active", 1.0))
        await until(lambda: "key:AK2" in seen)
        assert seen[3:] == ["key:AK2"]
    finally:
        await store.close()


@asynctest
async def test_two_stores_on_one_database(backend: Backend) -> None:
    one, two = backend.make(), backend.make()
    await one.open()
    await two.open()
    try:
        await with_bucket(one)

        async def writer(s: MetaStore, tag: str) -> int:
            wins = 0
            for i in range(40):
                await s.put_object(obj(f"{tag}{i}", (f"{tag}-{i}",)))
                try:
                    await s.put_object(obj(f"race{i}", (f"{tag}-race{i}",)), Expect(if_none_match_any=True))
                    wins += 1
                except PreconditionFailed:
                    pass
            return wins

        wins = await asyncio.gather(writer(one, "a"), writer(two, "b"))
        assert sum(wins) == 40 and await two.count_objects("b") == (120, 1200)
        raced = [f"{t}-race{i}" for t in "ab" for i in range(40)]
        assert len(await one.referenced(raced)) == 40
        assert (await one.get_object("b", "b39")) == obj("b39", ("b-39",))
    finally:
        await one.close()
        await two.close()


@asynctest
async def test_listen_log_between_two_stores(backend: Backend) -> None:
    """The listen API's log: leases seen by every store on the database, records appended by several
    writers at once read back exactly once, in batches, by cursor; expired leases and old rows go."""
    one, two = backend.make(), backend.make()
    await one.open()
    await two.open()
    try:
        now = time.time()
        assert await two.listen_buckets(now) == set()
        cursor = await one.listen_register("l1", "b", now + 30)
        everything = cursor
        assert await two.listen_buckets(now) == {"b"}
        await two.listen_append([("b", {"n": 0}), ("c", {"n": -1})])
        await asyncio.gather(*(s.listen_append([("b", {"n": i})]) for i in range(1, 21) for s in (one, two)
                               if (i % 2 == 0) == (s is one)))
        seen: list[int] = []
        while True:
            records, cursor = await one.listen_read(cursor, "b", 3)
            if not records:
                break
            seen += [r["n"] for r in records]
        assert sorted(seen) == list(range(21))
        assert (await two.listen_read(cursor, "b", 3)) == ([], cursor)  # nothing new: same cursor
        records, _ = await two.listen_read(everything, None, 100)
        assert sorted(r["n"] for r in records) == list(range(-1, 21))
        await one.listen_register("l2", "", now - 1)  # already expired
        await one.listen_unregister("l1")
        assert await two.listen_buckets(time.time()) == set()
        await two.listen_prune(time.time() + 1, time.time())
        assert (await one.listen_read(everything, None, 100))[0] == []
    finally:
        await one.close()
        await two.close()


@asynctest
async def test_postgres_listen_reads_a_row_that_commits_after_a_later_one(backend: Backend) -> None:
    """Two writers: the row with the smaller id commits last. The cursor already past the later row
    still reads it (bigserial ids are taken at insert, not at commit)."""
    if backend.kind != "postgresql":
        pytest.skip("PostgreSQL only: SQLite takes ids and commits with one writer at a time")
    import psycopg

    store = backend.make()
    await store.open()
    try:
        cursor = await store.listen_register("l", "b", time.time() + 30)
        slow = psycopg.connect(backend.dsn)
        slow.execute("INSERT INTO listen_log (bucket, created, record) VALUES ('b', %s, '{\"n\": 1}')",
                     (time.time(),))  # in an open transaction: not visible yet
        await store.listen_append([("b", {"n": 2})])
        records, cursor = await store.listen_read(cursor, "b", 10)
        assert [r["n"] for r in records] == [2]
        slow.commit()
        slow.close()
        records, cursor = await store.listen_read(cursor, "b", 10)
        assert [r["n"] for r in records] == [1]
        assert (await store.listen_read(cursor, "b", 10))[0] == []
    finally:
        await store.close()


@asynctest
async def test_reopen_keeps_everything(backend: Backend) -> None:
    s = backend.make()
    await s.open()
    await with_bucket(s)
    await s.put_user(User("u1", "alice"))
    await s.put_object(obj("k", ("r1",)))
    await s.create_upload(upload("up"))
    await s.put_part(part("up", 1, "p1"))
    await s.close()
    s = backend.make()
    await s.open()
    try:
        assert await s.get_user("u1") == User("u1", "alice") and await s.get_bucket("b") is not None
        assert await s.get_object("b", "k") == obj("k", ("r1",))
        assert (await s.list_parts("up"))[0] == [part("up", 1, "p1")]
        assert await s.referenced(["r1", "p1"]) == {"r1", "p1"}
    finally:
        await s.close()


# -- SQLite specifics ----------------------------------------------------------------------------


@asynctest
async def test_sqlite_migrates_a_version_1_file(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=1) == 1
    conn.execute("INSERT INTO buckets (name, owner, created, region) VALUES ('old', 'u', 1, 'r')")
    conn.close()
    s = SqliteMetaStore(path)
    await s.open()
    try:
        assert await s.get_bucket("old") == Bucket("old", "u", 1.0, "r")
        await s.create_upload(upload("up", bucket="old"))
        assert [u.upload_id for u in (await s.list_uploads("old")).uploads] == ["up"]
    finally:
        await s.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "uploads_by_key" in indexes and conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


@asynctest
async def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer"):
        await SqliteMetaStore(path).open()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0  # untouched
    conn.close()


_CHILD = textwrap.dedent("""
    import asyncio, sys
    from coffer.server.meta.interface import PreconditionFailed
    from coffer.server.meta.model import Expect, ObjectRecord, Segment
    from coffer.server.meta.sqlite.store import SqliteMetaStore

    async def main(path, tag):
        s = SqliteMetaStore(path)
        await s.open()
        def rec(key, ref):
            return ObjectRecord("b", key, 1, "e", 1.0, "u", segments=[Segment(ref, 1)])
        async def one(i):
            await s.put_object(rec(f"{tag}{i}", f"{tag}-{i}"))
            try:
                await s.put_object(rec(f"race{i}", f"{tag}-race{i}"), Expect(if_none_match_any=True))
                return 1
            except PreconditionFailed:
                return 0
        print(sum(await asyncio.gather(*(one(i) for i in range(100)))))
        await s.close()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


@asynctest
async def test_sqlite_two_processes_write_one_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    s = SqliteMetaStore(path)
    await s.open()
    await with_bucket(s)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    procs = [
        subprocess.Popen([sys.executable, "-c", _CHILD, str(path), tag], stdout=subprocess.PIPE, env=env)
        for tag in "pq"
    ]
    wins = [int(p.communicate(timeout=120)[0]) for p in procs]
    try:
        assert [p.returncode for p in procs] == [0, 0] and sum(wins) == 100
        assert await s.count_objects("b") == (300, 300)
        raced = [f"{t}-race{i}" for t in "pq" for i in range(100)]
        assert len(await s.referenced(raced)) == 100
    finally:
        await s.close()


@asynctest
async def test_sqlite_an_operation_failing_midway_rolls_back_only_itself(tmp_path: Path) -> None:
    s = SqliteMetaStore(tmp_path / "m.db")
    await s.open()
    try:
        await with_bucket(s)
        # Binding `object()` fails at the INSERT, after the segment refs were already counted.
        bad = obj("bad", ("rb",), inline=object())  # type: ignore[arg-type]
        results = await asyncio.gather(
            s.put_object(obj("good1", ("r1",))), s.put_object(bad), s.put_object(obj("good2", ("r2",))),
            return_exceptions=True,
        )
        assert results[0] == results[2] == [] and isinstance(results[1], sqlite3.Error)
        assert await s.referenced(["r1", "rb", "r2"]) == {"r1", "r2"}
        assert await s.get_object("b", "bad") is None and await s.count_objects("b") == (2, 20)
    finally:
        await s.close()


# -- PostgreSQL specifics --------------------------------------------------------------------------


@asynctest
async def test_listing_is_in_byte_order_on_a_locale_collated_database(backend: Backend) -> None:
    """The test server is initialised with an ICU en-US default collation on purpose: there the text
    order of these keys is `a a-b a.b a/b ab B Zoo`, while S3 lists by UTF-8 bytes."""
    s = backend.make()
    await s.open()
    try:
        await with_bucket(s)
        keys = ["a", "a-b", "a.b", "a/b", "ab", "B", "Zoo", "é", "z"]
        for k in keys:
            await s.put_object(obj(k))
        want = ["B", "Zoo", "a", "a-b", "a.b", "a/b", "ab", "z", "é"]
        assert names(await s.list_objects("b")) == want
        assert names(await s.list_objects("b", limit=3)) == want[:3]
        assert names(await s.list_objects("b", after="a")) == want[3:]
        assert names(await s.list_objects("b", delimiter="/")) == ["B", "Zoo", "a", "a-b", "a.b", "a/", "ab", "z", "é"]
        assert names(await s.list_objects("b", prefix="a", delimiter=".")) == ["a", "a-b", "a.", "a/b", "ab"]
        for k in ("a/b", "a-b", "B"):
            await s.create_upload(upload(f"up-{k}", key=k))
        page = await s.list_uploads("b")
        assert [u.key for u in page.uploads] == ["B", "a-b", "a/b"]
    finally:
        await s.close()


@asynctest
async def test_postgres_refuses_a_newer_schema(backend: Backend) -> None:
    if backend.kind != "postgresql":
        pytest.skip("PostgreSQL schema versioning")
    import psycopg

    from coffer.server.meta.postgres.schema import SCHEMA_VERSION as PG_VERSION
    from coffer.server.meta.postgres.schema import SchemaTooNew as PgSchemaTooNew

    s = backend.make()
    await s.open()
    await s.close()
    with psycopg.connect(backend.dsn, autocommit=True) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == PG_VERSION
        conn.execute("UPDATE schema_version SET version = %s", (PG_VERSION + 1,))
    s = backend.make()
    with pytest.raises(PgSchemaTooNew, match="newer than this Coffer supports"):
        await s.open()


@asynctest
async def test_postgres_concurrent_conditional_creates_one_winner(backend: Backend) -> None:
    """Three stores (three gateways) race If-None-Match: * creates of the same keys: exactly one
    wins per key and no data ref leaks (the losers' refs are not referenced)."""
    stores = [backend.make() for _ in range(3)]
    for s in stores:
        await s.open()
    try:
        await with_bucket(stores[0])

        async def attempt(i: int, k: int) -> bool:
            try:
                await stores[i].put_object(obj(f"k{k}", (f"r{i}-{k}",)), Expect(if_none_match_any=True))
                return True
            except PreconditionFailed:
                return False

        results = await asyncio.gather(*(attempt(i, k) for k in range(20) for i in range(3)))
        assert sum(results) == 20
        refs = [f"r{i}-{k}" for k in range(20) for i in range(3)]
        assert len(await stores[1].referenced(refs)) == 20
        assert (await stores[2].count_objects("b"))[0] == 20
    finally:
        for s in stores:
            await s.close()


@asynctest
async def test_concurrent_bucket_reads_each_get_their_own_current_record(store: MetaStore) -> None:
    """Requests to one bucket read its record at once (a backend may share one database read between
    them): each gets a record of its own, and a read begun after a change was acknowledged sees it."""
    await with_bucket(store)
    for n in range(3):
        await store.update_bucket_props("b", {"n": n})
        got = await asyncio.gather(*(store.get_bucket("b") for _ in range(40)))
        assert all(b is not None and b.props == {"n": n} for b in got)
        got[0].props["n"] = -1  # a caller changing its record changes no one else's
        assert all(b.props == {"n": n} for b in got[1:])
    assert await asyncio.gather(*(store.get_bucket("missing") for _ in range(8))) == [None] * 8
