"""Access control's bucket-settings patches through modify_bucket_props: settings changed at
the same time by different store instances on one database (as by different worker processes) are all
kept, and None removes a setting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import pg_server
from coffer.server.meta.interface import NoSuchBucket
from coffer.server.meta.model import Bucket
from coffer.server.meta.sqlite.store import SqliteMetaStore
from coffer.server.service.access.decision import patch


async def _run(tmp: Path, dsn: str = "") -> dict:
    if dsn:
        from coffer.server.meta.postgres.store import PostgresMetaStore

        stores: list = [PostgresMetaStore(dsn) for _ in range(3)]
    else:
        stores = [SqliteMetaStore(tmp / "meta.db") for _ in range(3)]
    for s in stores:
        await s.open()
    try:
        await stores[0].create_bucket(Bucket("b", "u1", 1.0, "us-east-1", props={"keep": 1}))
        await asyncio.gather(*(stores[i % 3].modify_bucket_props("b", patch({f"k{i}": i})) for i in range(30)))
        after = await stores[1].modify_bucket_props("b", patch({"k0": None, "keep": None}))
        with pytest.raises(NoSuchBucket):
            await stores[2].modify_bucket_props("missing", patch({"x": 1}))
        assert (await stores[2].get_bucket("b")).props == after
        return after
    finally:
        for s in stores:
            await s.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_concurrent_patches_are_all_kept(tmp_path: Path, engine: str) -> None:
    dsn = ""
    if engine == "postgresql":
        if not pg_server.configured():
            pytest.skip(pg_server.SKIP_REASON)
        dsn = pg_server.new_database("props")
    props = asyncio.run(_run(tmp_path, dsn))
    assert props == {f"k{i}": i for i in range(1, 30)}
