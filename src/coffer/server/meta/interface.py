"""The metadata store interface: what the service layer may ask of any metadata backend.

Owns the contract (method names, arguments, atomicity, errors) that the SQLite backend implements
now and the PostgreSQL backend later; the conformance suite in tests/ runs against every backend.

Rules every backend keeps:
- Keys order by their UTF-8 bytes.
- Every mutating call is atomic and durable when it returns (fsynced commit).
- Mutating calls that drop references to data return `freed`: data refs no row refers to any more;
  the caller deletes that data *after* the call returns. Refs are reference counted (a ref may be
  shared by links and snapshots later), so only a ref whose count reaches zero is freed.
- Every ref freed this way is also queued for garbage collection (`gc_queue`) in the same
  transaction; the caller removes the row (`forget_refs`) once the data is deleted, and a crash
  in between leaves the row for the GC worker (`claim_garbage`).
- A new ref is marked pending (`add_pending`) before its data is durable; the commit that first
  references it drops the mark in the same transaction. `live_refs(refs, pending_age)` answers
  which refs are referenced or pending, for the sweeps; `referenced(refs)` only the former.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from coffer.protocol.errors import S3Error
from coffer.server.meta.model import (
    AccessKey,
    Bucket,
    Expect,
    ListPage,
    MultipartUpload,
    ObjectRecord,
    Part,
    UploadPage,
    User,
    VersionEntry,
    VersionPage,
)

# WORM: the service passes a guard to every call that may destroy an object version; the
# backend calls it, inside the transaction, with the props of each version it is about to delete or
# overwrite, and lets whatever it raises propagate after rolling everything back.
Guard = Callable[[dict[str, Any]], None]


# Called after every metadata group commit with (seconds, writes in the batch), from the writer thread
# of either backend: the server's metrics (server/metrics.py observe_commit), set by each worker at start.
commit_observer: Callable[[float, int], None] | None = None


def observe_commit(seconds: float, writes: int) -> None:
    """Hand one group commit to `commit_observer`; never raises: a failing observer (metrics) must not
    kill the writer thread that called it, which would leave every later write waiting forever."""
    observer = commit_observer
    if observer is None:
        return
    try:
        observer(seconds, writes)
    except Exception:
        logging.getLogger("coffer.server").exception("metadata commit observer failed")


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


class StorageFull(S3Error):
    """A commit failed on a full disk after the reserve was spent (meta/space.py): S3-style 507."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("InsufficientStorage")
        self.detail = detail


class NoSuchUser(MetaError):
    """modify_user_props on a user id no row has."""


class NoSuchUpload(MetaError):
    pass


class PreconditionFailed(MetaError):
    pass


class MetaUnavailable(MetaError):
    """The metadata database cannot be reached now (down, restarting, failing over); S3: 503.
    A write that raised this was not acknowledged; retrying it is safe for the client."""


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
    async def modify_user_props(self, user_id: str, fn: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """Atomically replace the user's props by fn(props), in one transaction with the read (two
        workers or gateways changing one user's tokens, quota or settings at once both keep their
        change); fn may raise to refuse (nothing changes). Returns the new props. Raises NoSuchUser."""

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

    async def set_bucket_owner(self, name: str, owner: str) -> None:
        """Give the bucket to another user (admin API). Raises NoSuchBucket."""
        raise NotImplementedError

    async def modify_bucket_props(self, name: str, fn: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """Atomically replace the bucket's props by fn(props); fn may raise to refuse (nothing
        changes). Returns the new props. Raises NoSuchBucket. (This default is not atomic,
        backends override it.)"""
        bucket = await self.get_bucket(name)
        if bucket is None:
            raise NoSuchBucket(name)
        props = fn(dict(bucket.props))
        await self.update_bucket_props(name, props)
        return props

    @abstractmethod
    async def delete_bucket(self, name: str) -> list[str]:
        """Raises NoSuchBucket, BucketNotEmpty (any object). Aborts the bucket's multipart uploads;
        returns the freed refs of their parts."""

    # -- objects ----------------------------------------------------------------------------------
    @abstractmethod
    async def get_object(self, bucket: str, key: str) -> ObjectRecord | None: ...

    async def get_objects(self, bucket: str, keys: list[str]) -> list[ObjectRecord | None]:
        """Current objects of many keys, aligned with `keys` (None: no such key), in few queries
        (batch GET). This default asks one key at a time; backends override it."""
        return [await self.get_object(bucket, k) for k in keys]

    @abstractmethod
    async def put_object(
        self, record: ObjectRecord, expect: Expect | None = None, *, shared: bool = False,
        versioning: str | None = None, guard: Guard | None = None,
    ) -> list[str]:
        """Insert or replace (bucket, key); returns refs freed from the replaced record.
        versioning "Enabled" keeps the replaced current version as noncurrent; "Suspended" also
        does, except that the key's null version is replaced (record.version_id None is null).
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
    async def delete_objects(
        self, bucket: str, keys: list[str], guard: Guard | None = None
    ) -> tuple[list[ObjectRecord | None], list[str]]:
        """Remove many keys in one transaction; result aligned with `keys`. A guard raising for
        any of them rolls the whole batch back."""

    # -- versions -------------------------------------------------------------------------
    async def get_version(self, bucket: str, key: str, version_id: str) -> ObjectRecord | None:
        """One version by id ("null": the null version); delete markers have delete_marker set."""
        raise NotImplementedError

    async def latest_marker(self, bucket: str, key: str) -> ObjectRecord | None:
        """The delete marker that is the key's latest version, or None."""
        raise NotImplementedError

    async def delete_version(
        self, bucket: str, key: str, version_id: str, guard: Guard | None = None
    ) -> tuple[ObjectRecord | None, list[str]]:
        """Permanently remove one version or delete marker; the next newest becomes current."""
        raise NotImplementedError

    async def add_delete_marker(
        self, marker: ObjectRecord, versioning: str, guard: Guard | None = None
    ) -> list[str]:
        """DeleteObject without version id in a versioned bucket; returns freed refs."""
        raise NotImplementedError

    async def modify_props(
        self, bucket: str, key: str, version_id: str | None, fn: Callable[[ObjectRecord], dict[str, Any]]
    ) -> ObjectRecord | None:
        """Atomically replace a version's props by fn(record) (None: current version); fn may
        raise to refuse. Returns the updated record or None when there is no such version."""
        raise NotImplementedError

    async def list_versions(
        self, bucket: str, prefix: str = "", delimiter: str | None = None, key_marker: str | None = None,
        version_id_marker: str | None = None, limit: int = 1000,
    ) -> VersionPage:
        raise NotImplementedError

    async def key_versions(self, bucket: str, key: str) -> list[VersionEntry]:
        """Every version of one key, newest first (lifecycle)."""
        raise NotImplementedError

    async def scan_current(self, bucket: str, after: str | None, limit: int) -> list[tuple]:
        """(key, size, last_modified, version_id, props) of current objects after `after`."""
        raise NotImplementedError

    async def scan_versioned_keys(self, bucket: str, after: str | None, limit: int) -> list[str]:
        """Keys after `after` that have noncurrent versions or delete markers."""
        raise NotImplementedError

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
        self, upload_id: str, record: ObjectRecord, used_parts: list[int], expect: Expect | None = None,
        *, versioning: str | None = None, guard: Guard | None = None,
    ) -> list[str]:
        """Atomically: check the upload exists (NoSuchUpload) and `expect` (PreconditionFailed),
        (segments may also be refs the replaced object holds: an append flush keeps them in front),
        make `record` the object (its segments are the used parts' segments, whose refs move to
        the object without being freed), delete the upload and all its parts. Returns freed refs:
        the replaced object's and those of parts not in used_parts."""

    @abstractmethod
    async def abort_upload(self, upload_id: str) -> list[str]:
        """Delete the upload and its parts; returns their freed refs. Raises NoSuchUpload."""

    # -- notifications and snapshots (see sqlite/events.py) ---------------------------------
    @abstractmethod
    async def enqueue_events(self, items: list[tuple[str, dict]], replaces: int | None = None,
                             durable: bool = True, only_if_held: bool = False) -> list[int]:
        """Queue (webhook URL, event payload) pairs for delivery, deleting row `replaces` in the same
        transaction; returns the new rows' ids. URL "" makes a held row (an intent), never claimed
        for delivery. durable=False: committed but durable only with the next durable commit (for
        intents, which a later durable object commit covers, and for what replaces an intent).
        only_if_held: insert nothing if row `replaces` was already gone (two resolvers racing)."""

    @abstractmethod
    async def held_events(self) -> list[tuple[int, dict]]:
        """The held rows (id, payload), oldest first."""

    @abstractmethod
    async def claim_events(self, limit: int, lease_seconds: float) -> list:
        """Lease up to `limit` due events (QueuedEvent) to the caller; oldest first."""

    @abstractmethod
    async def event_done(self, event_id: int) -> None: ...

    @abstractmethod
    async def event_retry(self, event_id: int, delay: float, error: str) -> None: ...

    @abstractmethod
    async def release_events(self) -> None:
        """Drop every lease (start-up, when no deliverer can be running)."""

    # -- the listen API's event log (see sqlite/listen.py) -----------------------------------
    @abstractmethod
    async def listen_register(self, listener: str, bucket: str, expires: float) -> Any:
        """Insert or renew the lease of listen stream `listener` on `bucket` ("" = every bucket) until
        `expires`; returns a cursor (opaque, the backend's own) at the log's end at that moment."""

    @abstractmethod
    async def listen_unregister(self, listener: str) -> None: ...

    @abstractmethod
    async def listen_buckets(self, now: float) -> set[str]:
        """The buckets some live listener follows ("" = a listener on every bucket)."""

    @abstractmethod
    async def listen_append(self, rows: list[tuple[str, dict]]) -> None:
        """Log (bucket, S3 event record) pairs for the listeners; not fsynced on its own."""

    @abstractmethod
    async def listen_read(self, cursor: Any, bucket: str | None, limit: int) -> tuple[list[dict], Any]:
        """The records logged after `cursor` (for `bucket`, or every bucket), oldest first, and the new cursor."""

    @abstractmethod
    async def listen_prune(self, before: float, now: float) -> None:
        """Drop log rows created before `before` and leases expired at `now`."""

    @abstractmethod
    async def snapshot_bucket(self, source: str, dest: Bucket) -> int:
        """Atomically create `dest` with a copy of every object row of `source` sharing its data
        (one more reference per data ref). Raises NoSuchBucket, BucketExists."""

    def jobs(self):  # -> coffer.server.meta.bulk.JobStore (bulk jobs)
        raise NotImplementedError("this metadata backend keeps no bulk jobs")

    def key_vault(self):  # -> coffer.server.crypto.keys.KeyVault | None
        """Where the encryption and token-signing keys live when they must be shared by every gateway
        (PostgreSQL: a handle on the ``shared_keys`` table); None: in the data folder (SQLite, one host)."""
        return None

    def on_invalidate(self, callback: Callable[[str], None]) -> None:
        """Subscribe a per-process cache to changes of users and access keys made by any process.

        `callback(what)` is called on the event loop that was running when it subscribed, once per
        committed change: "user:ID" (the user or their props, tokens included: added, changed or
        removed with their keys), "key:AK" (an access key added, changed or removed), or "" (anything
        may have changed: drop everything). It is never called for a change that rolled back.

        PostgreSQL (several gateways and workers): delivered by LISTEN/NOTIFY on one connection per
        process (meta/postgres/invalidate.py), within a round trip of the commit; while that
        connection is down, "" is sent when it drops and again once it listens again. SQLite: a
        no-op; its caches compare `principals_stamp` instead. Either way the TTL remains the
        fallback bound."""
        return None

    def principals_stamp(self) -> bytes | None:
        """A value that changes, in every process, once any process commits a change to a user or an
        access key (SQLite: a shared memory stamp, meta/sqlite/stamps.py), or None where
        `on_invalidate` tells of changes instead (PostgreSQL). A cache reads it before the database
        and drops an entry saved under another value: a few nanoseconds, no query."""
        return None

    def coordination(self):  # -> coffer.server.meta.coordination.Coordination
        """A new coordination handle on this store's database (named cluster locks held for a session,
        the repair queue, saved cursors: meta/coordination.py). Synchronous, usable from any thread;
        needs no ``open()``. The caller closes it."""
        raise NotImplementedError("this metadata backend has no coordination")

    # -- housekeeping -----------------------------------------------------------------------------
    @abstractmethod
    async def referenced(self, refs: list[str]) -> set[str]:
        """Which of these data refs some object or part still refers to."""

    # -- garbage collection (docs/cluster.md, "Garbage collection") ---------------------------------
    @abstractmethod
    async def add_pending(self, ref: str, owner: str) -> None:
        """Mark `ref` as being written by `owner` (a gateway's name, for the operator), or refresh
        the mark of a long write. Visible to every sweep when it returns, and it must survive
        whatever the writer survives: SQLite need not fsync it (a crash of the host ends the writer
        too), PostgreSQL commits it durably (a failover must not lose it under a live writer)."""

    @abstractmethod
    async def forget_refs(self, refs: list[str]) -> None:
        """The data of these refs is deleted (or was never made durable): drop their GC queue and
        pending rows. Not fsynced on its own: a lost `forget` only makes the GC delete again."""

    @abstractmethod
    async def live_refs(self, refs: list[str], pending_age: float) -> set[str]:
        """Which of these refs are referenced, or pending and marked (or refreshed) less than
        `pending_age` seconds ago by the database's clock; read in one snapshot."""

    @abstractmethod
    async def claim_garbage(self, limit: int, lease_seconds: float, pending_age: float) -> list[str]:
        """Lease up to `limit` refs whose data must be deleted to the caller for `lease_seconds`:
        GC queue rows no other worker holds, then pending rows older than `pending_age` (moved to
        the queue: a writer that commits after that gets ConditionalConflict). The caller deletes
        the data, then calls `forget_refs`; a caller that dies lets the lease run out."""

    @abstractmethod
    async def garbage_backlog(self) -> tuple[int, int]:
        """(pending rows, GC queue rows): what the collector still has to look at."""


class PrincipalsWatch:
    """Tells a per-process cache of users or keys that `MetaStore.principals_stamp` moved since its last
    look (another process changed a user or a key); never, where the stamp is always None (PostgreSQL)."""

    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta
        self._seen: bytes | None = None

    def moved(self) -> bool:
        stamp = self._meta.principals_stamp()
        if stamp == self._seen:
            return False
        self._seen = stamp
        return True
