"""The SQLite metadata store: `SqliteMetaStore`, the MetaStore backend for one-machine deployments.

Owns the public face of the SQLite backend: opening the file (WAL, migrations), routing every
write through the process's group-commit writer and every read to the read threads, and the
read queries. The pieces live beside it: sqlite_schema (tables, migrations), sqlite_engine
(connections, writer thread, read pool), sqlite_rows (row mapping, ref counting), sqlite_ops
(mutations), sqlite_listing (listing pages).

Several processes may open the same file at once (server workers, the `coffer user` command), so
nothing read from the database is cached between calls — except bucket rows, read on every request:
`stamps.BucketRowCache` keeps them per process, checked against a stamp every changer of a bucket row
rewrites after its commit (so each call still sees what is committed and acknowledged). Users and
access keys get a stamp too (`principals_stamp`), for the service's credential caches.
Durability: with synchronous=FULL a write's future resolves only after its transaction's WAL
commit was fsync'ed.

Listings return ObjectRecords without `inline` (None): a page of 1000 small inline objects would
otherwise drag all their bytes through memory for nothing; get_object returns it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from coffer.server.meta.interface import Guard, MetaStore, NoSuchBucket, NoSuchUser, StorageFull
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
from coffer.server.meta.space import is_disk_full, release_reserve
from coffer.server.meta.sqlite import events as sqlite_events
from coffer.server.meta.sqlite import listen as sqlite_listen
from coffer.server.meta.sqlite import listing as sqlite_listing
from coffer.server.meta.sqlite import ops as sqlite_ops
from coffer.server.meta.sqlite import rows as rows_gc
from coffer.server.meta.sqlite import versions as sqlite_versions
from coffer.server.meta.sqlite.engine import Checkpointer, GroupCommitWriter, ReadPool, connect, retry_busy
from coffer.server.meta.sqlite.rows import (
    ACCESS_KEY_COLUMNS,
    BUCKET_COLUMNS,
    OBJECT_SELECT,
    PART_COLUMNS,
    UPLOAD_SELECT,
    USER_COLUMNS,
    access_key_from_row,
    access_key_values,
    bucket_from_row,
    dumps,
    enc,
    object_from_row,
    part_from_row,
    referenced,
    upload_from_row,
    user_from_row,
    user_values,
)
from coffer.server.meta.sqlite.schema import migrate
from coffer.server.meta.sqlite.stamps import PRINCIPALS, BucketRowCache, SharedStamps

__all__ = ["SqliteMetaStore"]

T = TypeVar("T")


_KEYS_PER_QUERY = 500  # host parameters per IN list (SQLite allows 32766)


class SqliteMetaStore(MetaStore):
    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 10000,
        read_threads: int = 2,
    ) -> None:
        self.path = Path(path)
        self._connect = partial(connect, self.path, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms)
        self._read_threads = read_threads
        self._writer: GroupCommitWriter | None = None
        self._readers: ReadPool | None = None
        self._checkpointer: Checkpointer | None = None
        self._inline: sqlite3.Connection | None = None  # point lookups on the caller's (event loop) thread
        self._stamps = SharedStamps(self.path)
        self._bucket_rows = BucketRowCache(self._stamps)

    # -- lifecycle --------------------------------------------------------------------------------
    async def open(self) -> None:
        if self._writer is not None:
            return
        conn = await asyncio.to_thread(self._open_writer_connection)
        self._checkpointer = Checkpointer(self._connect)
        self._writer = GroupCommitWriter(conn, checkpointer=self._checkpointer)
        self._readers = ReadPool(self._connect, self._read_threads)
        self._stamps.attach()
        self._bucket_rows.changed()  # a migration may have rewritten rows
        self._stamps.renew(PRINCIPALS)

    def _open_writer_connection(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            # WAL is a property of the file (persistent), so the first opener switches it on;
            # readers then never block the writer nor the writer the readers.
            mode = retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            if str(mode).lower() != "wal":
                raise RuntimeError(f"cannot put {self.path} in WAL mode (journal_mode={mode})")
            retry_busy(lambda: migrate(conn))
        except BaseException:
            conn.close()
            raise
        return conn

    async def close(self) -> None:
        writer, readers = self._writer, self._readers
        self._writer = self._readers = None
        if writer is not None:
            await asyncio.to_thread(writer.close)  # drains queued writes first
        if readers is not None:
            await asyncio.to_thread(readers.close)
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.close)
            self._checkpointer = None
        if self._inline is not None:
            self._inline.close()
            self._inline = None

    async def backup(self, dest: Path) -> None:
        """A consistent copy of the database in `dest`, taken while the server runs.

        SQLite's online backup API in one step (pages=-1) on a connection of its own: it reads one
        snapshot (WAL readers never block the writer), so the copy is the database as of one commit.
        """

        def run() -> None:
            src = self._connect()
            try:
                dst = sqlite3.connect(str(dest))
                try:
                    src.backup(dst)
                    dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
                finally:
                    dst.close()
            finally:
                src.close()

        await asyncio.to_thread(run)

    @property
    def commits(self) -> int:
        """Write transactions committed by this instance (fewer than writes when batching)."""
        return self._writer.commits if self._writer is not None else 0

    async def _write(self, fn: Callable[[sqlite3.Connection], T], durable: bool = True) -> T:
        if self._writer is None:
            raise RuntimeError("metadata store is not open")
        try:
            return await self._writer.write(fn, durable)
        except sqlite3.OperationalError as e:
            # A full disk: free the reserve (meta/space.py) and try once more, so that deletes,
            # which free space, still commit. A second failure is the caller's StorageFull.
            if not is_disk_full(e):
                raise
            if not release_reserve(self.path.parent):
                raise StorageFull(str(e)) from None
        try:
            return await self._writer.write(fn, durable)
        except sqlite3.OperationalError as e:
            if is_disk_full(e):
                raise StorageFull(str(e)) from None
            raise

    async def _write_then(self, fn: Callable[[sqlite3.Connection], T], restamp: Callable[[], None]) -> T:
        """`_write`, then `restamp` (after the commit, before the caller answers; also after a failure,
        which may have committed nothing or, for all the caller knows, everything)."""
        try:
            return await self._write(fn)
        finally:
            restamp()

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._readers is None:
            raise RuntimeError("metadata store is not open")
        return await self._readers.read(fn)

    async def _one(self, sql: str, args: tuple) -> tuple | None:
        """A single-row lookup by key, run right here on the caller's thread.

        A primary-key lookup takes microseconds, less than the hop to a reader thread and back
        (measured: the hop was ~10% of a small PUT's event-loop time). In WAL mode a reader never
        waits for the writer, so this cannot stall the event loop behind a commit."""
        if self._readers is None:
            raise RuntimeError("metadata store is not open")
        conn = self._inline
        if conn is None:
            conn = self._inline = self._connect()
            conn.execute("PRAGMA query_only = ON")
        return retry_busy(lambda: conn.execute(sql, args).fetchone())

    async def _all(self, sql: str, args: tuple = ()) -> list[tuple]:
        return await self._read(lambda c: c.execute(sql, args).fetchall())

    async def _rowcount(self, sql: str, args: tuple) -> int:
        return await self._write(lambda c: c.execute(sql, args).rowcount)

    # -- users and keys ---------------------------------------------------------------------------
    def principals_stamp(self) -> bytes | None:
        return self._stamps.read(PRINCIPALS)

    async def _principal_write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A write that changes users or access keys: every process's cached ones are stale once it commits."""
        return await self._write_then(fn, lambda: self._stamps.renew(PRINCIPALS))

    async def put_user(self, user: User) -> None:
        values = user_values(user)
        await self._principal_write(lambda c: c.execute(
            f"INSERT OR REPLACE INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?)", values))

    async def get_user(self, user_id: str) -> User | None:
        row = await self._one(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
        return None if row is None else user_from_row(row)

    async def list_users(self) -> list[User]:
        return [user_from_row(r) for r in await self._all(f"SELECT {USER_COLUMNS} FROM users ORDER BY id")]

    async def delete_user(self, user_id: str) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM access_keys WHERE user_id = ?", (user_id,))
            return conn.execute("DELETE FROM users WHERE id = ?", (user_id,)).rowcount > 0

        return await self._principal_write(op)

    async def modify_user_props(self, user_id: str, fn) -> dict:
        def op(conn: sqlite3.Connection) -> dict:
            row = conn.execute("SELECT props FROM users WHERE id = ?", (user_id,)).fetchone()
            if row is None:
                raise NoSuchUser(user_id)
            props = fn(json.loads(row[0]))
            conn.execute("UPDATE users SET props = ? WHERE id = ?", (dumps(props), user_id))
            return props

        return await self._principal_write(op)

    async def put_access_key(self, key: AccessKey) -> None:
        values = access_key_values(key)
        await self._principal_write(lambda c: c.execute(
            f"INSERT OR REPLACE INTO access_keys ({ACCESS_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?)", values))

    async def get_access_key(self, access_key: str) -> AccessKey | None:
        row = await self._one(f"SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key = ?", (access_key,))
        return None if row is None else access_key_from_row(row)

    async def list_access_keys(self, user_id: str | None = None) -> list[AccessKey]:
        if user_id is None:
            rows = await self._all(f"SELECT {ACCESS_KEY_COLUMNS} FROM access_keys ORDER BY access_key")
        else:
            rows = await self._all(
                f"SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE user_id = ? ORDER BY access_key", (user_id,)
            )
        return [access_key_from_row(r) for r in rows]

    async def delete_access_key(self, access_key: str) -> bool:
        return await self._principal_write(
            lambda c: c.execute("DELETE FROM access_keys WHERE access_key = ?", (access_key,)).rowcount) > 0

    # -- buckets ----------------------------------------------------------------------------------
    async def _bucket_write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A write that changes bucket rows: every process's cached rows are stale once it commits."""
        return await self._write_then(fn, self._bucket_rows.changed)

    async def create_bucket(self, bucket: Bucket) -> None:
        await self._bucket_write(lambda c: sqlite_ops.create_bucket(c, bucket))

    async def get_bucket(self, name: str) -> Bucket | None:
        stamp = self._bucket_rows.stamp()  # before the read: a change committed meanwhile restamps
        row = self._bucket_rows.get(name, stamp)
        if row is None:
            row = await self._one(f"SELECT {BUCKET_COLUMNS} FROM buckets WHERE name = ?", (name,))
            if row is None:
                return None
            self._bucket_rows.put(name, row, stamp)
        return bucket_from_row(row)

    async def list_buckets(self, owner: str | None = None) -> list[Bucket]:
        if owner is None:
            rows = await self._all(f"SELECT {BUCKET_COLUMNS} FROM buckets ORDER BY name")
        else:
            rows = await self._all(f"SELECT {BUCKET_COLUMNS} FROM buckets WHERE owner = ? ORDER BY name", (owner,))
        return [bucket_from_row(r) for r in rows]

    async def update_bucket_props(self, name: str, props: dict) -> None:
        doc = dumps(props)
        if await self._bucket_write(lambda c: c.execute("UPDATE buckets SET props = ? WHERE name = ?",
                                                         (doc, name)).rowcount) == 0:
            raise NoSuchBucket(name)

    async def set_bucket_owner(self, name: str, owner: str) -> None:
        if await self._bucket_write(lambda c: c.execute("UPDATE buckets SET owner = ? WHERE name = ?",
                                                         (owner, name)).rowcount) == 0:
            raise NoSuchBucket(name)

    async def delete_bucket(self, name: str) -> list[str]:
        return await self._bucket_write(lambda c: sqlite_ops.delete_bucket(c, name))

    async def modify_bucket_props(self, name: str, fn) -> dict:
        def op(conn: sqlite3.Connection) -> dict:
            row = conn.execute("SELECT props FROM buckets WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NoSuchBucket(name)
            props = fn(json.loads(row[0]))
            conn.execute("UPDATE buckets SET props = ? WHERE name = ?", (dumps(props), name))
            return props

        return await self._bucket_write(op)

    # -- objects ----------------------------------------------------------------------------------
    async def get_object(self, bucket: str, key: str) -> ObjectRecord | None:
        row = await self._one(
            f"SELECT {OBJECT_SELECT} FROM objects WHERE bucket = ? AND key = ?", (bucket, enc(key))
        )
        return None if row is None else object_from_row(bucket, row)

    async def get_objects(self, bucket: str, keys: list[str]) -> list[ObjectRecord | None]:
        found: dict[str, ObjectRecord] = {}
        for i in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = [enc(k) for k in keys[i : i + _KEYS_PER_QUERY]]
            marks = ",".join("?" * len(chunk))
            for row in await self._all(f"SELECT {OBJECT_SELECT} FROM objects WHERE bucket = ? AND key IN ({marks})",
                                       (bucket, *chunk)):
                rec = object_from_row(bucket, row)
                found[rec.key] = rec
        return [found.get(k) for k in keys]

    async def put_object(
        self, record: ObjectRecord, expect: Expect | None = None, *, shared: bool = False,
        versioning: str | None = None, guard: Guard | None = None,
    ) -> list[str]:
        return await self._write(lambda c: sqlite_ops.put_object(c, record, expect, shared, versioning, guard))

    async def update_object(self, record: ObjectRecord, expect_etag: str | None = None) -> None:
        """Rewrite etag, times, owner, content type, headers, user metadata, checksums, storage
        class, version id and props; size, segments, parts and inline data stay as stored."""
        await self._write(lambda c: sqlite_ops.update_object(c, record, expect_etag))

    async def delete_object(self, bucket: str, key: str) -> tuple[ObjectRecord | None, list[str]]:
        removed, freed = await self._write(lambda c: sqlite_ops.delete_objects(c, bucket, [key]))
        return removed[0], freed

    async def delete_objects(
        self, bucket: str, keys: list[str], guard: Guard | None = None
    ) -> tuple[list[ObjectRecord | None], list[str]]:
        keys = list(keys)
        return await self._write(lambda c: sqlite_ops.delete_objects(c, bucket, keys, guard))

    # -- versions (the SQL lives in versions.py) -----------------------------------------
    async def get_version(self, bucket: str, key: str, version_id: str) -> ObjectRecord | None:
        return await self._read(lambda c: sqlite_versions.get_version(c, bucket, key, version_id))

    async def latest_marker(self, bucket: str, key: str) -> ObjectRecord | None:
        return await self._read(lambda c: sqlite_versions.latest_marker(c, bucket, key))

    async def delete_version(
        self, bucket: str, key: str, version_id: str, guard: Guard | None = None
    ) -> tuple[ObjectRecord | None, list[str]]:
        return await self._write(lambda c: sqlite_versions.delete_version(c, bucket, key, version_id, guard))

    async def add_delete_marker(self, marker: ObjectRecord, versioning: str, guard: Guard | None = None) -> list[str]:
        return await self._write(lambda c: sqlite_versions.add_marker(c, marker, versioning, guard))

    async def modify_props(self, bucket, key, version_id, fn) -> ObjectRecord | None:
        return await self._write(lambda c: sqlite_versions.modify_props(c, bucket, key, version_id, fn))

    async def list_versions(
        self, bucket: str, prefix: str = "", delimiter: str | None = None, key_marker: str | None = None,
        version_id_marker: str | None = None, limit: int = 1000,
    ) -> VersionPage:
        return await self._read(lambda c: sqlite_versions.list_versions(
            c, bucket, prefix, delimiter, key_marker, version_id_marker, limit))

    async def key_versions(self, bucket: str, key: str) -> list[VersionEntry]:
        return await self._read(lambda c: sqlite_versions.key_versions(c, bucket, key))

    async def scan_current(self, bucket: str, after: str | None, limit: int) -> list[tuple]:
        return await self._read(lambda c: sqlite_versions.scan_current(c, bucket, after, limit))

    async def scan_versioned_keys(self, bucket: str, after: str | None, limit: int) -> list[str]:
        return await self._read(lambda c: sqlite_versions.scan_keys_with_versions(c, bucket, after, limit))

    async def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str | None = None,
        after: str | None = None,
        limit: int = 1000,
    ) -> ListPage:
        return await self._read(
            lambda c: sqlite_listing.list_objects(c, bucket, prefix, delimiter, after, limit)
        )

    async def count_objects(self, bucket: str) -> tuple[int, int]:
        sql = "SELECT count(*), coalesce(sum(size), 0) FROM objects WHERE bucket = ?"
        row = await self._read(lambda c: c.execute(sql, (bucket,)).fetchone())  # a scan: off the loop
        assert row is not None
        return int(row[0]), int(row[1])

    # -- multipart --------------------------------------------------------------------------------
    async def create_upload(self, upload: MultipartUpload) -> None:
        await self._write(lambda c: sqlite_ops.create_upload(c, upload))

    async def get_upload(self, upload_id: str) -> MultipartUpload | None:
        row = await self._one(
            f"SELECT bucket, {UPLOAD_SELECT} FROM uploads WHERE upload_id = ?", (upload_id,)
        )
        return None if row is None else upload_from_row(row[0], row[1:])

    async def list_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str | None = None,
        key_marker: str | None = None,
        upload_id_marker: str | None = None,
        limit: int = 1000,
    ) -> UploadPage:
        return await self._read(
            lambda c: sqlite_listing.list_uploads(
                c, bucket, prefix, delimiter, key_marker, upload_id_marker, limit
            )
        )

    async def put_part(self, part: Part) -> list[str]:
        return await self._write(lambda c: sqlite_ops.put_part(c, part))

    async def list_parts(self, upload_id: str, after: int = 0, limit: int = 1000) -> tuple[list[Part], bool]:
        rows = await self._all(
            f"SELECT {PART_COLUMNS} FROM parts WHERE upload_id = ? AND number > ? ORDER BY number LIMIT ?",
            (upload_id, after, max(0, limit) + 1),
        )
        return [part_from_row(r) for r in rows[: max(0, limit)]], len(rows) > max(0, limit)

    async def complete_upload(
        self, upload_id: str, record: ObjectRecord, used_parts: list[int], expect: Expect | None = None,
        *, versioning: str | None = None, guard: Guard | None = None,
    ) -> list[str]:
        used = list(used_parts)
        return await self._write(
            lambda c: sqlite_ops.complete_upload(c, upload_id, record, used, expect, versioning, guard))

    async def abort_upload(self, upload_id: str) -> list[str]:
        return await self._write(lambda c: sqlite_ops.abort_upload(c, upload_id))

    # -- notifications and snapshots ---------------------------------------------------------------
    async def enqueue_events(self, items: list[tuple[str, dict]], replaces: int | None = None,
                             durable: bool = True, only_if_held: bool = False) -> list[int]:
        items = list(items)
        return await self._write(lambda c: sqlite_events.enqueue(c, items, replaces, only_if_held), durable)

    async def held_events(self) -> list[tuple[int, dict]]:
        return await self._read(sqlite_events.held)

    # Delivery bookkeeping is not fsynced on its own (durable=False): a crash that loses it only
    # makes an event be sent again, which at-least-once delivery allows; it saves an fsync per event.
    async def claim_events(self, limit: int, lease_seconds: float) -> list:
        if not await self._read(sqlite_events.has_due):
            return []
        return await self._write(lambda c: sqlite_events.claim(c, limit, lease_seconds), durable=False)

    async def event_done(self, event_id: int) -> None:
        await self._write(lambda c: sqlite_events.done(c, event_id), durable=False)

    async def event_retry(self, event_id: int, delay: float, error: str) -> None:
        await self._write(lambda c: sqlite_events.retry(c, event_id, delay, error), durable=False)

    async def release_events(self) -> None:
        await self._write(sqlite_events.release_all)

    async def event_queue_depth(self) -> int:
        """Notification events not yet delivered (held intents excluded): a metrics gauge."""
        return await self._read(lambda c: int(c.execute(
            "SELECT count(*) FROM event_queue WHERE target != ?", (sqlite_events.HELD,)).fetchone()[0]))

    # The listen log is never fsynced on its own (durable=False): losing its last rows in a crash
    # loses only events a live stream would have shown, never an object.
    async def listen_register(self, listener: str, bucket: str, expires: float) -> Any:
        return await self._write(lambda c: sqlite_listen.register(c, listener, bucket, expires), durable=False)

    async def listen_unregister(self, listener: str) -> None:
        await self._write(lambda c: sqlite_listen.unregister(c, listener), durable=False)

    async def listen_buckets(self, now: float) -> set[str]:
        return await self._read(lambda c: sqlite_listen.buckets(c, now))

    async def listen_append(self, rows: list[tuple[str, dict]]) -> None:
        rows = list(rows)
        await self._write(lambda c: sqlite_listen.append(c, rows), durable=False)

    async def listen_read(self, cursor: Any, bucket: str | None, limit: int) -> tuple[list[dict], Any]:
        return await self._read(lambda c: sqlite_listen.read(c, cursor, bucket, limit))

    async def listen_prune(self, before: float, now: float) -> None:
        await self._write(lambda c: sqlite_listen.prune(c, before, now), durable=False)

    async def snapshot_bucket(self, source: str, dest: Bucket) -> int:
        return await self._bucket_write(lambda c: sqlite_events.snapshot_bucket(c, source, dest))

    def jobs(self):  # the bulk-jobs store on the same database
        from coffer.server.meta.sqlite.bulk import SqliteJobStore

        return SqliteJobStore(self)

    def coordination(self):  # locks beside the file, queue and state in it
        from coffer.server.meta.sqlite.coordination import SqliteCoordination

        return SqliteCoordination(self.path)

    # -- housekeeping -----------------------------------------------------------------------------
    async def referenced(self, refs: list[str]) -> set[str]:
        wanted = list(dict.fromkeys(refs))
        return await self._read(lambda c: referenced(c, wanted))

    # -- garbage collection: pending refs and the GC queue --------------------------------------
    async def add_pending(self, ref: str, owner: str) -> None:
        await self._write(lambda c: rows_gc.add_pending(c, ref, owner), durable=False)

    async def forget_refs(self, refs: list[str]) -> None:
        if refs:
            wanted = list(dict.fromkeys(refs))
            await self._write(lambda c: rows_gc.forget(c, wanted), durable=False)

    async def live_refs(self, refs: list[str], pending_age: float) -> set[str]:
        wanted = list(dict.fromkeys(refs))
        return await self._read(lambda c: rows_gc.live(c, wanted, pending_age))

    async def claim_garbage(self, limit: int, lease_seconds: float, pending_age: float) -> list[str]:
        return await self._write(lambda c: rows_gc.claim_garbage(c, limit, lease_seconds, pending_age),
                                 durable=False)

    async def garbage_backlog(self) -> tuple[int, int]:
        row = await self._one("SELECT (SELECT count(*) FROM pending_refs), (SELECT count(*) FROM gc_queue)", ())
        return (int(row[0]), int(row[1])) if row else (0, 0)
