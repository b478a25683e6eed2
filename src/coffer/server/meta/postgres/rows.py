"""Column lists, key locks and data-ref counting for the PostgreSQL backend.

The record <-> row mapping is the SQLite backend's (meta/sqlite/rows.py): both store the same
columns with the same encodings (key as UTF-8 bytes, dict/list fields as JSON text), so a row read
from either database builds the same record. What differs is here: `%s` placeholders, upserts as
`ON CONFLICT`, and locking.

Locking (the rules every mutating function follows, so that two gateways never interleave badly):
- A write to (bucket, key) first takes `lock_keys`: transaction-scoped advisory locks on a 64-bit
  hash of (bucket, key), in ascending lock-id order when one call touches several keys. This
  serialises writers of one key even when no row exists yet (two If-None-Match: * creates), which
  a row lock cannot do; the row itself is then read `FOR UPDATE` before a guard sees it.
- A batch of several operations may still take locks of different keys in different orders in
  two gateways; PostgreSQL then reports a deadlock and the writer runs the batch again (engine.py).
- data_refs rows change only through single-statement upserts and conditional deletes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import psycopg

from coffer.server.meta.interface import ConditionalConflict
from coffer.server.meta.sqlite.rows import (  # the shared record <-> row mapping
    ACCESS_KEY_COLUMNS,
    BUCKET_COLUMNS,
    OBJECT_COLUMNS,
    OBJECT_ENTRY_SELECT,
    OBJECT_SELECT,
    PART_COLUMNS,
    UPLOAD_COLUMNS,
    UPLOAD_SELECT,
    USER_COLUMNS,
    access_key_from_row,
    access_key_values,
    bucket_from_row,
    bucket_values,
    dumps,
    enc,
    entry_from_row,
    object_from_row,
    object_meta_values,
    object_values,
    part_from_row,
    part_values,
    segment_refs,
    upload_from_row,
    upload_values,
    user_from_row,
    user_values,
)

__all__ = [
    "ACCESS_KEY_COLUMNS",
    "BUCKET_COLUMNS",
    "OBJECT_COLUMNS",
    "OBJECT_ENTRY_SELECT",
    "OBJECT_META_ASSIGN",
    "OBJECT_PLACEHOLDERS",
    "OBJECT_SELECT",
    "OBJECT_UPSERT",
    "PART_COLUMNS",
    "PART_PLACEHOLDERS",
    "UPLOAD_COLUMNS",
    "UPLOAD_PLACEHOLDERS",
    "UPLOAD_SELECT",
    "USER_COLUMNS",
    "access_key_from_row",
    "access_key_values",
    "add_pending",
    "bucket_from_row",
    "bucket_values",
    "claim_garbage",
    "decref",
    "dumps",
    "enc",
    "entry_from_row",
    "forget",
    "incref",
    "key_lock_id",
    "live",
    "lock_keys",
    "object_from_row",
    "object_meta_values",
    "object_values",
    "part_from_row",
    "part_values",
    "referenced",
    "segment_refs",
    "upload_from_row",
    "upload_values",
    "user_from_row",
    "user_values",
]


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


OBJECT_PLACEHOLDERS = _marks(17)
UPLOAD_PLACEHOLDERS = _marks(12)
PART_PLACEHOLDERS = _marks(8)
OBJECT_META_ASSIGN = (
    "etag = %s, last_modified = %s, owner = %s, content_type = %s, headers = %s, user_meta = %s, "
    "checksums = %s, checksum_type = %s, storage_class = %s, version_id = %s, props = %s"
)
_OBJECT_DATA = [c.strip() for c in OBJECT_COLUMNS.split(",")][2:]
OBJECT_UPSERT = (
    f"INSERT INTO objects ({OBJECT_COLUMNS}) VALUES ({OBJECT_PLACEHOLDERS}) ON CONFLICT (bucket, key) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _OBJECT_DATA)
)


def key_lock_id(bucket: str, kb: bytes) -> int:
    digest = hashlib.blake2b(bucket.encode() + b"\0" + kb, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_keys(conn: psycopg.Connection, bucket: str, keys: Iterable[bytes]) -> None:
    """Advisory locks on (bucket, key) for the rest of the transaction, in a fixed (ascending) order."""
    ids = sorted({key_lock_id(bucket, kb) for kb in keys})
    if len(ids) == 1:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (ids[0],))
    elif ids:
        conn.execute("SELECT pg_advisory_xact_lock(i) FROM unnest(%s::bigint[]) AS i ORDER BY i", (ids,))


# The database's clock in epoch seconds: every gateway's pending and GC rows are aged by it.
_NOW = "extract(epoch FROM clock_timestamp())"


def incref(conn: psycopg.Connection, refs: Iterable[str]) -> None:
    """One more reference per ref, and the ref stops being pending, in one statement; a ref in the
    GC queue is refused (see sqlite/rows.py)."""
    for ref in refs:
        row = conn.execute(
            "WITH up AS (INSERT INTO data_refs (ref, count) VALUES (%(r)s, 1) "
            "ON CONFLICT (ref) DO UPDATE SET count = data_refs.count + 1 RETURNING 1), "
            "pend AS (DELETE FROM pending_refs WHERE ref = %(r)s RETURNING 1) "
            "SELECT EXISTS (SELECT 1 FROM gc_queue WHERE ref = %(r)s)",
            {"r": ref},
        ).fetchone()
        if row and row[0]:
            raise ConditionalConflict(f"segment {ref} was collected as garbage")


def decref(conn: psycopg.Connection, refs: Iterable[str]) -> list[str]:
    """Drop one reference per occurrence; returns the refs that reached zero, each queued for GC in
    the same statement (see sqlite/rows.py)."""
    freed: list[str] = []
    for ref in refs:
        if conn.execute(
            "WITH gone AS (DELETE FROM data_refs WHERE ref = %s AND count <= 1 RETURNING ref), "
            f"q AS (INSERT INTO gc_queue (ref, queued) SELECT ref, {_NOW} FROM gone ON CONFLICT (ref) DO NOTHING) "
            "SELECT ref FROM gone", (ref,),
        ).fetchone():
            freed.append(ref)
        else:
            conn.execute("UPDATE data_refs SET count = count - 1 WHERE ref = %s", (ref,))
    return freed


# -- garbage collection (see sqlite/rows.py; ages by the database's clock) -------------------------


def add_pending(conn: psycopg.Connection, ref: str, owner: str) -> None:
    conn.execute(f"INSERT INTO pending_refs (ref, created, owner) VALUES (%s, {_NOW}, %s) "
                 "ON CONFLICT (ref) DO UPDATE SET created = EXCLUDED.created", (ref, owner))


def forget(conn: psycopg.Connection, refs: list[str]) -> None:
    conn.execute("DELETE FROM gc_queue WHERE ref = ANY(%s)", (refs,))
    conn.execute("DELETE FROM pending_refs WHERE ref = ANY(%s)", (refs,))


def live(conn: psycopg.Connection, refs: list[str], pending_age: float, chunk: int = 5000) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(refs), chunk):
        part = refs[i : i + chunk]
        rows = conn.execute(
            "SELECT ref FROM data_refs WHERE ref = ANY(%(p)s) UNION "
            f"SELECT ref FROM pending_refs WHERE ref = ANY(%(p)s) AND created > {_NOW} - %(age)s",
            {"p": part, "age": pending_age}).fetchall()
        found.update(r for (r,) in rows)
    return found


def claim_garbage(conn: psycopg.Connection, limit: int, lease: float, pending_age: float) -> list[str]:
    """Lease GC queue rows (SKIP LOCKED: two gateways' workers never claim the same row), then turn
    pending rows older than `pending_age` into leased GC rows."""
    refs = [r for (r,) in conn.execute(
        f"UPDATE gc_queue SET claimed_until = {_NOW} + %(lease)s WHERE ref IN "
        f"(SELECT ref FROM gc_queue WHERE claimed_until < {_NOW} LIMIT %(n)s FOR UPDATE SKIP LOCKED) RETURNING ref",
        {"lease": lease, "n": limit}).fetchall()]
    if len(refs) < limit:
        stale = [r for (r,) in conn.execute(
            "WITH stale AS (DELETE FROM pending_refs WHERE ref IN (SELECT ref FROM pending_refs "
            f"WHERE created <= {_NOW} - %(age)s ORDER BY created LIMIT %(n)s FOR UPDATE SKIP LOCKED) RETURNING ref) "
            f"INSERT INTO gc_queue (ref, queued, claimed_until) SELECT ref, {_NOW}, {_NOW} + %(lease)s FROM stale "
            "ON CONFLICT (ref) DO UPDATE SET claimed_until = EXCLUDED.claimed_until RETURNING ref",
            {"age": pending_age, "n": limit - len(refs), "lease": lease}).fetchall()]
        refs.extend(stale)
    return refs


def referenced(conn: psycopg.Connection, refs: list[str], chunk: int = 5000) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(refs), chunk):
        rows = conn.execute("SELECT ref FROM data_refs WHERE ref = ANY(%s)", (refs[i : i + chunk],)).fetchall()
        found.update(r for (r,) in rows)
    return found
