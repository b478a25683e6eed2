"""Console sessions: a signed, expiring, revocable bearer token in an HttpOnly cookie, plus CSRF.

Logging in checks an access key and its secret exactly as SigV4 would find them (service.users),
then issues a bearer token (service.access.tokens: a JWT signed with the data folder's token key,
recorded in the user's props, so every worker process verifies it and a logout revokes it
everywhere within the token cache's two seconds). The cookie holds ``<token>~<access key>``: the
key names which of the user's keys signs share links, and disabling that key ends the session.

CSRF: every state-changing request must carry ``X-Coffer-CSRF`` equal to an HMAC of the token id
under the token key. The page learns it from the login answer or ``GET api/session`` (readable only
by same-origin script: the cookie is SameSite=Strict and the API sends no CORS headers).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.service import Principal, Service
from coffer.server.service.access.tokens import TokenError

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
