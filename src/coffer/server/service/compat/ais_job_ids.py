"""AIStore job ids: signed, so that a status query for an id Coffer never issued is refused.

Owns the id format. Coffer's multi-object "jobs" (copy-listrange, delete-listrange) finish before
their id is answered, so an id needs no stored state: it carries its end time, a random part and an
HMAC (SHA-256, truncated to 128 bits) over both and the user it was issued to, keyed by a key
derived from the bearer-token key (`service/access/tokens.py`, DATA/keys/token.key). `GET /v1/cluster?
what=status` answers "finished at end time" only for an id whose MAC verifies for the asking user;
any other id (guessed, altered, another user's) is 404, as AIStore answers an unknown job.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

_LABEL = b"coffer ais job ids v1"


def derive_key(token_key: bytes) -> bytes:
    """A key of its own (never the token key itself for a second purpose)."""
    return hmac.new(token_key, _LABEL, hashlib.sha256).digest()


def _mac(key: bytes, body: str, user: str) -> str:
    return hmac.new(key, f"{body}\n{user}".encode(), hashlib.sha256).hexdigest()[:32]


def new_job_id(key: bytes, user: str) -> str:
    body = f"cf-{time.time_ns():x}-{secrets.token_hex(4)}"
    return f"{body}-{_mac(key, body, user)}"


def job_end_ns(key: bytes, jid: str, user: str) -> int | None:
    """The end time of a job id issued to `user`, or None when it is not one."""
    parts = jid.split("-")
    if len(parts) != 4 or parts[0] != "cf":
        return None
    body = "-".join(parts[:3])
    if not hmac.compare_digest(_mac(key, body, user), parts[3]):
        return None
    try:
        return int(parts[1], 16)
    except ValueError:
        return None
