"""Credential sources beyond static keys: ``credential_process`` (with refresh before expiry) and
clear errors for sources the SDK cannot use.

``credential_process`` is the AWS shared-config way to get keys from a program: the command prints
``{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?}`` on stdout.
Keys with an ``Expiration`` are fetched again by the transports shortly before they expire
(:class:`RefreshingCredentials`), so a long-lived client keeps working with short-lived keys.

Assume-role, web identity and SSO need network calls to AWS STS/SSO, which a client of a private S3
endpoint cannot make; a profile or environment that relies on them gets a ``ConfigError`` naming
the setting, instead of silently falling through to another source or to anonymous requests.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from coffer.sdk._errors import CofferError

# Refresh this long before the keys expire, so a request signed now is not refused in flight.
REFRESH_MARGIN = timedelta(minutes=5)
PROCESS_TIMEOUT = 60.0

# Profile settings that mean "these keys come from STS/SSO", which this SDK does not call.
UNSUPPORTED_PROFILE = ("role_arn", "web_identity_token_file", "sso_start_url", "sso_session", "sso_account_id")


def config_error(message: str) -> CofferError:
    return CofferError(message, code="ConfigError")


def run_credential_process(command: str, *, where: str = "credential_process") -> tuple[str, str, str | None,
                                                                                         datetime | None]:
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
    """Raise when the profile's keys would have to come from STS/SSO."""
    for name in UNSUPPORTED_PROFILE:
        if profile.get(name):
            raise config_error(
                f"AWS profile {profile_name!r} sets {name}: assume-role, web identity and SSO need AWS STS/SSO, "
                "which the Coffer SDK does not call; give the profile static keys (aws_access_key_id and "
                "aws_secret_access_key) or a credential_process")


def check_env_supported(env: Mapping[str, str]) -> None:
    if env.get("AWS_WEB_IDENTITY_TOKEN_FILE") and env.get("AWS_ROLE_ARN"):
        raise config_error(
            "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are set, but web identity needs AWS STS, which the "
            "Coffer SDK does not call; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) "
            "or use a credential_process")


def check_pair(source: str, access_key: str | None, secret_key: str | None, names: tuple[str, str]) -> None:
    """Half a key pair is a mistake worth saying, not a reason to fall through to another source."""
    if bool(access_key) != bool(secret_key):
        have, missing = (names[0], names[1]) if access_key else (names[1], names[0])
        raise config_error(f"{source}: {have} is set but {missing} is not")


class RefreshingCredentials:
    """Keys from a credential_process, fetched again when they come within REFRESH_MARGIN of expiry."""

    def __init__(self, command: str, where: str) -> None:
        self.command = command
        self.where = where
        self._lock = threading.Lock()
        self.access_key, self.secret_key, self.session_token, self.expires = run_credential_process(
            command, where=where)

    def refresh_if_needed(self, now: datetime | None = None) -> None:
        if self.expires is None:
            return
        now = now or datetime.now(UTC)
        if now < self.expires - REFRESH_MARGIN:
            return
        with self._lock:
            if self.expires is not None and now < self.expires - REFRESH_MARGIN:
                return  # another thread refreshed meanwhile
            self.access_key, self.secret_key, self.session_token, self.expires = run_credential_process(
                self.command, where=self.where)

    def __repr__(self) -> str:
        return f"RefreshingCredentials(access_key={self.access_key!r}, secret_key='***', expires={self.expires})"
