"""AWS Signature Version 4 for S3: canonical forms, keys, header/presigned parsing, and client signing.

Everything here is a pure function over str/bytes so the server (verifying) and the SDK (signing) share
one implementation and cannot drift apart.  S3 differs from other services in two ways that matter:

* the canonical URI is the path as sent, percent-encoded once, never normalised (no ``.``/``//``
  collapsing) and never double-encoded;
* the payload hash is whatever ``x-amz-content-sha256`` says (a hex digest, UNSIGNED-PAYLOAD, or one of
  the STREAMING-* modes handled by :mod:`coffer.protocol.chunked`).

Both sides canonicalise by decoding and re-encoding (:func:`canonical_uri_from_raw`,
:func:`canonical_query_from_raw`), so what the SDK signs is exactly what the server recomputes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import SplitResult, quote, quote_from_bytes, unquote_to_bytes, urlsplit, urlunsplit

from coffer.protocol.timeutil import amz_date as _format_amz_date

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
MAX_PRESIGN_EXPIRES = 604800  # one week: S3 refuses longer-lived presigned URLs

# Headers a client must not sign: hop-by-hop ones proxies rewrite, and ones HTTP stacks add or change
# after signing (the same list the AWS SDKs use).
_UNSIGNABLE = "authorization baggage connection expect keep-alive proxy-authenticate proxy-authorization te"
_UNSIGNABLE += " traceparent tracestate trailer transfer-encoding upgrade user-agent x-amzn-trace-id"
UNSIGNABLE_HEADERS = frozenset(_UNSIGNABLE.split())

# Always used with fullmatch (a "$" anchor would accept a trailing newline).
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DATE8 = re.compile(r"[0-9]{8}")
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")
_PLAIN_PATH = re.compile(r"[A-Za-z0-9\-_.~/]*")  # already canonical: nothing to decode or encode


class SigV4ParseError(ValueError):
    """The Authorization header / presigned query is malformed (AuthorizationHeaderMalformed or
    AuthorizationQueryParametersError on the wire)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- encoding ---------------------------------------------------------------------------------------


def uri_encode(s: str, encode_slash: bool = True) -> str:
    """Percent-encode UTF-8 ``s`` keeping only ``A-Za-z0-9-_.~`` (and ``/`` unless encode_slash)."""
    return quote(s, safe="~" if encode_slash else "/~", errors="surrogateescape")


def _encode_bytes(b: bytes, encode_slash: bool = True) -> str:
    return quote_from_bytes(b, safe="~" if encode_slash else "/~")


def canonical_uri_from_raw(raw_path: str) -> str:
    """The canonical URI for a path exactly as received (already percent-encoded on the wire).

    Each ``/``-separated segment is percent-decoded to bytes and re-encoded with AWS rules, so
    ``%2F`` inside a key stays ``%2F``, empty segments (``//``) survive, ``+`` becomes ``%2B`` and
    lower-case escapes become upper-case.  No dot-segment normalisation: S3 signs the path as is.
    """
    if not raw_path:
        return "/"
    if _PLAIN_PATH.fullmatch(raw_path):  # the common case (f00001.bin): each segment is its own encoding
        return raw_path
    return "/".join(_encode_bytes(unquote_to_bytes(seg)) for seg in raw_path.split("/"))


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """Canonical query string from decoded (name, value) pairs: encode, then sort by name, then value."""
    encoded = sorted((uri_encode(k), uri_encode(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


def _unquote(s: str) -> str:
    # surrogateescape keeps invalid UTF-8 bytes so re-encoding reproduces exactly what was sent.
    return unquote_to_bytes(s).decode("utf-8", "surrogateescape")


def parse_query(raw_query: str) -> list[tuple[str, str]]:
    """Split a raw query string into decoded (name, value) pairs, keeping order and blanks.

    ``+`` is kept literally (not a space): AWS signers encode spaces as ``%20``, and decoding ``+`` as
    a space would change what was signed.
    """
    out: list[tuple[str, str]] = []
    if not raw_query:
        return out
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        out.append((_unquote(name), _unquote(value)))
    return out


def canonical_query_from_raw(raw_query: str, exclude: Iterable[str] = ()) -> str:
    """Canonical query for a query string as received; ``exclude`` drops e.g. X-Amz-Signature."""
    skip = set(exclude)
    return canonical_query((k, v) for k, v in parse_query(raw_query) if k not in skip)


# --- canonical request and signature ----------------------------------------------------------------


def _trimall(value: str) -> str:
    # AWS "Trimall": strip and collapse whitespace runs to one space (botocore collapses any
    # whitespace, which is a superset for the values HTTP can carry).
    return " ".join(value.split())


_CASE_INSENSITIVE_MULTIDICTS = frozenset({"CIMultiDict", "CIMultiDictProxy"})


def canonical_headers_block(headers: Mapping[str, str], signed_headers: Iterable[str]) -> str:
    """``name:value\\n`` lines for ``signed_headers``, looking ``headers`` up case-insensitively."""
    # A multi-valued mapping (a multidict whose items() repeats a name) has each value trimmed and
    # the values joined with "," in order, as the spec requires for repeated headers.
    getall = getattr(headers, "getall", None)
    if getall is not None and type(headers).__name__ in _CASE_INSENSITIVE_MULTIDICTS:
        # aiohttp's request headers: look up only the signed names (repeats come back in order)
        return "".join(f"{name}:{','.join([_trimall(v) for v in getall(name, ())])}\n" for name in signed_headers)
    lowered: dict[str, list[str]] = {}
    for k, v in headers.items():
        lowered.setdefault(k.lower(), []).append(_trimall(v))
    return "".join(f"{name}:{','.join(lowered.get(name, ()))}\n" for name in signed_headers)


def canonical_request(
    method: str,
    canonical_uri: str,
    canonical_query_string: str,
    headers: Mapping[str, str],
    signed_headers: list[str] | tuple[str, ...],
    payload_hash: str,
) -> str:
    """The SigV4 canonical request (signed headers in the order given, which signers sort)."""
    block = canonical_headers_block(headers, signed_headers)
    signed = ";".join(signed_headers)
    return f"{method.upper()}\n{canonical_uri}\n{canonical_query_string}\n{block}\n{signed}\n{payload_hash}"


def scope(date: str, region: str, service: str = "s3") -> str:
    """Credential scope: ``20250101/us-east-1/s3/aws4_request``."""
    return f"{date}/{region}/{service}/aws4_request"


def string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


@lru_cache(maxsize=512)
def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    """The derived key for one (secret, day, region, service); cached since it changes once a day."""
    k = _hmac(("AWS4" + secret).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def signature(key: bytes, string_to_sign: str) -> str:
    """Hex HMAC-SHA256 of ``string_to_sign`` under the derived ``key``."""
    return hmac.new(key, string_to_sign.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()


def signatures_equal(a: str, b: str) -> bool:
    """Constant-time comparison for signatures (avoid leaking how many leading chars matched)."""
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))


def chunk_string_to_sign(
    amz_date: str, scope: str, previous_signature: str, chunk_data_sha256_hex: str
) -> str:
    """String to sign for one aws-chunked chunk (the empty-string hash line is fixed by AWS)."""
    return (
        f"{ALGORITHM}-PAYLOAD\n{amz_date}\n{scope}\n{previous_signature}\n"
        f"{EMPTY_SHA256}\n{chunk_data_sha256_hex}"
    )


def trailer_string_to_sign(
    amz_date: str, scope: str, previous_signature: str, trailer_bytes_sha256_hex: str
) -> str:
    """String to sign for the trailing headers of a STREAMING-...-PAYLOAD-TRAILER body."""
    return f"{ALGORITHM}-TRAILER\n{amz_date}\n{scope}\n{previous_signature}\n{trailer_bytes_sha256_hex}"


# --- parsing what clients send ----------------------------------------------------------------------


@dataclass(frozen=True)
class AuthHeader:
    """A parsed ``Authorization: AWS4-HMAC-SHA256 ...`` header."""

    access_key: str
    date: str  # YYYYMMDD from the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return scope(self.date, self.region, self.service)


@dataclass(frozen=True)
class PresignedQuery:
    """The X-Amz-* parameters of a presigned URL."""

    access_key: str
    date: str
    region: str
    service: str
    amz_date: str
    expires: int
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return scope(self.date, self.region, self.service)


def _parse_credential(value: str) -> tuple[str, str, str, str]:
    # rsplit: the four scope fields never contain "/", so anything before them is the access key.
    parts = value.rsplit("/", 4)
    if len(parts) != 5 or not parts[0]:
        raise SigV4ParseError(
            f"the Credential is mal-formed; expecting <AKID>/YYYYMMDD/REGION/SERVICE/aws4_request: {value!r}"
        )
    access_key, date, region, service, terminal = parts
    if not _DATE8.fullmatch(date):
        raise SigV4ParseError(f"Invalid credential date {date!r}: must be in YYYYMMDD format")
    if not region or not service:
        raise SigV4ParseError("the Credential scope has an empty region or service")
    if terminal != "aws4_request":
        raise SigV4ParseError(f'Incorrect terminal {terminal!r}; this endpoint uses "aws4_request"')
    return access_key, date, region, service


def _parse_signed_headers(value: str) -> tuple[str, ...]:
    names = tuple(value.split(";"))
    if not value or not all(_HEADER_NAME.fullmatch(n) for n in names):
        raise SigV4ParseError(f"invalid SignedHeaders {value!r}: lower-case names separated by ';'")
    return names


def _parse_signature(value: str) -> str:
    if not _HEX64.fullmatch(value):
        raise SigV4ParseError("the Signature must be 64 lower-case hex characters")
    return value


def parse_authorization(value: str) -> AuthHeader:
    """Parse an ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`` header.

    Raises :class:`SigV4ParseError` for anything else, including a missing or repeated component.
    A client sends the same text before its signature on every request of a day: that part is parsed
    once (cached), then only the signature is checked.
    """
    head, sep, sig = value.strip().rpartition(", Signature=")
    if sep and "Signature" not in head and _HEX64.fullmatch(sig):
        a = _parse_head(head)
        return AuthHeader(a.access_key, a.date, a.region, a.service, a.signed_headers, sig)
    return _parse_authorization(value)


@lru_cache(maxsize=1024)
def _parse_head(head: str) -> AuthHeader:
    return _parse_authorization(head + ", Signature=" + "0" * 64)


def _parse_authorization(value: str) -> AuthHeader:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SigV4ParseError(f"unsupported authorization algorithm {algorithm!r}; expecting {ALGORITHM}")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        item = item.strip(" ")
        if not item:
            continue
        name, sep, val = item.partition("=")
        if not sep or name not in ("Credential", "SignedHeaders", "Signature"):
            raise SigV4ParseError(f"the authorization header is malformed near {item[:64]!r}")
        if name in fields:
            raise SigV4ParseError(f"the authorization header repeats {name}")
        fields[name] = val.strip(" ")
    for required in ("Credential", "SignedHeaders", "Signature"):
        if required not in fields:
            raise SigV4ParseError(f"the authorization header is missing {required}")
    access_key, date, region, service = _parse_credential(fields["Credential"])
    signed = _parse_signed_headers(fields["SignedHeaders"])
    return AuthHeader(access_key, date, region, service, signed, _parse_signature(fields["Signature"]))


_PRESIGN_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires")
_PRESIGN_PARAMS += ("X-Amz-SignedHeaders", "X-Amz-Signature")


def parse_presigned(params: Mapping[str, str]) -> PresignedQuery:
    """Parse and sanity-check the X-Amz-* query parameters of a presigned request."""
    missing = [p for p in _PRESIGN_PARAMS if p not in params]
    if missing:
        raise SigV4ParseError(f"Query-string authentication requires {', '.join(missing)}")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise SigV4ParseError(f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    access_key, date, region, service = _parse_credential(params["X-Amz-Credential"])
    amz = params["X-Amz-Date"]
    if not _AMZ_DATE.fullmatch(amz):
        raise SigV4ParseError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    if amz[:8] != date:
        raise SigV4ParseError("Invalid credential date: it is not the same as X-Amz-Date")
    raw_expires = params["X-Amz-Expires"]
    if not raw_expires.isascii() or not raw_expires.isdigit():
        raise SigV4ParseError("X-Amz-Expires should be a number")
    expires = int(raw_expires)
    if expires > MAX_PRESIGN_EXPIRES:
        raise SigV4ParseError("X-Amz-Expires must be less than a week (in seconds) that is 604800")
    signed = _parse_signed_headers(params["X-Amz-SignedHeaders"])
    sig = _parse_signature(params["X-Amz-Signature"])
    return PresignedQuery(access_key, date, region, service, amz, expires, signed, sig)


def server_string_to_sign(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    signed_headers: Iterable[str],
    payload_hash: str,
    amz_date: str,
    credential_scope: str,
    presigned: bool = False,
) -> str:
    """Server side in one call: the string to sign for a request as received off the wire.

    For presigned requests the X-Amz-Signature parameter is left out of the canonical query, as the
    spec requires; ``payload_hash`` is then UNSIGNED-PAYLOAD unless the URL signed a body hash.
    """
    query = canonical_query_from_raw(raw_query, exclude=("X-Amz-Signature",) if presigned else ())
    uri = canonical_uri_from_raw(raw_path)
    creq = canonical_request(method, uri, query, headers, tuple(signed_headers), payload_hash)
    return string_to_sign(amz_date, credential_scope, creq)


# --- client side ------------------------------------------------------------------------------------


def _host_of(parts: SplitResult) -> str:
    # The Host header clients send: no userinfo, and no port when it is the scheme's default.
    scheme, netloc = parts.scheme, parts.netloc
    host = netloc.rpartition("@")[2].lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and host.endswith(default):
        host = host[: -len(default)]
    return host


def sign_headers(
    method: str,
    url: str,
    headers: dict[str, str],
    payload_hash: str,
    access_key: str,
    secret_key: str,
    region: str,
    amz_date: str | None = None,
    service: str = "s3",
) -> dict[str, str]:
    """Sign a request; returns the headers to add (Authorization, x-amz-date, x-amz-content-sha256,
    and host when ``headers`` has none).  ``url`` must be the URL as it will be sent."""
    parts = urlsplit(url)
    when = amz_date or _format_amz_date()
    lowered = {k.lower(): v for k, v in headers.items() if k.lower() not in UNSIGNABLE_HEADERS}
    added: dict[str, str] = {"x-amz-date": when, "x-amz-content-sha256": payload_hash}
    if "host" not in lowered:
        added["host"] = _host_of(parts)
    lowered.update(added)
    signed = sorted(lowered)
    cscope = scope(when[:8], region, service)
    uri, query = canonical_uri_from_raw(parts.path), canonical_query_from_raw(parts.query)
    creq = canonical_request(method, uri, query, lowered, signed, payload_hash)
    sig = signature(signing_key(secret_key, when[:8], region, service), string_to_sign(when, cscope, creq))
    added["Authorization"] = (
        f"{ALGORITHM} Credential={access_key}/{cscope}, SignedHeaders={';'.join(signed)}, Signature={sig}"
    )
    return added


def presign_url(
    method: str,
    url: str,
    access_key: str,
    secret_key: str,
    region: str,
    expires: int,
    amz_date: str | None = None,
    extra_query: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    service: str = "s3",
) -> str:
    """A presigned URL (query auth, host the only signed header, UNSIGNED-PAYLOAD)."""
    if not 1 <= expires <= MAX_PRESIGN_EXPIRES:
        raise ValueError(f"expires must be 1..{MAX_PRESIGN_EXPIRES} seconds")
    parts = urlsplit(url)
    when = amz_date or _format_amz_date()
    cscope = scope(when[:8], region, service)
    params = parse_query(parts.query)
    if extra_query is not None:
        params += list(extra_query.items() if isinstance(extra_query, Mapping) else extra_query)
    params += [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{access_key}/{cscope}"),
        ("X-Amz-Date", when),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", "host"),
    ]
    uri, host = canonical_uri_from_raw(parts.path), {"host": _host_of(parts)}
    creq = canonical_request(method, uri, canonical_query(params), host, ("host",), UNSIGNED_PAYLOAD)
    sig = signature(signing_key(secret_key, when[:8], region, service), string_to_sign(when, cscope, creq))
    query = "&".join(f"{uri_encode(k)}={uri_encode(v)}" for k, v in params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, f"{query}&X-Amz-Signature={sig}", ""))
