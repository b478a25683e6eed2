"""Webhook safety: which networks notifications may be delivered to, and the signature of each delivery.

Owns two rules (docs/notifications.md, "Security"):

- **Destinations.** A webhook URL's host must resolve only to addresses inside the allowed networks.
  The server option `--webhook-allow CIDR` (repeatable) sets them; without it the default is
  loopback and the private ranges (127.0.0.0/8, ::1, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16,
  fc00::/7): a self-hosted store usually notifies services next to it, and a store that may send
  its events to the internet (data leaving the site) or to link-local addresses (cloud metadata
  services at 169.254.169.254) must be told so by its operator. PutBucketNotificationConfiguration
  refuses any other destination (`InvalidArgument`, as S3 does for a destination it cannot
  validate); delivery checks again before each POST (DNS may have changed since), and a refused
  destination counts as a failed attempt (retried with backoff, so fixing the option delivers).
- **Signatures.** Each configuration has a secret (given as `<Secret>` in a WebhookConfiguration,
  else generated; kept when the configuration is re-put with the same Id and URL). Every delivery
  carries `X-Coffer-Timestamp: <unix seconds>` and `X-Coffer-Signature: sha256=<hex>` where hex is
  HMAC-SHA256(secret, timestamp + "." + body): the receiver recomputes it and rejects stale stamps.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from coffer.protocol.errors import S3Error

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_ALLOW = ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
SIGNATURE_HEADER = "X-Coffer-Signature"
TIMESTAMP_HEADER = "X-Coffer-Timestamp"
MIN_SECRET, MAX_SECRET = 16, 256


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """The allowed networks; ValueError names a malformed CIDR (checked when the server starts)."""
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in (list(cidrs) or list(DEFAULT_ALLOW)))


def allowed(address: str, nets: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1: judged as such
    return any(ip in n for n in nets if n.version == ip.version)


async def resolve(url: str) -> list[str]:
    """Every address the URL's host resolves to (a literal address resolves to itself)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def destination_error(url: str, nets: tuple[Network, ...]) -> str | None:
    """Why `url` may not be delivered to, or None when every address it resolves to is allowed."""
    try:
        addresses = await resolve(url)
    except (OSError, UnicodeError) as e:
        return f"its host does not resolve ({e})"
    refused = [a for a in addresses if not allowed(a, nets)]
    if not addresses or refused:
        return f"{', '.join(refused) or 'no address'} is outside the networks this server delivers to " \
               "(coffer serve --webhook-allow)"
    return None


async def check_destination(url: str, nets: tuple[Network, ...]) -> None:
    """PutBucketNotificationConfiguration's check of one destination."""
    why = await destination_error(url, nets)
    if why is not None:
        raise S3Error("InvalidArgument", f"Unable to validate the following destination configurations: "
                      f"{url}: {why}", ArgumentName=url[:256], ArgumentValue="Not allowed")


def check_secret(secret: str) -> None:
    if not MIN_SECRET <= len(secret) <= MAX_SECRET or not secret.isprintable() or secret != secret.strip():
        raise S3Error("InvalidArgument", f"A webhook secret is {MIN_SECRET} to {MAX_SECRET} printable characters "
                      "without surrounding spaces.", ArgumentName="Secret", ArgumentValue="")


def new_secret() -> str:
    return secrets.token_hex(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (also used by the tests)."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)
