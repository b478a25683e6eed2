"""The metadata store interface: what the service layer may ask of any metadata backend.

Owns the contract (method names, arguments, atomicity, errors) that the SQLite backend implements
now and the PostgreSQL backend later; the conformance suite in tests/ runs against every backend.

Rules every backend keeps:
- Keys order by their UTF-8 bytes.
- Every mutating call is atomic and durable when it returns (fsynced commit).
- Mutating calls that drop references to data return `freed`: data refs no row refers to any more;
  the caller deletes that data *after* the call returns. Refs are reference counted (a ref may be
  shared by links and snapshots later), so only a ref whose count reaches zero is freed.
- `referenced(refs)` answers which refs are still known, for the orphan sweep.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from .model import (
    AccessKey,
    Bucket,
    Expect,
    ListPage,
    MultipartUpload,
    ObjectRecord,
    Part,
    UploadPage,
    User,
)


class MetaError(Exception):
    """Base of the errors a metadata store raises; the service maps them to S3 errors."""


class BucketExists(MetaError):
    def __init__(self, owner: str) -> None:
        super().__init__(owner)
        self.owner = owner


class BucketNotEmpty(MetaError):
    pass


class NoSuchBucket(MetaError):
    pass


class NoSuchUpload(MetaError):
    pass


class PreconditionFailed(MetaError):
    pass


class ConditionalConflict(MetaError):
    """The object changed between the caller's read and its conditional write (S3: 409)."""


class MetaStore(ABC):
    # -- lifecycle --------------------------------------------------------------------------------
    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    # -- users and keys ---------------------------------------------------------------------------
    @abstractmethod
    async def put_user(self, user: User) -> None: ...  # insert or replace

    @abstractmethod
    async def get_user(self, user_id: str) -> User | None: ...

    @abstractmethod
    async def list_users(self) -> list[User]: ...

    @abstractmethod
    async def delete_user(self, user_id: str) -> bool: ...  # also deletes the user's keys

    @abstractmethod
    async def put_access_key(self, key: AccessKey) -> None: ...  # insert or replace

    @abstractmethod
    async def get_access_key(self, access_key: str) -> AccessKey | None: ...

    @abstractmethod
    async def list_access_keys(self, user_id: str | None = None) -> list[AccessKey]: ...

    @abstractmethod
    async def delete_access_key(self, access_key: str) -> bool: ...

    # -- buckets ----------------------------------------------------------------------------------
    @abstractmethod
    async def create_bucket(self, bucket: Bucket) -> None:
        """Raises BucketExists(owner of the existing bucket)."""

    @abstractmethod
    async def get_bucket(self, name: str) -> Bucket | None: ...

    @abstractmethod
    async def list_buckets(self, owner: str | None = None) -> list[Bucket]: ...  # ordered by name

    @abstractmethod
    async def update_bucket_props(self, name: str, props: dict) -> None:
        """Replaces the bucket's props document. Raises NoSuchBucket."""

    @abstractmethod
    async def delete_bucket(self, name: str) -> list[str]:
        """Raises NoSuchBucket, BucketNotEmpty (any object). Aborts the bucket's multipart uploads;
        returns the freed refs of their parts."""

    # -- objects ----------------------------------------------------------------------------------
    @abstractmethod
    async def get_object(self, bucket: str, key: str) -> ObjectRecord | None: ...

    @abstractmethod
    async def put_object(
        self, record: ObjectRecord, expect: Expect | None = None, *, shared: bool = False
    ) -> list[str]:
        """Insert or replace (bucket, key); returns refs freed from the replaced record.
        Raises NoSuchBucket, PreconditionFailed (expect not met; nothing changes).
        shared=True (a copy sharing another object's data): every segment ref must still be
        referenced by something, else ConditionalConflict (the source was deleted meanwhile)."""

    @abstractmethod
    async def update_object(self, record: ObjectRecord, expect_etag: str | None = None) -> None:
        """Rewrite an existing object's metadata (not its segments). Raises PreconditionFailed
        when the object is gone or its etag differs from expect_etag."""

    @abstractmethod
    async def delete_object(self, bucket: str, key: str) -> tuple[ObjectRecord | None, list[str]]:
        """Remove (bucket, key); returns (removed record or None, freed refs)."""

    @abstractmethod
    async def delete_objects(self, bucket: str, keys: list[str]) -> tuple[list[ObjectRecord | None], list[str]]:
        """Remove many keys in one transaction; result aligned with `keys`."""

    @abstractmethod
    async def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str | None = None,
        after: str | None = None,
        limit: int = 1000,
    ) -> ListPage:
        """The model: take every key starting with `prefix`; if `delimiter` is set, a key with the
        delimiter after the prefix becomes the common prefix key[:end of first delimiter after
        prefix]; de-duplicate; keep the entries > `after` (UTF-8 bytes); the first `limit` of them
        in order. Never reads more rows than needed (skips over a common prefix's keys by seeking).
        Object entries are `ObjectEntry` values: what a listing shows, nothing more."""

    @abstractmethod
    async def count_objects(self, bucket: str) -> tuple[int, int]: ...  # (objects, bytes)

    # -- multipart --------------------------------------------------------------------------------
    @abstractmethod
    async def create_upload(self, upload: MultipartUpload) -> None: ...  # raises NoSuchBucket

    @abstractmethod
    async def get_upload(self, upload_id: str) -> MultipartUpload | None: ...

    @abstractmethod
    async def list_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str | None = None,
        key_marker: str | None = None,
        upload_id_marker: str | None = None,
        limit: int = 1000,
    ) -> UploadPage:
        """Ordered by (key bytes, initiated, upload_id)."""

    @abstractmethod
    async def put_part(self, part: Part) -> list[str]:
        """Insert or replace part `number`; returns the freed ref of a replaced part.
        Raises NoSuchUpload."""

    @abstractmethod
    async def list_parts(self, upload_id: str, after: int = 0, limit: int = 1000) -> tuple[list[Part], bool]:
        """Parts with number > after, ascending; (parts, truncated)."""

    @abstractmethod
    async def complete_upload(
        self, upload_id: str, record: ObjectRecord, used_parts: list[int], expect: Expect | None = None
    ) -> list[str]:
        """Atomically: check the upload exists (NoSuchUpload) and `expect` (PreconditionFailed),
        (segments may also be refs the replaced object holds: an append flush keeps them in front),
        make `record` the object (its segments are the used parts' segments, whose refs move to
        the object without being freed), delete the upload and all its parts. Returns freed refs:
        the replaced object's and those of parts not in used_parts."""

    @abstractmethod
    async def abort_upload(self, upload_id: str) -> list[str]:
        """Delete the upload and its parts; returns their freed refs. Raises NoSuchUpload."""

    def jobs(self):  # -> coffer.server.meta.jobs.JobStore (bulk jobs, issue 6)
        raise NotImplementedError("this metadata backend keeps no bulk jobs")

    # -- housekeeping -----------------------------------------------------------------------------
    @abstractmethod
    async def referenced(self, refs: list[str]) -> set[str]:
        """Which of these data refs some object or part still refers to."""
