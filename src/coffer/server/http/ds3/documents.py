"""DS3 (Spectra S3) XML documents: what the bulk-job endpoints answer and how their bodies parse.

Owns the wire shapes the DS3 SDKs read: `MasterObjectList` (job attributes, `Nodes`, one `Objects`
element per chunk with `Object` blobs as attributes), a lone chunk (`Objects`), the job lists
(`Jobs` with attribute-style `Job`s; `Data` with element-style `Job` / `CompletedJob` /
`CanceledJob`), DS3 errors (with the `HttpErrorCode` the SDK converts to int), the DS3 flavour of a
bucket listing (`IsLatest` on each entry), and the parsers of `<Objects><Object Name Size .../>`.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from coffer.protocol import xmlutil
from coffer.protocol.errors import S3Error
from coffer.protocol.timeutil import iso8601
from coffer.server.meta.bulk import Chunk, Job
from coffer.server.meta.model import ObjectEntry

DECL = '<?xml version="1.0" encoding="UTF-8"?>'
NODE_ID = "coffer-node-1"


def _attrs(pairs: list[tuple[str, object]]) -> str:
    out = []
    for k, v in pairs:
        if v is None:
            continue
        text = ("true" if v else "false") if isinstance(v, bool) else str(v)
        out.append(f" {k}={quoteattr(text)}")
    return "".join(out)


def job_attrs(job: Job) -> list[tuple[str, object]]:
    return [
        ("Aggregating", False), ("BucketName", job.bucket), ("CachedSizeInBytes", job.done_bytes),
        ("ChunkClientProcessingOrderGuarantee", "IN_ORDER" if job.type == "PUT" else "NONE"),
        ("CompletedSizeInBytes", job.done_bytes), ("EntirelyInCache", job.type != "PUT"), ("JobId", job.id),
        ("Naked", False), ("Name", job.name), ("OriginalSizeInBytes", job.total_bytes), ("Priority", job.priority),
        ("RequestType", job.type), ("StartDate", iso8601(job.created)), ("Status", job.status),
        ("UserId", job.owner), ("UserName", job.owner),
    ]


def _objects(chunk: Chunk, job: Job) -> str:
    parts = [f"<Objects{_attrs([('ChunkId', chunk.id), ('ChunkNumber', chunk.number), ('NodeId', NODE_ID)])}>"]
    for b in chunk.blobs:
        in_cache = b.done if job.type == "PUT" else True
        attrs = _attrs([("Bucket", job.bucket), ("Id", b.id), ("InCache", in_cache), ("Latest", True),
                        ("Length", b.length), ("Name", b.name), ("Offset", b.offset), ("Version", 1)])
        parts.append(f"<Object{attrs}/>")
    parts.append("</Objects>")
    return "".join(parts)


def master_object_list(job: Job, chunks: list[Chunk], host: str, port: int | None) -> bytes:
    node = _attrs([("EndPoint", host), ("HttpPort", port), ("Id", NODE_ID)])
    body = [DECL, f"<MasterObjectList{_attrs(job_attrs(job))}>", f"<Nodes><Node{node}/></Nodes>"]
    body.extend(_objects(c, job) for c in chunks)
    body.append("</MasterObjectList>")
    return "".join(body).encode()


def chunk_doc(job: Job, chunk: Chunk) -> bytes:
    return (DECL + _objects(chunk, job)).encode()


def job_list(jobs: list[Job]) -> bytes:
    items = "".join(f"<Job{_attrs(job_attrs(j))}><Nodes><Node{_attrs([('Id', NODE_ID)])}/></Nodes></Job>"
                    for j in jobs)
    return f"{DECL}<Jobs>{items}</Jobs>".encode()


def _el(name: str, value: object) -> str:
    if value is None:
        return f"<{name}/>"
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return f"<{name}>{escape(text)}</{name}>"


def job_elements(job: Job) -> str:
    fields: list[tuple[str, object]] = [
        ("BucketId", job.bucket), ("CachedSizeInBytes", job.done_bytes),
        ("ChunkClientProcessingOrderGuarantee", "IN_ORDER" if job.type == "PUT" else "NONE"),
        ("CompletedSizeInBytes", job.done_bytes), ("CreatedAt", iso8601(job.created)), ("ErrorMessage", None),
        ("Id", job.id), ("Naked", False), ("Name", job.name), ("OriginalSizeInBytes", job.total_bytes),
        ("Priority", job.priority), ("Rechunked", None), ("RequestType", job.type), ("Truncated", False),
        ("UserId", job.owner),
    ]
    if job.status == "COMPLETED":
        fields.append(("DateCompleted", iso8601(job.finished or job.touched)))
    if job.status == "CANCELED":
        fields.append(("DateCanceled", iso8601(job.finished or job.touched)))
        fields.append(("CanceledDueToTimeout", bool(job.props.get("canceled_due_to_timeout"))))
    return "".join(_el(k, v) for k, v in fields)


def data_list(element: str, jobs: list[Job]) -> bytes:
    items = "".join(f"<{element}>{job_elements(j)}</{element}>" for j in jobs)
    return f"{DECL}<Data>{items}</Data>".encode()


def data_one(job: Job) -> bytes:
    return f"{DECL}<Data>{job_elements(job)}</Data>".encode()


def error_doc(err: S3Error, resource: str, request_id: str) -> bytes:
    return (f"{DECL}<Error><Code>{escape(err.code)}</Code><HttpErrorCode>{err.status}</HttpErrorCode>"
            f"<Message>{escape(err.message)}</Message><Resource>{escape(resource)}</Resource>"
            f"<ResourceId>{escape(request_id)}</ResourceId></Error>").encode()


def list_bucket(bucket: str, prefix: str, marker: str, max_keys: int, entries: list, truncated: bool,
                next_marker: str | None, delimiter: str | None, versions: bool) -> bytes:
    out = [DECL, "<ListBucketResult>", _el("Name", bucket), _el("Prefix", prefix), _el("Marker", marker),
           _el("MaxKeys", max_keys), _el("IsTruncated", truncated)]
    if delimiter:
        out.append(_el("Delimiter", delimiter))
    if truncated and next_marker:
        out.append(_el("NextMarker", next_marker))
    tag = "Version" if versions else "Contents"
    for e in entries:
        if isinstance(e, ObjectEntry):
            out.append(f"<{tag}>{_el('Key', e.key)}{_el('LastModified', iso8601(e.last_modified))}"
                       f"{_el('ETag', chr(34) + e.etag + chr(34))}{_el('Size', e.size)}"
                       f"{_el('StorageClass', e.storage_class)}<Owner>{_el('ID', e.owner)}"
                       f"{_el('DisplayName', e.owner)}</Owner>{_el('IsLatest', True)}{_el('VersionId', None)}</{tag}>")
        else:
            out.append(f"<CommonPrefixes>{_el('Prefix', e.prefix)}</CommonPrefixes>")
    out.append("</ListBucketResult>")
    return "".join(out).encode()


def list_buckets(owner_id: str, owner_name: str, buckets: list) -> bytes:
    items = "".join(f"<Bucket>{_el('CreationDate', iso8601(b.created))}{_el('Name', b.name)}</Bucket>"
                    for b in buckets)
    return (f"{DECL}<ListAllMyBucketsResult><Owner>{_el('DisplayName', owner_name)}{_el('ID', owner_id)}</Owner>"
            f"<Buckets>{items}</Buckets></ListAllMyBucketsResult>").encode()


def parse_objects(body: bytes, max_bytes: int) -> list[dict[str, str]]:
    """`<Objects><Object Name=.. Size=.. Offset=.. Length=.. VersionId=../>...` -> attribute dicts."""
    try:
        root = xmlutil.parse(body, max_bytes)
    except xmlutil.XmlError:
        raise S3Error("MalformedXML", "The XML you provided was not well-formed.") from None
    if xmlutil.local_name(root) != "Objects":
        raise S3Error("MalformedXML", "The request body must be an <Objects> document.")
    out = []
    for el in root:
        if xmlutil.local_name(el) == "Object":
            if not el.get("Name"):
                raise S3Error("MalformedXML", "Every <Object> needs a Name.")
            out.append(dict(el.attrib))
    return out
