"""Records and helpers the metadata conformance suites share (objects, uploads, parts, a bucket)."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import pytest

import pg_server
from coffer.server.meta.interface import MetaStore
from coffer.server.meta.model import Bucket, CommonPrefix, MultipartUpload, ObjectRecord, Part, Segment
from coffer.server.meta.sqlite.store import SqliteMetaStore


def asynctest(fn):
    """Run an `async def` test with asyncio.run (pytest-asyncio is deliberately not used)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return run


def obj(key: str, refs: tuple[str, ...] = (), bucket: str = "b", etag: str = "e1", **kw) -> ObjectRecord:
    segments = [Segment(ref=r, size=10) for r in refs]
    return ObjectRecord(bucket=bucket, key=key, size=10 * len(refs), etag=etag, last_modified=5.0,
                        owner="u1", segments=segments, **kw)


def upload(uid: str, key: str = "big", initiated: float = 1.0, bucket: str = "b") -> MultipartUpload:
    return MultipartUpload(upload_id=uid, bucket=bucket, key=key, initiated=initiated, owner="u1")


def part(uid: str, n: int, ref: str) -> Part:
    return Part(upload_id=uid, number=n, size=10, etag=f"md5{n}", last_modified=2.0, segment=Segment(ref, 10))


async def with_bucket(store: MetaStore, name: str = "b", owner: str = "u1") -> None:
    await store.create_bucket(Bucket(name=name, owner=owner, created=1.5, region="us-east-1"))


def names(page) -> list[str]:
    return [e.prefix if isinstance(e, CommonPrefix) else e.key for e in page.entries]


class Backend:
    """Makes store instances that share one database (same file or same PostgreSQL database: like
    separate processes). PostgreSQL runs when COFFER_TEST_PG is set (tests/pg_server.py), else skips."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind, self.path = kind, tmp / "meta.db"
        self.dsn = ""
        if kind == "postgresql":
            if not pg_server.configured():
                pytest.skip(pg_server.SKIP_REASON)
            self.dsn = pg_server.new_database("meta")

    def make(self) -> MetaStore:
        if self.kind == "sqlite":
            return SqliteMetaStore(self.path)
        if self.kind == "postgresql":
            from coffer.server.meta.postgres.store import PostgresMetaStore

            return PostgresMetaStore(self.dsn)
        raise AssertionError(f"unknown backend {self.kind}")

    def cleanup(self) -> None:
        if self.dsn:
            pg_server.drop_database(self.dsn)
