"""Conformance suite, versions part: the MetaStore contract of versioning (noncurrent versions, the null
version, delete markers, the WORM guard, version listings, lifecycle scans), backend by backend.

Uses the `store` / `backend` fixtures of tests/unit/conftest.py, so a backend added to its `BACKENDS`
must pass these too. Real stores on real files; no mocks.
"""

from __future__ import annotations

import asyncio

import pytest
from meta_records import asynctest, with_bucket

from coffer.server.meta.interface import MetaStore, PreconditionFailed
from coffer.server.meta.model import CommonPrefix, Expect, ObjectRecord, Segment, VersionEntry


def ver(key: str, vid: str | None, ref: str | None = None, t: float = 1.0, props: dict | None = None,
        marker: bool = False) -> ObjectRecord:
    return ObjectRecord(bucket="b", key=key, size=10 if ref else 0, etag="" if marker else "e", last_modified=t,
                        owner="u1", version_id=vid, segments=[Segment(ref, 10)] if ref else [],
                        props=props or {}, delete_marker=marker)


class Refused(Exception):
    pass


def refuse_locked(props: dict) -> None:
    if props.get("locked"):
        raise Refused()


def ids(page) -> list[tuple[str, str]]:
    return [(e.record.key, e.record.version_id or "null") for e in page.entries if isinstance(e, VersionEntry)]


@asynctest
async def test_enabled_keeps_noncurrent_versions_and_their_data(store: MetaStore) -> None:
    await with_bucket(store)
    assert await store.put_object(ver("k", "v1", "r1", 1.0), versioning="Enabled") == []
    assert await store.put_object(ver("k", "v2", "r2", 2.0), versioning="Enabled") == []
    assert (await store.get_object("b", "k")).version_id == "v2"
    old = await store.get_version("b", "k", "v1")
    assert old is not None and old.segments[0].ref == "r1"
    assert await store.get_version("b", "k", "nope") is None
    assert await store.referenced(["r1", "r2"]) == {"r1", "r2"}
    entries = await store.key_versions("b", "k")
    assert [(e.record.version_id, e.is_latest) for e in entries] == [("v2", True), ("v1", False)]
    assert entries[1].noncurrent_since is not None
    # removing the current version makes the next newest current; the last one takes the key away
    removed, freed = await store.delete_version("b", "k", "v2")
    assert removed.version_id == "v2" and freed == ["r2"]
    assert (await store.get_object("b", "k")).version_id == "v1"
    _removed, freed = await store.delete_version("b", "k", "v1")
    assert freed == ["r1"] and await store.get_object("b", "k") is None


@asynctest
async def test_null_version_and_suspended(store: MetaStore) -> None:
    await with_bucket(store)
    await store.put_object(ver("k", None, "r0", 1.0))  # written before versioning: the null version
    await store.put_object(ver("k", "v1", "r1", 2.0), versioning="Enabled")
    assert (await store.get_version("b", "k", "null")).segments[0].ref == "r0"
    # Suspended: a write is the null version again, replacing the old null version (its data freed)
    freed = await store.put_object(ver("k", None, "r2", 3.0), versioning="Suspended")
    assert freed == ["r0"]
    assert [e.record.version_id for e in await store.key_versions("b", "k")] == [None, "v1"]
    assert (await store.get_version("b", "k", "null")).segments[0].ref == "r2"


@asynctest
async def test_delete_markers(store: MetaStore) -> None:
    await with_bucket(store)
    await store.put_object(ver("k", "v1", "r1", 1.0), versioning="Enabled")
    assert await store.add_delete_marker(ver("k", "m1", t=2.0, marker=True), "Enabled") == []
    assert await store.get_object("b", "k") is None  # hidden, not gone
    latest = await store.latest_marker("b", "k")
    assert latest is not None and latest.version_id == "m1" and latest.delete_marker
    assert (await store.get_version("b", "k", "m1")).delete_marker
    assert await store.referenced(["r1"]) == {"r1"}
    # removing the marker brings the version back
    removed, freed = await store.delete_version("b", "k", "m1")
    assert removed.delete_marker and freed == []
    assert (await store.get_object("b", "k")).version_id == "v1"
    assert await store.latest_marker("b", "k") is None


@asynctest
async def test_refused_writes_among_concurrent_ones_change_nothing(store: MetaStore) -> None:
    """Writes queued together may share one transaction: a write refused by a guard or a precondition
    leaves its key and refs as they were, and every other write of the same moment still lands."""
    await with_bucket(store)
    await store.put_object(ver("locked", None, "L0", props={"locked": True}))
    await store.put_object(ver("cond", None, "C0"))
    for i in range(16):
        await store.put_object(ver(f"k{i}", None, f"old{i}"))
    calls = [store.put_object(ver(f"k{i}", None, f"new{i}", 2.0), guard=refuse_locked) for i in range(16)]
    calls.insert(5, store.put_object(ver("locked", None, "L1", 2.0), guard=refuse_locked))
    calls.insert(11, store.put_object(ver("cond", None, "C1", 2.0), Expect(if_match="other")))
    calls.append(store.put_object(ver("cond", None, "C0", 3.0)))  # the same ref again: kept, not freed
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results.pop(11), PreconditionFailed) and isinstance(results.pop(5), Refused)
    assert results == [[f"old{i}"] for i in range(16)] + [[]]
    locked, cond = await store.get_object("b", "locked"), await store.get_object("b", "cond")
    assert locked is not None and locked.segments[0].ref == "L0"
    assert cond is not None and cond.segments[0].ref == "C0" and cond.last_modified == 3.0
    refs = ["L0", "L1", "C0", "C1"] + [f"{a}{i}" for a in ("old", "new") for i in range(16)]
    assert await store.referenced(refs) == {"L0", "C0"} | {f"new{i}" for i in range(16)}


@asynctest
async def test_guard_refuses_and_changes_nothing(store: MetaStore) -> None:
    await with_bucket(store)
    await store.put_object(ver("k", None, "r0", 1.0, props={"locked": True}))
    with pytest.raises(Refused):  # an unversioned overwrite would destroy the locked record
        await store.put_object(ver("k", None, "r1", 2.0), guard=refuse_locked)
    with pytest.raises(Refused):
        await store.delete_version("b", "k", "null", guard=refuse_locked)
    with pytest.raises(Refused):  # Suspended: the null marker replaces the null version
        await store.add_delete_marker(ver("k", None, t=3.0, marker=True), "Suspended", guard=refuse_locked)
    with pytest.raises(Refused):
        await store.delete_objects("b", ["k"], guard=refuse_locked)
    cur = await store.get_object("b", "k")
    assert cur is not None and cur.segments[0].ref == "r0" and await store.latest_marker("b", "k") is None
    # Enabled: a new version does not destroy the locked one, so the guard has nothing to refuse
    await store.put_object(ver("k", "v1", "r1", 4.0), versioning="Enabled", guard=refuse_locked)
    assert [e.record.version_id for e in await store.key_versions("b", "k")] == ["v1", None]


@asynctest
async def test_modify_props(store: MetaStore) -> None:
    await with_bucket(store)
    await store.put_object(ver("k", "v1", "r1", 1.0), versioning="Enabled")
    await store.put_object(ver("k", "v2", "r2", 2.0), versioning="Enabled")
    out = await store.modify_props("b", "k", "v1", lambda r: {**r.props, "hold": True})
    assert out is not None and out.props["hold"] is True
    assert (await store.get_version("b", "k", "v1")).props == {"hold": True}
    assert (await store.get_object("b", "k")).props == {}

    def refuse(r: ObjectRecord) -> dict:
        raise Refused()

    with pytest.raises(Refused):
        await store.modify_props("b", "k", None, refuse)
    assert await store.modify_props("b", "k", "nope", lambda r: {}) is None


@asynctest
async def test_list_versions_order_prefixes_and_paging(store: MetaStore) -> None:
    await with_bucket(store)
    t = 1.0
    for key, n in [("a", 2), ("d/x", 1), ("d/y", 1), ("z", 3)]:
        for i in range(n):
            t += 1
            await store.put_object(ver(key, f"{key}-{i}", f"r-{key}-{i}", t), versioning="Enabled")
    full = await store.list_versions("b")
    assert ids(full) == [("a", "a-1"), ("a", "a-0"), ("d/x", "d/x-0"), ("d/y", "d/y-0"),
                         ("z", "z-2"), ("z", "z-1"), ("z", "z-0")]
    assert [e.is_latest for e in full.entries] == [True, False, True, True, True, False, False]
    rolled = await store.list_versions("b", delimiter="/")
    assert [e.prefix for e in rolled.entries if isinstance(e, CommonPrefix)] == ["d/"]
    # pages joined are the full listing
    got, km, vm = [], None, None
    while True:
        page = await store.list_versions("b", key_marker=km, version_id_marker=vm, limit=2)
        got += ids(page)
        if not page.truncated:
            break
        km, vm = page.next_key_marker, page.next_version_id_marker
    assert got == ids(full)
    # key marker alone: after every version of that key
    assert ids(await store.list_versions("b", key_marker="d/y"))[0] == ("z", "z-2")
    assert ids(await store.list_versions("b", prefix="z", key_marker="z", version_id_marker="z-2")) == [
        ("z", "z-1"), ("z", "z-0")]


@asynctest
async def test_lifecycle_scans(store: MetaStore) -> None:
    await with_bucket(store)
    await store.put_object(ver("a", "a1", "ra", 1.0), versioning="Enabled")
    await store.put_object(ver("b", "b1", "rb1", 1.0), versioning="Enabled")
    await store.put_object(ver("b", "b2", "rb2", 2.0), versioning="Enabled")
    await store.add_delete_marker(ver("c", "cm", t=3.0, marker=True), "Enabled")
    current = await store.scan_current("b", None, 10)
    assert [(row[0], row[3]) for row in current] == [("a", "a1"), ("b", "b2")]
    assert await store.scan_versioned_keys("b", None, 10) == ["b", "c"]
    assert await store.scan_versioned_keys("b", "b", 10) == ["c"]
