"""Running a command against a data folder's metadata store (whether or not a server runs on it)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from coffer.server.config import Config


def on_meta(data: str, fn: Callable[[Any], Awaitable[Any]]) -> Any:
    """Open DATA's metadata store, run `fn(meta)` to completion, close the store, return the result."""
    from coffer.server.runner import open_meta

    async def go() -> Any:
        # COFFER_META: the shared PostgreSQL metadata of a cluster (users and keys live there)
        meta = open_meta(Config(data_dir=Path(data), meta_url=os.environ.get("COFFER_META") or None))
        await meta.open()
        try:
            return await fn(meta)
        finally:
            await meta.close()

    return asyncio.run(go())
