"""A service over a real SQLite store and data folder, for unit tests of the service layer."""

from __future__ import annotations

import asyncio
from pathlib import Path

from coffer.server.config import Limits
from coffer.server.data import LocalDataStore
from coffer.server.meta.interface import MetaStore
from coffer.server.meta.sqlite.store import SqliteMetaStore
from coffer.server.service import Integrity, Principal, PutParams, Service
from coffer.server.service.worm.retention import LockRequest

ROOT = Principal(user_id="root", display_name="root", admin=True)


async def _body(data: bytes):
    yield data


class Env:
    def __init__(self, tmp: Path, meta: MetaStore | None = None) -> None:
        self.meta = meta if meta is not None else SqliteMetaStore(tmp / "meta.db")
        self.data = LocalDataStore(tmp / "data", fsync=False)
        self.svc: Service | None = None

    async def __aenter__(self) -> Service:
        await self.meta.open()
        self.data.open()
        self.svc = Service(self.meta, self.data, Limits(), "us-east-1")
        return self.svc

    async def __aexit__(self, *exc) -> None:
        await self.meta.close()
        assert self.svc is not None
        self.svc.close()


async def put(svc: Service, bucket: str, key: str, data: bytes, lock: LockRequest | None = None) -> str | None:
    rec = await svc.objects.put(ROOT, bucket, key, _body(data), PutParams(lock=lock), Integrity())
    return rec.version_id


def run(coro):
    return asyncio.run(coro)
