"""The PostgreSQL metadata store: `PostgresMetaStore`, the MetaStore backend shared by many gateways.

Owns the public face of the PostgreSQL backend: opening (migrations, the writer connection, the
read pool), routing every write through the process's group-commit writer and every read to the
read pool, and the read queries. Its pieces: schema (tables, migrations), engine (writer, pool,
errors), rows (columns, key locks, ref counting), ops (mutations), versions, listing, events, bulk.

Any number of processes on any hosts may open the same database; nothing is cached between calls,
so each call sees what is committed. Durability: a write's future resolves only after its
transaction committed (synchronous_commit on: flushed, and with synchronous replication configured
on the server, also on a standby). PostgreSQL unreachable: calls raise MetaUnavailable (S3: 503).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from coffer.server.meta.interface import Guard, MetaStore, NoSuchBucket, NoSuchUser
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
from coffer.server.meta.postgres import events as pg_events
from coffer.server.meta.postgres import invalidate as pg_invalidate
from coffer.server.meta.postgres import listen as pg_listen
from coffer.server.meta.postgres import listing as pg_listing
from coffer.server.meta.postgres import ops as pg_ops
from coffer.server.meta.postgres import rows as rows_gc
from coffer.server.meta.postgres import versions as pg_versions
from coffer.server.meta.postgres.engine import GroupCommitWriter, ReadPool, connect
from coffer.server.meta.postgres.rows import (
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
from coffer.server.meta.postgres.schema import migrate

__all__ = ["PostgresMetaStore", "is_postgres_url"]

T = TypeVar("T")
_BUCKET_SQL = f"SELECT {BUCKET_COLUMNS} FROM buckets WHERE name = %s"


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))


class PostgresMetaStore(MetaStore):
    def __init__(self, dsn: str, *, read_threads: int = 2) -> None:
        self.dsn = dsn
        self._read_threads = read_threads
        self._writer: GroupCommitWriter | None = None
        self._readers: ReadPool | None = None
        self._listener: pg_invalidate.Listener | None = None
        self._subscribers: list[tuple[asyncio.AbstractEventLoop | None, Callable[[str], None]]] = []

    # -- lifecycle --------------------------------------------------------------------------------
    async def open(self) -> None:
        if self._writer is not None:
            return
        conn = await asyncio.to_thread(self._open_writer_connection)
        self._writer = GroupCommitWriter(self.dsn, conn)
        self._readers = ReadPool(self.dsn, self._read_threads)
        self._readers.open()

    def _open_writer_connection(self) -> psycopg.Connection:
        conn = connect(self.dsn)
        try:
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    async def close(self) -> None:
        writer, readers, listener = self._writer, self._readers, self._listener
        self._writer = self._readers = self._listener = None
        if listener is not None:
            await asyncio.to_thread(listener.close)
        if writer is not None:
            await asyncio.to_thread(writer.close)
        if readers is not None:
            await asyncio.to_thread(readers.close)

    def on_invalidate(self, callback: Callable[[str], None]) -> None:
        # the first subscriber starts this process's LISTEN connection (a CLI never does)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._subscribers.append((loop, callback))
        if self._listener is None:
            self._listener = pg_invalidate.Listener(self.dsn, self._invalidated)
            self._listener.start()

    def _invalidated(self, what: str) -> None:  # on the listener's thread
        for loop, callback in list(self._subscribers):
            if loop is None:
                callback(what)
                continue
            try:
                loop.call_soon_threadsafe(callback, what)
            except RuntimeError:  # the loop is closed: the process is ending
                pass

    @property
    def commits(self) -> int:
        return self._writer.commits if self._writer is not None else 0

    async def _write(self, fn: Callable[[psycopg.Connection], T], durable: bool = True) -> T:
        if self._writer is None:
            raise RuntimeError("metadata store is not open")
        return await self._writer.write(fn, durable)

    async def _read(self, fn: Callable[[psycopg.Connection], T], snapshot: bool = True) -> T:
        """A read on a reader thread; snapshot=False: fn runs ONE statement (no transaction around it)."""
        if self._readers is None:
            raise RuntimeError("metadata store is not open")
        return await self._readers.read(fn, snapshot)

    async def _one(self, sql: str, args: tuple) -> tuple | None:
        # binary results: the same Python values (every column is text, bytea, integer or double), and
        # bytea (inline data, keys) travels as its bytes, not as hex text of twice the size
        return await self._read(lambda c: c.execute(sql, args, binary=True).fetchone(), snapshot=False)

    async def _all(self, sql: str, args: tuple = ()) -> list[tuple]:
        return await self._read(lambda c: c.execute(sql, args, binary=True).fetchall(), snapshot=False)

    async def _rowcount(self, sql: str, args: tuple) -> int:
        return await self._write(lambda c: c.execute(sql, args).rowcount)

    # -- users and keys ---------------------------------------------------------------------------
    async def put_user(self, user: User) -> None:
        def op(conn: psycopg.Connection) -> None:
            conn.execute(
                f"INSERT INTO users ({USER_COLUMNS}) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                "display_name = EXCLUDED.display_name, email = EXCLUDED.email, created = EXCLUDED.created, "
                "props = EXCLUDED.props", user_values(user))
            pg_invalidate.notify(conn, f"user:{user.id}")

        await self._write(op)

    async def get_user(self, user_id: str) -> User | None:
        row = await self._one(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,))
        return None if row is None else user_from_row(row)

    async def list_users(self) -> list[User]:
        rows = await self._all(f'SELECT {USER_COLUMNS} FROM users ORDER BY id COLLATE "C"')
        return [user_from_row(r) for r in rows]

    async def delete_user(self, user_id: str) -> bool:
        def op(conn: psycopg.Connection) -> bool:
            conn.execute("DELETE FROM access_keys WHERE user_id = %s", (user_id,))
            pg_invalidate.notify(conn, f"user:{user_id}")  # the user and every key of theirs
            return conn.execute("DELETE FROM users WHERE id = %s", (user_id,)).rowcount > 0

        return await self._write(op)

    async def modify_user_props(self, user_id: str, fn) -> dict:
        def op(conn: psycopg.Connection) -> dict:
            row = conn.execute("SELECT props FROM users WHERE id = %s FOR UPDATE", (user_id,)).fetchone()
            if row is None:
                raise NoSuchUser(user_id)
            props = fn(json.loads(row[0]))
            conn.execute("UPDATE users SET props = %s WHERE id = %s", (dumps(props), user_id))
            pg_invalidate.notify(conn, f"user:{user_id}")
            return props

        return await self._write(op)

    async def put_access_key(self, key: AccessKey) -> None:
        def op(conn: psycopg.Connection) -> None:
            conn.execute(
                f"INSERT INTO access_keys ({ACCESS_KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s) ON CONFLICT "
                "(access_key) DO UPDATE SET secret_key = EXCLUDED.secret_key, user_id = EXCLUDED.user_id, "
                "status = EXCLUDED.status, created = EXCLUDED.created", access_key_values(key))
            pg_invalidate.notify(conn, f"key:{key.access_key}")

        await self._write(op)

    async def get_access_key(self, access_key: str) -> AccessKey | None:
        row = await self._one(f"SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key = %s", (access_key,))
        return None if row is None else access_key_from_row(row)

    async def list_access_keys(self, user_id: str | None = None) -> list[AccessKey]:
        if user_id is None:
            rows = await self._all(f'SELECT {ACCESS_KEY_COLUMNS} FROM access_keys ORDER BY access_key COLLATE "C"')
        else:
            rows = await self._all(f"SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE user_id = %s "
                                   'ORDER BY access_key COLLATE "C"', (user_id,))
        return [access_key_from_row(r) for r in rows]

    async def delete_access_key(self, access_key: str) -> bool:
        def op(conn: psycopg.Connection) -> bool:
            pg_invalidate.notify(conn, f"key:{access_key}")
            return conn.execute("DELETE FROM access_keys WHERE access_key = %s", (access_key,)).rowcount > 0

        return await self._write(op)

    # -- buckets ----------------------------------------------------------------------------------
    async def create_bucket(self, bucket: Bucket) -> None:
        await self._write(lambda c: pg_ops.create_bucket(c, bucket))

    async def get_bucket(self, name: str) -> Bucket | None:
        # every request reads its bucket first: concurrent requests to one bucket share a queued read
        if self._readers is None:
            raise RuntimeError("metadata store is not open")
        row = await self._readers.read_shared(("bucket", name), lambda c: c.execute(_BUCKET_SQL, (name,),
                                                                                      binary=True).fetchone())
        return None if row is None else bucket_from_row(row)

    async def list_buckets(self, owner: str | None = None) -> list[Bucket]:
        if owner is None:
            rows = await self._all(f"SELECT {BUCKET_COLUMNS} FROM buckets ORDER BY name")  # name is COLLATE "C"
        else:
            rows = await self._all(f"SELECT {BUCKET_COLUMNS} FROM buckets WHERE owner = %s ORDER BY name", (owner,))
        return [bucket_from_row(r) for r in rows]

    async def update_bucket_props(self, name: str, props: dict) -> None:
        if await self._rowcount("UPDATE buckets SET props = %s WHERE name = %s", (dumps(props), name)) == 0:
            raise NoSuchBucket(name)

    async def set_bucket_owner(self, name: str, owner: str) -> None:
        if await self._rowcount("UPDATE buckets SET owner = %s WHERE name = %s", (owner, name)) == 0:
            raise NoSuchBucket(name)

    async def delete_bucket(self, name: str) -> list[str]:
        return await self._write(lambda c: pg_ops.delete_bucket(c, name))

    async def modify_bucket_props(self, name: str, fn) -> dict:
        def op(conn: psycopg.Connection) -> dict:
            row = conn.execute("SELECT props FROM buckets WHERE name = %s FOR UPDATE", (name,)).fetchone()
            if row is None:
                raise NoSuchBucket(name)
            props = fn(json.loads(row[0]))
            conn.execute("UPDATE buckets SET props = %s WHERE name = %s", (dumps(props), name))
            return props

        return await self._write(op)

    # -- objects ----------------------------------------------------------------------------------
    async def get_object(self, bucket: str, key: str) -> ObjectRecord | None:
        row = await self._one(f"SELECT {OBJECT_SELECT} FROM objects WHERE bucket = %s AND key = %s", (bucket, enc(key)))
        return None if row is None else object_from_row(bucket, row)

    async def get_objects(self, bucket: str, keys: list[str]) -> list[ObjectRecord | None]:
        rows = await self._all(f"SELECT {OBJECT_SELECT} FROM objects WHERE bucket = %s AND key = ANY(%s)",
                               (bucket, [enc(k) for k in keys]))
        found = {rec.key: rec for rec in (object_from_row(bucket, row) for row in rows)}
        return [found.get(k) for k in keys]

    async def put_object(
        self, record: ObjectRecord, expect: Expect | None = None, *, shared: bool = False,
        versioning: str | None = None, guard: Guard | None = None,
    ) -> list[str]:
        return await self._write(lambda c: pg_ops.put_object(c, record, expect, shared, versioning, guard))

    async def update_object(self, record: ObjectRecord, expect_etag: str | None = None) -> None:
        await self._write(lambda c: pg_ops.update_object(c, record, expect_etag))

    async def delete_object(self, bucket: str, key: str) -> tuple[ObjectRecord | None, list[str]]:
        removed, freed = await self._write(lambda c: pg_ops.delete_objects(c, bucket, [key]))
        return removed[0], freed

    async def delete_objects(
        self, bucket: str, keys: list[str], guard: Guard | None = None
    ) -> tuple[list[ObjectRecord | None], list[str]]:
        keys = list(keys)
        return await self._write(lambda c: pg_ops.delete_objects(c, bucket, keys, guard))

    # -- versions ---------------------------------------------------------------------------------
    async def get_version(self, bucket: str, key: str, version_id: str) -> ObjectRecord | None:
        return await self._read(lambda c: pg_versions.get_version(c, bucket, key, version_id))

    async def latest_marker(self, bucket: str, key: str) -> ObjectRecord | None:
        return await self._read(lambda c: pg_versions.latest_marker(c, bucket, key))

    async def delete_version(
        self, bucket: str, key: str, version_id: str, guard: Guard | None = None
    ) -> tuple[ObjectRecord | None, list[str]]:
        return await self._write(lambda c: pg_versions.delete_version(c, bucket, key, version_id, guard))

    async def add_delete_marker(self, marker: ObjectRecord, versioning: str, guard: Guard | None = None) -> list[str]:
        return await self._write(lambda c: pg_versions.add_marker(c, marker, versioning, guard))

    async def modify_props(self, bucket, key, version_id, fn) -> ObjectRecord | None:
        return await self._write(lambda c: pg_versions.modify_props(c, bucket, key, version_id, fn))

    async def list_versions(
        self, bucket: str, prefix: str = "", delimiter: str | None = None, key_marker: str | None = None,
        version_id_marker: str | None = None, limit: int = 1000,
    ) -> VersionPage:
        return await self._read(lambda c: pg_versions.list_versions(
            c, bucket, prefix, delimiter, key_marker, version_id_marker, limit))

    async def key_versions(self, bucket: str, key: str) -> list[VersionEntry]:
        return await self._read(lambda c: pg_versions.key_versions(c, bucket, key))

    async def scan_current(self, bucket: str, after: str | None, limit: int) -> list[tuple]:
        return await self._read(lambda c: pg_versions.scan_current(c, bucket, after, limit))

    async def scan_versioned_keys(self, bucket: str, after: str | None, limit: int) -> list[str]:
        return await self._read(lambda c: pg_versions.scan_keys_with_versions(c, bucket, after, limit))

    async def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str | None = None, after: str | None = None,
        limit: int = 1000,
    ) -> ListPage:
        # one statement whatever the page's shape (listing.py): no snapshot transaction needed
        return await self._read(lambda c: pg_listing.list_objects(c, bucket, prefix, delimiter, after, limit),
                                snapshot=False)

    async def count_objects(self, bucket: str) -> tuple[int, int]:
        row = await self._one("SELECT count(*), coalesce(sum(size), 0)::bigint FROM objects WHERE bucket = %s",
                              (bucket,))
        assert row is not None
        return int(row[0]), int(row[1])

    # -- multipart --------------------------------------------------------------------------------
    async def create_upload(self, upload: MultipartUpload) -> None:
        await self._write(lambda c: pg_ops.create_upload(c, upload))

    async def get_upload(self, upload_id: str) -> MultipartUpload | None:
        row = await self._one(f"SELECT bucket, {UPLOAD_SELECT} FROM uploads WHERE upload_id = %s", (upload_id,))
        return None if row is None else upload_from_row(row[0], row[1:])

    async def list_uploads(
        self, bucket: str, prefix: str = "", delimiter: str | None = None, key_marker: str | None = None,
        upload_id_marker: str | None = None, limit: int = 1000,
    ) -> UploadPage:
        return await self._read(lambda c: pg_listing.list_uploads(
            c, bucket, prefix, delimiter, key_marker, upload_id_marker, limit))

    async def put_part(self, part: Part) -> list[str]:
        return await self._write(lambda c: pg_ops.put_part(c, part))

    async def list_parts(self, upload_id: str, after: int = 0, limit: int = 1000) -> tuple[list[Part], bool]:
        rows = await self._all(
            f"SELECT {PART_COLUMNS} FROM parts WHERE upload_id = %s AND number > %s ORDER BY number LIMIT %s",
            (upload_id, after, max(0, limit) + 1),
        )
        return [part_from_row(r) for r in rows[: max(0, limit)]], len(rows) > max(0, limit)

    async def complete_upload(
        self, upload_id: str, record: ObjectRecord, used_parts: list[int], expect: Expect | None = None,
        *, versioning: str | None = None, guard: Guard | None = None,
    ) -> list[str]:
        used = list(used_parts)
        return await self._write(
            lambda c: pg_ops.complete_upload(c, upload_id, record, used, expect, versioning, guard))

    async def abort_upload(self, upload_id: str) -> list[str]:
        return await self._write(lambda c: pg_ops.abort_upload(c, upload_id))

    # -- notifications and snapshots ---------------------------------------------------------------
    async def enqueue_events(self, items: list[tuple[str, dict]], replaces: int | None = None,
                             durable: bool = True, only_if_held: bool = False) -> list[int]:
        items = list(items)
        return await self._write(lambda c: pg_events.enqueue(c, items, replaces, only_if_held), durable)

    async def held_events(self) -> list[tuple[int, dict]]:
        return await self._read(pg_events.held)

    async def claim_events(self, limit: int, lease_seconds: float) -> list:
        if not await self._read(pg_events.has_due, snapshot=False):
            return []
        return await self._write(lambda c: pg_events.claim(c, limit, lease_seconds), durable=False)

    async def event_done(self, event_id: int) -> None:
        await self._write(lambda c: pg_events.done(c, event_id), durable=False)

    async def event_retry(self, event_id: int, delay: float, error: str) -> None:
        await self._write(lambda c: pg_events.retry(c, event_id, delay, error), durable=False)

    async def release_events(self) -> None:
        await self._write(pg_events.release_all)

    # The listen log is never fsynced on its own (durable=False): losing its last rows in a crash
    # loses only events a live stream would have shown, never an object.
    async def listen_register(self, listener: str, bucket: str, expires: float) -> Any:
        return await self._write(lambda c: pg_listen.register(c, listener, bucket, expires), durable=False)

    async def listen_unregister(self, listener: str) -> None:
        await self._write(lambda c: pg_listen.unregister(c, listener), durable=False)

    async def listen_buckets(self, now: float) -> set[str]:
        return await self._read(lambda c: pg_listen.buckets(c, now), snapshot=False)

    async def listen_append(self, rows: list[tuple[str, dict]]) -> None:
        rows = list(rows)
        await self._write(lambda c: pg_listen.append(c, rows), durable=False)

    async def listen_read(self, cursor: Any, bucket: str | None, limit: int) -> tuple[list[dict], Any]:
        return await self._read(lambda c: pg_listen.read(c, cursor, bucket, limit), snapshot=False)

    async def listen_prune(self, before: float, now: float) -> None:
        await self._write(lambda c: pg_listen.prune(c, before, now), durable=False)

    async def snapshot_bucket(self, source: str, dest: Bucket) -> int:
        return await self._write(lambda c: pg_events.snapshot_bucket(c, source, dest))

    def jobs(self):
        from coffer.server.meta.postgres.bulk import PostgresJobStore

        return PostgresJobStore(self)

    def key_vault(self):  # the cluster's keys, in the shared database
        from coffer.server.meta.postgres.coordination import PostgresCoordination

        return PostgresCoordination(self.dsn)

    def coordination(self):  # session advisory locks; queue and state in the database
        from coffer.server.meta.postgres.coordination import PostgresCoordination

        return PostgresCoordination(self.dsn)

    # -- housekeeping -----------------------------------------------------------------------------
    async def referenced(self, refs: list[str]) -> set[str]:
        wanted = list(dict.fromkeys(refs))
        return await self._read(lambda c: referenced(c, wanted), snapshot=len(wanted) > 5000)

    # -- garbage collection: pending refs and the GC queue --------------------------------------
    async def add_pending(self, ref: str, owner: str) -> None:
        # Durable (unlike SQLite's): a mark lost in a failover to a standby, while the writer lives on
        # and commits later, would let a sweep delete data that then becomes referenced.
        await self._write(lambda c: rows_gc.add_pending(c, ref, owner))

    async def forget_refs(self, refs: list[str]) -> None:
        if refs:
            wanted = list(dict.fromkeys(refs))
            await self._write(lambda c: rows_gc.forget(c, wanted), durable=False)

    async def live_refs(self, refs: list[str], pending_age: float) -> set[str]:
        wanted = list(dict.fromkeys(refs))
        return await self._read(lambda c: rows_gc.live(c, wanted, pending_age), snapshot=len(wanted) > 5000)

    async def claim_garbage(self, limit: int, lease_seconds: float, pending_age: float) -> list[str]:
        return await self._write(lambda c: rows_gc.claim_garbage(c, limit, lease_seconds, pending_age),
                                 durable=False)

    async def garbage_backlog(self) -> tuple[int, int]:
        row = await self._one("SELECT (SELECT count(*) FROM pending_refs), (SELECT count(*) FROM gc_queue)", ())
        return (int(row[0]), int(row[1])) if row else (0, 0)
