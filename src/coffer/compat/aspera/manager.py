"""IBM's ``AsperaTransferManager`` over Coffer's TransferManager: the client it is given becomes a
Coffer Client (HMAC keys, endpoint, region), and each call a Coffer transfer with an Aspera future.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from coffer.compat.aspera.config import (
    AsperaConfig,
    AsperaManagerConfig,
    AsperaTransferQueueError,
    unsupported,
)
from coffer.compat.aspera.futures import AsperaTransferFuture, CallArgs, Relay, TransferMeta
from coffer.sdk._client import Client
from coffer.sdk._config import ClientConfig, TransferConfig
from coffer.sdk._transfer import TransferManager


def _coffer_client(client: Any, verify_ssl: bool) -> Client:
    """A Coffer Client speaking for ``client`` (a Coffer Client, or an ibm_boto3/boto3 S3 client)."""
    if isinstance(client, Client):
        if not verify_ssl and client.config.verify_tls is not False:
            raise ValueError("AsperaManagerConfig(verify_ssl=False): make the Client with "
                             "ClientConfig(verify_tls=False) instead")
        return client
    signer = getattr(client, "_request_signer", None)
    meta = getattr(client, "meta", None)
    if signer is None or meta is None or not getattr(meta, "endpoint_url", None):
        raise TypeError("AsperaTransferManager needs an ibm_boto3/boto3 S3 client or a coffer.Client, "
                        f"got {type(client).__name__}")
    creds = getattr(signer, "_credentials", None)
    # Look before touching the credentials: reading IAM ones would fetch a token from IBM's cloud.
    if hasattr(creds, "api_key_id") or getattr(signer, "signature_version", None) == "oauth":
        raise ValueError("this client signs with an IAM API key (signature_version='oauth'); Coffer "
                         "authenticates with HMAC keys: create the client with aws_access_key_id and "
                         "aws_secret_access_key")
    if creds is not None and hasattr(creds, "get_frozen_credentials"):
        creds = creds.get_frozen_credentials()
    access_key = getattr(creds, "access_key", None)
    secret_key = getattr(creds, "secret_key", None)
    if not access_key or not secret_key:
        raise ValueError("the client has no HMAC credentials (aws_access_key_id/aws_secret_access_key)")
    token = getattr(creds, "token", None)
    region = getattr(meta, "region_name", None) or "us-east-1"
    return Client(meta.endpoint_url, access_key, secret_key, region, session_token=token or None,
                  config=ClientConfig(verify_tls=verify_ssl))


def _prefix(key: str) -> str:
    """A remote directory name as a key prefix: ``newuploads`` and ``newuploads/`` both mean ``newuploads/``."""
    key = key.lstrip("/")
    return key if not key or key.endswith("/") else key + "/"


class AsperaTransferManager:
    """IBM's ``AsperaTransferManager`` over Coffer's :class:`TransferManager` (see docs/aspera.md).

    Transfers with the same effective :class:`AsperaConfig` share one Coffer transfer manager, so
    its streams and its bandwidth cap are shared by everything started with that config.
    """

    def __init__(self, client: Any, config: AsperaManagerConfig | None = None,
                 transfer_config: AsperaConfig | None = None, delegated_token_manager: Any = None) -> None:
        if config is not None and not isinstance(config, AsperaManagerConfig):
            raise TypeError("config must be an AsperaManagerConfig")
        if transfer_config is not None and not isinstance(transfer_config, AsperaConfig):
            raise TypeError("transfer_config must be an AsperaConfig")
        if delegated_token_manager is not None:
            raise unsupported("delegated_token_manager", "Coffer has no Aspera node tokens; requests are "
                               "signed with the client's HMAC keys")
        self._config = config or AsperaManagerConfig()
        self._transfer_config = transfer_config
        self.client = _coffer_client(client, self._config.verify_ssl)
        self._managers: dict[TransferConfig, TransferManager] = {}
        self._futures: list[AsperaTransferFuture] = []
        self._lock = threading.Lock()
        self._closed = False
        if transfer_config is not None:
            transfer_config.transfer_config(self._config.ascp_max_concurrent)  # fail now, not at first use

    # --- IBM's four calls -------------------------------------------------------------------------

    def upload(self, fileobj: str, bucket: str, key: str, transfer_config: AsperaConfig | None = None,
               subscribers: Iterable[Any] | None = None) -> AsperaTransferFuture:
        """Upload the local file ``fileobj`` to ``bucket/key``."""
        _check_io_access(fileobj, os.R_OK, is_file=True)
        return self._queue(bucket, key, fileobj, "send", False, transfer_config, subscribers,
                           lambda tm, subs: tm.upload(fileobj, bucket, key, subs))

    def download(self, bucket: str, key: str, fileobj: str, transfer_config: AsperaConfig | None = None,
                 subscribers: Iterable[Any] | None = None) -> AsperaTransferFuture:
        """Download ``bucket/key`` to the local path ``fileobj`` (its folder must exist)."""
        _check_io_access(os.path.dirname(os.path.abspath(fileobj)), os.W_OK)
        return self._queue(bucket, key, fileobj, "receive", False, transfer_config, subscribers,
                           lambda tm, subs: tm.download(bucket, key, fileobj, subs))

    def upload_directory(self, directory: str, bucket: str, key: str, transfer_config: AsperaConfig | None = None,
                         subscribers: Iterable[Any] | None = None) -> AsperaTransferFuture:
        """Upload every file under ``directory`` to ``key/<relative path>``."""
        _check_io_access(directory, os.R_OK)
        return self._queue(bucket, key, directory, "send", True, transfer_config, subscribers,
                           lambda tm, subs: tm.upload_directory(directory, bucket, _prefix(key), subs))

    def download_directory(self, bucket: str, key: str, directory: str, transfer_config: AsperaConfig | None = None,
                           subscribers: Iterable[Any] | None = None) -> AsperaTransferFuture:
        """Download every object under ``key/`` into ``directory`` (which must exist)."""
        _check_io_access(directory, os.W_OK)
        return self._queue(bucket, key, directory, "receive", True, transfer_config, subscribers,
                           lambda tm, subs: tm.download_directory(bucket, _prefix(key), directory, subs))

    # --- lifecycle --------------------------------------------------------------------------------

    def wait(self) -> None:
        """Wait until every transfer started so far has finished (errors stay in their futures)."""
        for fut in self._snapshot():
            try:
                fut.result()
            except Exception:
                pass

    def shutdown(self, cancel: bool = False, cancel_msg: str = "") -> None:
        """Wait for (or with ``cancel``, cancel) every transfer, then release the worker threads."""
        del cancel_msg
        self._closed = True
        if cancel:
            for fut in self._snapshot():
                fut.cancel()
        self.wait()
        with self._lock:
            managers, self._managers = list(self._managers.values()), {}
        for tm in managers:
            tm.shutdown()

    def __enter__(self) -> AsperaTransferManager:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.shutdown(cancel=exc_type is not None)

    @staticmethod
    def set_log_details(aspera_log_path: str | None = None, sdk_log_level: int = logging.NOTSET) -> None:
        """``sdk_log_level`` sets the level of the transfer loggers; ``aspera_log_path`` is refused."""
        if aspera_log_path:
            raise unsupported("aspera_log_path", "no ascp process runs; configure logging instead")
        if sdk_log_level != logging.NOTSET:
            for name in ("coffer.compat.aspera", "coffer.transfer"):
                logging.getLogger(name).setLevel(sdk_log_level)

    # --- plumbing ---------------------------------------------------------------------------------

    def _snapshot(self) -> list[AsperaTransferFuture]:
        with self._lock:
            return list(self._futures)

    def _manager(self, transfer_config: AsperaConfig | None) -> TransferManager:
        aspera = transfer_config or self._transfer_config
        config = aspera.transfer_config(self._config.ascp_max_concurrent) if aspera else TransferConfig()
        with self._lock:
            tm = self._managers.get(config)
            if tm is None:
                tm = self._managers[config] = self.client.transfer(config)
            return tm

    def _queue(self, bucket: str, key: str, fileobj: str, direction: str, directory: bool,
               transfer_config: AsperaConfig | None, subscribers: Iterable[Any] | None,
               start: Any) -> AsperaTransferFuture:
        if not bucket:
            raise ValueError("bucket is required")
        if not key or not fileobj:
            raise ValueError("Invalid file pair")
        if transfer_config is not None and not isinstance(transfer_config, AsperaConfig):
            raise TypeError("transfer_config must be an AsperaConfig")
        if self._closed:
            raise AsperaTransferQueueError("Cancel already called")
        subs = list(subscribers or [])
        with self._lock:
            self._futures = [f for f in self._futures if not f._f().done()]
            waiting = sum(1 for f in self._futures if f._f().state == "queued")
        if waiting >= self._config.max_submission_queue_size:
            raise AsperaTransferQueueError("Max queued items reached")
        tm = self._manager(transfer_config)
        args = CallArgs(bucket, key, os.fspath(fileobj), direction, directory, transfer_config, subs)
        fut = AsperaTransferFuture(TransferMeta(args, str(uuid.uuid4())))
        relay = Relay(fut, subs)
        fut._relay = relay
        fut.coffer_future = start(tm, [relay])
        with self._lock:
            self._futures.append(fut)
        return fut


def _check_io_access(path: str, access: int, is_file: bool = False) -> None:
    """IBM's check: the file (or folder) must exist with the given access, else IOError."""
    ok = os.path.isfile(path) if is_file else os.path.isdir(path)
    if not ok or not os.access(path, access):
        raise OSError(f"Error accessing {'File' if is_file else 'Directory'}: {path}")
