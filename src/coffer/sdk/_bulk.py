"""Bulk jobs (Spectra-style): plan many objects at once, then move their blobs chunk by chunk.

    job = client.bulk_put("bkt", [("a.bin", 300 << 20), ("b.txt", 12)])
    while not job.done():
        for chunk in job.chunks_ready(wait=True):
            for blob in chunk.blobs:
                job.put_blob(blob.name, blob.offset, read(blob.name, blob.offset, blob.length))

The server keeps the plan and every blob's state, so any client holding the job id can resume with
``client.job(job_id)``; an object appears only when all its blobs are in. Speaks the DS3 endpoints
(`/_rest_/...`, blobs as ``?job=&offset=``), signed with SigV4 like every other SDK request.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

from coffer.protocol import xmlutil

if TYPE_CHECKING:
    from coffer.sdk._client import Client
    from coffer.sdk._transport import Response


@dataclass(frozen=True, slots=True)
class Blob:
    """One byte range of one object: move it with ``put_blob`` / ``get_blob``."""

    name: str
    offset: int
    length: int
    id: str = ""
    in_cache: bool = False  # PUT: already received by the server


@dataclass(frozen=True, slots=True)
class Chunk:
    id: str
    number: int
    blobs: list[Blob]


@dataclass(frozen=True, slots=True)
class JobStatus:
    job_id: str
    state: str  # IN_PROGRESS | COMPLETED | CANCELED
    request_type: str  # PUT | GET | VERIFY
    bucket: str
    name: str
    priority: str
    bytes_total: int
    bytes_done: int

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _parse_mol(body: bytes) -> tuple[JobStatus, list[Chunk]]:
    root = xmlutil.parse(body, 1 << 30)
    a = root.attrib
    status = JobStatus(a.get("JobId", ""), a.get("Status", ""), a.get("RequestType", ""), a.get("BucketName", ""),
                       a.get("Name", ""), a.get("Priority", ""), int(a.get("OriginalSizeInBytes") or 0),
                       int(a.get("CompletedSizeInBytes") or 0))
    chunks = []
    for el in xmlutil.children(root, "Objects"):
        blobs = [Blob(o.get("Name", ""), int(o.get("Offset") or 0), int(o.get("Length") or 0), o.get("Id", ""),
                      o.get("InCache") == "true") for o in xmlutil.children(el, "Object")]
        chunks.append(Chunk(el.get("ChunkId", ""), int(el.get("ChunkNumber") or 0), blobs))
    return status, chunks


def _objects_doc(items: Iterable[str]) -> bytes:
    return ("<Objects>" + "".join(items) + "</Objects>").encode()


class BulkJob:
    """A handle on one server-side bulk job (cheap; every call asks the server)."""

    def __init__(self, client: Client, status: JobStatus, chunks: list[Chunk]) -> None:
        self._client = client
        self._status = status
        self.chunks = chunks  # the whole plan, as last fetched
        self.retry_after: int | None = None  # what the server asked for when no chunk was ready

    @property
    def id(self) -> str:
        return self._status.job_id

    @property
    def bucket(self) -> str:
        return self._status.bucket

    @property
    def request_type(self) -> str:
        return self._status.request_type

    def __repr__(self) -> str:
        return f"BulkJob({self.id!r}, {self.request_type}, bucket={self.bucket!r})"

    def _req(self, method: str, kind: str, ident: str | None = None, **kw: Any) -> Response:
        key = kind if ident is None else f"{kind}/{ident}"
        return self._client._transport.request(method, "_rest_", key, **kw)

    def blobs(self) -> list[Blob]:
        return [b for c in self.chunks for b in c.blobs]

    def chunks_ready(self, preferred: int | None = None, wait: bool = False,
                     timeout: float | None = None) -> list[Chunk]:
        """The chunks the server lets the client process now. Empty (with ``retry_after`` set) when it
        asks to come back later; ``wait=True`` sleeps as told and asks again (up to ``timeout``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            query: dict[str, str] = {"job": self.id}
            if preferred:
                query["preferred_number_of_chunks"] = str(preferred)
            resp = self._req("GET", "job_chunk", query=query)
            self._status, chunks = _parse_mol(resp.data or b"")
            ra = resp.headers.get("retry-after")
            self.retry_after = int(ra) if ra and ra.isdigit() else None
            if chunks or not wait or self.retry_after is None:
                return chunks
            delay = float(self.retry_after)
            if deadline is not None and time.monotonic() + delay > deadline:
                return chunks
            time.sleep(delay)

    def put_blob(self, name: str, offset: int, data: Any, length: int | None = None) -> None:
        """Send one blob of a PUT job (bytes, a file object positioned at the blob, or an iterable
        of bytes with ``length``)."""
        self._client._transport.request("PUT", self.bucket, name, query={"job": self.id, "offset": str(offset)},
                                        body=data, content_length=length)

    def get_blob(self, name: str, offset: int, length: int | None = None) -> bytes:
        """The bytes of one blob of a GET job (``length``, when given, must be the blob's)."""
        resp = self._client._transport.request("GET", self.bucket, name, query={"job": self.id, "offset": str(offset)})
        data = resp.data or b""
        if length is not None and len(data) != length:
            from coffer.sdk._errors import CofferError

            raise CofferError(f"blob {name}@{offset} is {len(data)} bytes, not {length}", code="BlobLengthMismatch")
        return data

    def get_blob_stream(self, name: str, offset: int) -> Response:
        """The blob as an unread response (``iter_raw(n)``; call ``release()`` when done)."""
        return self._client._transport.request("GET", self.bucket, name, query={"job": self.id, "offset": str(offset)},
                                               stream=True)

    def refresh(self) -> BulkJob:
        self._status, self.chunks = _parse_mol(self._req("GET", "job", self.id).data or b"")
        return self

    def status(self) -> JobStatus:
        return self.refresh()._status

    def done(self) -> bool:
        return self.status().state != "IN_PROGRESS"

    def modify(self, name: str | None = None, priority: str | None = None) -> JobStatus:
        query = {k: v for k, v in (("name", name), ("priority", priority)) if v is not None}
        self._status, self.chunks = _parse_mol(self._req("PUT", "job", self.id, query=query).data or b"")
        return self._status

    def cancel(self) -> None:
        self._req("DELETE", "job", self.id, query={"force": ""})


def bulk_put(client: Client, bucket: str, objects: Iterable[tuple[str, int]], *, name: str | None = None,
             priority: str | None = None, blob_size: int | None = None) -> BulkJob:
    items = [f"<Object Name={quoteattr(n)} Size={quoteattr(str(int(s)))}/>" for n, s in objects]
    return _start(client, bucket, "start_bulk_put", items, name, priority, blob_size)


def bulk_get(client: Client, bucket: str, names_or_prefix: str | Iterable[str], *, name: str | None = None,
             priority: str | None = None, verify: bool = False) -> BulkJob:
    if isinstance(names_or_prefix, str):
        names = [o.key for o in client.bucket(bucket).list_objects(prefix=names_or_prefix)
                 if not getattr(o, "is_prefix", False)]
    else:
        names = list(names_or_prefix)
    items = [f"<Object Name={quoteattr(n)}/>" for n in names]
    return _start(client, bucket, "start_bulk_verify" if verify else "start_bulk_get", items, name, priority, None)


def _start(client: Client, bucket: str, op: str, items: list[str], name: str | None, priority: str | None,
           blob_size: int | None) -> BulkJob:
    query = {"operation": op, "name": name, "priority": priority,
             "max_upload_size": str(blob_size) if blob_size else None}
    resp = client._transport.request("PUT", "_rest_", "bucket/" + bucket, query=query, body=_objects_doc(items))
    status, chunks = _parse_mol(resp.data or b"")
    return BulkJob(client, status, chunks)


def open_job(client: Client, job_id: str) -> BulkJob:
    status, chunks = _parse_mol(client._transport.request("GET", "_rest_", "job/" + job_id).data or b"")
    return BulkJob(client, status, chunks)


def list_jobs(client: Client, state: str | None = None) -> list[JobStatus]:
    """Jobs of the caller, newest first: all (state None) or IN_PROGRESS / COMPLETED / CANCELED."""
    kinds = {"IN_PROGRESS": ("active_job", "Job"), "COMPLETED": ("completed_job", "CompletedJob"),
             "CANCELED": ("canceled_job", "CanceledJob")}
    chosen = [kinds[state.upper()]] if state else list(kinds.values())
    out: list[JobStatus] = []
    for path, element in chosen:
        st = {"active_job": "IN_PROGRESS", "completed_job": "COMPLETED", "canceled_job": "CANCELED"}[path]
        root = xmlutil.parse(client._transport.request("GET", "_rest_", path).data or b"<Data/>", 1 << 28)
        for el in xmlutil.children(root, element):
            def t(n: str, el: xmlutil.Element = el) -> str:
                return xmlutil.child_text(el, n) or ""
            out.append(JobStatus(t("Id"), st, t("RequestType"), t("BucketId"), t("Name"), t("Priority"),
                                 int(t("OriginalSizeInBytes") or 0), int(t("CompletedSizeInBytes") or 0)))
    return out
