"""AWS Signature Version 2 for S3 (HMAC-SHA1), still used by older clients and tools.

String to sign (S3 REST authentication)::

    VERB\\n Content-MD5\\n Content-Type\\n Date-or-Expires\\n CanonicalizedAmzHeaders CanonicalizedResource

* when an ``x-amz-date`` header is present the Date line is empty (the date is then signed through the
  x-amz-* block), as the S3 V2 documentation specifies;
* for query-string (presigned) auth the Date line carries the ``Expires`` value;
* the resource is the path as sent (percent-encoded, full ``/bucket/key`` path; a server receiving a
  virtual-hosted request passes ``"/" + bucket + raw_path``) plus the sub-resources of interest,
  sorted by name, with decoded values.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

# The V2 sub-resources that are part of the canonical resource; every other query parameter
# (prefix, marker, max-keys, AWSAccessKeyId, Signature, Expires...) is ignored for signing.
SUBRESOURCES = frozenset(
    {
        "accelerate",
        "acl",
        "analytics",
        "cors",
        "defaultObjectAcl",
        "delete",
        "encryption",
        "intelligent-tiering",
        "inventory",
        "legal-hold",
        "lifecycle",
        "location",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "ownershipControls",
        "partNumber",
        "policy",
        "policyStatus",
        "publicAccessBlock",
        "replication",
        "requestPayment",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "restore",
        "retention",
        "select",
        "select-type",
        "storageClass",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    }
)


class SigV2ParseError(ValueError):
    """The ``Authorization: AWS ...`` header or V2 query parameters are malformed."""


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    # Repeated headers (a multidict's items() repeats the name) are joined with "," as V2 requires.
    out: dict[str, str] = {}
    for k, v in headers.items():
        if v is None:
            continue
        k = k.lower()
        out[k] = f"{out[k]},{v.strip()}" if k in out else v.strip()
    return out


def canonical_amz_headers(headers: Mapping[str, str]) -> str:
    """``x-amz-name:value\\n`` lines, lower-cased and sorted (repeated values must be comma-joined)."""
    lowered = _lower_headers(headers)
    names = sorted(n for n in lowered if n.startswith("x-amz-"))
    return "".join(f"{n}:{lowered[n].strip()}\n" for n in names)


def canonical_resource(path: str, query: Mapping[str, str]) -> str:
    """Path as sent plus ``?sub&sub=value`` for the sub-resources present, sorted by name.

    A sub-resource with an empty value is written bare (``?acl``), which is how clients send the
    flag-style ones.
    """
    subs = sorted((k, v) for k, v in query.items() if k in SUBRESOURCES)
    if not subs:
        return path
    return path + "?" + "&".join(f"{k}={v}" if v else k for k, v in subs)


def _string_to_sign(
    method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], date_line: str
) -> str:
    lowered = _lower_headers(headers)
    return "\n".join(
        (
            method.upper(),
            lowered.get("content-md5", "").strip(),
            lowered.get("content-type", "").strip(),
            date_line,
            canonical_amz_headers(lowered) + canonical_resource(path, query),
        )
    )


def string_to_sign(method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> str:
    """String to sign for header auth (``Authorization: AWS key:signature``)."""
    lowered = _lower_headers(headers)
    date_line = "" if "x-amz-date" in lowered else lowered.get("date", "").strip()
    return _string_to_sign(method, path, query, lowered, date_line)


def query_string_to_sign(
    method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], expires: str | int
) -> str:
    """String to sign for query auth (``?AWSAccessKeyId=..&Expires=..&Signature=..``)."""
    return _string_to_sign(method, path, query, headers, str(expires))


def resource_paths(path: str) -> tuple[str, ...]:
    """Resource paths to try when verifying: a bucket-only path may be signed with or without its
    trailing slash (botocore signs ``/bucket/`` while sending ``/bucket``; the spec says ``/bucket``)."""
    trimmed = path.rstrip("/")
    if trimmed and "/" not in trimmed[1:]:
        return (trimmed, trimmed + "/")
    return (path,)


def sign(secret: str, string_to_sign: str) -> str:
    """Base64 HMAC-SHA1 of the string to sign."""
    mac = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8", "surrogateescape"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def signatures_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two base64 signatures."""
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))


def parse_authorization(value: str) -> tuple[str, str]:
    """``"AWS AKID:signature"`` -> (access_key, signature); SigV2ParseError otherwise."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme != "AWS":
        raise SigV2ParseError("not an AWS signature version 2 authorization header")
    access_key, sep, signature = rest.strip().rpartition(":")
    if not sep or not access_key or not signature:
        raise SigV2ParseError("the V2 authorization header must be 'AWS AccessKeyId:Signature'")
    return access_key, signature


def parse_query_auth(params: Mapping[str, str]) -> tuple[str, str, int]:
    """Presigned V2 parameters -> (access_key, signature, expires epoch seconds)."""
    try:
        access_key = params["AWSAccessKeyId"]
        signature = params["Signature"]
        raw_expires = params["Expires"]
    except KeyError as exc:
        raise SigV2ParseError(f"query-string authentication requires {exc.args[0]}") from exc
    if not raw_expires.isascii() or not raw_expires.isdigit():
        raise SigV2ParseError("Expires must be a number of seconds since the epoch")
    if not access_key or not signature:
        raise SigV2ParseError("AWSAccessKeyId and Signature must not be empty")
    return access_key, signature, int(raw_expires)
