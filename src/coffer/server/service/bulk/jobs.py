"""Bulk jobs (Spectra DS3 bulk PUT/GET/VERIFY): planning, chunk readiness, blobs, completion.

A job names objects up front; the server plans them into blobs (byte ranges of at most
`bulk_blob_size`) grouped into numbered chunks. The client asks which chunks are ready, moves their
blobs with `?job=&offset=`, and may resume from anywhere: the plan and every blob's done flag live in
the metadata database, so a restart or another client holding the job id continues where it was.

PUT: a single-blob object is written like an ordinary PutObject (small ones inline). A multi-blob
object gets a multipart upload at planning time; each blob is stored as part `index + 1`, and when
the last blob is in, the parts become the object in one metadata transaction (no data is copied).
Until then nothing is visible under the key. Readiness is rationed by a server-wide cache budget:
a chunk is handed out only while the bytes outstanding in allocated chunks of open PUT jobs fit in
`bulk_cache_bytes` (the first one always, so a job alone always progresses); otherwise the client
gets an empty list and a Retry-After. GET/VERIFY: the data is already on disk, so every chunk is ready.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass

from coffer.protocol.errors import S3Error
from coffer.server.meta import interface as mi
from coffer.server.meta.bulk import CANCELED, COMPLETED, IN_PROGRESS, Blob, Chunk, Job, JobStore
from coffer.server.meta.model import MultipartUpload, ObjectRecord, PartInfo
from coffer.server.service.core import Core, Integrity, Principal, md5_of_md5s
from coffer.server.service.events.announce import Announce
from coffer.server.service.events.notifications import Notifier, ObjectEvent
from coffer.server.service.objects import versioning as ver
from coffer.server.service.objects.frozen import check_writable
from coffer.server.service.objects.multipart import Multipart
from coffer.server.service.objects.naming import check_key
from coffer.server.service.objects.operations import Objects, PutParams
from coffer.server.service.worm import rule as worm
from coffer.server.service.worm.retention import LockRequest, initial_props

log = logging.getLogger("coffer.jobs")
PRIORITIES = frozenset({"CRITICAL", "URGENT", "HIGH", "NORMAL", "LOW", "BACKGROUND"})


def _refused(job_id: str, key: str, e: S3Error) -> S3Error:
    """A blob whose object cannot be stored: the reason, naming the object and the job."""
    return S3Error(e.code, f"Object '{key}' of job '{job_id}' cannot be written: {e.message}", status=e.status,
                   **e.extra)


def _priority(priority: str) -> str:
    """A DS3 priority name (any case), upper-cased; InvalidArgument for an unknown one."""
    if priority.upper() not in PRIORITIES:
        raise S3Error("InvalidArgument", f"Unknown priority '{priority}'.", status=400)
    return priority.upper()


def not_found(what: str, ident: str) -> S3Error:
    return S3Error("NotFound", f"{what} '{ident}' does not exist.", status=404)


@dataclass(slots=True)
class Wanted:
    """One object a GET/VERIFY job asks for: the whole object, or a range of it."""

    name: str
    offset: int | None = None
    length: int | None = None


class Jobs:
    def __init__(self, core: Core, objects: Objects, multipart: Multipart, notifier: Notifier | None) -> None:
        self.core = core
        self.objects = objects
        self.multipart = multipart
        self.notifier = notifier  # bucket notifications of the jobs' deletes
        self._store: JobStore | None = None

    @property
    def store(self) -> JobStore:
        if self._store is None:
            self._store = self.core.meta.jobs()
        return self._store

    # -- planning ------------------------------------------------------------------------------------
    def _blob_size(self, max_upload: int | None, size: int) -> int:
        lim = self.core.limits
        bs = max(1, min(max_upload or lim.bulk_blob_size, lim.max_put_size))
        # at most max_parts blobs per object: a very large object gets larger blobs
        return max(bs, -(-size // lim.max_parts))

    def _chunk(self, job_id: str, ranges: list[tuple[str, int, int, int, int, str | None, str | None]]) -> list[Chunk]:
        """Group (name, offset, length, index, count, upload_id, etag) blobs into chunks, in order."""
        lim = self.core.limits
        chunks: list[Chunk] = []
        cur: Chunk | None = None
        size = 0
        for name, off, length, idx, count, upload_id, etag in ranges:
            full = cur is not None and (len(cur.blobs) >= lim.bulk_chunk_blobs
                                        or (bool(cur.blobs) and size + length > lim.bulk_chunk_bytes))
            if cur is None or full:
                cur = Chunk(job_id, len(chunks) + 1, str(uuid.uuid4()))
                chunks.append(cur)
                size = 0
            cur.blobs.append(Blob(job_id, cur.number, name, off, length, str(uuid.uuid4()), False, upload_id, idx,
                                  count, etag))
            size += length
        return chunks

    def _new_job(self, who: Principal, bucket: str, kind: str, name: str | None, priority: str | None) -> Job:
        prio = _priority(priority or "NORMAL")
        now = time.time()
        jid = str(uuid.uuid4())
        return Job(jid, bucket, who.user_id, kind, IN_PROGRESS, name or f"{kind} by {who.display_name}", prio, now, now)

    async def create_put(self, who: Principal, bucket: str, objects: list[tuple[str, int]], name: str | None = None,
                         priority: str | None = None, max_upload_size: int | None = None) -> tuple[Job, list[Chunk]]:
        b = await self.core.bucket_for(who, bucket)
        self._check_count(len(objects))
        want = self.core.sse.wanted(None, b.props)  # the bucket's default encryption, as for a multipart upload
        seen: set[str] = set()
        job = self._new_job(who, bucket, "PUT", name, priority)
        ranges = []
        uploads: list[MultipartUpload] = []
        for key, size in objects:
            check_key(key, self.core.limits.max_key_bytes)
            if key in seen:
                raise S3Error("InvalidArgument", f"Object '{key}' is named twice in the job.", status=400)
            if size < 0 or size > self.core.limits.max_object_size:
                raise S3Error("InvalidArgument", f"Object '{key}' has an invalid size {size}.", status=400)
            seen.add(key)
            bs = self._blob_size(max_upload_size, size)
            count = max(1, -(-size // bs))
            upload_id = None
            if count > 1:
                upload_id = f"ds3-{uuid.uuid4().hex}"
                props: dict = {"ds3_job": job.id}
                if want:
                    props["sse"] = self.core.sse.seal(want).doc
                uploads.append(MultipartUpload(upload_id=upload_id, bucket=bucket, key=key, initiated=job.created,
                                               owner=who.user_id, props=props))
            for i in range(count):
                off = i * bs
                ranges.append((key, off, min(bs, size - off) if count > 1 else size, i, count, upload_id, None))
            job.total_bytes += size
        chunks = self._chunk(job.id, ranges)
        try:
            await self.store.create(job, chunks, uploads)
        except mi.NoSuchBucket:
            raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=bucket) from None
        return job, chunks

    async def create_get(self, who: Principal, bucket: str, wanted: list[Wanted], name: str | None = None,
                         priority: str | None = None, verify: bool = False) -> tuple[Job, list[Chunk]]:
        await self.core.bucket_for(who, bucket)
        self._check_count(len(wanted))
        job = self._new_job(who, bucket, "VERIFY" if verify else "GET", name, priority)
        ranges = []
        for w in wanted:
            rec = await self.core.meta.get_object(bucket, w.name)
            if rec is None:
                raise S3Error("NoSuchKey", f"Object '{w.name}' does not exist in bucket '{bucket}'.", Key=w.name)
            start = w.offset or 0
            length = rec.size - start if w.length is None else w.length
            if start < 0 or length < 0 or start + length > rec.size:
                raise S3Error("InvalidArgument", f"The range of '{w.name}' is outside the object.", status=400)
            bs = self._blob_size(None, length)
            count = max(1, -(-length // bs))
            for i in range(count):
                off = start + i * bs
                ranges.append((w.name, off, min(bs, start + length - off), i, count, None, rec.etag))
            job.total_bytes += length
        chunks = self._chunk(job.id, ranges)
        if verify:  # the data is on disk and checksummed on every read: verified on the spot
            job.status, job.finished, job.done_bytes = COMPLETED, job.created, job.total_bytes
            for ch in chunks:
                for b in ch.blobs:
                    b.done = True
        await self.store.create(job, chunks, [])
        return job, chunks

    def _check_count(self, n: int) -> None:
        if n == 0:
            raise S3Error("InvalidArgument", "A bulk job needs at least one object.", status=400)
        if n > self.core.limits.bulk_max_objects:
            raise S3Error("InvalidArgument", f"A bulk job holds at most {self.core.limits.bulk_max_objects} objects.",
                          status=400)

    # -- jobs ----------------------------------------------------------------------------------------
    async def job(self, who: Principal, job_id: str) -> Job:
        job = await self.store.get(job_id)
        if job is None or (job.owner != who.user_id and not who.admin):
            raise not_found("Job", job_id)
        return job

    async def detail(self, who: Principal, job_id: str) -> tuple[Job, list[Chunk]]:
        job = await self.job(who, job_id)
        if job.type == "PUT":
            await self._finish_objects(job)
            job = await self.job(who, job_id)
        return job, await self.store.chunks(job_id)

    async def ready(self, who: Principal, job_id: str, preferred: int | None) -> tuple[Job, list[Chunk], int | None]:
        """The chunks the client may process now, or ([], seconds to wait)."""
        await self.expire_idle()
        job = await self.job(who, job_id)
        if job.status == CANCELED:
            raise S3Error("Gone", f"Job '{job_id}' was canceled.", status=410)
        open_chunks = await self.store.chunks(job_id, only_open=True)
        limit = preferred if preferred and preferred > 0 else len(open_chunks)
        if job.type != "PUT":
            await self.store.update(job_id, touched=time.time())
            return job, open_chunks[:limit], None
        numbers = set(await self.store.allocate_ready(job_id, limit, self.core.limits.bulk_cache_bytes, time.time()))
        chosen = [c for c in open_chunks if c.number in numbers]
        if not chosen and open_chunks:
            return job, [], self.core.limits.bulk_retry_after_seconds
        return job, chosen, None

    async def allocate(self, who: Principal, chunk_id: str) -> tuple[Job, Chunk]:
        job, chunk = await self.chunk(who, chunk_id)
        if not chunk.allocated and job.type == "PUT":
            pending = await self.store.pending_bytes()
            need = sum(b.length for b in chunk.blobs if not b.done)
            if pending and pending + need > self.core.limits.bulk_cache_bytes:
                raise S3Error("ServiceUnavailable", "The cache is full; retry later.", status=503)
        await self.store.allocate(job.id, [chunk.number], time.time())
        chunk.allocated = True
        return job, chunk

    async def chunk(self, who: Principal, chunk_id: str) -> tuple[Job, Chunk]:
        chunk = await self.store.chunk(chunk_id)
        if chunk is None:
            raise not_found("Job chunk", chunk_id)
        return await self.job(who, chunk.job_id), chunk

    async def modify(self, who: Principal, job_id: str, name: str | None, priority: str | None) -> Job:
        await self.job(who, job_id)
        await self.store.update(job_id, name=name, priority=None if priority is None else _priority(priority))
        return await self.job(who, job_id)

    async def cancel(self, who: Principal, job_id: str, timeout: bool = False) -> None:
        job = await self.job(who, job_id)
        if job.status != IN_PROGRESS:
            if job.status == CANCELED:
                return
            raise S3Error("Conflict", f"Job '{job_id}' is already complete.", status=409)
        props = dict(job.props, canceled_due_to_timeout=timeout)
        if await self.store.update(job_id, status=CANCELED, touched=time.time(), props=props,
                                   only_if_status=IN_PROGRESS):
            for upload_id in await self.store.open_uploads(job_id):
                try:
                    await self.core.free(await self.core.meta.abort_upload(upload_id))
                except mi.NoSuchUpload:
                    pass

    async def list(self, who: Principal, status: str | None, offset: int, limit: int) -> tuple[list[Job], int]:
        await self.expire_idle()
        return await self.store.list(None if who.admin else who.user_id, status, offset, limit)

    async def expire_idle(self) -> None:
        before = time.time() - self.core.limits.bulk_job_idle_seconds
        for job in await self.store.idle(before):
            await self.cancel(Principal(job.owner, job.owner, admin=True), job.id, timeout=True)

    # -- blobs ---------------------------------------------------------------------------------------
    async def _open_blob(self, who: Principal, bucket: str, key: str, job_id: str, offset: int, kind: str) -> Blob:
        job = await self.job(who, job_id)
        if job.bucket != bucket:
            raise S3Error("InvalidArgument", f"Job '{job_id}' is for bucket '{job.bucket}'.", status=400)
        if job.status == CANCELED:
            raise S3Error("Gone", f"Job '{job_id}' was canceled.", status=410)
        if job.type != kind and not (kind == "GET" and job.type == "VERIFY"):
            raise S3Error("InvalidArgument", f"Job '{job_id}' is a {job.type} job.", status=400)
        blob = await self.store.blob(job_id, key, offset)
        if blob is None:
            raise not_found("Blob", f"{key}@{offset}")
        return blob

    async def put_blob(self, who: Principal, bucket: str, key: str, job_id: str, offset: int,
                       body: AsyncIterable[bytes], integrity: Integrity, params: PutParams) -> str:
        """Store one blob of a PUT job; returns its etag. The object appears with its last blob."""
        blob = await self._open_blob(who, bucket, key, job_id, offset, "PUT")
        if integrity.content_length is not None and integrity.content_length != blob.length:
            raise S3Error("InvalidArgument", f"Blob {key}@{offset} is {blob.length} bytes, not "
                          f"{integrity.content_length}.", status=400)
        integrity.content_length = blob.length
        if blob.upload_id is None:
            try:
                rec = await self.objects.put(who, bucket, key, body, params, integrity)
            except worm.Locked as e:
                raise _refused(job_id, key, e) from None
            await self.store.mark_blob(job_id, key, offset, time.time())
            return rec.etag
        if await self.core.meta.get_upload(blob.upload_id) is None:
            # the object was completed already (a client resending after a crash): nothing to store
            async for _ in body:
                pass
            return ""
        part = await self.multipart.upload_part(who, bucket, key, blob.upload_id, blob.index + 1, body, integrity)
        obj_left, _job_left, _ = await self.store.mark_blob(job_id, key, offset, time.time())
        if obj_left == 0:
            try:
                await self._complete(bucket, key, blob.upload_id, blob.count, who.user_id)
            except S3Error as e:
                # refused (a WORM-locked key): the object is not stored, so this blob is missing again
                # and the job, which waited for this completion, stays IN_PROGRESS
                await self.store.unmark_blob(job_id, key, offset, time.time())
                raise _refused(job_id, key, e) from None
            await self.store.settle(job_id, time.time())
        return part.etag

    async def _complete(self, bucket: str, key: str, upload_id: str, count: int, owner: str) -> None:
        """Make the stored blobs the object, under the rules of CompleteMultipartUpload (version id,
        retention defaults, encryption, WORM guard), without its minimum part size."""
        upload = await self.core.meta.get_upload(upload_id)
        b = await self.core.meta.get_bucket(bucket)
        if upload is None or b is None:
            return  # completed by a concurrent request (or the bucket is gone)
        parts, _ = await self.core.meta.list_parts(upload_id, 0, count + 1)
        if [p.number for p in parts] != list(range(1, count + 1)):
            return  # not all parts stored (the blob was marked by a request that died before): resend fixes it
        now = time.time()
        record = ObjectRecord(bucket=bucket, key=key, size=sum(p.size for p in parts),
                              etag=md5_of_md5s([bytes.fromhex(p.etag) for p in parts]), last_modified=now,
                              owner=owner, segments=[p.segment for p in parts], version_id=ver.new_version_id(b),
                              parts=[PartInfo(p.number, p.size, p.etag, dict(p.checksums)) for p in parts])
        record.props = initial_props(b, LockRequest(), now, None)
        if upload.props.get("sse"):
            record.props["sse"] = upload.props["sse"]
        try:
            freed = await self.core.meta.complete_upload(upload_id, record, [p.number for p in parts],
                                                         versioning=ver.mode(b), guard=worm.guard())
        except (mi.NoSuchUpload, mi.ConditionalConflict):
            return  # completed by a concurrent request
        await self.core.free(freed)

    async def _finish_objects(self, job: Job) -> None:
        """Complete multi-blob objects whose blobs are all in but whose completion was cut short."""
        if job.status == CANCELED:
            return
        objects: dict[str, list[Blob]] = {}
        for ch in await self.store.chunks(job.id):
            for b in ch.blobs:
                if b.upload_id:
                    objects.setdefault(b.name, []).append(b)
        for name, blobs in objects.items():
            if all(x.done for x in blobs) and await self.core.meta.get_upload(blobs[0].upload_id or "") is not None:
                try:
                    await self._complete(job.bucket, name, blobs[0].upload_id or "", blobs[0].count, job.owner)
                except S3Error as e:  # e.g. the key is under retention: reported on the blob PUT, not here
                    log.warning("job %s: cannot complete %s: %s", job.id, name, e)
                    continue
                await self.store.settle(job.id, time.time())

    async def get_blob(self, who: Principal, bucket: str, key: str, job_id: str,
                       offset: int) -> tuple[ObjectRecord, Blob]:
        blob = await self._open_blob(who, bucket, key, job_id, offset, "GET")
        rec = await self.objects.get(who, bucket, key)
        if blob.etag is not None and rec.etag != blob.etag:
            raise S3Error("Conflict", f"Object '{key}' changed since the job was created.", status=409)
        return rec, blob

    async def blob_served(self, job_id: str, key: str, offset: int) -> None:
        await self.store.mark_blob(job_id, key, offset, time.time())

    # -- folders -------------------------------------------------------------------------------------
    async def delete_folder(self, who: Principal, bucket: str, folder: str, request_id: str = "") -> int:
        """Delete every object under `folder/`: refused in a frozen bucket; each removal raises
        ObjectRemoved:Delete (DeleteMarkerCreated in a versioned bucket), announced per batch."""
        prefix = folder.rstrip("/") + "/"
        n = 0
        while True:
            page = await self.objects.list(who, bucket, prefix, None, None, self.core.limits.max_delete_keys)
            keys = [e.key for e in page.entries if hasattr(e, "key")]
            if not keys:
                return n
            b = await self.core.bucket_for(who, bucket)
            check_writable(b)
            async with Announce(self.notifier, b, "s3:ObjectRemoved:Delete", who.user_id, request_id,
                                keys=keys) as note:
                if ver.mode(b) is None:
                    removed = await self.objects.delete_many(who, bucket, keys)
                    note.events += [ObjectEvent("s3:ObjectRemoved:Delete", k)
                                    for k, rec in zip(keys, removed, strict=True) if rec is not None]
                else:  # a versioned bucket keeps the data: delete markers, one by one
                    for key in keys:
                        out = await self.objects.delete(who, bucket, key)
                        note.events.append(ObjectEvent("s3:ObjectRemoved:DeleteMarkerCreated", key,
                                                       version_id=out.version_id))
            n += len(keys)
