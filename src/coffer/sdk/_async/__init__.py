"""The asyncio SDK (aiohttp): :class:`AsyncClient` and its async bucket/object handles, readers and
writers, with the same API shape as the sync SDK. Public names are exported from ``coffer``."""
