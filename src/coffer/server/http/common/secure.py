"""Secrets on the wire: SSE-C keys and bearer tokens travel only over TLS (or loopback).

S3 refuses SSE-C over plain HTTP; Coffer does the same for SSE-C keys and AIStore bearer tokens,
except from a loopback client (the same machine: nothing crosses a network) or when the operator
runs behind a TLS-terminating proxy and says so with `--allow-insecure-secrets`.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web


def secrets_allowed(request: web.BaseRequest, allow_insecure: bool) -> bool:
    """Whether this request may carry a secret: TLS, a loopback peer, or the operator's explicit leave."""
    if allow_insecure or request.secure:
        return True
    return _loopback(request.remote or "")


@lru_cache(maxsize=1024)  # asked on every write (SSE headers are parsed on each); a peer's answer never changes
def _loopback(remote: str) -> bool:
    try:
        peer = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    return peer.is_loopback
