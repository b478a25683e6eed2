"""DS3 (Spectra S3) request signatures: `Authorization: AWS <id>:<base64 HMAC-SHA1>`.

The header looks like S3's SigV2, but the DS3 SDKs sign a different string:

    VERB \\n CHECKSUM \\n CONTENT-TYPE \\n DATE \\n [x-amz-meta-* lines] RESOURCE

- CHECKSUM is the value of whichever checksum header the request carries (Content-MD5, or DS3's own
  Content-CRC32 / Content-CRC32C / Content-SHA256 / Content-SHA512), CONTENT-TYPE the request's; both
  (and the header lines) are empty when the request has no body, which is when the SDK sends no
  Content-Type.
- The header lines are the request's `x-amz-meta-*` headers as sent, `name:value`, sorted.
- RESOURCE is the percent-encoded path exactly as sent, plus only the subresources DS3 signs:
  `?delete`, `?versioning=V`, `?versions=V`, `?uploads[=V]` (S3's V2 would sign many more).

Requests signed with SigV4 (Coffer's own SDK) go through the ordinary authenticator instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from coffer.protocol.errors import S3Error
from coffer.protocol.timeutil import parse_http_date

CHECKSUM_HEADERS = ("Content-CRC32", "Content-CRC32C", "Content-MD5", "Content-SHA256", "Content-SHA512")


def canonical_resource(raw_path: str, query: dict[str, str]) -> str:
    path = raw_path
    if "delete" in query:
        path += "?delete"
    if "versioning" in query:
        path += "?versioning=" + query["versioning"]
    if "versions" in query:
        path += "?versions=" + query["versions"]
    if "uploads" in query:
        path += "?uploads" + ("=" + query["uploads"] if query["uploads"] else "")
    return path


def string_to_sign(method: str, raw_path: str, query: dict[str, str], headers) -> str:
    """The string a DS3 SDK signed for this request (see the module docstring)."""
    content_type = headers.get("Content-Type", "")
    checksum, meta = "", ""
    if content_type:
        for name in CHECKSUM_HEADERS:
            if name in headers:
                checksum = headers[name]
        lines = sorted(f"{k}:{v}" for k, v in headers.items() if k.lower().startswith("x-amz-meta-"))
        meta = "".join(line + "\n" for line in lines)
    date = headers.get("Date", "")
    return f"{method}\n{checksum}\n{content_type}\n{date}\n{meta}{canonical_resource(raw_path, query)}"


def sign(secret: str, sts: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), sts.encode(), hashlib.sha1).digest()).decode()


def parse_authorization(value: str) -> tuple[str, str]:
    if not value.startswith("AWS ") or ":" not in value:
        raise S3Error("InvalidArgument", "Authorization header is invalid.", status=400)
    access_key, _, sig = value[4:].strip().rpartition(":")
    if not access_key or not sig:
        raise S3Error("InvalidArgument", "Authorization header is invalid.", status=400)
    return access_key, sig


def check_date(headers, skew: int) -> None:
    t = parse_http_date(headers.get("Date", ""))
    if t is None:
        raise S3Error("AccessDenied", "DS3 authentication requires a valid Date header")
    if abs(time.time() - t) > skew:
        raise S3Error("RequestTimeTooSkewed", "The difference between the request time and the current time "
                      "is too large.")
