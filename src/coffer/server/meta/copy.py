"""Moving metadata between engines: a single-node SQLite store copied into an empty PostgreSQL database.

Owns `copy_sqlite_to_postgres`, what `coffer meta copy --data DIR --to URL` runs when a user outgrows
one machine (docs/cluster.md). Both schemas hold the same tables with the same columns and the same
encodings (keys as UTF-8 bytes, JSON text, epoch seconds), so the copy is table by table, row for row,
with PostgreSQL's COPY protocol, in ONE PostgreSQL transaction: it either lands whole or not at all.
Reference counts (`data_refs`) are copied as they are, so nothing is freed or leaked by moving.

The SQLite side is read inside `BEGIN IMMEDIATE`: a server still running on the folder cannot commit
meanwhile (its writes wait, then fail), so the copy is one consistent state; stop the server first.
The target must be empty (no user, bucket or object): merging two stores is not a copy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from coffer.server.meta.postgres.schema import migrate as pg_migrate
from coffer.server.meta.sqlite.engine import connect as sqlite_connect
from coffer.server.meta.sqlite.schema import migrate as sqlite_migrate

# Parents before children (foreign keys); the columns are each table's own, in SQLite's order.
TABLES = ["users", "access_keys", "buckets", "objects", "versions", "uploads", "parts", "data_refs", "event_queue",
          "jobs", "job_chunks", "job_blobs", "repair_queue", "upkeep_state", "pending_refs", "gc_queue"]
# Not copied: the listen API's `listeners` and `listen_log` (live streams and their seconds-long log end
# with the server that served them).


class CopyRefused(RuntimeError):
    """The copy cannot start (target not empty, source missing); nothing was written."""


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)


def _columns(src: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in src.execute(f"PRAGMA table_info({table})")]


def copy_sqlite_to_postgres(sqlite_path: Path, dsn: str,
                            progress: Callable[[str, int], None] | None = None) -> CopyReport:
    if not sqlite_path.exists():
        raise CopyRefused(f"no metadata database at {sqlite_path}")
    src = sqlite_connect(sqlite_path, synchronous="FULL", busy_timeout_ms=10000)
    report = CopyReport()
    try:
        sqlite_migrate(src)  # an older single-node store is brought to this Coffer's schema first
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as dst:
            pg_migrate(dst)
            src.execute("BEGIN IMMEDIATE")
            try:
                with dst.transaction():
                    for table in ("users", "buckets", "objects", "uploads", "versions", "jobs"):
                        if dst.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
                            raise CopyRefused(f"the target database is not empty (table {table} has rows)")
                    for table in TABLES:
                        cols = _columns(src, table)
                        quoted = ", ".join(f'"{c}"' for c in cols)
                        n = 0
                        with dst.cursor().copy(f"COPY {table} ({quoted}) FROM STDIN") as cp:
                            for row in src.execute(f"SELECT {quoted} FROM {table}"):
                                cp.write_row(row)
                                n += 1
                        report.rows[table] = n
                        if progress is not None:
                            progress(table, n)
                    # event ids continue after the copied ones
                    dst.execute("SELECT setval(pg_get_serial_sequence('event_queue', 'id'), "
                                "coalesce((SELECT max(id) FROM event_queue), 0) + 1, false)")
            finally:
                src.execute("ROLLBACK")
    finally:
        src.close()
    return report
