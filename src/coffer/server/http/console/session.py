"""Console sessions: a signed, expiring, revocable bearer token in an HttpOnly cookie, plus CSRF.

Logging in checks an access key and its secret exactly as SigV4 would find them (service.users),
then issues a bearer token (service.access.tokens: a JWT signed with the data folder's token key,
recorded in the user's props, so every worker process verifies it and a logout revokes it
everywhere within the token cache's two seconds). The cookie holds ``<token>~<access key>``: the
key names which of the user's keys signs share links, and disabling that key ends the session.

Logging in with an IBM-style API key (``{"api_key": ...}``) finds its user as the IAM token
endpoint does (service.access.users.api_key); the session's key is then the API key's record
(``APIKEY...``), which signs that session's share links.

Failed logins are limited per remote address: after MAX_FAILURES failures within WINDOW seconds
the next attempts answer 429 with Retry-After until the oldest failure leaves the window, whatever
worker process they reach (the failures are kept in ``DATA/run/console-logins/``, one small file
per address, under a file lock). A successful login clears its address's record.

CSRF: every state-changing request must carry ``X-Coffer-CSRF`` equal to an HMAC of the token id
under the token key. The page learns it from the login answer or ``GET api/session`` (readable only
by same-origin script: the cookie is SameSite=Strict and the API sends no CORS headers).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.service import Principal, Service
from coffer.server.service.access.tokens import TokenError
from coffer.server.service.access.users import api_key_id

COOKIE = "coffer_console"
CSRF_HEADER = "X-Coffer-CSRF"
SESSION_SECONDS = 8 * 3600
COOKIE_PATH = "/_coffer/console/"


@dataclass(slots=True)
class Session:
    who: Principal
    access_key: str
    token: str
    token_id: str
    csrf: str
    expires: float | None


def unauthenticated(message: str = "Log in to use the console.") -> S3Error:
    return S3Error("Unauthenticated", message, status=401)


def csrf_for(svc: Service, token_id: str) -> str:
    return hmac.new(svc.tokens.key, b"console-csrf:" + token_id.encode(), hashlib.sha256).hexdigest()[:40]


MAX_FAILURES = 5
WINDOW = 60.0


class TooManyAttempts(S3Error):
    def __init__(self, retry_after: int) -> None:
        super().__init__("TooManyLoginAttempts", f"Too many failed logins from your address; try again in "
                         f"{retry_after} s.", status=429)
        self.retry_after = retry_after


class LoginLimiter:
    """Failed-login counts per remote address, shared by the worker processes through small files."""

    def __init__(self, folder: Path, max_failures: int = MAX_FAILURES, window: float = WINDOW) -> None:
        self.folder = folder
        self.max_failures = max_failures
        self.window = window

    def _path(self, address: str) -> Path:
        return self.folder / hashlib.sha256(address.encode()).hexdigest()[:32]

    @contextlib.contextmanager
    def _locked(self, address: str):  # type: ignore[no-untyped-def]
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path(address), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)

    def _recent(self, fd: int, now: float) -> list[float]:
        raw = os.pread(fd, 65536, 0)
        try:
            times = [float(t) for t in json.loads(raw)] if raw else []
        except (ValueError, TypeError):
            times = []
        return [t for t in times if now - t < self.window]

    def _write(self, fd: int, times: list[float]) -> None:
        data = json.dumps(times).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)

    def check(self, address: str) -> None:
        """Raise TooManyAttempts while the address has used up its failures."""
        now = time.time()
        with self._locked(address) as fd:
            recent = self._recent(fd, now)
        if len(recent) >= self.max_failures:
            raise TooManyAttempts(max(1, int(recent[-self.max_failures] + self.window - now + 0.999)))

    def failed(self, address: str) -> None:
        now = time.time()
        with self._locked(address) as fd:
            self._write(fd, [*self._recent(fd, now), now][-self.max_failures:])
        self._prune(now)

    def _prune(self, now: float) -> None:
        """Drop the files of addresses whose last failure left the window (the folder stays small)."""
        for entry in os.scandir(self.folder):
            with contextlib.suppress(OSError):
                if now - entry.stat().st_mtime > self.window:
                    os.unlink(entry.path)

    def succeeded(self, address: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(address).unlink()


async def login_api_key(svc: Service, api_key: str) -> Session:
    who = await svc.users.api_key(api_key)  # AccessDenied when unknown or disabled
    access_key = api_key_id(api_key)
    token, info = await svc.tokens.issue(who.user_id, expires_in=SESSION_SECONDS)
    return Session(who, access_key, token, info.token_id, csrf_for(svc, info.token_id), info.expires)


async def login(svc: Service, access_key: str, secret_key: str) -> Session:
    try:
        secret, who = await svc.users.credentials(access_key)
    except S3Error:
        secret, who = "", None
    if who is None or not hmac.compare_digest(secret.encode(), secret_key.encode()):
        raise S3Error("AccessDenied", "The access key or the secret key is wrong, or the key is disabled.")
    token, info = await svc.tokens.issue(who.user_id, expires_in=SESSION_SECONDS)
    return Session(who, access_key, token, info.token_id, csrf_for(svc, info.token_id), info.expires)


async def current(svc: Service, request: web.BaseRequest) -> Session:
    """The request's session, or 401 (no cookie, bad signature, expired, revoked, key disabled)."""
    raw = request.cookies.get(COOKIE, "")
    token, _, access_key = raw.partition("~")
    if not token or not access_key:
        raise unauthenticated()
    try:
        who = await svc.tokens.verify(token)
        claims = svc.tokens.decode(token)
    except TokenError as e:
        raise unauthenticated(f"Your session ended ({e}); log in again.") from None
    try:
        _secret, key_owner = await svc.users.credentials(access_key)
    except S3Error:
        raise unauthenticated("The access key of this session was disabled or removed.") from None
    if key_owner.user_id != who.user_id:
        raise unauthenticated()
    exp = claims.get("exp")
    return Session(who, access_key, token, claims["jti"], csrf_for(svc, claims["jti"]),
                   float(exp) if exp is not None else None)


def check_csrf(session: Session, request: web.BaseRequest) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise S3Error("InvalidCsrfToken", "This request needs the console's CSRF token (X-Coffer-CSRF).",
                      status=403)


def set_cookie(resp: web.StreamResponse, session: Session, secure: bool) -> None:
    resp.set_cookie(COOKIE, f"{session.token}~{session.access_key}", path=COOKIE_PATH, httponly=True,
                    samesite="Strict", secure=secure, max_age=SESSION_SECONDS)


def clear_cookie(resp: web.StreamResponse) -> None:
    resp.del_cookie(COOKIE, path=COOKIE_PATH)


async def logout(svc: Service, session: Session) -> None:
    try:
        await svc.tokens.revoke(session.token_id)
    except TokenError:
        pass
