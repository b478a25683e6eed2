"""Bucket configuration documents: default encryption, CORS rules, website.

Each lives in the bucket's JSON ``props`` (docs/data-format.md) under ``encryption``, ``cors`` and
``website``, as the validated dictionaries the HTTP layer parsed from S3's XML. This module owns the
read-modify-write of those keys and their validation that needs the service (a KMS key must exist).
"""

from __future__ import annotations

from typing import Any

from coffer.protocol.errors import S3Error
from coffer.server.meta import interface as mi
from coffer.server.meta.model import Bucket
from coffer.server.service.core import Core, Principal

_MISSING = {
    "encryption": ("ServerSideEncryptionConfigurationNotFoundError",
                   "The server side encryption configuration was not found"),
    "cors": ("NoSuchCORSConfiguration", "The CORS configuration does not exist"),
    "website": ("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration"),
}


class BucketConfig:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def get(self, who: Principal, bucket: str, name: str) -> dict[str, Any]:
        b = await self.core.bucket_for(who, bucket)
        doc = b.props.get(name)
        if not doc:
            code, message = _MISSING[name]
            raise S3Error(code, message, BucketName=bucket)
        return doc

    async def put(self, who: Principal, bucket: str, name: str, doc: dict[str, Any] | None) -> Bucket:
        b = await self.core.bucket_for(who, bucket)
        if name == "encryption" and doc:
            self.check_encryption(doc)
        props = dict(b.props)
        if doc is None:
            props.pop(name, None)
        else:
            props[name] = doc
        try:
            await self.core.meta.update_bucket_props(bucket, props)
        except mi.NoSuchBucket:
            raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=bucket) from None
        b.props = props
        return b

    def check_encryption(self, doc: dict[str, Any]) -> None:
        """A default naming a KMS key must name a usable one; it is stored by its UUID (a renamed
        alias cannot redirect the bucket to another key)."""
        if doc["algorithm"] == "aws:kms" and doc.get("kms_key_id"):
            key_uuid, arn = self.core.sse.resolve_kms(doc["kms_key_id"])
            doc["kms_key_id"], doc["kms_arn"] = key_uuid, arn

    async def public(self, bucket: str) -> Bucket | None:
        """The bucket for unauthenticated uses (CORS preflight, website); None when it does not exist."""
        return await self.core.meta.get_bucket(bucket)


def key_protect_doc(algorithm: str | None, root_key_crn: str | None) -> dict[str, Any] | None:
    """IBM COS Key Protect headers of CreateBucket -> the bucket's default-encryption document.

    A Key Protect bucket is an SSE-KMS default bound to a named root key of the local key store; the
    CRN's last ``key:`` segment (or the whole value: a UUID, ARN or ``alias/name``) names it."""
    if algorithm is None and root_key_crn is None:
        return None
    if algorithm not in (None, "AES256") or not root_key_crn:
        raise S3Error("InvalidArgument", "Key Protect needs ibm-sse-kp-encryption-algorithm: AES256 and "
                      "ibm-sse-kp-customer-root-key-crn", ArgumentName="ibm-sse-kp-customer-root-key-crn")
    key = root_key_crn.rsplit(":key:", 1)[1] if ":key:" in root_key_crn else root_key_crn
    return {"algorithm": "aws:kms", "kms_key_id": key, "key_protect_crn": root_key_crn, "bucket_key": False}
