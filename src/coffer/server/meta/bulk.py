"""Bulk jobs metadata (Spectra DS3 bulk PUT/GET/VERIFY): the records and the store contract.

Owns the shape of a job as every backend keeps it: the job row (who, which bucket, what kind,
state, sizes), its chunks (numbered groups of blobs the server hands out in order) and its blobs
(one byte range of one object each, with its done flag). The data of a PUT job's blobs is kept by
the ordinary multipart machinery (one upload per multi-blob object, one part per blob), so this
store holds no data refs and frees nothing.

Rules every backend keeps: each call is atomic and durable when it returns; `mark_blob` answers,
in the same transaction, how many blobs of that object and of the job are still missing, so the
caller that completes the last one (and only that one) finishes the object or the job.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from coffer.server.meta.model import MultipartUpload

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
CANCELED = "CANCELED"


@dataclass(slots=True)
class Job:
    id: str
    bucket: str
    owner: str
    type: str  # PUT | GET | VERIFY
    status: str  # IN_PROGRESS | COMPLETED | CANCELED
    name: str
    priority: str
    created: float
    touched: float  # last client activity (idle expiry counts from here)
    finished: float | None = None
    total_bytes: int = 0
    done_bytes: int = 0
    props: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Blob:
    job_id: str
    chunk: int  # chunk number, 1-based
    name: str  # object key
    offset: int
    length: int
    id: str
    done: bool = False
    upload_id: str | None = None  # PUT of a multi-blob object: the multipart upload holding its blobs
    index: int = 0  # position of the blob in its object (the part number is index + 1)
    count: int = 1  # blobs of this object in the job
    etag: str | None = None  # GET/VERIFY: the object's etag when the job was planned


@dataclass(slots=True)
class Chunk:
    job_id: str
    number: int
    id: str
    allocated: bool = False
    blobs: list[Blob] = field(default_factory=list)


class JobStore(ABC):
    @abstractmethod
    async def create(self, job: Job, chunks: list[Chunk], uploads: list[MultipartUpload]) -> None:
        """Insert the job, its chunks, their blobs and the multipart uploads that will hold the blobs
        of multi-blob objects, in one transaction (raises NoSuchBucket)."""

    @abstractmethod
    async def get(self, job_id: str) -> Job | None: ...

    @abstractmethod
    async def list(self, owner: str | None, status: str | None, offset: int, limit: int) -> tuple[list[Job], int]:
        """Jobs newest first (optionally one owner's / one status); (page, total count)."""

    @abstractmethod
    async def chunks(self, job_id: str, only_open: bool = False) -> list[Chunk]:
        """The job's chunks in order with their blobs; only_open: chunks with a blob not done."""

    @abstractmethod
    async def chunk(self, chunk_id: str) -> Chunk | None: ...

    @abstractmethod
    async def blob(self, job_id: str, name: str, offset: int) -> Blob | None: ...

    @abstractmethod
    async def object_blobs(self, job_id: str, name: str) -> list[Blob]: ...

    @abstractmethod
    async def allocate(self, job_id: str, numbers: list[int], touched: float) -> None: ...

    @abstractmethod
    async def allocate_ready(self, job_id: str, limit: int, budget: int, touched: float) -> list[int]:
        """Atomically: the numbers of the job's open chunks the client may work on now (at most
        `limit`): those allocated before, then the next ones in order while the bytes outstanding in
        allocated chunks of all open PUT jobs stay within `budget` (one at least, when nothing is
        outstanding anywhere). Newly chosen chunks become allocated."""

    @abstractmethod
    async def pending_bytes(self) -> int:
        """Bytes of blobs not yet received in allocated chunks of open PUT jobs (the cache in use)."""

    @abstractmethod
    async def mark_blob(self, job_id: str, name: str, offset: int, touched: float) -> tuple[int, int, bool]:
        """Mark one blob done; (blobs of that object still missing, blobs of the job still missing,
        whether this call changed the flag). The job turns COMPLETED when none is missing and no
        multi-blob object of it awaits its completion (its upload still open)."""

    @abstractmethod
    async def settle(self, job_id: str, touched: float) -> bool:
        """After a multi-blob object was completed: COMPLETED if nothing is left; True if it turned."""

    @abstractmethod
    async def unmark_blob(self, job_id: str, name: str, offset: int, touched: float) -> None:
        """A blob whose object could not be completed (refused) is missing again."""

    @abstractmethod
    async def update(self, job_id: str, *, status: str | None = None, name: str | None = None,
                     priority: str | None = None, touched: float | None = None,
                     props: dict[str, Any] | None = None, only_if_status: str | None = None) -> bool:
        """Change fields of a job; False when it does not exist (or is not in only_if_status)."""

    @abstractmethod
    async def idle(self, before: float) -> list[Job]:
        """Open jobs whose last activity is older than `before`."""

    @abstractmethod
    async def open_uploads(self, job_id: str) -> list[str]:
        """Upload ids of the job's objects with a blob not yet received (to abort on cancel)."""
