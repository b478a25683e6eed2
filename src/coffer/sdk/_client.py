"""The SDK entry point: :class:`Client` holds the endpoint, credentials and one connection pool.

A client is cheap to share: every handle made from it (buckets, objects, readers, writers, transfer
managers) reuses its transport, so a program should make one client per endpoint and keep it. It is
thread-safe; urllib3's pool hands each thread its own connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coffer.sdk._bucket import Bucket
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
from coffer.sdk._transport import Transport
from coffer.sdk._types import parse_list_buckets

if TYPE_CHECKING:
    from coffer.sdk._admin import Admin
    from coffer.sdk._coffer_ext import ClientExt
    from coffer.sdk._listen import EventStream
    from coffer.sdk._transfer import TransferManager


class Client:
    """A connection to one S3-compatible endpoint (Coffer or any other).

    ``proxy``: None follows ``http_proxy`` / ``https_proxy`` / ``no_proxy``; "" disables proxies; a
    URL forces that proxy. Without keys the client sends anonymous (unsigned) requests.
    """

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
        self._transport = Transport(url, creds, region or DEFAULT_REGION, self.config, chosen_proxy)
        # Client-side state of multipart-fallback append sessions (see _append.py), per upload id.
        self._append_buffers: dict[str, bytearray] = {}
        self._native_append: bool | None = None
        # Where endpoint/keys/region came from (from_env fills it in; `coffer alias` shows it).
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
    ) -> Client:
        """A client configured by the environment (see docs/sdk.md for the lookup order)."""
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

    # --- properties --------------------------------------------------------------------------------

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
        return f"Client({self.endpoint!r}, access_key={self.access_key!r}, region={self.region!r})"

    # --- operations ---------------------------------------------------------------------------------

    def list_buckets(self) -> list[Bucket]:
        """Every bucket the credentials can see (follows ListBuckets pagination where servers page)."""
        out: list[Bucket] = []
        token: str | None = None
        while True:
            resp = self._transport.request("GET", query={"continuation-token": token} if token else None)
            infos, token = parse_list_buckets(resp.data or b"")
            out.extend(Bucket(self, i.name, i.creation_date) for i in infos)
            if not token:
                return out

    def bucket(self, name: str) -> Bucket:
        """A handle on bucket ``name`` (no request is made until you use it)."""
        return Bucket(self, name)

    def listen(self, events: Iterable[str] | None = None, *, prefix: str = "", suffix: str = "") -> EventStream:
        """Follow every bucket's writes live (an admin's call); see :meth:`Bucket.listen`."""
        from coffer.sdk._listen import EventStream, listen_query

        return EventStream(self._transport, None, listen_query(events, prefix, suffix))

    @property
    def admin(self) -> Admin:
        """Coffer's admin API (users, keys, quotas); needs an admin's credentials."""
        from coffer.sdk._admin import Admin

        return Admin(self)

    def transfer(self, config: TransferConfig | None = None) -> TransferManager:
        """A transfer manager: parallel, resumable uploads, downloads and copies with futures."""
        from coffer.sdk._transfer import TransferManager

        return TransferManager(self, config or TransferConfig())

    @property
    def ext(self) -> ClientExt:
        """Coffer-only operations on the caller's account (usage, properties)."""
        from coffer.sdk._coffer_ext import ClientExt

        return ClientExt(self)

    # --- bulk jobs (Spectra-style; implemented in _bulk.py / _bulk_files.py) ------------------------

    def bulk_put(self, bucket: str, objects: Any, **kw: Any) -> Any:
        """Start a bulk PUT job for ``[(name, size), ...]``; returns a :class:`BulkJob`."""
        from coffer.sdk._bulk import bulk_put

        return bulk_put(self, bucket, objects, **kw)

    def bulk_get(self, bucket: str, names_or_prefix: Any, **kw: Any) -> Any:
        """Start a bulk GET job for a list of names, or every key under a prefix (a str)."""
        from coffer.sdk._bulk import bulk_get

        return bulk_get(self, bucket, names_or_prefix, **kw)

    def job(self, job_id: str) -> Any:
        """Reopen a bulk job by id (from any client, after any restart)."""
        from coffer.sdk._bulk import open_job

        return open_job(self, job_id)

    def jobs(self, state: str | None = None) -> Any:
        """Bulk jobs of the caller: all, or those IN_PROGRESS / COMPLETED / CANCELED."""
        from coffer.sdk._bulk import list_jobs

        return list_jobs(self, state)

    def bulk_put_files(self, bucket: str, paths_or_dir: Any, prefix: str = "", **kw: Any) -> Any:
        """Upload a directory (recursively) or a list of files in one bulk job, in parallel."""
        from coffer.sdk._bulk_files import bulk_put_files

        return bulk_put_files(self, bucket, paths_or_dir, prefix, **kw)

    def bulk_get_files(self, bucket: str, names_or_prefix: Any, dest_dir: Any, **kw: Any) -> Any:
        """Download named objects (or a prefix) into ``dest_dir`` in one bulk job, in parallel."""
        from coffer.sdk._bulk_files import bulk_get_files

        return bulk_get_files(self, bucket, names_or_prefix, dest_dir, **kw)

    def is_coffer(self) -> bool:
        """True when the server says it is Coffer (its ``Server`` header); asks it once if unknown."""
        if self._transport.server_header is None:
            try:
                self._transport.request("GET", query={"max-buckets": "1"})
            except CofferError:
                pass
        return "coffer" in (self._transport.server_header or "").lower()

    def close(self) -> None:
        """Close pooled connections. Handles made from this client must not be used afterwards."""
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
