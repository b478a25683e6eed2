"""Typed endpoints: what every front's router turns a request into (Garage's habit).

Every operation is one `Endpoint`: a name, and the permission it needs (checked by access control).
A `Route` is the endpoint a request addresses, with its bucket and key.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from coffer.protocol.errors import S3Error


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    permission: str



@dataclass(slots=True)
class Route:
    endpoint: Endpoint
    bucket: str | None
    key: str | None



def decode_path(raw: str) -> str:
    """Percent-decode the path as UTF-8; bytes that are not UTF-8 are a client error."""
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise S3Error("InvalidURI", "Couldn't parse the specified URI.") from None
