"""Request signatures between Coffer's gateways and storage nodes (the cluster secret).

Pure functions shared by both ends (the node's server and the gateway's remote volumes). Every
request carries

    X-Coffer-Date            the sender's clock, Unix seconds
    X-Coffer-Content-SHA256  hex SHA-256 of the body, or ``UNSIGNED`` for streamed fragment bodies
    Authorization            ``Coffer-HMAC-SHA256 Signature=<hex>``

and the signature is HMAC-SHA256, keyed with the cluster secret, over

    METHOD \\n PATH \\n CANONICAL-QUERY \\n DATE \\n BODY-HASH

(canonical query: the pairs sorted, percent-encoded as RFC 3986). A request older or newer than
``MAX_SKEW`` seconds is refused, which bounds replays. Streamed fragment bodies are not hashed up
front (the gateway does not hold a whole fragment in memory): their integrity is the fragment format's
own (a CRC32C per record and a header CRC, all checked by the node before the file is renamed into
place), and their authenticity comes from the signed method, path and date.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

SCHEME = "Coffer-HMAC-SHA256"
UNSIGNED = "UNSIGNED"
MAX_SKEW = 300.0
DATE_HEADER = "X-Coffer-Date"
HASH_HEADER = "X-Coffer-Content-SHA256"


def canonical_query(pairs: Mapping[str, str] | list[tuple[str, str]]) -> str:
    items = list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs)
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(items))


def signature(secret: str, method: str, path: str, query: str, date: str, body_hash: str) -> str:
    text = "\n".join((method.upper(), path, query, date, body_hash))
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def sign(secret: str, method: str, path: str, query: Mapping[str, str] | list[tuple[str, str]],
         now: float, body: bytes | None = None) -> dict[str, str]:
    """The headers that authenticate one request (``body`` None: a streamed, unsigned body)."""
    date = str(int(now))
    body_hash = UNSIGNED if body is None else hashlib.sha256(body).hexdigest()
    sig = signature(secret, method, path, canonical_query(query), date, body_hash)
    return {DATE_HEADER: date, HASH_HEADER: body_hash, "Authorization": f"{SCHEME} Signature={sig}"}


def check(secret: str, method: str, path: str, query: Mapping[str, str] | list[tuple[str, str]],
          headers: Mapping[str, str], now: float) -> str | None:
    """None when the request is authentic and fresh, else the reason it is refused."""
    auth = headers.get("Authorization", "")
    date = headers.get(DATE_HEADER, "")
    body_hash = headers.get(HASH_HEADER, "")
    if not auth.startswith(SCHEME + " Signature=") or not date or not body_hash:
        return "missing cluster signature (Authorization, X-Coffer-Date, X-Coffer-Content-SHA256)"
    try:
        when = int(date)
    except ValueError:
        return "bad X-Coffer-Date"
    if abs(now - when) > MAX_SKEW:
        return f"request time {when} is {abs(now - when):.0f} s away from the node's clock (max {MAX_SKEW:.0f})"
    want = signature(secret, method, path, canonical_query(query), date, body_hash)
    if not hmac.compare_digest(want, auth.split("Signature=", 1)[1].strip()):
        return "signature does not match: wrong cluster secret"
    return None


def body_matches(headers: Mapping[str, str], body: bytes) -> bool:
    """For signed bodies: whether the body is the one the signature covers."""
    want = headers.get(HASH_HEADER, "")
    return want == UNSIGNED or hmac.compare_digest(want, hashlib.sha256(body).hexdigest())
