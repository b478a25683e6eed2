"""IBM's Aspera transfer API (``ibm_s3transfer.aspera.manager``), served by Coffer's transfer manager.

    from coffer.compat.aspera import AsperaTransferManager, AsperaConfig, AsperaBaseSubscriber
    with AsperaTransferManager(client) as transfer_manager:      # an ibm_boto3/boto3 client or a Client
        transfer_manager.upload("/data/big.iso", "bucket", "big.iso").result()

IBM's library drives ``ascp`` (FASP over UDP) through a closed-source module; here the same calls,
argument orders, subscribers and futures move data over S3 through :class:`coffer.TransferManager`.
The mapping (docs/aspera.md): ``multi_session`` is the number of parallel streams (requests in
flight), ``multi_session_threshold_mb`` the size from which one file is split into parts moved in
parallel, ``target_rate_mbps`` (and ``target_rate_cap_mbps``) a bandwidth cap enforced by the
transfer manager's token bucket. Settings that have no meaning without ascp, or that Coffer cannot
honour (``min_rate_mbps``, ``destination_root``, ``rate_policy`` other than ``fair``, ...), raise
:class:`UnsupportedAsperaSetting`; none is accepted and ignored.

Subscribers are called as IBM calls them, with keyword arguments: ``on_queued(future=...)`` once,
``on_progress(future=..., bytes_transferred=TOTAL)`` repeatedly with the bytes moved so far (never
decreasing), ``on_done(future=...)`` once; a directory transfer is one transfer to its subscribers.
Never imports the server.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from coffer.sdk._client import Client
from coffer.sdk._config import ClientConfig, TransferConfig
from coffer.sdk._errors import TransferCancelled
from coffer.sdk._transfer import TransferFuture, TransferManager

__all__ = [
    "AsperaBaseSubscriber", "AsperaConfig", "AsperaManagerConfig", "AsperaTransferFailedError",
    "AsperaTransferFuture", "AsperaTransferManager", "AsperaTransferQueueError", "CancelledError",
    "UnsupportedAsperaSetting",
]

log = logging.getLogger("coffer.compat.aspera")

MB = 1_000_000  # IBM's *_mb and *_mbps are decimal: megabytes, megabits
DEFAULT_MAX_SESSIONS = 10


# --- errors -------------------------------------------------------------------------------------


class UnsupportedAsperaSetting(ValueError):
    """An Aspera setting Coffer cannot honour (raised when the config is built, never ignored)."""


class AsperaTransferQueueError(Exception):
    """The manager refused a transfer (shut down, or ``max_submission_queue_size`` transfers waiting)."""


class AsperaTransferFailedError(Exception):
    """A transfer failed; ``cause`` (also ``__cause__``) is the Coffer error that failed it."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class CancelledError(TransferCancelled):
    """``result()`` of a cancelled transfer (IBM: ``ibm_s3transfer.exceptions.CancelledError``)."""


def _unsupported(name: str, why: str) -> UnsupportedAsperaSetting:
    return UnsupportedAsperaSetting(f"{name} is not supported by coffer.compat.aspera: {why}")


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} should be value of type (int)")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}")
    return value


# --- configuration ------------------------------------------------------------------------------


class AsperaConfig:
    """How transfers move: IBM's arguments, validated and mapped onto a :class:`TransferConfig`.

    ``multi_session``: a number of parallel streams (1..the manager's ``ascp_max_concurrent``) or
    ``"all"`` (that maximum); ``multi_session_threshold_mb`` (>= 60, IBM's floor): files of at least
    that many megabytes are split into parts sent in parallel (smaller ones go in one request);
    ``target_rate_mbps`` / ``target_rate_cap_mbps``: a cap in megabits per second over everything a
    manager built with this config moves (the lower of the two when both are given).
    """

    def __init__(
        self,
        target_rate_mbps: int | None = None,
        target_rate_cap_mbps: int | None = None,
        min_rate_cap_mbps: int | None = None,
        min_rate_mbps: int | None = None,
        rate_policy: str | None = None,
        lock_min_rate: bool | None = None,
        lock_target_rate: bool | None = None,
        lock_rate_policy: bool | None = None,
        multi_session: int | str | None = None,
        multi_session_threshold_mb: int | None = None,
        destination_root: str | None = None,
    ) -> None:
        self._dict: dict[str, Any] = {}
        if multi_session_threshold_mb is not None:
            _check_int("multi_session_threshold_mb", multi_session_threshold_mb, 60)
            self._dict["multi_session_threshold"] = multi_session_threshold_mb * MB
        for name, value, key in (("target_rate_mbps", target_rate_mbps, "target_rate_kbps"),
                                 ("target_rate_cap_mbps", target_rate_cap_mbps, "target_rate_cap_kbps")):
            if value is not None:
                _check_int(name, value, 1)
                self._dict[key] = value * 1000
        if min_rate_mbps is not None or min_rate_cap_mbps is not None:
            name = "min_rate_mbps" if min_rate_mbps is not None else "min_rate_cap_mbps"
            raise _unsupported(name, "transfers run over TCP, which cannot reserve a minimum rate; "
                                     "remove it (target_rate_mbps caps the rate)")
        if rate_policy is not None:
            if rate_policy not in ("fixed", "high", "fair", "low"):
                raise ValueError("rate_policy can be ['fixed', 'high', 'fair', 'low']")
            if rate_policy != "fair":
                raise _unsupported(f"rate_policy={rate_policy!r}", "TCP streams share the network fairly "
                                   "with other traffic, which is rate_policy='fair' (the default); "
                                   "'fixed', 'high' and 'low' cannot be honoured over TCP")
            self._dict["rate_policy"] = rate_policy
        for name, flag in (("lock_min_rate", lock_min_rate), ("lock_target_rate", lock_target_rate),
                           ("lock_rate_policy", lock_rate_policy)):
            if flag is None:
                continue
            if not isinstance(flag, bool):
                raise ValueError(f"{name} should be value of type (bool)")
            if not flag:
                raise _unsupported(f"{name}=False", "a transfer's rate settings cannot be changed while it "
                                   "runs, so they are always locked (True)")
            self._dict[name] = flag
        if multi_session is not None:
            if isinstance(multi_session, str):
                if multi_session != "all":
                    raise ValueError("multi_session can be ['all']")
            else:
                _check_int("multi_session", multi_session, 0)
            self._dict["multi_session"] = multi_session
        if destination_root is not None:
            raise _unsupported("destination_root", "give each transfer its full key or local path instead")

    @property
    def dict(self) -> dict[str, Any]:
        """The settings under IBM's transfer-spec names (``target_rate_kbps``, ...), as IBM's has it."""
        return self._dict

    @property
    def multi_session(self) -> int:
        """The number of sessions asked for: -1 for ``"all"``, 0 when not given (IBM's convention)."""
        value = self._dict.get("multi_session", 0)
        return -1 if value == "all" else int(value)

    @property
    def is_multi_session_all(self) -> bool:
        return self.multi_session == -1

    @property
    def max_bandwidth(self) -> int | None:
        """The cap in bytes per second (megabits are 10^6 bits), or None for no cap."""
        rates = [self._dict[k] for k in ("target_rate_kbps", "target_rate_cap_kbps") if k in self._dict]
        return max(1, min(rates) * 1000 // 8) if rates else None

    def transfer_config(self, max_sessions: int = DEFAULT_MAX_SESSIONS,
                        base: TransferConfig | None = None) -> TransferConfig:
        """The Coffer :class:`TransferConfig` these settings mean (unset ones keep ``base``'s values)."""
        base = base or TransferConfig()
        changes: dict[str, Any] = {}
        sessions = self.multi_session
        if sessions > max_sessions:
            raise ValueError(f"Max sessions is {max_sessions}")
        if sessions == -1:
            changes["max_concurrency"] = max_sessions
        elif sessions > 0:
            changes["max_concurrency"] = sessions
        if "multi_session_threshold" in self._dict:
            changes["multipart_threshold"] = self._dict["multi_session_threshold"]
        if self.max_bandwidth is not None:
            changes["max_bandwidth"] = self.max_bandwidth
        return TransferConfig(**{**base.__dict__, **changes})

    def __repr__(self) -> str:
        return f"AsperaConfig({self._dict!r})"


class AsperaManagerConfig:
    """IBM's manager settings. ``ascp_max_concurrent`` is the most sessions (streams) a transfer may
    ask for (and what ``multi_session="all"`` means); ``max_submission_queue_size`` bounds transfers
    waiting to start; ``verify_ssl`` is the TLS check of a client built from an ibm_boto3 client.
    ``ascp_log_path`` (there is no ascp) and a ``max_fasp_cache_size`` other than the default (there
    is no Aspera node metadata to cache) raise :class:`UnsupportedAsperaSetting`.
    """

    def __init__(self, max_submission_queue_size: int = 100, ascp_max_concurrent: int = DEFAULT_MAX_SESSIONS,
                 ascp_log_path: str | None = None, max_fasp_cache_size: int = 1000,
                 verify_ssl: bool = True) -> None:
        self.max_submission_queue_size = _check_int("max_submission_queue_size", max_submission_queue_size, 1)
        self.ascp_max_concurrent = _check_int("ascp_max_concurrent", ascp_max_concurrent, 1)
        if ascp_log_path is not None:
            raise _unsupported("ascp_log_path", "no ascp process runs; use logging "
                               "(logger 'coffer.transfer') for transfer logs")
        if max_fasp_cache_size != 1000:
            raise _unsupported("max_fasp_cache_size", "there is no Aspera node metadata to cache")
        self.ascp_log_path = None
        self.max_fasp_cache_size = max_fasp_cache_size
        self.verify_ssl = verify_ssl


# --- subscribers and futures ----------------------------------------------------------------------


class AsperaBaseSubscriber:
    """Base class of Aspera subscribers: override ``on_queued``, ``on_progress``, ``on_done``.

    ``on_progress`` receives the total bytes moved so far by the transfer (for a directory, by all of
    its files), as IBM's Aspera library reports it.
    """

    def on_queued(self, future: AsperaTransferFuture, **kwargs: Any) -> None:
        pass

    def on_progress(self, future: AsperaTransferFuture, bytes_transferred: int, **kwargs: Any) -> None:
        pass

    def on_done(self, future: AsperaTransferFuture, **kwargs: Any) -> None:
        pass


class _Relay:
    """A Coffer subscriber that calls Aspera subscribers: progress as a running, rising total."""

    def __init__(self, future: AsperaTransferFuture, subscribers: Iterable[Any]) -> None:
        self.future = future
        self.subscribers = list(subscribers)
        self._lock = threading.Lock()
        self._total = 0
        self._reported = 0
        self._finished = False
        self.delivered = threading.Event()  # set once on_done has run for every subscriber

    def _call(self, event: str, **kwargs: Any) -> None:
        for sub in self.subscribers:
            fn = getattr(sub, event, None)
            if fn is None:
                continue
            try:
                fn(future=self.future, **kwargs)
            except Exception:
                log.exception("Aspera subscriber %r failed in %s", sub, event)

    def on_queued(self, future: TransferFuture) -> None:
        self._call("on_queued")

    def on_progress(self, future: TransferFuture, n: int) -> None:
        # Under the lock so totals reach the subscribers in order; a retried part takes its bytes
        # back (negative n) and the total is reported again only once it rises past what was said.
        with self._lock:
            self._total += n
            if self._finished or self._total <= self._reported:
                return
            self._reported = self._total
            self._call("on_progress", bytes_transferred=self._total)

    def on_done(self, future: TransferFuture) -> None:
        with self._lock:
            self._finished = True
        try:
            self._call("on_done")
        finally:
            self.delivered.set()


@dataclass
class CallArgs:
    """What the transfer was asked to do (IBM's ``future.meta.call_args``)."""

    bucket: str
    key: str
    fileobj: str
    direction: str  # "send" | "receive"
    directory: bool
    transfer_config: AsperaConfig | None
    subscribers: list[Any]


@dataclass
class TransferMeta:
    """IBM's ``future.meta``: ``transfer_id``, ``call_args``, ``size`` (bytes, once known), ``user_context``."""

    call_args: CallArgs
    transfer_id: str
    user_context: dict[str, Any] = field(default_factory=dict)
    _future: AsperaTransferFuture | None = None

    @property
    def size(self) -> int | None:
        fut = self._future.coffer_future if self._future is not None else None
        return fut.total if fut is not None else None

    def provide_transfer_size(self, size: int) -> None:
        """Accepted for IBM compatibility; the size always comes from the file or the listing."""
        del size


class AsperaTransferFuture:
    """The handle of one transfer: ``result()``, ``pause()``, ``resume()``, ``cancel()``, ``is_done()``.

    ``pause()`` stops new requests from starting (requests in flight finish, so the server holds only
    whole parts and at most ``multi_session`` connections were busy); ``resume()`` carries on from
    what is already stored or written; ``cancel()`` removes partial local files and aborts multipart
    uploads, and ``result()`` then raises :class:`CancelledError`.
    """

    def __init__(self, meta: TransferMeta) -> None:
        self._meta = meta
        meta._future = self
        self.coffer_future: TransferFuture | None = None
        self._relay: _Relay | None = None

    @property
    def meta(self) -> TransferMeta:
        return self._meta

    @property
    def bytes_transferred(self) -> int:
        return self.coffer_future.bytes_transferred if self.coffer_future is not None else 0

    def _f(self) -> TransferFuture:
        assert self.coffer_future is not None
        return self.coffer_future

    def is_done(self) -> bool:
        if self.coffer_future is None:  # asked from on_queued, before the call has returned
            return False
        return self.coffer_future.done() and (self._relay is None or self._relay.delivered.is_set())

    def done(self) -> bool:
        return self.is_done()

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the transfer (and its ``on_done`` subscribers); return Coffer's result or raise."""
        exc = self._f().exception(timeout)
        if self._relay is not None and not self._relay.delivered.wait(timeout):
            raise TimeoutError(f"subscribers not done after {timeout}s")
        if exc is None:
            return self._f().result()
        raise self._translate(exc)

    @staticmethod
    def _translate(exc: BaseException) -> BaseException:
        if isinstance(exc, CancelledError):
            return exc
        if isinstance(exc, TransferCancelled):
            err: BaseException = CancelledError(exc.message, resource=exc.resource)
        else:
            err = AsperaTransferFailedError(f"{type(exc).__name__}: {exc}", exc)
        err.__cause__ = exc
        return err

    def cancel(self) -> bool:
        return self._f().cancel()

    def pause(self) -> bool:
        return self._f().pause()

    def resume(self) -> bool:
        return self._f().resume()

    def is_error(self) -> bool:
        return self._f().state == "failed"

    def is_success(self) -> bool:
        return self._f().state == "done"

    def is_cancelled(self) -> bool:
        return self._f().cancelled()

    def get_last_error(self) -> str:
        exc = self._f().exception(0) if self._f().done() else None
        return "" if exc is None else str(exc)

    def __repr__(self) -> str:
        return f"<AsperaTransferFuture {self._meta.transfer_id} {self.coffer_future!r}>"


# --- the manager ----------------------------------------------------------------------------------


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
            raise _unsupported("delegated_token_manager", "Coffer has no Aspera node tokens; requests are "
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
            raise _unsupported("aspera_log_path", "no ascp process runs; configure logging instead")
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
        relay = _Relay(fut, subs)
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
