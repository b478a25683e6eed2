"""The mutating operations of the PostgreSQL metadata store, as functions of a connection.

The same operations and invariants as meta/sqlite/ops.py (read that module's notes on reference
counting): each function runs inside the writer's transaction in its own SAVEPOINT and may raise a
MetaError at any point. What PostgreSQL adds is concurrency between gateways: every write locks its
keys first (rows.lock_keys, fixed order), reads the row it replaces `FOR UPDATE`, and checks
preconditions and guards on that row, so a check and the write it allows see the same row. To save
round trips, an unversioned PUT reads and replaces the row in one statement and checks afterwards:
a check that fails raises, and the writer rolls the operation back (savepoint or transaction).
"""

from __future__ import annotations

import json
from collections import Counter

import psycopg

from coffer.server.meta.interface import (
    BucketExists,
    BucketNotEmpty,
    ConditionalConflict,
    Guard,
    NoSuchBucket,
    NoSuchUpload,
    PreconditionFailed,
)
from coffer.server.meta.model import Bucket, Expect, MultipartUpload, ObjectRecord, Part
from coffer.server.meta.postgres import versions as pg_versions
from coffer.server.meta.postgres.rows import (
    BUCKET_COLUMNS,
    OBJECT_META_ASSIGN,
    OBJECT_SELECT,
    OBJECT_UPSERT,
    PART_COLUMNS,
    PART_PLACEHOLDERS,
    UPLOAD_COLUMNS,
    UPLOAD_PLACEHOLDERS,
    bucket_values,
    decref,
    enc,
    incref,
    key_lock_id,
    lock_keys,
    object_from_row,
    object_meta_values,
    object_values,
    part_values,
    segment_refs,
    upload_values,
)


def require_bucket(conn: psycopg.Connection, name: str) -> None:
    # FOR KEY SHARE: a concurrent DeleteBucket waits for this transaction (and then sees its rows)
    if conn.execute("SELECT 1 FROM buckets WHERE name = %s FOR KEY SHARE", (name,)).fetchone() is None:
        raise NoSuchBucket(name)


def require_bucket_lock_key(conn: psycopg.Connection, bucket: str, kb: bytes) -> None:
    """`require_bucket` and `lock_keys` of one key in one statement (one round trip instead of two).
    Neither depends on the other's snapshot: the key's row is read only by the next statement."""
    row = conn.execute(
        "SELECT pg_advisory_xact_lock(%s) IS NULL, EXISTS (SELECT 1 FROM buckets WHERE name = %s FOR KEY SHARE)",
        (key_lock_id(bucket, kb), bucket),
    ).fetchone()
    if row is None or not row[1]:
        raise NoSuchBucket(bucket)


def _check_expect(current_etag: str | None, expect: Expect | None) -> None:
    if expect is None:
        return
    if expect.if_none_match_any and current_etag is not None:
        raise PreconditionFailed("the key exists (If-None-Match: *)")
    if expect.if_none_match is not None and current_etag == expect.if_none_match:
        raise PreconditionFailed("the object's etag matches (If-None-Match)")
    if expect.if_match is not None:
        if current_etag is None:
            raise PreconditionFailed("the key does not exist (If-Match)")
        if expect.if_match != "*" and expect.if_match != current_etag:
            raise PreconditionFailed("the object's etag differs (If-Match)")


def _current(conn: psycopg.Connection, bucket: str, key: bytes) -> tuple | None:
    """(etag, segments JSON, props JSON) of the stored object, locked for this transaction."""
    return conn.execute(
        "SELECT etag, segments, props FROM objects WHERE bucket = %s AND key = %s FOR UPDATE", (bucket, key)
    ).fetchone()


_WRITE_CURRENT = (
    "WITH old AS (SELECT etag, segments, props FROM objects WHERE bucket = %s AND key = %s FOR UPDATE), "
    f"new AS ({OBJECT_UPSERT}) SELECT etag, segments, props FROM old"
)


def write_object(
    conn: psycopg.Connection, record: ObjectRecord, expect: Expect | None,
    versioning: str | None = None, guard: Guard | None = None, *, locked: bool = False,
) -> list[str]:
    """Write the current version of record's key; locked: the caller holds the key's lock already.

    Without versioning, the row it replaces is read (FOR UPDATE) and replaced in one statement and
    the preconditions and guards are checked after it: a check that fails raises, and the caller's
    savepoint or transaction rolls the write back, so nothing a check refuses is ever committed."""
    kb = enc(record.key)
    if not locked:
        lock_keys(conn, record.bucket, [kb])
    if not versioning:
        incref(conn, (s.ref for s in record.segments))  # before any decref: old and new may share refs
        old = conn.execute(_WRITE_CURRENT, (record.bucket, kb, *object_values(record))).fetchone()
        _check_expect(None if old is None else old[0], expect)
        if old is None:
            return []
        if guard is not None and old[2] != "{}":
            guard(json.loads(old[2]))
        return decref(conn, segment_refs(old[1]))
    # versioned: the current version (if any) becomes noncurrent, keeping its refs
    old = _current(conn, record.bucket, kb)
    _check_expect(None if old is None else old[0], expect)
    incref(conn, (s.ref for s in record.segments))
    freed = pg_versions.make_room(conn, record.bucket, kb, versioning, guard, record.last_modified)
    conn.execute(OBJECT_UPSERT, object_values(record))
    return freed


def _drop_upload(conn: psycopg.Connection, upload_id: str) -> list[str]:
    refs = [r for (r,) in conn.execute("DELETE FROM parts WHERE upload_id = %s RETURNING ref", (upload_id,))]
    conn.execute("DELETE FROM uploads WHERE upload_id = %s", (upload_id,))
    return decref(conn, refs)


def _lock_upload(conn: psycopg.Connection, upload_id: str) -> tuple | None:
    return conn.execute("SELECT bucket, key FROM uploads WHERE upload_id = %s FOR UPDATE", (upload_id,)).fetchone()


# -- buckets -------------------------------------------------------------------------------------


def create_bucket(conn: psycopg.Connection, bucket: Bucket) -> None:
    row = conn.execute(
        f"INSERT INTO buckets ({BUCKET_COLUMNS}) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING "
        "RETURNING name", bucket_values(bucket)
    ).fetchone()
    if row is None:
        existing = conn.execute("SELECT owner FROM buckets WHERE name = %s", (bucket.name,)).fetchone()
        raise BucketExists(existing[0] if existing else "")


def delete_bucket(conn: psycopg.Connection, name: str) -> list[str]:
    if conn.execute("SELECT 1 FROM buckets WHERE name = %s FOR UPDATE", (name,)).fetchone() is None:
        raise NoSuchBucket(name)
    if conn.execute("SELECT 1 FROM objects WHERE bucket = %s LIMIT 1", (name,)).fetchone() is not None \
            or pg_versions.has_versions(conn, name):
        raise BucketNotEmpty(name)
    freed: list[str] = []
    for (upload_id,) in conn.execute("SELECT upload_id FROM uploads WHERE bucket = %s ORDER BY upload_id",
                                     (name,)).fetchall():
        freed.extend(_drop_upload(conn, upload_id))
    conn.execute("DELETE FROM buckets WHERE name = %s", (name,))
    return freed


# -- objects -------------------------------------------------------------------------------------


def put_object(
    conn: psycopg.Connection, record: ObjectRecord, expect: Expect | None, shared: bool = False,
    versioning: str | None = None, guard: Guard | None = None,
) -> list[str]:
    require_bucket_lock_key(conn, record.bucket, enc(record.key))
    if shared:
        refs = sorted({seg.ref for seg in record.segments})
        # FOR SHARE: the refs cannot be freed by another gateway before this commit
        live = {r for (r,) in conn.execute("SELECT ref FROM data_refs WHERE ref = ANY(%s) ORDER BY ref FOR SHARE",
                                           (refs,))}
        for ref in refs:
            if ref not in live:
                raise ConditionalConflict(f"segment {ref} is no longer referenced")
    return write_object(conn, record, expect, versioning, guard, locked=True)


def update_object(conn: psycopg.Connection, record: ObjectRecord, expect_etag: str | None) -> None:
    key = enc(record.key)
    lock_keys(conn, record.bucket, [key])
    old = _current(conn, record.bucket, key)
    if old is None:
        raise PreconditionFailed("the object no longer exists")
    if expect_etag is not None and old[0] != expect_etag:
        raise PreconditionFailed("the object changed (etag differs)")
    conn.execute(
        f"UPDATE objects SET {OBJECT_META_ASSIGN} WHERE bucket = %s AND key = %s",
        (*object_meta_values(record), record.bucket, key),
    )


def delete_objects(
    conn: psycopg.Connection, bucket: str, keys: list[str], guard: Guard | None = None
) -> tuple[list[ObjectRecord | None], list[str]]:
    lock_keys(conn, bucket, [enc(k) for k in keys])
    removed: list[ObjectRecord | None] = []
    freed: list[str] = []
    for key in keys:
        row = conn.execute(
            f"DELETE FROM objects WHERE bucket = %s AND key = %s RETURNING {OBJECT_SELECT}", (bucket, enc(key))
        ).fetchone()
        if row is None:
            removed.append(None)
            continue
        record = object_from_row(bucket, row)
        if guard is not None and record.props:
            guard(record.props)
        removed.append(record)
        freed.extend(decref(conn, (s.ref for s in record.segments)))
    return removed, freed


# -- multipart -----------------------------------------------------------------------------------


def create_upload(conn: psycopg.Connection, upload: MultipartUpload) -> None:
    require_bucket(conn, upload.bucket)
    conn.execute(f"INSERT INTO uploads ({UPLOAD_COLUMNS}) VALUES ({UPLOAD_PLACEHOLDERS})", upload_values(upload))


def put_part(conn: psycopg.Connection, part: Part) -> list[str]:
    # FOR SHARE on the upload: parts of one upload go in concurrently, completion/abort wait for them
    if conn.execute("SELECT 1 FROM uploads WHERE upload_id = %s FOR SHARE", (part.upload_id,)).fetchone() is None:
        raise NoSuchUpload(part.upload_id)
    # two gateways putting the same part number: the second waits, then replaces (and frees) the first
    lock_keys(conn, "part:" + part.upload_id, [str(part.number).encode()])
    old = conn.execute(
        "SELECT ref FROM parts WHERE upload_id = %s AND number = %s FOR UPDATE", (part.upload_id, part.number)
    ).fetchone()
    incref(conn, [part.segment.ref])
    conn.execute(
        f"INSERT INTO parts ({PART_COLUMNS}) VALUES ({PART_PLACEHOLDERS}) ON CONFLICT (upload_id, number) DO UPDATE "
        "SET size = EXCLUDED.size, etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified, ref = EXCLUDED.ref, "
        "ref_size = EXCLUDED.ref_size, checksums = EXCLUDED.checksums",
        part_values(part),
    )
    return decref(conn, [old[0]]) if old is not None else []


def complete_upload(
    conn: psycopg.Connection, upload_id: str, record: ObjectRecord, used_parts: list[int], expect: Expect | None,
    versioning: str | None = None, guard: Guard | None = None,
) -> list[str]:
    # lock order: the key first (as every object write), then the upload row
    lock_keys(conn, record.bucket, [enc(record.key)])
    row = _lock_upload(conn, upload_id)
    if row is None:
        raise NoSuchUpload(upload_id)
    if (row[0], bytes(row[1])) != (record.bucket, enc(record.key)):
        raise ValueError(f"upload {upload_id} is for {row[0]}/{row[1]!r}, not {record.bucket}/{record.key}")
    part_refs = dict(conn.execute("SELECT number, ref FROM parts WHERE upload_id = %s", (upload_id,)).fetchall())
    missing = [n for n in used_parts if n not in part_refs]
    if missing:
        raise ConditionalConflict(f"parts {missing} are not in upload {upload_id}")
    available = Counter(part_refs[n] for n in used_parts)
    extra = Counter(s.ref for s in record.segments) - available
    if extra:
        cur = conn.execute(
            "SELECT segments FROM objects WHERE bucket = %s AND key = %s", (record.bucket, enc(record.key))
        ).fetchone()
        if cur is None or extra - Counter(segment_refs(cur[0])):
            raise ConditionalConflict(f"upload {upload_id}: the record's segments are not its parts' segments")
    require_bucket(conn, record.bucket)
    freed = write_object(conn, record, expect, versioning, guard, locked=True)
    freed.extend(_drop_upload(conn, upload_id))
    return freed


def abort_upload(conn: psycopg.Connection, upload_id: str) -> list[str]:
    if _lock_upload(conn, upload_id) is None:
        raise NoSuchUpload(upload_id)
    return _drop_upload(conn, upload_id)
