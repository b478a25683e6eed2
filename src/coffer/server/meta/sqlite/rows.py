"""Mapping between metadata records and SQLite rows, and data-ref counting.

Owns the column lists and the record <-> row conversion for every table of the SQLite backend
(so the SQL in ops.py / listing.py / store.py never spells a column order twice), and the
`data_refs` reference counting every mutating operation goes through.

Keys are stored as their UTF-8 bytes (see schema.py); dict/list fields as compact JSON. JSON
is written with ASCII escapes so that any Python str (even one SQLite's UTF-8 TEXT could not hold)
round-trips unchanged.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from coffer.server.meta.interface import ConditionalConflict
from coffer.server.meta.model import (
    AccessKey,
    Bucket,
    MultipartUpload,
    ObjectEntry,
    ObjectRecord,
    Part,
    PartInfo,
    Segment,
    User,
)
from coffer.server.meta.sqlite.schema import RECORD_COLUMNS, RECORD_IDENTITY, VERSION_COLUMNS


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def enc(key: str) -> bytes:
    """An S3 key as stored: its UTF-8 bytes (raises UnicodeEncodeError for lone surrogates)."""
    return key.encode("utf-8")


# -- users, keys, buckets ------------------------------------------------------------------------

USER_COLUMNS = "id, display_name, email, created, props"
ACCESS_KEY_COLUMNS = "access_key, secret_key, user_id, status, created"
BUCKET_COLUMNS = "name, owner, created, region, props"


def user_values(u: User) -> tuple:
    return (u.id, u.display_name, u.email, u.created, dumps(u.props))


def user_from_row(row: tuple) -> User:
    return User(id=row[0], display_name=row[1], email=row[2], created=row[3], props=json.loads(row[4]))


def access_key_values(k: AccessKey) -> tuple:
    return (k.access_key, k.secret_key, k.user_id, k.status, k.created)


def access_key_from_row(row: tuple) -> AccessKey:
    return AccessKey(access_key=row[0], secret_key=row[1], user_id=row[2], status=row[3], created=row[4])


def bucket_values(b: Bucket) -> tuple:
    return (b.name, b.owner, b.created, b.region, dumps(b.props))


def bucket_from_row(row: tuple) -> Bucket:
    return Bucket(name=row[0], owner=row[1], created=row[2], region=row[3], props=json.loads(row[4]))


# -- objects -------------------------------------------------------------------------------------

# Every column list of `objects` and `versions` comes from schema.RECORD_COLUMNS (one list for both
# tables); object_values / object_from_row follow its order. `inline` stays last (see schema.py:
# overflow pages are read only up to the last column a query asks for); listings select
# OBJECT_ENTRY_SELECT, which leaves it out.
_RECORD = [name for name, _decl in RECORD_COLUMNS]
assert _RECORD[-1] == "inline", "inline must stay the last column"
OBJECT_COLUMNS = ", ".join([name for name, _decl in RECORD_IDENTITY] + _RECORD)  # bucket, key, record
OBJECT_SELECT = ", ".join(["key", *_RECORD])  # a record of a known bucket
# The same record without its inline bytes (version listings: NULL in its place, same positions).
OBJECT_SELECT_NO_INLINE = ", ".join(["key", *_RECORD[:-1], "NULL"])
_VERSION_EXTRA = ", ".join(name for name, _decl in VERSION_COLUMNS)  # seq, marker, noncurrent_since
VERSION_COLUMNS_LIST = f"{_VERSION_EXTRA}, {OBJECT_COLUMNS}"  # every column of `versions`
VERSION_SELECT = f"{_VERSION_EXTRA}, {OBJECT_SELECT}"
VERSION_SELECT_NO_INLINE = f"{_VERSION_EXTRA}, {OBJECT_SELECT_NO_INLINE}"
# What a listing entry shows (ListObjects: key, size, etag, mtime, owner, checksum, class):
# decoding only these columns halves a 1000-key page's cost.
OBJECT_ENTRY_SELECT = "key, size, etag, last_modified, owner, checksums, checksum_type, storage_class"
OBJECT_PLACEHOLDERS = ", ".join("?" * (len(RECORD_IDENTITY) + len(RECORD_COLUMNS)))
# The columns update_object rewrites: everything but identity and the data (size, segments,
# parts, inline), whose refs are counted and which only a data write may change.
OBJECT_META_ASSIGN = (
    "etag = ?, last_modified = ?, owner = ?, content_type = ?, headers = ?, user_meta = ?, "
    "checksums = ?, checksum_type = ?, storage_class = ?, version_id = ?, props = ?"
)


def object_values(r: ObjectRecord) -> tuple:
    parts = None if r.parts is None else dumps(
        [[p.number, p.size, p.etag, p.checksums] for p in r.parts]
    )
    return (
        r.bucket, enc(r.key), r.size, r.etag, r.last_modified, r.owner, r.content_type,
        dumps(r.headers), dumps(r.user_meta), dumps(r.checksums), r.checksum_type,
        r.storage_class, r.version_id, dumps([[s.ref, s.size] for s in r.segments]), parts,
        dumps(r.props), r.inline,
    )


def object_meta_values(r: ObjectRecord) -> tuple:
    """Values for OBJECT_META_ASSIGN, in order."""
    return (
        r.etag, r.last_modified, r.owner, r.content_type, dumps(r.headers), dumps(r.user_meta),
        dumps(r.checksums), r.checksum_type, r.storage_class, r.version_id, dumps(r.props),
    )


def _loads(text: str):
    # Listings decode five JSON columns per row and most are empty: skip the parser for those
    # (json.loads was most of a 1000-key page's time).
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return json.loads(text)


def entry_from_row(row: tuple) -> ObjectEntry:
    """A listing entry from an OBJECT_ENTRY_SELECT row."""
    checksums = row[5]
    # '{"ALGO": "value"}': the algorithm is all a listing shows, so skip the JSON parser
    algo = checksums[2 : checksums.index('"', 2)] if len(checksums) > 2 else None
    return ObjectEntry(row[0].decode("utf-8"), row[1], row[2], row[3], row[4], algo, row[6], row[7])


def object_from_row(bucket: str, row: tuple) -> ObjectRecord:
    """Build a record from an OBJECT_SELECT row."""
    parts = None if row[13] is None else [
        PartInfo(number=n, size=s, etag=e, checksums=c) for n, s, e, c in json.loads(row[13])
    ]
    return ObjectRecord(
        bucket=bucket, key=row[0].decode("utf-8"), size=row[1], etag=row[2], last_modified=row[3],
        owner=row[4], content_type=row[5], headers=_loads(row[6]), user_meta=_loads(row[7]),
        checksums=_loads(row[8]), checksum_type=row[9], storage_class=row[10], version_id=row[11],
        segments=[Segment(ref=ref, size=size) for ref, size in _loads(row[12])],
        parts=parts, props=_loads(row[14]), inline=row[15],
    )


def segment_refs(segments_json: str) -> list[str]:
    """The refs of a stored `segments` column, one per segment (duplicates counted twice)."""
    return [ref for ref, _size in json.loads(segments_json)]


# -- multipart -----------------------------------------------------------------------------------

UPLOAD_SELECT = (
    "key, upload_id, initiated, owner, content_type, headers, user_meta, storage_class, "
    "checksum_algorithm, checksum_type, props"
)
UPLOAD_COLUMNS = f"bucket, {UPLOAD_SELECT}"
UPLOAD_PLACEHOLDERS = ", ".join("?" * 12)
PART_COLUMNS = "upload_id, number, size, etag, last_modified, ref, ref_size, checksums"
PART_PLACEHOLDERS = ", ".join("?" * 8)


def upload_values(u: MultipartUpload) -> tuple:
    return (
        u.bucket, enc(u.key), u.upload_id, u.initiated, u.owner, u.content_type, dumps(u.headers),
        dumps(u.user_meta), u.storage_class, u.checksum_algorithm, u.checksum_type, dumps(u.props),
    )


def upload_from_row(bucket: str, row: tuple) -> MultipartUpload:
    """Build an upload from an UPLOAD_SELECT row."""
    return MultipartUpload(
        upload_id=row[1], bucket=bucket, key=row[0].decode("utf-8"), initiated=row[2], owner=row[3],
        content_type=row[4], headers=json.loads(row[5]), user_meta=json.loads(row[6]),
        storage_class=row[7], checksum_algorithm=row[8], checksum_type=row[9], props=json.loads(row[10]),
    )


def part_values(p: Part) -> tuple:
    return (
        p.upload_id, p.number, p.size, p.etag, p.last_modified, p.segment.ref, p.segment.size,
        dumps(p.checksums),
    )


def part_from_row(row: tuple) -> Part:
    return Part(
        upload_id=row[0], number=row[1], size=row[2], etag=row[3], last_modified=row[4],
        segment=Segment(ref=row[5], size=row[6]), checksums=json.loads(row[7]),
    )


# -- reference counting --------------------------------------------------------------------------


def incref(conn: sqlite3.Connection, refs: Iterable[str]) -> None:
    """One more reference to each ref; a ref that was pending (its data just written) stops being
    pending in the same transaction, so a sweep always sees it as one or the other. A ref in the GC
    queue has had its data deleted or is about to (a writer stalled past the pending age):
    ConditionalConflict, and the transaction rolls back."""
    for ref in refs:
        if conn.execute("SELECT 1 FROM gc_queue WHERE ref = ?", (ref,)).fetchone():
            raise ConditionalConflict(f"segment {ref} was collected as garbage")
        conn.execute(
            "INSERT INTO data_refs (ref, count) VALUES (?, 1) "
            "ON CONFLICT (ref) DO UPDATE SET count = count + 1",
            (ref,),
        )
        conn.execute("DELETE FROM pending_refs WHERE ref = ?", (ref,))


def decref(conn: sqlite3.Connection, refs: Iterable[str]) -> list[str]:
    """Drop one reference to each ref (once per occurrence); returns the refs that reached zero.

    Callers always incref what a new row holds *before* decref'ing what the old row held, so a
    ref moving from one row to another (a re-put sharing data, complete_upload) never touches zero.
    A ref missing from data_refs is ignored rather than reported freed: deleting data on the
    strength of an inconsistent count could destroy something live; the orphan sweep (which asks
    `referenced`) reclaims it instead.
    """
    freed: list[str] = []
    for ref in refs:
        gone = conn.execute(
            "DELETE FROM data_refs WHERE ref = ? AND count <= 1 RETURNING ref", (ref,)
        ).fetchall()
        if gone:
            freed.append(ref)
            # The GC queue row commits with the change that orphaned the data: a crash before the
            # data is deleted leaves the row for the GC worker (never a leak).
            conn.execute("INSERT INTO gc_queue (ref, queued) VALUES (?, ?) ON CONFLICT (ref) DO NOTHING",
                         (ref, time.time()))
        else:
            conn.execute("UPDATE data_refs SET count = count - 1 WHERE ref = ?", (ref,))
    return freed


# -- garbage collection: pending refs and the GC queue (docs/cluster.md, "Garbage collection") ----


def add_pending(conn: sqlite3.Connection, ref: str, owner: str) -> None:
    """Mark `ref` as being written (or refresh the mark of a long write)."""
    conn.execute("INSERT INTO pending_refs (ref, created, owner) VALUES (?, ?, ?) "
                 "ON CONFLICT (ref) DO UPDATE SET created = excluded.created", (ref, time.time(), owner))


def forget(conn: sqlite3.Connection, refs: list[str]) -> None:
    """The data of these refs is deleted: drop their GC queue and pending rows."""
    conn.executemany("DELETE FROM gc_queue WHERE ref = ?", [(r,) for r in refs])
    conn.executemany("DELETE FROM pending_refs WHERE ref = ?", [(r,) for r in refs])


def live(conn: sqlite3.Connection, refs: list[str], pending_age: float, chunk: int = 400) -> set[str]:
    """Which refs are referenced, or pending and refreshed less than `pending_age` seconds ago
    (one statement per chunk: one snapshot, so a ref moving from pending to referenced is seen
    as one of them)."""
    found: set[str] = set()
    since = time.time() - pending_age
    for i in range(0, len(refs), chunk):
        part = refs[i : i + chunk]
        marks = ", ".join("?" * len(part))
        found.update(r for (r,) in conn.execute(
            f"SELECT ref FROM data_refs WHERE ref IN ({marks}) "
            f"UNION SELECT ref FROM pending_refs WHERE ref IN ({marks}) AND created > ?", [*part, *part, since]))
    return found


def claim_garbage(conn: sqlite3.Connection, limit: int, lease: float, pending_age: float) -> list[str]:
    """Lease up to `limit` refs whose data is garbage: GC queue rows not leased to another worker,
    then pending rows not refreshed for `pending_age` seconds (a dead writer's), which become GC
    queue rows here (the pending row goes, so a late commit of that writer finds nothing pending)."""
    now = time.time()
    refs = [r for (r,) in conn.execute(
        "UPDATE gc_queue SET claimed_until = ? WHERE ref IN "
        "(SELECT ref FROM gc_queue WHERE claimed_until < ? LIMIT ?) RETURNING ref", (now + lease, now, limit))]
    if len(refs) < limit:
        stale = [r for (r,) in conn.execute(
            "DELETE FROM pending_refs WHERE ref IN (SELECT ref FROM pending_refs WHERE created <= ? "
            "ORDER BY created LIMIT ?) RETURNING ref", (now - pending_age, limit - len(refs)))]
        conn.executemany("INSERT INTO gc_queue (ref, queued, claimed_until) VALUES (?, ?, ?) "
                         "ON CONFLICT (ref) DO UPDATE SET claimed_until = excluded.claimed_until",
                         [(r, now, now + lease) for r in stale])
        refs.extend(stale)
    return refs


def referenced(conn: sqlite3.Connection, refs: list[str], chunk: int = 500) -> set[str]:
    found: set[str] = set()
    # Chunked to stay well below SQLite's bound-parameter limit.
    for i in range(0, len(refs), chunk):
        part = refs[i : i + chunk]
        marks = ", ".join("?" * len(part))
        found.update(r for (r,) in conn.execute(f"SELECT ref FROM data_refs WHERE ref IN ({marks})", part))
    return found
