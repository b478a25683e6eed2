"""The listen API's event log and listener leases in the PostgreSQL backend.

The same contract as meta/sqlite/listen.py (read its notes), with one difference: several gateways
and workers insert into the log at once, and a `bigserial` id is taken when a row is inserted, not
when it commits, so a row with a smaller id can become visible after a larger one (and a rolled-back
insert leaves a hole for ever). A cursor is therefore the highest id read plus the holes below it
(`PgCursor.pending`), each watched for `HOLE_SECONDS`: a row that fills one later is still read,
a hole older than that is given up (its transaction rolled back, or lasted longer than any batch).
Rows of every bucket are read and filtered here, so another bucket's row is never taken for a hole.

(Ordering by transaction ids below `pg_snapshot_xmin` was tried first: exact, but one long
transaction anywhere on the PostgreSQL server, in any database, held every stream back.)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import psycopg

HOLE_SECONDS = 30.0
MAX_HOLES = 10_000  # a bound on a cursor's size; beyond it the oldest holes are given up


@dataclass(frozen=True, slots=True)
class PgCursor:
    last: int
    pending: dict[int, float] = field(default_factory=dict)  # hole id -> monotonic deadline


def register(conn: psycopg.Connection, listener: str, bucket: str, expires: float) -> PgCursor:
    conn.execute("INSERT INTO listeners (id, bucket, expires) VALUES (%s, %s, %s) "
                 "ON CONFLICT (id) DO UPDATE SET expires = excluded.expires", (listener, bucket, expires))
    row = conn.execute("SELECT coalesce(max(id), 0) FROM listen_log").fetchone()
    # A row below this maximum that commits later belongs to a write that began before the stream.
    return PgCursor(int(row[0]) if row else 0)


def unregister(conn: psycopg.Connection, listener: str) -> None:
    conn.execute("DELETE FROM listeners WHERE id = %s", (listener,))


def buckets(conn: psycopg.Connection, now: float) -> set[str]:
    return {r[0] for r in conn.execute("SELECT DISTINCT bucket FROM listeners WHERE expires > %s", (now,))}


def append(conn: psycopg.Connection, rows: list[tuple[str, dict]]) -> None:
    now = time.time()
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO listen_log (bucket, created, record) VALUES (%s, %s, %s)",
                        [(b, now, json.dumps(r, separators=(",", ":"))) for b, r in rows])


def read(conn: psycopg.Connection, cursor: PgCursor, bucket: str | None,
         limit: int) -> tuple[list[dict], PgCursor]:
    now = time.monotonic()
    pending = {i: t for i, t in cursor.pending.items() if t > now}
    rows = conn.execute("SELECT id, bucket, record FROM listen_log WHERE id > %s OR id = ANY(%s) ORDER BY id LIMIT %s",
                        (cursor.last, list(pending), limit)).fetchall()
    last = cursor.last
    out: list[dict] = []
    for rid, rbucket, record in rows:
        rid = int(rid)
        if rid in pending:
            del pending[rid]
        elif rid > last:
            for hole in range(last + 1, min(rid, last + 1 + MAX_HOLES)):
                pending[hole] = now + HOLE_SECONDS
            last = rid
        if bucket is None or rbucket == bucket:
            out.append(json.loads(record))
    if len(pending) > MAX_HOLES:
        pending = dict(sorted(pending.items())[-MAX_HOLES:])
    return out, PgCursor(last, pending)


def prune(conn: psycopg.Connection, before: float, now: float) -> None:
    conn.execute("DELETE FROM listen_log WHERE created < %s", (before,))
    conn.execute("DELETE FROM listeners WHERE expires <= %s", (now,))
