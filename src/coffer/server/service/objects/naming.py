"""Name rules: which bucket names and object keys S3 accepts, and the errors it gives for the rest."""

from __future__ import annotations

import re

from coffer.protocol.errors import S3Error

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_ok(name: str) -> bool:
    """S3's general-purpose bucket naming rules (3-63 chars, lowercase, digits, dots, hyphens)."""
    if not _BUCKET_RE.match(name):
        return False
    if ".." in name or ".-" in name or "-." in name or _IP_RE.match(name):
        return False
    return not (name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES))


def check_bucket_name(name: str) -> None:
    if not bucket_name_ok(name):
        raise S3Error("InvalidBucketName", "The specified bucket is not valid.", BucketName=name)


def check_key(key: str, max_bytes: int) -> None:
    if not key:
        raise S3Error("InvalidArgument", "Object key must not be empty.")
    if len(key.encode("utf-8", "surrogatepass")) > max_bytes:
        raise S3Error("KeyTooLongError", "Your key is too long", Key=key[:64] + "...")
