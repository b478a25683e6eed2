"""Bearer tokens Coffer issues (for AIStore clients): signed, expiring, revocable.

A token is a JWT (HS256, issued and verified with PyJWT) whose claims are `sub` (the user id), `jti`
(the token id), `iat` and optionally `exp`. It is signed with a 256-bit key kept in `DATA/keys/token.key` (mode 0600,
created on first use by whichever process needs it first; see `_load_key`), or with PostgreSQL metadata
in its `shared_keys` row `token` (`MetaStore.key_vault()`), the same for every gateway. Only HS256 with our
own header is accepted: a token naming another algorithm (the classic `alg: none` attack) is
refused before any signature check.

A token may name its use (`use` claim): IBM IAM refresh tokens (`use: refresh`, from the
`/identity/token` endpoint) only buy new tokens and are never accepted as a bearer on a request.

Revocation: every issued token is recorded in its user's props (`props["tokens"][jti]`, written with
`MetaStore.modify_user_props`, so issues and revocations racing on one user all land), and a
token is valid only while that record exists and is not revoked. Removing the user therefore
revokes all their tokens. Verification is cached per worker for `CACHE_TTL` seconds (or
`Limits.credential_cache_ttl`), so a revocation takes effect everywhere within that time without a
metadata read per request; with PostgreSQL, the change's notification (`MetaStore.on_invalidate`)
drops the user's entries in every gateway and worker at once.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

from coffer.server.data.durable import fsync_dir
from coffer.server.meta.interface import MetaStore, NoSuchUser, PrincipalsWatch
from coffer.server.service.core import Principal

CACHE_TTL = 2.0
_HEADER = {"alg": "HS256", "typ": "JWT"}
KEY_FILE = "token.key"


class TokenError(Exception):
    """The token is malformed, forged, expired, revoked or its user is gone."""


@dataclass(slots=True)
class TokenInfo:
    token_id: str
    user_id: str
    created: float
    expires: float | None
    revoked: bool = False


def _load_key(data_dir: Path) -> bytes:
    """The signing key; created atomically if absent. os.link refuses to replace an existing file,
    so two processes racing to create it end up using the same key (the loser reads the winner's)."""
    path = data_dir / "keys" / KEY_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{KEY_FILE}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(32).hex().encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
        fsync_dir(path.parent)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return bytes.fromhex(path.read_text().strip())


class Tokens:
    def __init__(self, meta: MetaStore, data_dir: Path, ttl: float = CACHE_TTL) -> None:
        self.meta = meta
        self.data_dir = Path(data_dir)
        self.ttl = ttl
        self._key: bytes | None = None
        # token -> (cache deadline, principal or None, refusal reason, the token's exp claim)
        self._cache: dict[str, tuple[float, Principal | None, str, float | None]] = {}
        self._generation = 0  # bumped by every invalidation: a check that raced one is not cached
        self._watch = PrincipalsWatch(meta)  # SQLite: changes made by other processes

    def watch(self) -> None:
        """Drop cached checks when users change anywhere (the server's tokens; a CLI has no cache)."""
        self.meta.on_invalidate(self.invalidate)

    def invalidate(self, what: str) -> None:
        """A user changed ("user:ID": tokens are in their props), a key ("key:AK": nothing cached
        here depends on it) or "" (anything may have)."""
        self._generation += 1
        kind, _, name = what.partition(":")
        if kind == "key":
            return
        if kind == "user":
            for t in [t for t, hit in self._cache.items() if hit[1] is None or hit[1].user_id == name]:
                del self._cache[t]
        else:
            self._cache.clear()

    @property
    def key(self) -> bytes:
        if self._key is None:
            vault = self.meta.key_vault()  # PostgreSQL: the cluster's key, shared by every gateway
            if vault is None:
                self._key = _load_key(self.data_dir)
            else:
                try:
                    path = self.data_dir / "keys" / KEY_FILE  # a folder's key, imported on first use
                    local = path.read_text().strip().encode() if path.exists() else None
                    self._key = bytes.fromhex(vault.get_or_create(
                        "token", local or secrets.token_bytes(32).hex().encode()).decode())
                finally:
                    vault.close()
        return self._key

    async def issue(self, user_id: str, expires_in: float | None = None, use: str | None = None,
                    ) -> tuple[str, TokenInfo]:
        """A new token for `user_id`; `use` ("refresh") restricts what it may do."""
        user = await self.meta.get_user(user_id)
        if user is None:
            raise TokenError(f"no user {user_id}")
        now = time.time()
        info = TokenInfo(secrets.token_hex(12), user_id, now, now + expires_in if expires_in else None)
        claims: dict = {"sub": user_id, "jti": info.token_id, "iat": int(now)}
        if info.expires is not None:
            claims["exp"] = int(info.expires)
        if use is not None:
            claims["use"] = use
        token = jwt.encode(claims, self.key, algorithm="HS256", headers={"typ": "JWT"})
        record = {"created": now, "expires": info.expires, "revoked": False, **({"use": use} if use else {})}

        def add(props: dict) -> dict:
            tokens = props.setdefault("tokens", {})
            # records of tokens that expired over a day ago can go: such a token fails its exp check anyway
            for jti in [j for j, r in tokens.items() if r.get("expires") and r["expires"] < now - 86400]:
                del tokens[jti]
            tokens[info.token_id] = record
            return props

        try:
            await self.meta.modify_user_props(user_id, add)
        except NoSuchUser:
            raise TokenError(f"no user {user_id}") from None
        return token, info

    def decode(self, token: str) -> dict:
        """The claims of a well-signed token (not yet checked for expiry or revocation), by PyJWT:
        HS256 only (another `alg`, `none` included, is refused before any signature check)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise TokenError("malformed token") from None
        if header.get("alg") != _HEADER["alg"]:
            raise TokenError("unsupported token type")
        try:
            claims = jwt.decode(token, self.key, algorithms=["HS256"],
                                options={"verify_exp": False, "require": ["sub", "jti"]})
        except jwt.InvalidSignatureError:
            raise TokenError("invalid token signature") from None
        except (jwt.MissingRequiredClaimError, jwt.InvalidSubjectError, jwt.InvalidJTIError):
            raise TokenError("malformed token claims") from None
        except jwt.InvalidTokenError:
            raise TokenError("malformed token") from None
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("jti"), str):
            raise TokenError("malformed token claims")
        return claims

    async def verify(self, token: str) -> Principal:
        if self._watch.moved():  # another process changed a user or key
            self._generation += 1
            self._cache.clear()
        now = time.monotonic()
        hit = self._cache.get(token)
        if hit is None or hit[0] < now:
            generation = self._generation
            exp: float | None = None
            try:
                who: Principal | None
                who, exp = await self._verify(token)
                reason = ""
            except TokenError as e:
                who, reason = None, str(e)
            if len(self._cache) > 10_000:
                self._cache.clear()
            hit = (now + self.ttl, who, reason, exp)
            if generation == self._generation:  # else what was read may predate the change
                self._cache[token] = hit
        if hit[1] is None:
            raise TokenError(hit[2])
        # expiry is checked on every use, not only when the cache entry was made
        if hit[3] is not None and time.time() >= hit[3]:
            raise TokenError("token expired")
        return hit[1]

    async def refresh(self, token: str) -> Principal:
        """The principal of a refresh token (an IAM refresh grant); access tokens are refused here."""
        return (await self._verify(token, use="refresh"))[0]

    async def _verify(self, token: str, use: str | None = None) -> tuple[Principal, float | None]:
        """The token's principal and its exp claim (None: it never expires); the token's `use`
        claim must be `use` (None: an access token)."""
        claims = self.decode(token)
        if claims.get("use") != use:
            raise TokenError("a refresh token is not an access token" if use is None else "not a refresh token")
        exp = claims.get("exp")
        if exp is not None and (not isinstance(exp, int | float) or time.time() >= exp):
            raise TokenError("token expired")
        user = await self.meta.get_user(claims["sub"])
        if user is None:
            raise TokenError("the token's user no longer exists")
        rec = user.props.get("tokens", {}).get(claims["jti"])
        if rec is None or rec.get("revoked"):
            raise TokenError("token revoked")
        return Principal(user.id, user.display_name, admin=bool(user.props.get("admin"))), exp

    async def list(self, user_id: str | None = None) -> list[TokenInfo]:
        users = [u for u in await self.meta.list_users() if user_id is None or u.id == user_id]
        out = []
        for u in users:
            for jti, rec in sorted(u.props.get("tokens", {}).items(), key=lambda kv: kv[1].get("created", 0)):
                out.append(TokenInfo(jti, u.id, rec.get("created", 0.0), rec.get("expires"),
                                     bool(rec.get("revoked"))))
        return out

    async def revoke(self, token_or_id: str) -> TokenInfo:
        """Revoke by token id or by the token itself (its signature must be ours)."""
        token_id = self.decode(token_or_id)["jti"] if token_or_id.count(".") == 2 else token_or_id
        owner = next((u for u in await self.meta.list_users() if token_id in u.props.get("tokens", {})), None)
        if owner is None:
            raise TokenError(f"no token {token_id}")
        at = time.time()

        def mark(props: dict) -> dict:
            rec = props.get("tokens", {}).get(token_id)
            if rec is None:  # pruned (long expired) since the scan
                raise TokenError(f"no token {token_id}")
            if not rec.get("revoked"):
                rec["revoked"], rec["revoked_at"] = True, at
            return props

        try:
            props = await self.meta.modify_user_props(owner.id, mark)
        except NoSuchUser:  # the user went, and their tokens with them
            raise TokenError(f"no token {token_id}") from None
        rec = props["tokens"][token_id]
        return TokenInfo(token_id, owner.id, rec.get("created", 0.0), rec.get("expires"), True)
