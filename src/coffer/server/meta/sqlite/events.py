"""SQLite side of bucket notifications and container snapshots (OpenIO).

Owns two things the SQLite backend keeps for the OpenIO/notification features:

- The **event queue** (`event_queue` table, created by the migration `_event_queue` in schema.py): notification events
  waiting to be delivered to a webhook. A row is written in its own committed transaction before the
  S3 request that caused it is answered, so a restart (or a crash after the answer) never loses one.
  Delivery *claims* due rows with a lease (`claimed_until`): several worker processes share one
  queue without delivering the same event twice at the same time; a worker that dies mid-delivery
  leaves a lease that simply expires, and the event is delivered again (at-least-once).
- **Intents** (rows whose target is empty): written before a write request that will produce events
  runs, replaced by its events in one transaction after it succeeded, deleted if it failed. One left
  over after a crash is resolved at the next start by looking at the object (`recover_held`), so the
  window between an object's commit and its events' commit loses nothing.
- **Snapshots**: copying every object row of one bucket into a new bucket in one transaction, adding
  one reference to each data ref, so the snapshot shares the data and is consistent (no write to
  the source can land half-way through it).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from coffer.server.meta.interface import BucketExists, NoSuchBucket
from coffer.server.meta.model import Bucket
from coffer.server.meta.sqlite.rows import BUCKET_COLUMNS, OBJECT_SELECT, bucket_values, incref, segment_refs


@dataclass(slots=True)
class QueuedEvent:
    id: int
    target: str  # the webhook URL
    payload: dict
    attempts: int
    created: float


HELD = ""  # the target of a held row: an intent, never delivered (see Notifier.intend)


def enqueue(conn: sqlite3.Connection, items: list[tuple[str, dict]], replaces: int | None = None,
            only_if_held: bool = False) -> list[int]:
    """Insert events (a HELD target makes an intent row) and delete row `replaces`, atomically;
    with only_if_held, insert nothing when that row was already gone (someone else resolved it)."""
    now = time.time()
    if replaces is not None:
        gone = conn.execute("DELETE FROM event_queue WHERE id = ?", (replaces,)).rowcount
        if only_if_held and not gone:
            return []
    ids = []
    for target, payload in items:
        cur = conn.execute(
            "INSERT INTO event_queue (target, payload, created, next_at) VALUES (?, ?, ?, ?)",
            (target, json.dumps(payload, separators=(",", ":")), now, now),
        )
        ids.append(int(cur.lastrowid or 0))
    return ids


def held(conn: sqlite3.Connection) -> list[tuple[int, dict]]:
    rows = conn.execute("SELECT id, payload FROM event_queue WHERE target = ? ORDER BY id", (HELD,)).fetchall()
    return [(r[0], json.loads(r[1])) for r in rows]


def has_due(conn: sqlite3.Connection) -> bool:
    """A read-only look (no write lock) before claiming: idle workers poll without writing."""
    now = time.time()
    return conn.execute("SELECT 1 FROM event_queue WHERE next_at <= ? AND claimed_until <= ? AND target != ? "
                        "LIMIT 1", (now, now, HELD)).fetchone() is not None


def claim(conn: sqlite3.Connection, limit: int, lease_seconds: float) -> list[QueuedEvent]:
    """Take up to `limit` due, unclaimed events (oldest first) and lease them to the caller."""
    now = time.time()
    rows = conn.execute(
        "SELECT id, target, payload, attempts, created FROM event_queue "
        "WHERE next_at <= ? AND claimed_until <= ? AND target != ? ORDER BY id LIMIT ?",
        (now, now, HELD, limit),
    ).fetchall()
    if rows:
        conn.executemany("UPDATE event_queue SET claimed_until = ? WHERE id = ?",
                         [(now + lease_seconds, r[0]) for r in rows])
    return [QueuedEvent(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in rows]


def done(conn: sqlite3.Connection, event_id: int) -> None:
    conn.execute("DELETE FROM event_queue WHERE id = ?", (event_id,))


def retry(conn: sqlite3.Connection, event_id: int, delay: float, error: str) -> None:
    """Reschedule after a failed attempt; an empty `error` only releases the lease (no attempt made)."""
    conn.execute(
        "UPDATE event_queue SET attempts = attempts + ?, next_at = ?, claimed_until = 0, "
        "last_error = coalesce(?, last_error) WHERE id = ?",
        (1 if error else 0, time.time() + delay, error[:500] or None, event_id),
    )


def release_all(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE event_queue SET claimed_until = 0 WHERE claimed_until > 0")


def pending(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM event_queue").fetchone()[0])


def snapshot_bucket(conn: sqlite3.Connection, source: str, dest: Bucket) -> int:
    """Create bucket `dest` holding every object of `source` (same rows, shared data); returns
    the number of objects. Raises NoSuchBucket (source), BucketExists (dest)."""
    if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (source,)).fetchone() is None:
        raise NoSuchBucket(source)
    row = conn.execute("SELECT owner FROM buckets WHERE name = ?", (dest.name,)).fetchone()
    if row is not None:
        raise BucketExists(row[0])
    conn.execute(f"INSERT INTO buckets ({BUCKET_COLUMNS}) VALUES (?, ?, ?, ?, ?)", bucket_values(dest))
    cols = OBJECT_SELECT  # every column but the bucket
    n = conn.execute(
        f"INSERT INTO objects (bucket, {cols}) SELECT ?, {cols} FROM objects WHERE bucket = ?",
        (dest.name, source),
    ).rowcount
    # Each copied row holds one more reference to each of its data refs.
    for (segments,) in conn.execute("SELECT segments FROM objects WHERE bucket = ?", (dest.name,)).fetchall():
        incref(conn, segment_refs(segments))
    return n
