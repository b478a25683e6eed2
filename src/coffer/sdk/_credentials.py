"""Credential sources beyond static keys: refreshable credentials, ``credential_process``, and
clear errors for sources the SDK cannot use.

``credential_process`` is the AWS shared-config way to get keys from a program: the command prints
``{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?}`` on stdout.
Keys with an ``Expiration`` (from a process, or from STS: see ``_sts``) are fetched again by the
transports shortly before they expire (:class:`RefreshingCredentials`), so a long-lived client keeps
working with short-lived keys. One object is shared by every request of a client: a refresh happens
once under a lock, and a request signs with one consistent (key, secret, token) snapshot.

SSO needs AWS's SSO portal; a profile that relies on it gets a ``ConfigError`` naming the setting,
instead of silently falling through to another source or to anonymous requests.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from coffer.sdk._errors import CofferError

# Refresh this long before the keys expire, so a request signed now is not refused in flight.
REFRESH_MARGIN = timedelta(minutes=5)
PROCESS_TIMEOUT = 60.0

# Profile settings that mean "these keys come from SSO", which this SDK does not call.
UNSUPPORTED_PROFILE = ("sso_start_url", "sso_session", "sso_account_id")

# (access key, secret key, session token, expiration): what a credential source hands back.
Fetched = tuple[str, str, str | None, datetime | None]


def config_error(message: str) -> CofferError:
    return CofferError(message, code="ConfigError")


def run_credential_process(command: str, *, where: str = "credential_process") -> Fetched:
    """Run the command; (access key, secret key, session token, expiration) or a ConfigError."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise config_error(f"{where}: cannot parse the command line: {exc}") from exc
    if not argv:
        raise config_error(f"{where}: the command is empty")
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=PROCESS_TIMEOUT, check=False)
    except FileNotFoundError as exc:
        raise config_error(f"{where}: command not found: {argv[0]}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise config_error(f"{where}: could not run {argv[0]}: {exc}") from exc
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip()[-500:]
        raise config_error(f"{where}: {argv[0]} exited with {proc.returncode}" + (f": {tail}" if tail else ""))
    try:
        doc = json.loads(proc.stdout.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise config_error(f"{where}: {argv[0]} did not print a JSON object: {exc}") from exc
    if not isinstance(doc, dict):
        raise config_error(f"{where}: {argv[0]} did not print a JSON object")
    if doc.get("Version") != 1:
        raise config_error(f"{where}: unsupported Version {doc.get('Version')!r} (expected 1)")
    ak, sk = doc.get("AccessKeyId"), doc.get("SecretAccessKey")
    if not isinstance(ak, str) or not ak or not isinstance(sk, str) or not sk:
        raise config_error(f"{where}: the JSON lacks AccessKeyId or SecretAccessKey")
    token = doc.get("SessionToken")
    expires = None
    if doc.get("Expiration"):
        try:
            expires = datetime.fromisoformat(str(doc["Expiration"]).replace("Z", "+00:00"))
        except ValueError as exc:
            raise config_error(f"{where}: Expiration is not an ISO 8601 time: {doc['Expiration']!r}") from exc
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
    return ak, sk, (token if isinstance(token, str) and token else None), expires


def check_profile_supported(profile_name: str, profile: Mapping[str, str]) -> None:
    """Raise when the profile's keys would have to come from SSO."""
    for name in UNSUPPORTED_PROFILE:
        if profile.get(name):
            raise config_error(
                f"AWS profile {profile_name!r} sets {name}: SSO needs the AWS SSO portal, which the Coffer SDK "
                "does not call; give the profile static keys (aws_access_key_id and aws_secret_access_key), a "
                "credential_process, or a role_arn (assume-role or web identity)")


def check_pair(source: str, access_key: str | None, secret_key: str | None, names: tuple[str, str]) -> None:
    """Half a key pair is a mistake worth saying, not a reason to fall through to another source."""
    if bool(access_key) != bool(secret_key):
        have, missing = (names[0], names[1]) if access_key else (names[1], names[0])
        raise config_error(f"{source}: {have} is set but {missing} is not")


class RefreshingCredentials:
    """Keys from a source that expires them, fetched again once they come within ``refresh_margin``
    of expiry. Thread-safe: one refresh at a time, and :meth:`snapshot` hands out a consistent triple.

    ``fetch`` returns :data:`Fetched`; ``clock`` (for tests) gives the current UTC time.
    """

    def __init__(self, fetch: Callable[[], Fetched], where: str, *, refresh_margin: timedelta = REFRESH_MARGIN,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.fetch = fetch
        self.where = where
        self.refresh_margin = refresh_margin
        self.clock = clock or (lambda: datetime.now(UTC))
        self.refreshes = 0  # how many times keys were fetched again after the first
        self._lock = threading.Lock()
        self._keys: Fetched = fetch()

    @classmethod
    def from_process(cls, command: str, where: str) -> RefreshingCredentials:
        """Keys printed by a ``credential_process`` command."""
        return cls(lambda: run_credential_process(command, where=where), where)

    @property
    def access_key(self) -> str:
        return self._keys[0]

    @property
    def secret_key(self) -> str:
        return self._keys[1]

    @property
    def session_token(self) -> str | None:
        return self._keys[2]

    @property
    def expires(self) -> datetime | None:
        return self._keys[3]

    def _fresh(self, now: datetime) -> bool:
        expires = self._keys[3]
        return expires is None or now < expires - self.refresh_margin

    def refresh_if_needed(self, now: datetime | None = None) -> None:
        now = now or self.clock()
        if self._fresh(now):
            return
        with self._lock:
            if self._fresh(now):
                return  # another thread refreshed meanwhile
            self._keys = self.fetch()
            self.refreshes += 1

    def snapshot(self) -> tuple[str, str, str | None]:
        """(access key, secret key, session token) to sign one request with, refreshed if due."""
        self.refresh_if_needed()
        ak, sk, token, _expires = self._keys
        return ak, sk, token

    def __repr__(self) -> str:
        return f"RefreshingCredentials(access_key={self.access_key!r}, secret_key='***', expires={self.expires})"
