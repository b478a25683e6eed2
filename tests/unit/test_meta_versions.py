"""The metadata store's versions, at the MetaStore level: data references of noncurrent
versions, the guard rolling a whole operation back, DeleteBucket with versions, migration of an
old database, and ListObjectVersions paging (hypothesis: pages joined == one full listing).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pg_server
from coffer.server.meta.interface import BucketNotEmpty, MetaStore
from coffer.server.meta.model import Bucket, CommonPrefix, ObjectRecord, Segment
from coffer.server.meta.sqlite.schema import SCHEMA_VERSION, migrate
from coffer.server.meta.sqlite.store import SqliteMetaStore


def run(coro):
    return asyncio.run(coro)


def rec(key: str, vid: str | None, ref: str | None = None, props: dict | None = None) -> ObjectRecord:
    return ObjectRecord(bucket="b", key=key, size=1 if ref else 0, etag="e", last_modified=1.0, owner="o",
                        version_id=vid, segments=[Segment(ref, 1)] if ref else [], props=props or {})


@pytest.fixture(params=["sqlite", "postgresql"])
def place(request: pytest.FixtureRequest, tmp_path: Path):
    """Where a test's store lives: a SQLite file, or a fresh PostgreSQL database (COFFER_TEST_PG)."""
    if request.param == "sqlite":
        yield tmp_path / "m.db"
        return
    if not pg_server.configured():
        pytest.skip(pg_server.SKIP_REASON)
    dsn = pg_server.new_database("versions")
    yield dsn
    pg_server.drop_database(dsn)


async def opened(place: Path | str) -> MetaStore:
    if isinstance(place, str):
        from coffer.server.meta.postgres.store import PostgresMetaStore

        m: MetaStore = PostgresMetaStore(place)
    else:
        m = SqliteMetaStore(place)
    await m.open()
    await m.create_bucket(Bucket("b", "o", 0.0, "r"))
    return m


class Refused(Exception):
    pass


def refuse(props: dict) -> None:
    if props.get("locked"):
        raise Refused()


def test_noncurrent_versions_keep_their_data(place):
    async def go():
        m = await opened(place)
        try:
            assert await m.put_object(rec("k", "v1", "r1"), versioning="Enabled") == []
            assert await m.put_object(rec("k", "v2", "r2"), versioning="Enabled") == []
            assert await m.referenced(["r1", "r2"]) == {"r1", "r2"}
            removed, freed = await m.delete_version("b", "k", "v1")
            assert removed is not None and removed.version_id == "v1" and freed == ["r1"]
            # the current version removed: nothing older left, the key is gone
            _removed, freed = await m.delete_version("b", "k", "v2")
            assert freed == ["r2"] and await m.get_object("b", "k") is None
        finally:
            await m.close()

    run(go())


def test_suspended_replaces_null_only(place):
    async def go():
        m = await opened(place)
        try:
            await m.put_object(rec("k", None, "n1"))  # null version from before versioning
            await m.put_object(rec("k", "v1", "r1"), versioning="Enabled")
            assert await m.put_object(rec("k", None, "n2"), versioning="Suspended") == ["n1"]
            assert (await m.get_version("b", "k", "v1")).segments[0].ref == "r1"
            assert (await m.get_object("b", "k")).segments[0].ref == "n2"
        finally:
            await m.close()

    run(go())


def test_guard_rolls_everything_back(place):
    async def go():
        m = await opened(place)
        try:
            await m.put_object(rec("a", None, "ra"))
            await m.put_object(rec("k", None, "rk", {"locked": True}))
            with pytest.raises(Refused):
                await m.delete_objects("b", ["a", "k"], refuse)
            assert await m.get_object("b", "a") is not None  # the whole batch was rolled back
            with pytest.raises(Refused):
                await m.put_object(rec("k", None, "new"), guard=refuse)
            with pytest.raises(Refused):
                await m.put_object(rec("k", None, "new"), versioning="Suspended", guard=refuse)
            with pytest.raises(Refused):
                await m.add_delete_marker(rec("k", None), "Suspended", refuse)
            assert (await m.get_object("b", "k")).segments[0].ref == "rk"
            assert await m.referenced(["new"]) == set()
            # Enabled: the locked version becomes noncurrent, nothing is destroyed
            await m.put_object(rec("k", "v2", "r2"), versioning="Enabled", guard=refuse)
            with pytest.raises(Refused):
                await m.delete_version("b", "k", "null", refuse)
            await m.delete_version("b", "k", "v2", refuse)  # unprotected: goes; the null one is current again
            assert (await m.get_object("b", "k")).segments[0].ref == "rk"
            await m.delete_objects("b", ["a"])
            with pytest.raises(BucketNotEmpty):
                await m.delete_bucket("b")
        finally:
            await m.close()

    run(go())


def test_marker_promotion(place):
    async def go():
        m = await opened(place)
        try:
            await m.put_object(rec("k", "v1", "r1"), versioning="Enabled")
            marker = rec("k", "m1")
            marker.delete_marker = True
            await m.add_delete_marker(marker, "Enabled")
            assert await m.get_object("b", "k") is None
            assert (await m.latest_marker("b", "k")).version_id == "m1"
            await m.delete_version("b", "k", "m1")
            assert (await m.get_object("b", "k")).version_id == "v1"
            assert await m.latest_marker("b", "k") is None
        finally:
            await m.close()

    run(go())


def test_old_database_migrates(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=2)
    conn.close()

    async def go():
        m = SqliteMetaStore(path)
        await m.open()
        await m.close()

    run(go())
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM versions").fetchone()[0] == 0
    conn.close()


KEYS = st.lists(st.tuples(st.sampled_from(["a", "a/b", "a/c", "b", "b/x/y", "c", "é", "z/"]),
                          st.integers(1, 3), st.booleans()), min_size=1, max_size=8, unique_by=lambda t: t[0])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=KEYS, page=st.integers(1, 4), delimiter=st.sampled_from([None, "/"]),
       prefix=st.sampled_from(["", "a", "b/"]))
def test_version_pages_join_to_full_listing(tmp_path_factory, keys, page, delimiter, prefix):
    path = tmp_path_factory.mktemp("lv") / "m.db"

    async def go():
        m = await opened(path)
        try:
            for key, n, marker_last in keys:
                for i in range(n):
                    await m.put_object(rec(key, f"{key}-{i}"), versioning="Enabled")
                if marker_last:
                    mk = rec(key, f"{key}-m")
                    mk.delete_marker = True
                    await m.add_delete_marker(mk, "Enabled")

            def flat(entries):
                return [("P", e.prefix) if isinstance(e, CommonPrefix) else (e.record.key, e.record.version_id)
                        for e in entries]

            full = await m.list_versions("b", prefix, delimiter, None, None, 1000)
            assert not full.truncated
            got, km, vm = [], None, None
            for _ in range(100):
                p = await m.list_versions("b", prefix, delimiter, km, vm, page)
                got += flat(p.entries)
                if not p.truncated:
                    break
                km, vm = p.next_key_marker, p.next_version_id_marker
            assert got == flat(full.entries)
            # newest first within a key, keys in byte order
            keys_seen = [k for k, _ in flat(full.entries) if k != "P"]
            assert [k.encode() for k in keys_seen] == sorted(k.encode() for k in keys_seen)
        finally:
            await m.close()

    run(go())
