"""Property tests: list_objects and list_uploads against a direct model of their specification.

Owns the executable statement of the listing model (MetaStore.list_objects docstring, and S3
ListMultipartUploads marker rules): the model below materialises every entry (sort by UTF-8
bytes, roll up at the first delimiter after the prefix, de-duplicate, keep entries past the
marker, take `limit`), and hypothesis checks that the store's seeking implementation returns the
same pages, including full pagination by next markers. Keys are drawn from pieces that collide on
purpose: multi-character delimiters, prefixes equal to keys, NUL, and characters whose UTF-8
starts with high bytes (U+00FF, U+10FFFF) where string order and byte order disagree.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pg_server
from coffer.server.meta.model import Bucket, CommonPrefix, MultipartUpload, ObjectRecord
from coffer.server.meta.sqlite.listing import successor
from coffer.server.meta.sqlite.store import SqliteMetaStore

PIECES = ["a", "b", "/", "//", "-", "é", "\u00ff", "\U0010ffff", "\ue000", "\x00", "z"]
keys_st = st.lists(st.sampled_from(PIECES), min_size=1, max_size=6).map("".join)
delimiter_st = st.one_of(st.none(), st.sampled_from(["/", "//", "-", "é", "\U0010ffff", "a/", "\x00"]), keys_st)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_bucket_names = (f"b{i}" for i in itertools.count())


def b(s: str) -> bytes:
    return s.encode("utf-8")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    dsn = ""
    if request.param == "sqlite":
        # synchronous=OFF: these tests are about listing logic, not durability; keeps examples fast.
        s = SqliteMetaStore(tmp_path_factory.mktemp("listing") / "meta.db", synchronous="OFF")
    else:
        if not pg_server.configured():
            pytest.skip(pg_server.SKIP_REASON)
        from coffer.server.meta.postgres.store import PostgresMetaStore

        dsn = pg_server.new_database("listing")
        s = PostgresMetaStore(dsn)
    asyncio.run(s.open())
    yield s
    asyncio.run(s.close())
    if dsn:
        pg_server.drop_database(dsn)


def rolled(key: str, prefix: str, delimiter: str | None) -> str | None:
    """The common prefix `key` rolls up into, or None."""
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


def model_objects(keys: set[str], prefix: str, delimiter: str | None, after: str | None) -> list[str]:
    """Every entry of the listing, in order: keys, and common prefixes (ending in the delimiter)."""
    entries = {rolled(k, prefix, delimiter) or k for k in keys if k.startswith(prefix)}
    return [e for e in sorted(entries, key=b) if not after or b(e) > b(after)]


def entry_names(entries: list) -> list[str]:
    return [e.prefix if isinstance(e, CommonPrefix) else e.key for e in entries]


async def fill_objects(store: SqliteMetaStore, keys: set[str]) -> str:
    bucket = next(_bucket_names)
    await store.create_bucket(Bucket(name=bucket, owner="o", created=0.0, region="r"))
    await asyncio.gather(*(
        store.put_object(ObjectRecord(bucket=bucket, key=k, size=len(k), etag="e", last_modified=0.0, owner="o"))
        for k in keys
    ))
    return bucket


@SETTINGS
@given(keys=st.sets(keys_st, max_size=25), delimiter=delimiter_st, data=st.data(),
       limit=st.integers(min_value=1, max_value=6))
def test_list_objects_page_matches_model(store, keys, delimiter, data, limit) -> None:
    pool = sorted(keys) or ["a"]
    prefix = data.draw(st.one_of(st.just(""), st.sampled_from(pool), keys_st), label="prefix")
    full = model_objects(keys, prefix, delimiter, None)
    after = data.draw(st.one_of(st.none(), st.sampled_from(pool + full), keys_st), label="after")
    expected = model_objects(keys, prefix, delimiter, after)

    async def run():
        bucket = await fill_objects(store, keys)
        return bucket, await store.list_objects(bucket, prefix, delimiter, after, limit)

    _bucket, page = asyncio.run(run())
    assert entry_names(page.entries) == expected[:limit]
    assert page.truncated == (len(expected) > limit)
    assert page.next_marker == (expected[limit - 1] if page.truncated else None)
    for e in page.entries:
        if isinstance(e, CommonPrefix):
            assert e.prefix.endswith(delimiter)
        else:
            assert e.size == len(e.key)


@SETTINGS
@given(keys=st.sets(keys_st, max_size=30), delimiter=delimiter_st, data=st.data(),
       limit=st.integers(min_value=1, max_value=4))
def test_list_objects_pagination_yields_the_whole_model(store, keys, delimiter, data, limit) -> None:
    prefix = data.draw(st.one_of(st.just(""), st.sampled_from(sorted(keys) or [""]), keys_st), label="prefix")

    async def run() -> list[str]:
        bucket = await fill_objects(store, keys)
        seen: list[str] = []
        after = None
        while True:
            page = await store.list_objects(bucket, prefix, delimiter, after, limit)
            seen += entry_names(page.entries)
            if not page.truncated:
                return seen
            assert len(page.entries) == limit
            after = page.next_marker

    assert asyncio.run(run()) == model_objects(keys, prefix, delimiter, None)


# Bytes biased to the edges (0x00, 0xFE, 0xFF), where an off-by-one successor would show.
edge_bytes = st.one_of(st.binary(max_size=4), st.lists(st.sampled_from([0, 0x61, 0xFE, 0xFF]), max_size=4).map(bytes))


@given(prefix=edge_bytes, tail=edge_bytes, other=st.tuples(edge_bytes, edge_bytes).map(b"".join))
def test_successor_bounds_exactly_the_strings_with_the_prefix(prefix, tail, other) -> None:
    nxt = successor(prefix)
    if nxt is None:  # only the empty string and all-0xFF prefixes have no upper bound
        assert prefix.strip(b"\xff") == b""
        return
    assert prefix + tail < nxt
    # Anything between the prefix and its successor starts with the prefix.
    assert (prefix <= other < nxt) == other.startswith(prefix)


# -- uploads -------------------------------------------------------------------------------------

uploads_st = st.lists(
    st.tuples(keys_st, st.integers(min_value=0, max_value=3)), max_size=20
).flatmap(lambda pairs: st.lists(
    st.text("0123456789abcdef", min_size=1, max_size=3), min_size=len(pairs), max_size=len(pairs), unique=True
).map(lambda ids: [(k, float(t), i) for (k, t), i in zip(pairs, ids, strict=True)]))


def model_uploads(ups: list[tuple[str, float, str]], prefix: str, delimiter: str | None,
                  key_marker: str | None, uid_marker: str | None) -> list[tuple]:
    """Entries as ("prefix", p) or ("upload", key, upload_id), ordered (key bytes, initiated, id)."""
    rows: dict[tuple, tuple] = {}
    for key, initiated, uid in ups:
        if not key.startswith(prefix):
            continue
        common = rolled(key, prefix, delimiter)
        if common is not None:
            rows[(b(common),)] = ("prefix", common)
        else:
            rows[(b(key), initiated, uid)] = ("upload", key, uid)
    marker_at = next(((t, i) for k, t, i in ups if (k, i) == (key_marker, uid_marker)), None)

    def keep(sort_key: tuple) -> bool:
        if not key_marker or sort_key[0] > b(key_marker):
            return True
        if len(sort_key) == 1 or sort_key[0] != b(key_marker) or not uid_marker:
            return False
        # S3: with upload-id-marker, uploads of key_marker after the marker upload; when that
        # upload no longer exists, those with a greater upload id.
        return sort_key[1:] > marker_at if marker_at else sort_key[2] > uid_marker

    return [rows[s] for s in sorted(rows) if keep(s)]


def upload_entries(page) -> list[tuple]:
    got = [("upload", u.key, u.upload_id) for u in page.uploads] + [("prefix", p) for p in page.prefixes]
    return sorted(got, key=lambda e: b(e[1]))  # two lists merged: stable sort keeps uploads' order


async def fill_uploads(store: SqliteMetaStore, ups: list[tuple[str, float, str]]) -> str:
    bucket = next(_bucket_names)
    await store.create_bucket(Bucket(name=bucket, owner="o", created=0.0, region="r"))
    await asyncio.gather(*(
        store.create_upload(MultipartUpload(upload_id=f"{bucket}.{i}", bucket=bucket, key=k, initiated=t, owner="o"))
        for k, t, i in ups
    ))
    return bucket


def scoped(bucket: str, ups: list[tuple[str, float, str]]) -> list[tuple[str, float, str]]:
    # Upload ids are global; prefixing the bucket keeps examples apart without changing their order.
    return [(k, t, f"{bucket}.{i}") for k, t, i in ups]


@SETTINGS
@given(ups=uploads_st, delimiter=delimiter_st, data=st.data(), limit=st.integers(min_value=1, max_value=5))
def test_list_uploads_page_matches_model(store, ups, delimiter, data, limit) -> None:
    key_pool = sorted({k for k, _, _ in ups}) or ["a"]
    prefix = data.draw(st.one_of(st.just(""), st.sampled_from(key_pool)), label="prefix")
    key_marker = data.draw(st.one_of(st.none(), st.sampled_from(key_pool), keys_st), label="key_marker")
    id_pool = [i for _, _, i in ups] or ["0"]
    uid_marker = data.draw(st.one_of(st.none(), st.sampled_from(id_pool), st.text("0123456789abcdef", max_size=3)))

    async def run():
        bucket = await fill_uploads(store, ups)
        marker = None if uid_marker is None else f"{bucket}.{uid_marker}"
        page = await store.list_uploads(bucket, prefix, delimiter, key_marker, marker, limit)
        return page, model_uploads(scoped(bucket, ups), prefix, delimiter, key_marker, marker)

    page, expected = asyncio.run(run())
    assert upload_entries(page) == expected[:limit]
    assert page.truncated == (len(expected) > limit)
    if page.truncated:
        last = expected[limit - 1]
        assert (page.next_key_marker, page.next_upload_id_marker) == (last[1], last[2] if len(last) == 3 else None)


@SETTINGS
@given(ups=uploads_st, delimiter=delimiter_st, data=st.data(), limit=st.integers(min_value=1, max_value=4))
def test_list_uploads_pagination_yields_the_whole_model(store, ups, delimiter, data, limit) -> None:
    prefix = data.draw(st.one_of(st.just(""), st.sampled_from(sorted({k for k, _, _ in ups}) or [""])))

    async def run():
        bucket = await fill_uploads(store, ups)
        seen: list[tuple] = []
        key_marker = uid_marker = None
        while True:
            page = await store.list_uploads(bucket, prefix, delimiter, key_marker, uid_marker, limit)
            seen += upload_entries(page)
            if not page.truncated:
                return seen, model_uploads(scoped(bucket, ups), prefix, delimiter, None, None)
            key_marker, uid_marker = page.next_key_marker, page.next_upload_id_marker

    seen, expected = asyncio.run(run())
    assert seen == expected
