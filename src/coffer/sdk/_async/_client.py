"""The asyncio entry point: :class:`AsyncClient`, the sync ``Client`` as coroutines on aiohttp.

One client holds one aiohttp session (made on first use inside the running loop); use it with
``async with`` or ``await client.close()``. It shares configuration (:class:`ClientConfig`, the
environment chain of ``Client.from_env``), the SigV4 signer, the typed errors and the dataclasses
with the sync SDK.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coffer.sdk._async._handles import AsyncBucket
from coffer.sdk._async._transfer import AsyncTransferManager
from coffer.sdk._async._transport import AsyncTransport
from coffer.sdk._config import (
    DEFAULT_REGION,
    ClientConfig,
    Credentials,
    TransferConfig,
    normalize_endpoint,
    proxy_for,
    resolve,
)
from coffer.sdk._errors import CofferError
from coffer.sdk._types import parse_list_buckets

if TYPE_CHECKING:
    from coffer.sdk._async._listen import AsyncEventStream


class AsyncClient:
    """An asyncio connection to one S3-compatible endpoint (Coffer or any other)."""

    def __init__(
        self,
        endpoint: str,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str = DEFAULT_REGION,
        proxy: str | None = None,
        *,
        session_token: str | None = None,
        config: ClientConfig | None = None,
    ) -> None:
        try:
            url = normalize_endpoint(endpoint)
        except ValueError as exc:
            raise CofferError(str(exc), code="ConfigError") from exc
        if bool(access_key) != bool(secret_key):
            raise CofferError("give both access_key and secret_key, or neither", code="ConfigError")
        creds = Credentials(access_key, secret_key, session_token) if access_key and secret_key else None
        self.config = config or ClientConfig()
        chosen_proxy = proxy_for(url) if proxy is None else (proxy or None)
        self._transport = AsyncTransport(url, creds, region or DEFAULT_REGION, self.config, chosen_proxy)
        self.sources: dict[str, str] = {"endpoint": "argument", "credentials": "argument"}

    @classmethod
    def from_env(
        cls,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        proxy: str | None = None,
        config: ClientConfig | None = None,
        environ: Mapping[str, str] | None = None,
        home: Path | None = None,
    ) -> AsyncClient:
        """A client configured by the environment, exactly as ``Client.from_env`` resolves it."""
        found = resolve(endpoint, region=region, environ=environ, home=home)
        creds = found.credentials
        client = cls(
            found.endpoint,
            creds.access_key if creds else None,
            creds.secret_key if creds else None,
            found.region,
            proxy=proxy if proxy is not None else proxy_for(found.endpoint, environ),
            session_token=creds.session_token if creds else None,
            config=config,
        )
        client.sources = found.sources
        client._transport.credentials = creds  # keeps a credential_process's refresh
        return client

    @property
    def endpoint(self) -> str:
        return self._transport.endpoint

    @property
    def region(self) -> str:
        return self._transport.region

    @property
    def access_key(self) -> str | None:
        creds = self._transport.credentials
        return creds.access_key if creds else None

    @property
    def proxy(self) -> str | None:
        return self._transport.proxy

    def __repr__(self) -> str:
        return f"AsyncClient({self.endpoint!r}, access_key={self.access_key!r}, region={self.region!r})"

    async def list_buckets(self) -> list[AsyncBucket]:
        out: list[AsyncBucket] = []
        token: str | None = None
        while True:
            resp = await self._transport.request("GET", query={"continuation-token": token} if token else None)
            infos, token = parse_list_buckets(resp.data or b"")
            out.extend(AsyncBucket(self, i.name, i.creation_date) for i in infos)
            if not token:
                return out

    def bucket(self, name: str) -> AsyncBucket:
        return AsyncBucket(self, name)

    def listen(self, events: Iterable[str] | None = None, *, prefix: str = "", suffix: str = "") -> AsyncEventStream:
        """Follow every bucket's writes live (admin users): ``async with client.listen(...) as stream``."""
        from coffer.sdk._async._listen import AsyncEventStream
        from coffer.sdk._listen import listen_query

        return AsyncEventStream(self._transport, None, listen_query(events, prefix, suffix))

    def transfer(self, config: TransferConfig | None = None) -> AsyncTransferManager:
        """An async transfer manager: files and folders up and down, many at once, under one
        ``max_concurrency`` limit of requests in flight and one ``max_bandwidth`` cap; its
        ``start_*`` calls return pausable, cancellable futures."""
        return AsyncTransferManager(self, config or TransferConfig())

    async def is_coffer(self) -> bool:
        if self._transport.server_header is None:
            try:
                await self._transport.request("GET", query={"max-buckets": "1"})
            except CofferError:
                pass
        return "coffer" in (self._transport.server_header or "").lower()

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
