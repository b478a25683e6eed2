"""The mutating operations of the SQLite metadata store, as functions of a connection.

Owns the SQL and the invariants of every write that touches data references: bucket deletion,
object put/update/delete, and the multipart lifecycle. Each function runs inside the writer's
transaction (in its own SAVEPOINT, see engine.GroupCommitWriter), so it may raise a
MetaError at any point and everything it did is rolled back; it never commits itself.

Reference-count discipline (see rows.decref): a function increments the refs of what it
writes before decrementing the refs of what it replaces or deletes, and returns, as `freed`, the
refs whose count reached zero, for the caller to delete *after* the call returns.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

from coffer.server.meta.interface import (
    BucketExists,
    BucketNotEmpty,
    ConditionalConflict,
    NoSuchBucket,
    NoSuchUpload,
    PreconditionFailed,
)
from coffer.server.meta.model import Bucket, Expect, MultipartUpload, ObjectRecord, Part
from coffer.server.meta.sqlite import versions as sqlite_versions
from coffer.server.meta.sqlite.rows import (
    BUCKET_COLUMNS,
    OBJECT_COLUMNS,
    OBJECT_META_ASSIGN,
    OBJECT_PLACEHOLDERS,
    OBJECT_SELECT,
    PART_COLUMNS,
    PART_PLACEHOLDERS,
    UPLOAD_COLUMNS,
    UPLOAD_PLACEHOLDERS,
    bucket_values,
    decref,
    enc,
    incref,
    object_from_row,
    object_meta_values,
    object_values,
    part_values,
    segment_refs,
    upload_values,
)


def _require_bucket(conn: sqlite3.Connection, name: str) -> None:
    if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone() is None:
        raise NoSuchBucket(name)


def _check_expect(current_etag: str | None, expect: Expect | None) -> None:
    """Raise PreconditionFailed unless `expect` holds for the current object (None: absent)."""
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


def _current(conn: sqlite3.Connection, bucket: str, key: bytes) -> tuple[str, str, str] | None:
    """(etag, segments JSON, props JSON) of the stored object, or None."""
    return conn.execute(
        "SELECT etag, segments, props FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
    ).fetchone()


def _write_object(
    conn: sqlite3.Connection, record: ObjectRecord, expect: Expect | None,
    versioning: str | None = None, guard: sqlite_versions.Guard | None = None,
) -> list[str]:
    """Check `expect`, then insert or replace the object; returns refs freed from the old one.
    In a versioned bucket the old current version is kept (sqlite_versions.make_room); `guard`
    may refuse the destruction of a replaced version (WORM)."""
    kb = enc(record.key)
    old = _current(conn, record.bucket, kb)
    _check_expect(None if old is None else old[0], expect)
    incref(conn, (s.ref for s in record.segments))
    freed: list[str] = []
    if versioning:
        freed = sqlite_versions.make_room(conn, record.bucket, kb, versioning, guard, record.last_modified)
        old = None
    elif old is not None and guard is not None and old[2] != "{}":
        guard(json.loads(old[2]))
    conn.execute(
        f"INSERT OR REPLACE INTO objects ({OBJECT_COLUMNS}) VALUES ({OBJECT_PLACEHOLDERS})",
        object_values(record),
    )
    return freed + decref(conn, segment_refs(old[1])) if old is not None else freed


def _drop_upload(conn: sqlite3.Connection, upload_id: str) -> list[str]:
    """Delete an upload and all its parts; returns the parts' freed refs."""
    refs = [r for (r,) in conn.execute("SELECT ref FROM parts WHERE upload_id = ?", (upload_id,))]
    conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
    conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
    return decref(conn, refs)


# -- buckets -------------------------------------------------------------------------------------


def create_bucket(conn: sqlite3.Connection, bucket: Bucket) -> None:
    row = conn.execute("SELECT owner FROM buckets WHERE name = ?", (bucket.name,)).fetchone()
    if row is not None:
        raise BucketExists(row[0])
    conn.execute(f"INSERT INTO buckets ({BUCKET_COLUMNS}) VALUES (?, ?, ?, ?, ?)", bucket_values(bucket))


def delete_bucket(conn: sqlite3.Connection, name: str) -> list[str]:
    _require_bucket(conn, name)
    if conn.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone() is not None \
            or sqlite_versions.has_versions(conn, name):
        raise BucketNotEmpty(name)
    freed: list[str] = []
    uploads = [u for (u,) in conn.execute("SELECT upload_id FROM uploads WHERE bucket = ?", (name,))]
    for upload_id in uploads:
        freed.extend(_drop_upload(conn, upload_id))
    conn.execute("DELETE FROM buckets WHERE name = ?", (name,))
    return freed


# -- objects -------------------------------------------------------------------------------------


def put_object(
    conn: sqlite3.Connection, record: ObjectRecord, expect: Expect | None, shared: bool = False,
    versioning: str | None = None, guard: sqlite_versions.Guard | None = None,
) -> list[str]:
    if shared:
        _require_bucket(conn, record.bucket)
        # A copy points at the source's data: if the source was deleted (and its data freed)
        # between the caller's read and this commit, the refs are gone and so is the data.
        for seg in record.segments:
            if conn.execute("SELECT 1 FROM data_refs WHERE ref = ?", (seg.ref,)).fetchone() is None:
                raise ConditionalConflict(f"segment {seg.ref} is no longer referenced")
    try:
        return _write_object(conn, record, expect, versioning, guard)
    except sqlite3.IntegrityError as exc:
        # The row's foreign key checks the bucket (one statement fewer than a lookup first).
        if "FOREIGN KEY" in str(exc):
            raise NoSuchBucket(record.bucket) from None
        raise


def update_object(conn: sqlite3.Connection, record: ObjectRecord, expect_etag: str | None) -> None:
    key = enc(record.key)
    old = _current(conn, record.bucket, key)
    if old is None:
        raise PreconditionFailed("the object no longer exists")
    if expect_etag is not None and old[0] != expect_etag:
        raise PreconditionFailed("the object changed (etag differs)")
    conn.execute(
        f"UPDATE objects SET {OBJECT_META_ASSIGN} WHERE bucket = ? AND key = ?",
        (*object_meta_values(record), record.bucket, key),
    )


def delete_objects(
    conn: sqlite3.Connection, bucket: str, keys: list[str], guard: sqlite_versions.Guard | None = None
) -> tuple[list[ObjectRecord | None], list[str]]:
    removed: list[ObjectRecord | None] = []
    freed: list[str] = []
    for key in keys:
        rows = conn.execute(
            f"DELETE FROM objects WHERE bucket = ? AND key = ? RETURNING {OBJECT_SELECT}", (bucket, enc(key))
        ).fetchall()
        if not rows:
            removed.append(None)
            continue
        record = object_from_row(bucket, rows[0])
        if guard is not None and record.props:
            guard(record.props)  # raising rolls the whole batch back
        removed.append(record)
        freed.extend(decref(conn, (s.ref for s in record.segments)))
    return removed, freed


# -- multipart -----------------------------------------------------------------------------------


def create_upload(conn: sqlite3.Connection, upload: MultipartUpload) -> None:
    _require_bucket(conn, upload.bucket)
    conn.execute(f"INSERT INTO uploads ({UPLOAD_COLUMNS}) VALUES ({UPLOAD_PLACEHOLDERS})", upload_values(upload))


def put_part(conn: sqlite3.Connection, part: Part) -> list[str]:
    if conn.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (part.upload_id,)).fetchone() is None:
        raise NoSuchUpload(part.upload_id)
    old = conn.execute(
        "SELECT ref FROM parts WHERE upload_id = ? AND number = ?", (part.upload_id, part.number)
    ).fetchone()
    incref(conn, [part.segment.ref])
    conn.execute(f"INSERT OR REPLACE INTO parts ({PART_COLUMNS}) VALUES ({PART_PLACEHOLDERS})", part_values(part))
    return decref(conn, [old[0]]) if old is not None else []


def complete_upload(
    conn: sqlite3.Connection, upload_id: str, record: ObjectRecord, used_parts: list[int], expect: Expect | None,
    versioning: str | None = None, guard: sqlite_versions.Guard | None = None,
) -> list[str]:
    row = conn.execute("SELECT bucket, key FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone()
    if row is None:
        raise NoSuchUpload(upload_id)
    if (row[0], row[1]) != (record.bucket, enc(record.key)):
        raise ValueError(f"upload {upload_id} is for {row[0]}/{row[1]!r}, not {record.bucket}/{record.key}")
    part_refs = dict(conn.execute("SELECT number, ref FROM parts WHERE upload_id = ?", (upload_id,)).fetchall())
    missing = [n for n in used_parts if n not in part_refs]
    # The caller built `record` from a list_parts read; a concurrent UploadPart that replaced a part
    # since then has freed the segment the record names. Committing would point the object at
    # deleted data, so refuse (the caller's read is stale: 409, as for any conditional conflict).
    if missing:
        raise ConditionalConflict(f"parts {missing} are not in upload {upload_id}")
    available = Counter(part_refs[n] for n in used_parts)
    extra = Counter(s.ref for s in record.segments) - available
    if extra:
        # An append session's flush keeps the current object's data in front of the new pieces: those
        # refs must still belong to the object being replaced (else it changed under the caller).
        cur = conn.execute(
            "SELECT segments FROM objects WHERE bucket = ? AND key = ?", (record.bucket, enc(record.key))
        ).fetchone()
        if cur is None or extra - Counter(segment_refs(cur[0])):
            raise ConditionalConflict(f"upload {upload_id}: the record's segments are not its parts' segments")
    # Incref the object's refs before the parts' refs are dropped: the used ones move, not free.
    freed = _write_object(conn, record, expect, versioning, guard)
    freed.extend(_drop_upload(conn, upload_id))
    return freed


def abort_upload(conn: sqlite3.Connection, upload_id: str) -> list[str]:
    if conn.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone() is None:
        raise NoSuchUpload(upload_id)
    return _drop_upload(conn, upload_id)
