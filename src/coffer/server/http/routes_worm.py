"""Endpoints of issue 4 (versioning, object lock, IBM immutable storage, tagging, lifecycle).

Kept out of router.TABLE's literal so that features landing in parallel do not edit the same
lines; router.py merges this table into its own at import.
"""

from __future__ import annotations

from .router import Endpoint


def _ep(name: str, permission: str | None = None) -> Endpoint:
    return Endpoint(name, permission or f"s3:{name}")


ENDPOINTS: dict[tuple[str, str, str | None], Endpoint] = {
    ("PUT", "bucket", "versioning"): _ep("PutBucketVersioning"),
    ("GET", "bucket", "versions"): _ep("ListObjectVersions", "s3:ListBucketVersions"),
    ("PUT", "bucket", "object-lock"): _ep("PutObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration"),
    ("GET", "bucket", "object-lock"): _ep("GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration"),
    ("PUT", "bucket", "tagging"): _ep("PutBucketTagging"),
    ("GET", "bucket", "tagging"): _ep("GetBucketTagging"),
    ("DELETE", "bucket", "tagging"): _ep("DeleteBucketTagging", "s3:PutBucketTagging"),
    ("PUT", "bucket", "lifecycle"): _ep("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
    ("GET", "bucket", "lifecycle"): _ep("GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
    ("DELETE", "bucket", "lifecycle"): _ep("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"),
    ("PUT", "bucket", "protection"): _ep("PutBucketProtectionConfiguration", "s3:PutBucketProtection"),
    ("GET", "bucket", "protection"): _ep("GetBucketProtectionConfiguration", "s3:GetBucketProtection"),
    ("PUT", "object", "retention"): _ep("PutObjectRetention"),
    ("GET", "object", "retention"): _ep("GetObjectRetention"),
    ("PUT", "object", "legal-hold"): _ep("PutObjectLegalHold"),
    ("GET", "object", "legal-hold"): _ep("GetObjectLegalHold"),
    ("PUT", "object", "tagging"): _ep("PutObjectTagging"),
    ("GET", "object", "tagging"): _ep("GetObjectTagging"),
    ("DELETE", "object", "tagging"): _ep("DeleteObjectTagging"),
    ("POST", "object", "legalHold"): _ep("IbmLegalHold", "s3:PutObjectLegalHold"),
    ("GET", "object", "legalHold"): _ep("ListLegalHolds", "s3:GetObjectLegalHold"),
    ("POST", "object", "extendRetention"): _ep("ExtendObjectRetention", "s3:PutObjectRetention"),
}
