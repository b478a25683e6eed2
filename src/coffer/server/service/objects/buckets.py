"""Bucket operations: create, list, head, delete, location; bucket-level access checks."""

from __future__ import annotations

import time

from coffer.protocol.errors import S3Error
from coffer.server.meta import interface as mi
from coffer.server.meta.model import Bucket
from coffer.server.service.core import Core, Principal
from coffer.server.service.objects.naming import check_bucket_name


class Buckets:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def create(self, who: Principal, name: str, location: str | None, props: dict | None = None,
                     ds3_names: bool = False, us_east_1_recreate: bool = False) -> Bucket:
        """ds3_names: DS3's bucket naming rules (a DS3 SDK's PutBucket) instead of S3's.
        us_east_1_recreate: S3's legacy rule, re-creating your own us-east-1 bucket answers the bucket
        (CreateBucket only; other APIs keep answering that it exists)."""
        check_bucket_name(name, ds3=ds3_names)
        region = location or self.core.region
        bucket = Bucket(name=name, owner=who.user_id, created=time.time(), region=region, props=dict(props or {}))
        try:
            await self.core.meta.create_bucket(bucket)
        except mi.BucketExists as e:
            if e.owner == who.user_id:
                existing = await self.core.meta.get_bucket(name)
                legacy = us_east_1_recreate and region == "us-east-1"
                if legacy and existing is not None and existing.region == "us-east-1":
                    return existing  # S3's legacy rule: re-creating your own us-east-1 bucket answers 200
                raise S3Error(
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                    BucketName=name,
                ) from None
            raise S3Error(
                "BucketAlreadyExists",
                "The requested bucket name is not available. The bucket namespace is shared by all users "
                "of the system. Please select a different name and try again.",
                BucketName=name,
            ) from None
        return bucket

    async def list(self, who: Principal) -> list[Bucket]:
        return await self.core.meta.list_buckets(who.user_id)

    async def head(self, who: Principal, name: str) -> Bucket:
        return await self.core.bucket_for(who, name)

    async def delete(self, who: Principal, name: str) -> None:
        await self.core.bucket_for(who, name)
        try:
            freed = await self.core.meta.delete_bucket(name)
        except mi.BucketNotEmpty:
            raise S3Error("BucketNotEmpty", "The bucket you tried to delete is not empty", BucketName=name) from None
        except mi.NoSuchBucket:
            raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=name) from None
        await self.core.free(freed)
