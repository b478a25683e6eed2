"""Fixtures of the unit suites: the metadata store conformance backends (SQLite always; PostgreSQL when
COFFER_TEST_PG names a server the tests may create databases in, see tests/pg_server.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from meta_records import Backend

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = Backend(request.param, tmp_path)
    yield b
    b.cleanup()


@pytest.fixture
def store(backend: Backend):
    s = backend.make()
    asyncio.run(s.open())
    yield s
    asyncio.run(s.close())
