"""Object operations: put, get/head, delete (one and many), copy, listing, attributes.

Copies share data: a copy is a new metadata record pointing at the same reference-counted
segments, so CopyObject costs one metadata commit whatever the object's size.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable
from dataclasses import dataclass, field

from coffer.protocol.errors import S3Error
from coffer.server.crypto.envelope import CustomerKey, SseRequest
from coffer.server.data import ReadSpan
from coffer.server.meta import interface as mi
from coffer.server.meta.model import Expect, ListPage, ObjectRecord
from coffer.server.service.core import Core, Integrity, Principal
from coffer.server.service.crypto.sse import read_plain
from coffer.server.service.objects import versioning as ver
from coffer.server.service.objects.conditions import ReadConditions, evaluate
from coffer.server.service.objects.frozen import check_readable
from coffer.server.service.objects.naming import check_key
from coffer.server.service.storage.policies import resolve as resolve_policy
from coffer.server.service.storage.policies import stream_span, verified_stream
from coffer.server.service.worm import rule as worm
from coffer.server.service.worm.retention import LockRequest, initial_props


@dataclass(slots=True)
class PutParams:
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    user_meta: dict[str, str] = field(default_factory=dict)
    storage_class: str = "STANDARD"
    expect: Expect | None = None
    owner: str | None = None  # None: the writer (see service.access.new_object)
    props: dict = field(default_factory=dict)  # the object's own ACL, ...
    tags: dict[str, str] | None = None  # x-amz-tagging
    lock: LockRequest | None = None  # object lock / IBM retention headers
    sse: SseRequest | None = None  # x-amz-server-side-encryption* headers (encryption at rest)
    storage_policy: str | None = None  # x-coffer-storage-policy (service/storage/policies.py)


STORAGE_CLASSES = frozenset(
    {"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER",
     "DEEP_ARCHIVE", "GLACIER_IR", "OUTPOSTS", "SNOW", "EXPRESS_ONEZONE"}
)


def check_meta_size(meta: dict[str, str], max_bytes: int) -> None:
    """S3's bound on user metadata (names and values, UTF-8 bytes): MetadataTooLarge beyond it."""
    size = sum(len(k.encode()) + len(v.encode()) for k, v in meta.items())
    if size > max_bytes:
        raise S3Error("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.",
                      Size=str(size), MaxSizeAllowed=str(max_bytes))


def check_put_params(p: PutParams, limits_meta_bytes: int) -> None:
    if p.storage_class not in STORAGE_CLASSES:
        raise S3Error("InvalidStorageClass", "The storage class you specified is not valid",
                      StorageClassRequested=p.storage_class)
    check_meta_size(p.user_meta, limits_meta_bytes)


class Objects:
    def __init__(self, core: Core, versioning: ver.Versioning) -> None:
        self.core = core
        self.versioning = versioning

    async def put(
        self, who: Principal, bucket: str, key: str, body: AsyncIterable[bytes], params: PutParams,
        integrity: Integrity,
    ) -> ObjectRecord:
        lim = self.core.limits
        check_key(key, lim.max_key_bytes)
        check_put_params(params, lim.max_user_meta_bytes)
        b = await self.core.bucket_for(who, bucket)
        policy = resolve_policy(self.core.data, b, params.storage_class, params.storage_policy)
        await self.require_current(bucket, key, params.expect)
        now = time.time()
        base = {**params.props, **({"tags": params.tags} if params.tags else {})}  # ACL, tags
        props = initial_props(b, params.lock, now, base or None)
        want = self.core.sse.wanted(params.sse, b.props)
        sealing = self.core.sse.seal(want) if want else None
        if sealing:
            props["sse"] = sealing.doc
        got = await self.core.receive(body, integrity, allow_inline=True, max_size=lim.max_put_size,
                                      cipher=sealing.cipher() if sealing else None, policy=policy)
        record = ObjectRecord(
            bucket=bucket, key=key, size=got.size, etag=sealing.etag(got.md5) if sealing else got.md5.hex(),
            last_modified=time.time(),
            owner=params.owner or who.user_id, content_type=params.content_type, headers=params.headers,
            user_meta=params.user_meta, checksums=got.checksums,
            checksum_type="FULL_OBJECT" if got.checksums else None,
            storage_class=params.storage_class, inline=got.inline,
            segments=[got.segment] if got.segment else [], version_id=ver.new_version_id(b), props=props,
        )
        mode = ver.mode(b)
        await self._commit(record, params.expect, [got.segment.ref] if got.segment else [], versioning=mode)
        if mode == "Suspended":
            record.version_id = "null"  # stored as the null version (None); answered as "null"
        return record

    async def require_current(self, bucket: str, key: str, expect: Expect | None) -> None:
        """If-Match on a key with no current object: 404 NoSuchKey (S3), before any data is taken in;
        a race with a delete after this check still fails in the commit's transaction (412)."""
        if expect and expect.if_match and await self.core.meta.get_object(bucket, key) is None:
            raise S3Error("NoSuchKey", "The specified key does not exist.", Key=key)

    async def _commit(
        self, record: ObjectRecord, expect: Expect | None, new_refs: list[str], shared: bool = False,
        versioning: str | None = None,
    ) -> None:
        try:
            freed = await self.core.meta.put_object(record, expect, shared=shared, versioning=versioning,
                                                    guard=worm.guard())
        except worm.Locked:
            await self.core.free(new_refs)
            raise
        except mi.PreconditionFailed:
            await self.core.free(new_refs)
            raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                          Condition=expect.failed() if expect else None) from None
        except mi.ConditionalConflict:
            await self.core.free(new_refs)
            raise S3Error("ConditionalRequestConflict",
                          "A conflicting operation occurred. If using PutObject you can retry the request.") from None
        except mi.NoSuchBucket:
            await self.core.free(new_refs)
            raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=record.bucket) from None
        await self.core.free(freed)

    async def get(
        self, who: Principal, bucket: str, key: str, cond: ReadConditions | None = None,
        version_id: str | None = None,
    ) -> ObjectRecord:
        b = await self.core.bucket_for(who, bucket)
        if version_id is not None:
            record: ObjectRecord | None = await self.versioning.get_version(bucket, key, version_id)
        else:
            record = await self.core.meta.get_object(bucket, key)
        if record is None:
            raise await self.versioning.no_such_key(b, key)
        if record.version_id is None and ver.mode(b) is not None:
            record.version_id = "null"  # S3 names the null version in versioned buckets' answers
        if cond:
            evaluate(cond, record.etag, record.last_modified)
        return record

    def spans(self, record: ObjectRecord, start: int, length: int) -> list[ReadSpan]:
        check_readable(record)
        spans = self.core.data.spans(record.segments, start, length)
        if spans is None:  # no plain files (volumes): one span of verified bytes (respond.send_spans streams it)
            return [stream_span(self.core, record.segments, start, length)]
        return spans

    async def read_range(self, record: ObjectRecord, start: int, length: int) -> AsyncIterable[bytes]:
        """Bytes of an object as an async stream (for copies and non-sendfile transports)."""
        check_readable(record)
        if record.inline is not None:
            yield record.inline[start : start + length]
            return
        spans = self.core.data.spans(record.segments, start, length)
        if spans is None:  # no plain files (volumes): verified bytes from the store's reader
            async for view in verified_stream(self.core, record.segments, start, length):
                yield view  # type: ignore[misc]
            return
        piece = self.core.limits.io_chunk
        for span in spans:
            with open(span.path, "rb", buffering=0) as f:
                pos, end = span.offset, span.offset + span.length
                while pos < end:
                    data = await self.core.run(_pread, f.fileno(), min(piece, end - pos), pos)
                    if not data:
                        raise S3Error("InternalError", "Object data is shorter than its metadata says.")
                    pos += len(data)
                    yield data

    async def delete(
        self, who: Principal, bucket: str, key: str, version_id: str | None = None, bypass_governance: bool = False,
    ) -> ver.DeleteOutcome:
        """DeleteObject: versioning and WORM aware (service/objects/versioning.py, service/worm/rule.py)."""
        b = await self.core.bucket_for(who, bucket)
        return await self.versioning.delete(b, who, key, version_id, bypass_governance)

    async def delete_many(self, who: Principal, bucket: str, keys: list[str]) -> list[ObjectRecord | None]:
        """Delete current objects of an unversioned bucket in one transaction; a protected key
        refuses the whole batch (worm.Locked). DeleteObjects requests go through delete()."""
        await self.core.bucket_for(who, bucket)
        removed, freed = await self.core.meta.delete_objects(bucket, keys, worm.guard())
        await self.core.free(freed)
        return removed

    async def list(
        self, who: Principal, bucket: str, prefix: str, delimiter: str | None, after: str | None, limit: int
    ) -> ListPage:
        await self.core.bucket_for(who, bucket)
        if limit <= 0:
            return ListPage(entries=[], truncated=False, next_marker=None)
        return await self.core.meta.list_objects(bucket, prefix, delimiter or None, after, limit)

    async def copy(
        self, who: Principal, src_bucket: str, src_key: str, bucket: str, key: str, *,
        cond: ReadConditions, replace: PutParams | None, storage_class: str | None,
        owner: str | None = None, props: dict | None = None,
        src_version: str | None = None, tags: dict[str, str] | None = None, lock: LockRequest | None = None,
        copy_retention: bool = False, sse: SseRequest | None = None, src_customer: CustomerKey | None = None,
        expect: Expect | None = None,
    ) -> tuple[ObjectRecord, ObjectRecord]:
        """CopyObject: returns (new record, source record). Data is shared, never copied, unless the
        copy moves between plaintext and encrypted (then it is streamed through the cipher); between
        two encryption modes or keys only the data key is re-wrapped.
        tags None copies the source's tags (TaggingDirective COPY); lock is the new version's
        protection request; copy_retention (IBM Retention-Directive COPY) keeps the source's."""
        check_key(key, self.core.limits.max_key_bytes)
        src = await self.get(who, src_bucket, src_key, version_id=src_version)
        evaluate(cond, src.etag, src.last_modified, copy_source=True)
        check_readable(src)
        b = await self.core.bucket_for(who, bucket)
        await self.require_current(bucket, key, expect)
        src_doc = src.props.get("sse")
        self.core.sse.check_access(src_doc, src_customer)
        same = (src_bucket, src_key) == (bucket, key) and src_version is None
        explicit_sse = sse is not None and sse.mode is not None
        if same and replace is None and storage_class in (None, src.storage_class) and not explicit_sse:
            raise S3Error(
                "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object to itself without "
                "changing the object's metadata, storage class, website redirect location or encryption "
                "attributes.",
            )
        if replace is not None:
            check_put_params(replace, self.core.limits.max_user_meta_bytes)
        want = self.core.sse.wanted(sse, b.props)
        record = ObjectRecord(
            bucket=bucket, key=key, size=src.size, etag=src.etag, last_modified=time.time(),
            owner=owner or who.user_id,
            content_type=replace.content_type if replace else src.content_type,
            headers=dict(replace.headers if replace else src.headers),
            user_meta=dict(replace.user_meta if replace else src.user_meta),
            checksums=dict(src.checksums), checksum_type=src.checksum_type,
            storage_class=storage_class or (replace.storage_class if replace else "STANDARD"),
            inline=src.inline, segments=list(src.segments), parts=src.parts,
            version_id=ver.new_version_id(b),
        )
        base = {"tags": src.props["tags"]} if tags is None and src.props.get("tags") else {}
        base.update(props or {})  # the copy's own ACL
        if tags:
            base["tags"] = tags
        if copy_retention and "ibm" in src.props and (lock is None or not lock.any_ibm()):
            ibm = src.props["ibm"]
            lock = LockRequest(ibm_period=ibm.get("period")) if ibm.get("until") is None else \
                LockRequest(ibm_until=ibm["until"])
        record.props = initial_props(b, lock, record.last_modified, base)
        if copy_retention and "ibm" in src.props and "ibm" in record.props:
            record.props["ibm"]["holds"] = list(src.props["ibm"].get("holds", []))
        new_refs: list[str] = []
        shared = True
        if src_doc and want:  # encrypted -> encrypted: same ciphertext, data key re-wrapped
            dk = self.core.sse.data_key(src_doc, src_customer)
            record.props["sse"] = self.core.sse.rewrap(dk, want)
        elif src_doc or want:  # plaintext <-> encrypted: the bytes must pass through the cipher
            sealing = self.core.sse.seal(want) if want else None
            got = await self.core.receive(
                self.plain_stream(src, 0, src.size, src_customer), Integrity(algorithms=set(src.checksums)),
                allow_inline=True, max_size=self.core.limits.max_object_size,
                cipher=sealing.cipher() if sealing else None,
                policy=resolve_policy(self.core.data, b, storage_class, None))
            record.etag = sealing.etag(got.md5) if sealing else got.md5.hex()
            record.checksums, record.checksum_type = got.checksums, "FULL_OBJECT" if got.checksums else None
            record.inline, record.parts = got.inline, None
            record.segments = [got.segment] if got.segment else []
            if sealing:
                record.props["sse"] = sealing.doc
            new_refs, shared = ([got.segment.ref] if got.segment else []), False
        try:
            await self._commit(record, expect, new_refs, shared=shared, versioning=ver.mode(b))
        except S3Error as e:
            if e.code != "ConditionalRequestConflict":
                raise
            # the source went away while we copied it: answer as if it had never been there
            raise S3Error("NoSuchKey", "The specified key does not exist.", Key=src_key) from None
        return record, src

    def plain_stream(
        self, rec: ObjectRecord, start: int, length: int, customer: CustomerKey | None
    ) -> AsyncIterable[bytes]:
        """An object's plaintext bytes as a stream, decrypting encrypted objects (copies, part copies)."""
        doc = rec.props.get("sse")
        if not doc:
            return self.read_range(rec, start, length)
        return read_plain(self.core, rec, self.core.sse.data_key(doc, customer), start, length)


def _pread(fd: int, n: int, offset: int) -> bytes:
    import os

    return os.pread(fd, n, offset)
