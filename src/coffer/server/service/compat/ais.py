"""AIStore semantics that S3 lacks, built on Coffer's services (no HTTP here).

- Custom properties: AIStore's PATCH of an object's custom metadata. They are the object's user
  metadata (what S3 shows as x-amz-meta-*), so an S3 client sees what an AIStore client set and
  back; updating them rewrites the metadata row only, never the data.
- Destroying a bucket: AIStore's destroy-bck removes the bucket *with* its contents (S3 refuses to
  delete a non-empty bucket), in batches of 1000 keys, then the bucket itself.
"""

from __future__ import annotations

import time

from coffer.protocol.errors import S3Error
from coffer.server.meta import interface as mi
from coffer.server.meta.model import ObjectRecord, VersionEntry
from coffer.server.service.core import Core, Principal
from coffer.server.service.objects.buckets import Buckets
from coffer.server.service.objects.operations import Objects, check_meta_size


class AisOps:
    def __init__(self, core: Core, objects: Objects, buckets: Buckets) -> None:
        self.core = core
        self.objects = objects
        self.buckets = buckets

    async def set_custom(
        self, who: Principal, bucket: str, key: str, props: dict[str, str], replace: bool
    ) -> ObjectRecord:
        for k, v in props.items():
            if not isinstance(k, str) or not isinstance(v, str) or not k or any(c in k for c in ",=\r\n") \
                    or any(c in v for c in "\r\n"):
                raise S3Error("InvalidArgument", f"invalid custom property {k!r}: names are non-empty strings "
                              "without ',' or '=', values strings without line breaks")
        for _ in range(5):  # optimistic: retry when the object changed between our read and write
            record = await self.objects.get(who, bucket, key)
            meta = dict(props) if replace else {**record.user_meta, **props}
            check_meta_size(meta, self.core.limits.max_user_meta_bytes)
            etag = record.etag
            record.user_meta = meta
            record.last_modified = time.time()
            try:
                await self.core.meta.update_object(record, expect_etag=etag)
                return record
            except mi.PreconditionFailed:
                continue
        raise S3Error("ConditionalRequestConflict", "The object kept changing; try again.")

    async def destroy_bucket(self, who: Principal, bucket: str) -> None:
        await self.core.bucket_for(who, bucket)
        while True:
            page = await self.core.meta.list_objects(bucket, "", None, None, 1000)
            keys = [e.key for e in page.entries if hasattr(e, "size")]
            if not keys:
                break
            await self.objects.delete_many(who, bucket, keys)
        # a versioned bucket also holds noncurrent versions and delete markers: AIStore's bucket delete
        # destroys them too (a version under retention refuses it with its S3 error)
        while True:
            page = await self.core.meta.list_versions(bucket, limit=1000)
            versions = [e.record for e in page.entries if isinstance(e, VersionEntry)]
            for rec in versions:
                await self.objects.delete(who, bucket, rec.key, rec.version_id or "null")
            if not versions or not page.truncated:
                break
        await self.buckets.delete(who, bucket)
