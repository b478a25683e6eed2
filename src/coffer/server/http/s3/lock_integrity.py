"""Integrity headers S3 requires on Object Lock requests.

S3 refuses an upload that sets a retention period (x-amz-object-lock-* headers, or the bucket's
default retention) unless the request carries Content-MD5 or an x-amz-checksum-* value (a header,
or a trailer it declares with x-amz-trailer / x-amz-sdk-checksum-algorithm): WORM data must be
known to be what the client meant before it becomes undeletable. The SDKs mark
PutObjectLockConfiguration, PutObjectRetention and PutObjectLegalHold (like DeleteObjects) as
"request checksum required", and S3 refuses them without one as well. UploadPart of an upload
whose object will be locked needs the same header ("required if object lock parameters are
specified"). The SHA-256 of a signed payload does not count: S3 asks for one of these headers.

IBM COS immutable storage asks the same of uploads (PUT, UploadPart) into a protected bucket, but
there a SigV4 signature over the payload's SHA-256 (or signed aws-chunked) is enough, as IBM's
documentation says ("Content-MD5 or x-amz-checksum- HTTP header or AWS Signature Version 4 signed
payload is required").
"""

from __future__ import annotations

from collections.abc import Mapping

from coffer.protocol.errors import S3Error
from coffer.server.http.common.auth import BodyPlan
from coffer.server.meta.model import Bucket
from coffer.server.service.worm.retention import LockRequest, lock_config, protection

PUT_MESSAGE = "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock " \
              "parameters"
MISSING_MD5 = "Missing required header for this request: Content-MD5"
IBM_MESSAGE = "Content-MD5 OR x-amz-checksum- HTTP header or AWS Signature Version 4 signed payload is required " \
              "for upload requests to a protected bucket"
SIGNED_STREAMING = ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")


def has_integrity_header(headers: Mapping[str, str]) -> bool:
    """Content-MD5, an x-amz-checksum-* header, or a declared checksum trailer."""
    for name in headers:
        n = name.lower()
        if n == "content-md5" or (n.startswith("x-amz-checksum-") and n not in ("x-amz-checksum-type",
                                                                              "x-amz-checksum-mode")):
            return True
        if n == "x-amz-sdk-checksum-algorithm":
            return True
        if n == "x-amz-trailer" and headers[name].strip().lower().startswith("x-amz-checksum-"):
            return True
    return False


def locks_new_version(bucket: Bucket | None, lock: LockRequest | None) -> bool:
    """Does a write with these headers into this bucket set Object Lock parameters on the version?"""
    if lock is not None and lock.any_s3():
        return True
    cfg = lock_config(bucket) if bucket is not None else None
    return bool(cfg and cfg.get("mode"))


def require_for_put(headers: Mapping[str, str], bucket: Bucket | None, lock: LockRequest | None,
                    plan: BodyPlan | None = None, upload_locked: bool = False) -> None:
    """PutObject / UploadPart: refuse a locked upload without an integrity header."""
    if has_integrity_header(headers):
        return
    if upload_locked or locks_new_version(bucket, lock):
        raise S3Error("InvalidRequest", PUT_MESSAGE)
    if bucket is not None and protection(bucket) and not signed_payload(plan):
        raise S3Error("InvalidRequest", IBM_MESSAGE)


def signed_payload(plan: BodyPlan | None) -> bool:
    return plan is not None and (plan.sha256 is not None or plan.mode in SIGNED_STREAMING)


def require_for_config(headers: Mapping[str, str]) -> None:
    """PutObjectLockConfiguration / PutObjectRetention / PutObjectLegalHold (checksum required)."""
    if not has_integrity_header(headers):
        raise S3Error("InvalidRequest", MISSING_MD5)
