"""The listen API's event log and listener leases in the PostgreSQL backend.

The same contract as meta/sqlite/listen.py (read its notes), with one difference: several gateways
and workers insert into the log at once, and a `bigserial` id is taken when a row is inserted, not
when it commits, so a row with a smaller id can become visible after a larger one. Each row carries
its transaction's id (`txid`); a reader takes only rows whose transaction is older than the oldest
still running (`pg_snapshot_xmin`), in (txid, id) order, so every row it has not read yet sorts
after its cursor. A cursor is that (txid, id) pair.
"""

from __future__ import annotations

import json
import time

import psycopg

_XMIN = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"


def register(conn: psycopg.Connection, listener: str, bucket: str, expires: float) -> tuple[int, int]:
    conn.execute("INSERT INTO listeners (id, bucket, expires) VALUES (%s, %s, %s) "
                 "ON CONFLICT (id) DO UPDATE SET expires = excluded.expires", (listener, bucket, expires))
    row = conn.execute(f"SELECT {_XMIN}").fetchone()
    return (int(row[0]) if row else 0), 0


def unregister(conn: psycopg.Connection, listener: str) -> None:
    conn.execute("DELETE FROM listeners WHERE id = %s", (listener,))


def buckets(conn: psycopg.Connection, now: float) -> set[str]:
    return {r[0] for r in conn.execute("SELECT DISTINCT bucket FROM listeners WHERE expires > %s", (now,))}


def append(conn: psycopg.Connection, rows: list[tuple[str, dict]]) -> None:
    now = time.time()
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO listen_log (bucket, created, record) VALUES (%s, %s, %s)",
                        [(b, now, json.dumps(r, separators=(",", ":"))) for b, r in rows])


def read(conn: psycopg.Connection, cursor: tuple[int, int], bucket: str | None,
         limit: int) -> tuple[list[dict], tuple[int, int]]:
    where = "" if bucket is None else " AND bucket = %s"
    args: tuple = (cursor[0], cursor[1]) + (() if bucket is None else (bucket,)) + (limit,)
    rows = conn.execute(
        f"SELECT txid, id, record FROM listen_log WHERE (txid, id) > (%s, %s) AND txid < {_XMIN}{where} "
        "ORDER BY txid, id LIMIT %s", args).fetchall()
    return [json.loads(r[2]) for r in rows], ((int(rows[-1][0]), int(rows[-1][1])) if rows else cursor)


def prune(conn: psycopg.Connection, before: float, now: float) -> None:
    conn.execute("DELETE FROM listen_log WHERE created < %s", (before,))
    conn.execute("DELETE FROM listeners WHERE expires <= %s", (now,))
