"""Bucket notifications' event queue and bucket snapshots in the PostgreSQL backend.

The same contract as meta/sqlite/events.py (read its notes on intents, leases and at-least-once
delivery). Several gateways share one queue: a claim selects due rows `FOR UPDATE SKIP LOCKED`, so
two gateways claiming at once take different rows instead of waiting for (or double-leasing) each
other's, and the lease (`claimed_until`) covers a deliverer that dies mid-delivery.
"""

from __future__ import annotations

import json
import time

import psycopg

from coffer.server.meta.interface import BucketExists, NoSuchBucket
from coffer.server.meta.model import Bucket
from coffer.server.meta.postgres.rows import BUCKET_COLUMNS, OBJECT_COLUMNS, bucket_values, incref, segment_refs
from coffer.server.meta.sqlite.events import HELD, QueuedEvent

__all__ = ["HELD", "QueuedEvent", "claim", "done", "enqueue", "has_due", "held", "release_all", "retry",
           "snapshot_bucket"]


def enqueue(conn: psycopg.Connection, items: list[tuple[str, dict]], replaces: int | None = None,
            only_if_held: bool = False) -> list[int]:
    now = time.time()
    if replaces is not None:
        gone = conn.execute("DELETE FROM event_queue WHERE id = %s", (replaces,)).rowcount
        if only_if_held and not gone:
            return []
    ids = []
    for target, payload in items:
        row = conn.execute(
            "INSERT INTO event_queue (target, payload, created, next_at) VALUES (%s, %s, %s, %s) RETURNING id",
            (target, json.dumps(payload, separators=(",", ":")), now, now),
        ).fetchone()
        ids.append(int(row[0]) if row else 0)
    return ids


def held(conn: psycopg.Connection) -> list[tuple[int, dict]]:
    rows = conn.execute("SELECT id, payload FROM event_queue WHERE target = %s ORDER BY id", (HELD,)).fetchall()
    return [(r[0], json.loads(r[1])) for r in rows]


def has_due(conn: psycopg.Connection) -> bool:
    now = time.time()
    return conn.execute("SELECT 1 FROM event_queue WHERE next_at <= %s AND claimed_until <= %s AND target <> %s "
                        "LIMIT 1", (now, now, HELD)).fetchone() is not None


def claim(conn: psycopg.Connection, limit: int, lease_seconds: float) -> list[QueuedEvent]:
    now = time.time()
    rows = conn.execute(
        "UPDATE event_queue SET claimed_until = %s WHERE id IN ("
        " SELECT id FROM event_queue WHERE next_at <= %s AND claimed_until <= %s AND target <> %s"
        " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) "
        "RETURNING id, target, payload, attempts, created",
        (now + lease_seconds, now, now, HELD, limit),
    ).fetchall()
    rows.sort(key=lambda r: r[0])
    return [QueuedEvent(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in rows]


def done(conn: psycopg.Connection, event_id: int) -> None:
    conn.execute("DELETE FROM event_queue WHERE id = %s", (event_id,))


def retry(conn: psycopg.Connection, event_id: int, delay: float, error: str) -> None:
    conn.execute(
        "UPDATE event_queue SET attempts = attempts + %s, next_at = %s, claimed_until = 0, "
        "last_error = coalesce(%s, last_error) WHERE id = %s",
        (1 if error else 0, time.time() + delay, error[:500] or None, event_id),
    )


def release_all(conn: psycopg.Connection) -> None:
    conn.execute("UPDATE event_queue SET claimed_until = 0 WHERE claimed_until > 0")


def snapshot_bucket(conn: psycopg.Connection, source: str, dest: Bucket) -> int:
    # FOR SHARE on the source: object writes take FOR KEY SHARE, which does not conflict; the copy is
    # one INSERT ... SELECT, a consistent snapshot of the source's rows at that statement
    if conn.execute("SELECT 1 FROM buckets WHERE name = %s FOR SHARE", (source,)).fetchone() is None:
        raise NoSuchBucket(source)
    if conn.execute(f"INSERT INTO buckets ({BUCKET_COLUMNS}) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) "
                    "DO NOTHING RETURNING name", bucket_values(dest)).fetchone() is None:
        row = conn.execute("SELECT owner FROM buckets WHERE name = %s", (dest.name,)).fetchone()
        raise BucketExists(row[0] if row else "")
    cols = OBJECT_COLUMNS.split(",", 1)[1].strip()  # every column but bucket
    copied = conn.execute(
        f"INSERT INTO objects (bucket, {cols}) SELECT %s, {cols} FROM objects WHERE bucket = %s RETURNING segments",
        (dest.name, source),
    ).fetchall()
    for (segments,) in copied:
        incref(conn, segment_refs(segments))
    return len(copied)
