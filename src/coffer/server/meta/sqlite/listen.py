"""SQLite side of the listen API (ListenBucketNotification): a short-lived event log and listener leases.

Owns two tables (created by the migration `_listen_tables` in schema.py):

- `listeners`: one row per open listen stream (any worker process), with a lease (`expires`) the
  stream renews while it runs and deletes when it ends; a worker killed mid-stream leaves a row that
  simply expires. Every worker reads the set of listened buckets a few times a second and writes
  events to the log only for those, so a bucket nobody listens to pays nothing.
- `listen_log`: one row per S3 event record of a listened bucket, in commit order (AUTOINCREMENT
  ids, one writer at a time). Streams read it with a cursor (the last id they sent); rows are pruned
  by age, so a stream that falls further behind than that loses events (as MinIO drops events for a
  slow listener). Not durable on its own: a crash may lose the last events, never an object.

A cursor is the last id read: one writer at a time takes ids and commits in the same order, so no
row ever appears below a cursor (the PostgreSQL backend needs more, see meta/postgres/listen.py).
"""

from __future__ import annotations

import json
import sqlite3
import time


def register(conn: sqlite3.Connection, listener: str, bucket: str, expires: float) -> int:
    """Insert or renew a lease; returns the cursor of the log's end (read from the same transaction)."""
    conn.execute("INSERT OR REPLACE INTO listeners (id, bucket, expires) VALUES (?, ?, ?)", (listener, bucket, expires))
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM listen_log").fetchone()[0])


def unregister(conn: sqlite3.Connection, listener: str) -> None:
    conn.execute("DELETE FROM listeners WHERE id = ?", (listener,))


def buckets(conn: sqlite3.Connection, now: float) -> set[str]:
    return {r[0] for r in conn.execute("SELECT DISTINCT bucket FROM listeners WHERE expires > ?", (now,))}


def append(conn: sqlite3.Connection, rows: list[tuple[str, dict]]) -> None:
    now = time.time()
    conn.executemany("INSERT INTO listen_log (bucket, created, record) VALUES (?, ?, ?)",
                     [(b, now, json.dumps(r, separators=(",", ":"))) for b, r in rows])


def read(conn: sqlite3.Connection, cursor: int, bucket: str | None, limit: int) -> tuple[list[dict], int]:
    """Records after `cursor` (of `bucket`, or of every bucket), oldest first, and the new cursor."""
    if bucket is None:
        rows = conn.execute("SELECT id, record FROM listen_log WHERE id > ? ORDER BY id LIMIT ?",
                            (cursor, limit)).fetchall()
    else:
        rows = conn.execute("SELECT id, record FROM listen_log WHERE id > ? AND bucket = ? ORDER BY id LIMIT ?",
                            (cursor, bucket, limit)).fetchall()
    return [json.loads(r[1]) for r in rows], (int(rows[-1][0]) if rows else cursor)


def prune(conn: sqlite3.Connection, before: float, now: float) -> None:
    """Drop log rows created before `before` and leases expired at `now`."""
    conn.execute("DELETE FROM listen_log WHERE created < ?", (before,))
    conn.execute("DELETE FROM listeners WHERE expires <= ?", (now,))
