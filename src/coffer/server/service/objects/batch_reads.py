"""Batch reads: many objects of one bucket, records and bytes, in request order (the batch GET,
docs/batch-get.md).

Records come from the metadata in chunks (`MetaStore.get_objects`: one query per chunk for current
versions; one lookup per key asked by version id), so a batch of small inline objects costs a few
queries, not one per key. Each key is authorized on its own (s3:GetObject, or s3:GetObjectVersion
for a key asked by version id: bucket policy, IAM, ACLs), and each failure (NoSuchKey, AccessDenied,
an SSE-C object, which needs its customer key, a drained object, a delete marker) is an entry of its
own: it never fails the batch. Inline objects carry their bytes; larger ones a stream over the
normal verified read path (SSE-S3/KMS decrypted as for a GET), pulled only when the caller sends them.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from coffer.protocol.errors import S3Error
from coffer.server.meta.model import Bucket, ObjectRecord
from coffer.server.service.access.decision import Access, ContextFn
from coffer.server.service.core import Core, Principal
from coffer.server.service.objects import versioning as ver
from coffer.server.service.objects.frozen import check_readable
from coffer.server.service.objects.operations import Objects

MAX_KEYS = 10_000  # per request
CHUNK = 64  # records read (and inline bytes held) at a time


@dataclass(frozen=True, slots=True)
class BatchItem:
    key: str
    version_id: str | None = None


@dataclass(slots=True)
class BatchEntry:
    """One requested object: its record and bytes (`data` for inline objects, else `stream`), or the error."""

    item: BatchItem
    record: ObjectRecord | None = None
    data: bytes | None = None
    stream: AsyncIterable[bytes] | None = None
    error: S3Error | None = None


class BatchReads:
    def __init__(self, core: Core, objects: Objects, access: Access) -> None:
        self.core = core
        self.objects = objects
        self.access = access

    async def open(self, bucket: str, items: list[BatchItem]) -> Bucket:
        """The bucket the batch reads (NoSuchBucket before anything is answered); checks the request's size."""
        if len(items) > MAX_KEYS:
            raise S3Error("InvalidArgument", f"A batch names at most {MAX_KEYS} objects.", ArgumentName="objects")
        b = await self.core.meta.get_bucket(bucket)
        if b is None:
            raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=bucket)
        return b

    async def entries(self, who: Principal, bucket: Bucket, items: list[BatchItem],
                      context: ContextFn) -> AsyncIterator[BatchEntry]:
        """Every item's entry, in order. A caller that may not list the bucket sees AccessDenied for a
        missing key (as for a single GET: the key's absence does not leak)."""
        lister: list[bool] = []

        async def may_list() -> bool:
            if not lister:
                lister.append(await self.access.allows(who, "s3:ListBucket", bucket, None, context))
            return lister[0]

        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            allowed = [await self.access.allows(
                who, "s3:GetObjectVersion" if it.version_id is not None else "s3:GetObject", bucket, it.key, context)
                for it in chunk]
            current = [it.key for it, ok in zip(chunk, allowed, strict=True) if ok and it.version_id is None]
            found = dict(zip(current, await self.core.meta.get_objects(bucket.name, current), strict=True)) \
                if current else {}
            for it, ok in zip(chunk, allowed, strict=True):
                if not ok:
                    yield BatchEntry(it, error=S3Error("AccessDenied", "Access Denied"))
                    continue
                rec = found.get(it.key) if it.version_id is None else \
                    await self.core.meta.get_version(bucket.name, it.key, it.version_id)
                yield await self._entry(it, rec, bucket, may_list)

    async def _entry(self, it: BatchItem, rec: ObjectRecord | None, bucket: Bucket, may_list) -> BatchEntry:
        try:
            if rec is None:
                if it.version_id is not None:
                    raise S3Error("NoSuchVersion", "The specified version does not exist.", Key=it.key,
                                  VersionId=it.version_id)
                if not await may_list():
                    raise S3Error("AccessDenied", "Access Denied")
                raise await self.objects.versioning.no_such_key(bucket, it.key)
            if rec.delete_marker:
                raise S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.",
                              Method="GET", ResourceType="DeleteMarker")
            check_readable(rec)
            doc = rec.props.get("sse")
            self.core.sse.check_access(doc, None)  # SSE-C: the customer's key is not in a batch request
            if rec.version_id is None and ver.mode(bucket) is not None:
                rec.version_id = "null"
        except S3Error as e:
            return BatchEntry(it, rec, error=e)
        if rec.inline is not None and not doc:
            return BatchEntry(it, rec, data=rec.inline)
        return BatchEntry(it, rec, stream=self.objects.plain_stream(rec, 0, rec.size, None))
