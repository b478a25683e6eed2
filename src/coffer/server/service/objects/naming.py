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


_DS3_BUCKET_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,62}$")


def ds3_bucket_name_ok(name: str) -> bool:
    """Spectra DS3's rules, used for buckets created through a DS3 SDK: letters of either case, digits,
    `_`, `-`, `.`, up to 63 characters (the SDK's README makes `TestBucket`, its samples
    `put_test_bucket`). Such buckets are reachable over S3 path-style requests."""
    return bool(_DS3_BUCKET_RE.match(name)) and ".." not in name


def check_bucket_name(name: str, ds3: bool = False) -> None:
    if not (ds3_bucket_name_ok(name) if ds3 else bucket_name_ok(name)):
        raise S3Error("InvalidBucketName", "The specified bucket is not valid.", BucketName=name)


def check_key(key: str, max_bytes: int) -> None:
    if not key:
        raise S3Error("InvalidArgument", "Object key must not be empty.")
    if len(key.encode("utf-8", "surrogatepass")) > max_bytes:
        raise S3Error("KeyTooLongError", "Your key is too long", Key=key[:64] + "...")
