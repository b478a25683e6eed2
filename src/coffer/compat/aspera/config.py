"""IBM's ``AsperaConfig`` and ``AsperaManagerConfig``, validated and mapped onto Coffer's TransferConfig,
and the errors of ``coffer.compat.aspera``.

Mapping: ``multi_session`` is the number of parallel streams, ``multi_session_threshold_mb`` the size
from which a file is split into parts, ``target_rate_mbps`` / ``target_rate_cap_mbps`` a bandwidth
cap (the transfer manager's token bucket). What Coffer cannot honour raises UnsupportedAsperaSetting.
"""

from __future__ import annotations

from typing import Any

from coffer.sdk._config import TransferConfig
from coffer.sdk._errors import TransferCancelled

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


def unsupported(name: str, why: str) -> UnsupportedAsperaSetting:
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
            raise unsupported(name, "transfers run over TCP, which cannot reserve a minimum rate; "
                                     "remove it (target_rate_mbps caps the rate)")
        if rate_policy is not None:
            if rate_policy not in ("fixed", "high", "fair", "low"):
                raise ValueError("rate_policy can be ['fixed', 'high', 'fair', 'low']")
            if rate_policy != "fair":
                raise unsupported(f"rate_policy={rate_policy!r}", "TCP streams share the network fairly "
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
                raise unsupported(f"{name}=False", "a transfer's rate settings cannot be changed while it "
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
            raise unsupported("destination_root", "give each transfer its full key or local path instead")

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
            raise unsupported("ascp_log_path", "no ascp process runs; use logging "
                               "(logger 'coffer.transfer') for transfer logs")
        if max_fasp_cache_size != 1000:
            raise unsupported("max_fasp_cache_size", "there is no Aspera node metadata to cache")
        self.ascp_log_path = None
        self.max_fasp_cache_size = max_fasp_cache_size
        self.verify_ssl = verify_ssl
