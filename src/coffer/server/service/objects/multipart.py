"""Multipart uploads: create, upload part (and part copy), list, complete, abort.

Completing writes no data: the object's segments are the parts' segments, moved to the object in
one metadata transaction. The ETag is S3's md5-of-md5s-N; a COMPOSITE checksum is the hash of the
parts' checksums, a FULL_OBJECT CRC is combined from the parts' CRCs and lengths.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import AsyncIterable
from dataclasses import dataclass

from coffer.protocol import checksums as ck
from coffer.protocol.errors import S3Error
from coffer.server.crypto.envelope import CustomerKey
from coffer.server.meta import interface as mi
from coffer.server.meta.model import Expect, MultipartUpload, ObjectRecord, Part, PartInfo, Segment, UploadPage
from coffer.server.service.core import Core, Integrity, Principal, md5_of_md5s
from coffer.server.service.crypto.sse import Sealing
from coffer.server.service.objects import versioning as ver
from coffer.server.service.objects.conditions import ReadConditions
from coffer.server.service.objects.naming import check_key
from coffer.server.service.objects.operations import Objects, PutParams, check_put_params
from coffer.server.service.storage.policies import part_policy, upload_policy
from coffer.server.service.worm import rule as worm
from coffer.server.service.worm.retention import LockRequest, initial_props

COMPLETED_UPLOAD = "upload_id"  # object prop: the multipart upload that made this object (retried completes)
CRC_ALGOS = frozenset({"CRC32", "CRC32C", "CRC64NVME"})


@dataclass(slots=True)
class CompletedPart:
    number: int
    etag: str
    checksums: dict[str, str]


class Multipart:
    def __init__(self, core: Core, objects: Objects) -> None:
        self.core = core
        self.objects = objects

    async def create(
        self, who: Principal, bucket: str, key: str, params: PutParams,
        checksum_algorithm: str | None, checksum_type: str | None,
    ) -> MultipartUpload:
        check_key(key, self.core.limits.max_key_bytes)
        check_put_params(params, self.core.limits.max_user_meta_bytes)
        b = await self.core.bucket_for(who, bucket)
        want = self.core.sse.wanted(params.sse, b.props)
        props = upload_policy(self.core.data, b, params)
        if checksum_type and checksum_type not in ("COMPOSITE", "FULL_OBJECT"):
            raise S3Error("InvalidRequest", "Value for x-amz-checksum-type header is invalid.")
        if checksum_algorithm and not checksum_type:
            checksum_type = "FULL_OBJECT" if checksum_algorithm == "CRC64NVME" else "COMPOSITE"
        if checksum_type == "FULL_OBJECT" and checksum_algorithm not in CRC_ALGOS:
            raise S3Error("InvalidRequest",
                          "The FULL_OBJECT checksum type cannot be used with the "
                          f"{checksum_algorithm} checksum algorithm.")
        upload = MultipartUpload(
            upload_id=secrets.token_urlsafe(24), bucket=bucket, key=key, initiated=time.time(),
            owner=who.user_id, content_type=params.content_type, headers=params.headers,
            user_meta=params.user_meta, storage_class=params.storage_class,
            checksum_algorithm=checksum_algorithm, checksum_type=checksum_type,
            props={**props, "sse": self.core.sse.seal(want).doc} if want else props,
        )
        if params.owner or params.props:  # the completed object's owner and ACL
            upload.props["object"] = {"owner": params.owner, "props": params.props}
        if params.tags:
            upload.props["tags"] = params.tags
        if params.lock is not None and params.lock.any_s3():
            initial_props(b, params.lock, time.time())  # refuse bad lock headers now, not at completion
            upload.props["lock"] = {"mode": params.lock.mode, "until": params.lock.until,
                                    "legal_hold": params.lock.legal_hold}
        await self.core.meta.create_upload(upload)
        return upload

    async def _upload(self, who: Principal, bucket: str, key: str, upload_id: str) -> MultipartUpload:
        b = await self.core.bucket_for(who, bucket)
        upload = await self.core.meta.get_upload(upload_id)
        if upload is None or upload.bucket != bucket or upload.key != key:
            raise S3Error("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, "
                          "or the upload may have been aborted or completed.", UploadId=upload_id)
        # S3: an upload belongs to its initiator; besides them only the bucket owner may list its
        # parts, add parts, complete or abort it (write permission on the bucket is not enough)
        if not who.admin and who.user_id not in (upload.owner, b.owner):
            raise S3Error("AccessDenied", "Access Denied")
        return upload

    def _check_part_number(self, number: int) -> None:
        if not 1 <= number <= self.core.limits.max_parts:
            raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                          ArgumentName="partNumber", ArgumentValue=str(number))

    async def upload_part(
        self, who: Principal, bucket: str, key: str, upload_id: str, number: int,
        body: AsyncIterable[bytes], integrity: Integrity, customer: CustomerKey | None = None,
    ) -> Part:
        self._check_part_number(number)
        upload = await self._upload(who, bucket, key, upload_id)
        if upload.checksum_algorithm:
            integrity.algorithms.add(upload.checksum_algorithm)
        sealing = self._sealing(upload, customer)
        cipher = sealing.cipher(number, per_segment=True) if sealing else None
        got = await self.core.receive(body, integrity, allow_inline=False, max_size=self.core.limits.max_put_size,
                                      cipher=cipher, policy=part_policy(upload))
        return await self._store_part(upload_id, number, got.size, _part_etag(sealing, got.md5),
                                      got.checksums, got.segment, cipher)

    def _sealing(self, upload: MultipartUpload, customer: CustomerKey | None) -> Sealing | None:
        """The sealing of an encrypted upload's parts (SSE-C: the key must come with every part); the
        data key is unwrapped once per part request and serves both the cipher and the ETag."""
        doc = upload.props.get("sse")
        return Sealing(doc, self.core.sse.data_key(doc, customer)) if doc else None

    async def _store_part(self, upload_id, number, size, etag, checksums, segment, cipher=None) -> Part:
        if segment is None:  # an empty part: still a file, so a part always has a segment
            w = await self.core.new_writer({})
            if cipher is not None:  # an empty encrypted part is one sealed empty block
                await self.core.run(w.write, cipher(w.ref).finish())
            segment = Segment(await self.core.commit_segment(w), w.size)
        part = Part(upload_id=upload_id, number=number, size=size, etag=etag, last_modified=time.time(),
                    segment=segment, checksums=checksums)
        try:
            freed = await self.core.meta.put_part(part)
        except mi.NoSuchUpload:
            await self.core.free([segment.ref])
            raise S3Error("NoSuchUpload", "The specified upload does not exist.", UploadId=upload_id) from None
        await self.core.free(freed)
        return part

    async def upload_part_copy(
        self, who: Principal, bucket: str, key: str, upload_id: str, number: int,
        src_bucket: str, src_key: str, byte_range: tuple[int, int] | None, cond: ReadConditions,
        src_version: str | None = None,
        customer: CustomerKey | None = None, src_customer: CustomerKey | None = None,
    ) -> tuple[Part, ObjectRecord]:
        from coffer.server.service.objects.conditions import evaluate

        self._check_part_number(number)
        upload = await self._upload(who, bucket, key, upload_id)
        src = await self.objects.get(who, src_bucket, src_key, version_id=src_version)
        evaluate(cond, src.etag, src.last_modified, copy_source=True)
        self.core.sse.check_access(src.props.get("sse"), src_customer)
        start, length = 0, src.size
        if byte_range is not None:
            first, last = byte_range
            if first > last or last >= src.size:
                raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the form "
                              "bytes=first-last where first and last are the zero-based offsets of the first "
                              "and last bytes to copy", ArgumentName="x-amz-copy-source-range")
            start, length = first, last - first + 1
        integ = Integrity(algorithms={upload.checksum_algorithm} if upload.checksum_algorithm else set())
        sealing = self._sealing(upload, customer)
        cipher = sealing.cipher(number, per_segment=True) if sealing else None
        got = await self.core.receive(self.objects.plain_stream(src, start, length, src_customer), integ,
                                      allow_inline=False, max_size=self.core.limits.max_put_size, cipher=cipher,
                                      policy=part_policy(upload))
        part = await self._store_part(upload_id, number, got.size, _part_etag(sealing, got.md5),
                                      got.checksums, got.segment, cipher)
        return part, src

    async def list_parts(self, who, bucket, key, upload_id, after: int, limit: int):
        upload = await self._upload(who, bucket, key, upload_id)
        parts, truncated = await self.core.meta.list_parts(upload_id, after, limit)
        return upload, parts, truncated

    async def list_uploads(self, who, bucket, prefix, delimiter, key_marker, upload_id_marker, limit) -> UploadPage:
        await self.core.bucket_for(who, bucket)
        return await self.core.meta.list_uploads(bucket, prefix, delimiter, key_marker, upload_id_marker, limit)

    async def abort(self, who: Principal, bucket: str, key: str, upload_id: str) -> None:
        await self._upload(who, bucket, key, upload_id)
        try:
            freed = await self.core.meta.abort_upload(upload_id)
        except mi.NoSuchUpload:
            raise S3Error("NoSuchUpload", "The specified upload does not exist.", UploadId=upload_id) from None
        await self.core.free(freed)

    async def complete(
        self, who: Principal, bucket: str, key: str, upload_id: str, wanted: list[CompletedPart],
        expect: Expect | None, full_object_checksum: dict[str, str] | None = None,
        lock: LockRequest | None = None,
    ) -> ObjectRecord:
        """lock: IBM retention headers sent with the completion (S3's come from the create).

        A retried completion of an upload that already completed with the same parts answers the
        object it made (S3 does: a client retries a completion whose answer it lost)."""
        try:
            upload = await self._upload(who, bucket, key, upload_id)
        except S3Error as e:
            if e.code != "NoSuchUpload" or (done := await self._completed(who, bucket, key, upload_id, wanted)) is None:
                raise
            return done
        b = await self.core.bucket_for(who, bucket)
        await self.objects.require_current(bucket, key, expect)
        if not wanted:
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate "
                          "against our published schema")
        stored: dict[int, Part] = {}
        after = 0
        while True:
            page, truncated = await self.core.meta.list_parts(upload_id, after, 1000)
            stored.update((p.number, p) for p in page)
            if not truncated or not page:
                break
            after = page[-1].number
        chosen: list[Part] = []
        last_number = 0
        for w in wanted:
            if w.number <= last_number:
                raise S3Error("InvalidPartOrder", "The list of parts was not in ascending order. Parts must be "
                              "ordered by part number.", UploadId=upload_id)
            last_number = w.number
            part = stored.get(w.number)
            if part is None or w.etag.strip('"') != part.etag:
                raise S3Error("InvalidPart", "One or more of the specified parts could not be found.  The part "
                              "may not have been uploaded, or the specified entity tag may not match the part's "
                              "entity tag.", UploadId=upload_id, PartNumber=str(w.number), ETag=w.etag)
            for algo, value in w.checksums.items():
                if part.checksums.get(algo) not in (None, value):
                    raise S3Error("InvalidPart", f"The {algo} checksum of part {w.number} does not match.",
                                  UploadId=upload_id, PartNumber=str(w.number))
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < self.core.limits.min_part_size:
                raise S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size",
                              UploadId=upload_id, PartNumber=str(part.number), ETag=part.etag,
                              ProposedSize=str(part.size), MinSizeAllowed=str(self.core.limits.min_part_size))
        checksums, ctype = self._object_checksums(upload, chosen)
        for algo, value in (full_object_checksum or {}).items():
            if ctype == "FULL_OBJECT" and checksums.get(algo) not in (None, value):
                raise S3Error("BadDigest", f"The {algo} you specified did not match the calculated checksum.")
        record = ObjectRecord(
            bucket=bucket, key=key, size=sum(p.size for p in chosen),
            etag=md5_of_md5s([bytes.fromhex(p.etag) for p in chosen]), last_modified=time.time(),
            owner=upload.props.get("object", {}).get("owner") or who.user_id, content_type=upload.content_type,
            headers=upload.headers,
            user_meta=upload.user_meta, checksums=checksums, checksum_type=ctype,
            storage_class=upload.storage_class, segments=[p.segment for p in chosen],
            parts=[PartInfo(p.number, p.size, p.etag, dict(p.checksums)) for p in chosen],
            version_id=ver.new_version_id(b),
        )
        saved = upload.props.get("lock") or {}
        req = LockRequest(mode=saved.get("mode"), until=saved.get("until"), legal_hold=saved.get("legal_hold"))
        if lock is not None:
            req.ibm_period, req.ibm_until, req.ibm_hold = lock.ibm_period, lock.ibm_until, lock.ibm_hold
        base = dict(upload.props.get("object", {}).get("props") or {})  # the object's ACL
        if upload.props.get("tags"):
            base["tags"] = upload.props["tags"]
        record.props = initial_props(b, req, record.last_modified, base or None)
        record.props[COMPLETED_UPLOAD] = upload_id
        if upload.props.get("sse"):
            record.props["sse"] = upload.props["sse"]
        try:
            freed = await self.core.meta.complete_upload(upload_id, record, [p.number for p in chosen], expect,
                                                         versioning=ver.mode(b), guard=worm.guard())
        except mi.NoSuchUpload:
            raise S3Error("NoSuchUpload", "The specified upload does not exist.", UploadId=upload_id) from None
        except mi.PreconditionFailed:
            raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                          Condition=expect.failed() if expect else None) from None
        await self.core.free(freed)
        return record

    async def _completed(
        self, who: Principal, bucket: str, key: str, upload_id: str, wanted: list[CompletedPart],
    ) -> ObjectRecord | None:
        """The current object of `key` if upload `upload_id` made it from exactly the `wanted` parts."""
        try:
            rec = await self.objects.get(who, bucket, key)
        except S3Error:
            return None
        if rec.props.get(COMPLETED_UPLOAD) != upload_id or \
                [(p.number, p.etag) for p in rec.parts] != [(w.number, w.etag.strip('"')) for w in wanted]:
            return None
        return rec

    @staticmethod
    def _object_checksums(upload: MultipartUpload, parts: list[Part]) -> tuple[dict[str, str], str | None]:
        algo = upload.checksum_algorithm
        if not algo or any(algo not in p.checksums for p in parts):
            return {}, None
        digests = [base64.b64decode(p.checksums[algo]) for p in parts]
        if upload.checksum_type == "FULL_OBJECT":
            return {algo: ck.combine_full(algo, [(d, p.size) for d, p in zip(digests, parts, strict=True)])}, \
                "FULL_OBJECT"
        return {algo: ck.composite(algo, digests)}, "COMPOSITE"


def _part_etag(sealing: Sealing | None, md5: bytes) -> str:
    """A part's ETag: keyed like a single PUT's for SSE-C and SSE-KMS (never the plaintext's MD5),
    so the multipart ETag, the MD5 of the parts' ETags, reveals nothing of the plaintext either."""
    return sealing.etag(md5) if sealing else md5.hex()
