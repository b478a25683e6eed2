"""DS3 (Spectra S3) endpoint handlers: bulk jobs, job chunks, blobs, job lists, folders.

Routing is by (method, first path segment under `/_rest_/`); each handler turns the request into a
`service.bulk.jobs` call and the answer into the DS3 XML of `documents`. Blob transfers are
`PUT|GET /{bucket}/{key}?job=ID&offset=N`; a blob GET is counted as served when its answer starts
(the client may re-read a blob whose transfer broke; the job does not stop it).
"""

from __future__ import annotations

from xml.sax.saxutils import escape as _esc

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.protocol.timeutil import iso8601
from coffer.server.http.common.body import body_stream, integrity_for
from coffer.server.http.common.hooks import around_write
from coffer.server.http.common.respond import send_spans
from coffer.server.http.common.sse import object_sse_headers, send_encrypted
from coffer.server.http.common.write_headers import put_params
from coffer.server.http.ds3 import documents as ds3_xml
from coffer.server.http.ds3 import management
from coffer.server.http.ds3.request import Ds3Request
from coffer.server.meta.bulk import CANCELED, COMPLETED, IN_PROGRESS
from coffer.server.service.bulk.jobs import Wanted

XML = "application/xml"
# DS3's own checksum headers (base64 of the big-endian digest, like S3's x-amz-checksum-*)
_DS3_CHECKSUMS = {"Content-CRC32": "CRC32", "Content-CRC32C": "CRC32C", "Content-SHA256": "SHA256"}


def _xml(body: bytes, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(body=body, status=status, content_type=XML, headers=headers)


def _bad(message: str) -> S3Error:
    return S3Error("InvalidArgument", message, status=400)


async def dispatch(r: Ds3Request) -> web.StreamResponse:
    m = r.request.method
    if not r.path.startswith("_rest_"):
        bucket, _, key = r.path.partition("/")
        if not bucket:
            return await list_service(r)
        if not key:
            return await list_bucket(r, bucket)
        if m == "PUT":
            return await put_blob(r, bucket, key)
        return await get_blob(r, bucket, key)
    rest = r.path[len("_rest_"):].strip("/")
    kind, _, ident = rest.partition("/")
    handler = ROUTES.get((m, kind, bool(ident)))
    if handler is None:
        raise S3Error("NotImplemented", f"{m} /_rest_/{kind} is not implemented by Coffer.", status=501)
    return await handler(r, ident)


# -- bulk job creation -----------------------------------------------------------------------------
async def bucket_op(r: Ds3Request, bucket: str) -> web.StreamResponse:
    op = r.query.get("operation")
    body = await _read_body(r, r.cfg.limits.max_xml_body * 64)
    jobs = r.svc.jobs
    if op == "start_bulk_put":
        objs = ds3_xml.parse_objects(body, len(body) + 1)
        items = []
        for o in objs:
            try:
                items.append((o["Name"], int(o.get("Size", ""))))
            except ValueError:
                raise _bad(f"Object '{o['Name']}' needs an integer Size.") from None
        job, chunks = await jobs.create_put(r.who, bucket, items, r.query.get("name"), r.query.get("priority"),
                                            r.int_arg("max_upload_size", None, lo=1))
    elif op in ("start_bulk_get", "start_bulk_verify"):
        objs = ds3_xml.parse_objects(body, len(body) + 1)
        wanted = []
        for o in objs:
            try:
                off = int(o["Offset"]) if o.get("Offset") not in (None, "") else None
                length = int(o["Length"]) if o.get("Length") not in (None, "") else None
            except ValueError:
                raise _bad(f"Object '{o['Name']}' has a bad Offset or Length.") from None
            wanted.append(Wanted(o["Name"], off, length))
        job, chunks = await jobs.create_get(r.who, bucket, wanted, r.query.get("name"), r.query.get("priority"),
                                            verify=op == "start_bulk_verify")
    elif op == "get_physical_placement":
        return await management.physical_placement(r, bucket, [o["Name"] for o in ds3_xml.parse_objects(
            body, len(body) + 1)])
    else:
        raise S3Error("NotImplemented", f"operation={op} is not implemented by Coffer.", status=501)
    host, port = r.host_port()
    return _xml(ds3_xml.master_object_list(job, chunks, host, port))


async def _read_body(r: Ds3Request, limit: int) -> bytes:
    """The request document, refused past `limit` bytes without reading the rest into memory."""
    if r.request.content_length is not None and r.request.content_length > limit:
        raise S3Error("MaxMessageLengthExceeded", f"The request document exceeds {limit} bytes.", status=400)
    pieces, size = [], 0
    async for piece in r.request.content.iter_chunked(1 << 16):
        size += len(piece)
        if size > limit:
            raise S3Error("MaxMessageLengthExceeded", f"The request document exceeds {limit} bytes.", status=400)
        pieces.append(piece)
    return b"".join(pieces)


async def get_bucket_info(r: Ds3Request, bucket: str) -> web.StreamResponse:
    b = await r.svc.core.bucket_for(r.who, bucket)
    doc = (f"{ds3_xml.DECL}<Data><CreationDate>{iso8601(b.created)}</CreationDate><DataPolicyId>coffer-default"
           f"</DataPolicyId><Empty/><Id>{_esc(b.name)}</Id><LastPreferredChunkSizeInBytes/><LogicalUsedCapacity/>"
           f"<Name>{_esc(b.name)}</Name><UserId>{_esc(b.owner)}</UserId></Data>")
    return _xml(doc.encode())


# -- chunks ----------------------------------------------------------------------------------------
async def chunks_ready(r: Ds3Request, _ident: str) -> web.StreamResponse:
    job_id = r.query.get("job")
    if not job_id:
        raise _bad("The job parameter is required.")
    job, chunks, retry = await r.svc.jobs.ready(r.who, job_id, r.int_arg("preferred_number_of_chunks", None, lo=1))
    host, port = r.host_port()
    headers = {"Retry-After": str(retry)} if retry is not None else None
    return _xml(ds3_xml.master_object_list(job, chunks, host, port), headers=headers)


async def get_chunk(r: Ds3Request, chunk_id: str) -> web.StreamResponse:
    job, chunk = await r.svc.jobs.chunk(r.who, chunk_id)
    return _xml(ds3_xml.chunk_doc(job, chunk))


async def allocate_chunk(r: Ds3Request, chunk_id: str) -> web.StreamResponse:
    if r.query.get("operation") != "allocate":
        raise S3Error("NotImplemented", "Only operation=allocate is implemented on a job chunk.", status=501)
    job, chunk = await r.svc.jobs.allocate(r.who, chunk_id)
    return _xml(ds3_xml.chunk_doc(job, chunk))


# -- jobs ------------------------------------------------------------------------------------------
async def get_job(r: Ds3Request, job_id: str) -> web.StreamResponse:
    job, chunks = await r.svc.jobs.detail(r.who, job_id)
    host, port = r.host_port()
    return _xml(ds3_xml.master_object_list(job, chunks, host, port))


async def modify_job(r: Ds3Request, job_id: str) -> web.StreamResponse:
    await r.svc.jobs.modify(r.who, job_id, r.query.get("name"), r.query.get("priority"))
    return await get_job(r, job_id)


async def cancel_job(r: Ds3Request, job_id: str) -> web.StreamResponse:
    await r.svc.jobs.cancel(r.who, job_id)
    return web.Response(status=204)


async def _page(r: Ds3Request, status: str | None) -> tuple[list, dict[str, str]]:
    limit = r.int_arg("page_length", 1000, lo=1) or 1000
    offset = r.int_arg("page_offset", 0) or 0
    jobs, total = await r.svc.jobs.list(r.who, status, offset, min(limit, 10000))
    bucket = r.query.get("bucket_id")
    if bucket:
        jobs = [j for j in jobs if j.bucket == bucket]
    truncated = offset + len(jobs) < total
    return jobs, {"Page-Truncated": str(max(0, total - offset - len(jobs))) if truncated else "0",
                  "Total-Result-Count": str(total)}


async def list_jobs(r: Ds3Request, _ident: str) -> web.StreamResponse:
    jobs, _headers = await _page(r, None)
    return _xml(ds3_xml.job_list([j for j in jobs if j.status == IN_PROGRESS or "full_details" in r.query]))


def _lister(status: str, element: str):
    async def handler(r: Ds3Request, _ident: str) -> web.StreamResponse:
        jobs, headers = await _page(r, status)
        return _xml(ds3_xml.data_list(element, jobs), headers=headers)
    return handler


def _one(status: str):
    async def handler(r: Ds3Request, job_id: str) -> web.StreamResponse:
        job = await r.svc.jobs.job(r.who, job_id)
        if job.status != status:
            raise S3Error("NotFound", f"No {status.lower()} job '{job_id}'.", status=404)
        return _xml(ds3_xml.data_one(job))
    return handler


# -- folders ---------------------------------------------------------------------------------------
async def delete_folder(r: Ds3Request, folder: str) -> web.StreamResponse:
    bucket = r.query.get("bucket_id")
    if not bucket:
        raise _bad("The bucket_id parameter is required.")
    await r.svc.jobs.delete_folder(r.who, bucket, folder, r.request.get("rid", ""))
    return web.Response(status=204)


# -- blobs -----------------------------------------------------------------------------------------
def _job_offset(r: Ds3Request) -> tuple[str, int]:
    job_id = r.query.get("job") or ""
    offset = r.int_arg("offset", 0)
    return job_id, offset or 0


async def put_blob(r: Ds3Request, bucket: str, key: str) -> web.StreamResponse:
    job_id, offset = _job_offset(r)
    integ = integrity_for(r.request, r.plan, require_length=True)
    for header, algo in _DS3_CHECKSUMS.items():
        value = r.request.headers.get(header)
        if value:
            integ.expected[algo] = value
    params = put_params(r)

    async def call() -> web.StreamResponse:
        etag = await r.svc.jobs.put_blob(r.who, bucket, key, job_id, offset, body_stream(r.request, r.plan, integ),
                                         integ, params)
        return web.Response(status=200, headers={"ETag": f'"{etag}"'} if etag else None)

    # Bucket notifications (and frozen-bucket refusal) as for S3 writes: the blob that makes the
    # object visible is its ObjectCreated event (Put for a one-blob object, CompleteMultipartUpload
    # for the last blob of a larger one); other blobs write nothing visible and raise no event.
    blob = await r.svc.jobs.store.blob(job_id, key, offset)
    event = None
    if blob is not None and blob.upload_id is None:
        event = "s3:ObjectCreated:Put"
    elif blob is not None:
        missing = [b for b in await r.svc.jobs.store.object_blobs(job_id, key) if not b.done and b.offset != offset]
        event = None if missing else "s3:ObjectCreated:CompleteMultipartUpload"
    return await around_write(r.svc, bucket, key, event, r.who.user_id, r.request.get("rid", ""), r.request, call)


async def get_blob(r: Ds3Request, bucket: str, key: str) -> web.StreamResponse:
    job_id, offset = _job_offset(r)
    rec, blob = await r.svc.jobs.get_blob(r.who, bucket, key, job_id, offset)
    headers = {"ETag": f'"{rec.etag}"', "Content-Type": rec.content_type or "binary/octet-stream"}
    # Marked before the bytes go out: a client that has the whole blob must see it counted (it may
    # ask for the job's state right away); a client whose transfer broke simply GETs the blob again.
    if rec.props.get("sse"):
        r.svc.core.sse.check_access(rec.props["sse"], None)  # SSE-C objects cannot be read by a job
        headers.update(object_sse_headers(rec))
        await r.svc.jobs.blob_served(job_id, key, offset)
        return await send_encrypted(r, rec, None, 200, headers, blob.offset, blob.length)  # type: ignore[arg-type]
    await r.svc.jobs.blob_served(job_id, key, offset)
    if rec.inline is not None:
        return web.Response(body=rec.inline[blob.offset: blob.offset + blob.length], headers=headers)
    resp = web.StreamResponse(status=200, headers=headers)
    resp.content_length = blob.length
    await send_spans(r.request, resp, r.svc.objects.spans(rec, blob.offset, blob.length))
    return resp


async def list_service(r: Ds3Request) -> web.StreamResponse:
    buckets = await r.svc.core.meta.list_buckets(r.who.user_id)
    return _xml(ds3_xml.list_buckets(r.who.user_id, r.who.display_name, buckets))


async def list_bucket(r: Ds3Request, bucket: str) -> web.StreamResponse:
    prefix = r.query.get("prefix", "")
    marker = r.query.get("marker", "")
    delimiter = r.query.get("delimiter") or None
    max_keys = min(r.int_arg("max_keys", 1000) or 1000, r.cfg.limits.max_list_keys)
    page = await r.svc.objects.list(r.who, bucket, prefix, delimiter, marker or None, max_keys)
    versions = r.query.get("versions", "").lower() == "true"
    return _xml(ds3_xml.list_bucket(bucket, prefix, marker, max_keys, page.entries, page.truncated, page.next_marker,
                                    delimiter, versions))


# The DS3 routing table under /_rest_/: (method, resource, with an id) -> handler(r, id). Blob transfers and
# listings outside /_rest_/ are routed by `dispatch` from the path alone.
ROUTES = {
    ("PUT", "bucket", True): bucket_op,
    ("GET", "bucket", True): get_bucket_info,
    ("GET", "data_policy", True): management.get_data_policy,
    ("GET", "data_policy", False): management.list_data_policies,
    ("POST", "data_policy", False): management.put_data_policy,
    ("PUT", "data_policy", True): management.modify_data_policy,
    ("DELETE", "data_policy", True): management.delete_data_policy,
    ("PUT", "bucket", False): management.put_bucket,
    ("DELETE", "bucket", True): management.delete_bucket,
    ("GET", "object", True): management.object_details,
    ("GET", "system_information", False): management.system_information,
    ("GET", "system_health", False): management.system_health,
    ("GET", "capacity_summary", False): management.capacity_summary,
    ("GET", "job_chunk", False): chunks_ready,
    ("GET", "job_chunk", True): get_chunk,
    ("PUT", "job_chunk", True): allocate_chunk,
    ("GET", "job", True): get_job,
    ("PUT", "job", True): modify_job,
    ("DELETE", "job", True): cancel_job,
    ("GET", "job", False): list_jobs,
    ("GET", "active_job", False): _lister(IN_PROGRESS, "Job"),
    ("GET", "completed_job", False): _lister(COMPLETED, "CompletedJob"),
    ("GET", "canceled_job", False): _lister(CANCELED, "CanceledJob"),
    ("GET", "active_job", True): _one(IN_PROGRESS),
    ("GET", "completed_job", True): _one(COMPLETED),
    ("GET", "canceled_job", True): _one(CANCELED),
    ("PUT", "active_job", True): modify_job,
    ("DELETE", "active_job", True): cancel_job,
    ("DELETE", "folder", True): delete_folder,
}
