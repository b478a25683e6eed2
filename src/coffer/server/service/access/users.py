"""Users and access keys: credential lookup for authentication, and user administration.

Lookups are cached for a couple of seconds per worker (`Limits.credential_cache_ttl`, 2 s unless
COFFER_CREDENTIAL_CACHE_TTL says otherwise): a signature check happens on every request and must
not cost a metadata read each time. Entries are dropped when the metadata store reports a change
(`MetaStore.on_invalidate`: PostgreSQL LISTEN/NOTIFY, from any gateway or worker), and a removed
user or key stops working within the TTL in every worker process whatever happens (SQLite: the TTL
is the bound across workers).
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time

from coffer.protocol.errors import S3Error
from coffer.server.meta.interface import PrincipalsWatch
from coffer.server.meta.model import AccessKey, User
from coffer.server.service.core import Core, Principal

_KEY_ALPHABET = string.ascii_uppercase + string.digits


def random_access_key() -> str:
    return "CF" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(18))


def random_secret_key() -> str:
    return secrets.token_urlsafe(30)[:40]


API_KEY_PREFIX = "APIKEY"


def new_api_key() -> str:
    """An IBM-style API key: 44 URL-safe characters, shown once; only its hash is kept."""
    return secrets.token_urlsafe(33)


def api_key_id(api_key: str) -> str:
    """The access-key record of an API key: its id is derived from the key's SHA-256, so the key
    itself is never stored; the record's secret is random and never shown, so the id cannot sign."""
    return API_KEY_PREFIX + hashlib.sha256(api_key.encode()).hexdigest()[:26].upper()


class Users:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.ttl = core.limits.credential_cache_ttl
        self._cache: dict[str, tuple[float, str, Principal] | tuple[float, None, None]] = {}
        self._generation = 0  # bumped by every invalidation: a lookup that raced one is not cached
        self._watch = PrincipalsWatch(core.meta)  # SQLite: changes made by other processes
        core.meta.on_invalidate(self.invalidate)

    def invalidate(self, what: str) -> None:
        """A user ("user:ID") or key ("key:AK") changed somewhere, or "" (anything may have)."""
        self._generation += 1
        kind, _, name = what.partition(":")
        if kind == "key":
            self._cache.pop(name, None)
        elif kind == "user":
            for ak in [ak for ak, hit in self._cache.items() if hit[2] is None or hit[2].user_id == name]:
                del self._cache[ak]
        else:
            self._cache.clear()

    async def credentials(self, access_key: str) -> tuple[str, Principal]:
        """(secret, principal) for an access key, or InvalidAccessKeyId."""
        if self._watch.moved():  # another process changed a user or key
            self._generation += 1
            self._cache.clear()
        now = time.monotonic()
        hit = self._cache.get(access_key)
        if hit is None or hit[0] < now:
            generation = self._generation
            key = await self.core.meta.get_access_key(access_key)
            user = await self.core.meta.get_user(key.user_id) if key and key.status == "active" else None
            if key is None or user is None:
                hit = (now + self.ttl, None, None)
            else:
                who = Principal(user.id, user.display_name, admin=bool(user.props.get("admin")))
                hit = (now + self.ttl, key.secret_key, who)
            if len(self._cache) > 10_000:
                self._cache.clear()
            if generation == self._generation:  # else what was read may predate the change
                self._cache[access_key] = hit
        if hit[1] is None:
            raise S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                          AWSAccessKeyId=access_key)
        return hit[1], hit[2]  # type: ignore[return-value]

    async def api_key(self, api_key: str) -> Principal:
        """The user an IBM API key belongs to (an active key of an existing user), else AccessDenied."""
        try:
            _secret, who = await self.credentials(api_key_id(api_key))
        except S3Error:
            raise S3Error("AccessDenied", "Provided API key could not be found.") from None
        return who

    def forget(self, access_key: str) -> None:
        """Drop a cached credential (after its key changed): this worker sees the change at once."""
        self._cache.pop(access_key, None)

    async def display_name(self, user_id: str) -> str:
        user = await self.core.meta.get_user(user_id)
        return user.display_name if user else user_id


async def add_user(meta, user_id: str, access_key: str, secret_key: str, *, display_name: str | None = None,
                   email: str | None = None, admin: bool = False) -> User:
    """Create (or update) a user with one access key; used by the CLI and the first-start bootstrap."""
    if not user_id or not access_key or not secret_key:
        raise ValueError("user id, access key and secret key must not be empty")
    existing = await meta.get_access_key(access_key)
    if existing is not None and existing.user_id != user_id:
        raise ValueError(f"access key {access_key} already belongs to user {existing.user_id}")
    now = time.time()
    user = await meta.get_user(user_id)
    if user is None or (display_name and display_name != user.display_name) or (email and email != user.email):
        user = user or User(id=user_id, display_name=display_name or user_id, created=now)
        user.display_name = display_name or user.display_name
        user.email = email or user.email
        if admin:
            user.props["admin"] = True
        await meta.put_user(user)  # a new user, or a renamed one (rewrites the whole row)
    elif admin and not user.props.get("admin"):
        # only the flag: in one transaction with the read, so a token issued meanwhile is kept
        user.props = await meta.modify_user_props(user_id, lambda props: {**props, "admin": True})
    await meta.put_access_key(AccessKey(access_key, secret_key, user_id, "active", now))
    return user
