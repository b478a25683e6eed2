"""Schema of the SQLite metadata database, as an ordered list of migrations.

Owns every table and index of the SQLite backend and the rule for evolving them: the database's
`PRAGMA user_version` is the number of migrations already applied; opening applies the missing
ones, in order, in one `BEGIN IMMEDIATE` transaction (so several processes opening the same file at
once serialise, and a crash mid-migration leaves the previous version intact). A file whose version
is newer than this code knows is refused rather than silently misread.

Migrations are append-only: never edit one that has shipped, add a new one.

Layout notes (the why):
- Object and upload keys are BLOBs holding the key's UTF-8 bytes, so SQLite's memcmp ordering *is*
  S3's key ordering and range scans on the primary key serve listings directly.
- `objects` is WITHOUT ROWID with PRIMARY KEY (bucket, key): the table is its own key index, one
  b-tree seek per lookup. The `inline` BLOB is the last column on purpose: SQLite only reads a row's
  overflow pages up to the last column a query asks for, so listings that skip `inline` never touch
  the small-object data that spilled out of the b-tree page.
- dict/list fields are JSON text so new record fields need no schema change.
- `data_refs` counts how many object segments and parts point at each data ref; a row exists only
  while the count is positive, which is what `referenced()` and the `freed` lists are built on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


class SchemaTooNew(RuntimeError):
    """The database was written by a newer Coffer (its schema version is unknown to this code)."""


def _v1_tables(conn: sqlite3.Connection) -> None:
    """The base tables."""
    statements = [
        """CREATE TABLE users (
            id TEXT PRIMARY KEY,
            display_name TEXT NOT NULL,
            email TEXT,
            created REAL NOT NULL,
            props TEXT NOT NULL DEFAULT '{}'
        )""",
        # No foreign key to users: `coffer user` may register keys in any order, and
        # delete_user removes a user's keys explicitly.
        """CREATE TABLE access_keys (
            access_key TEXT PRIMARY KEY,
            secret_key TEXT NOT NULL,
            user_id TEXT NOT NULL,
            status TEXT NOT NULL,
            created REAL NOT NULL
        )""",
        """CREATE TABLE buckets (
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            created REAL NOT NULL,
            region TEXT NOT NULL,
            props TEXT NOT NULL DEFAULT '{}'
        )""",
        """CREATE TABLE objects (
            bucket TEXT NOT NULL REFERENCES buckets(name),
            key BLOB NOT NULL,
            size INTEGER NOT NULL,
            etag TEXT NOT NULL,
            last_modified REAL NOT NULL,
            owner TEXT NOT NULL,
            content_type TEXT,
            headers TEXT NOT NULL,
            user_meta TEXT NOT NULL,
            checksums TEXT NOT NULL,
            checksum_type TEXT,
            storage_class TEXT NOT NULL,
            version_id TEXT,
            segments TEXT NOT NULL,
            parts TEXT,
            props TEXT NOT NULL,
            inline BLOB,
            PRIMARY KEY (bucket, key)
        ) WITHOUT ROWID""",
        """CREATE TABLE uploads (
            upload_id TEXT PRIMARY KEY,
            bucket TEXT NOT NULL REFERENCES buckets(name),
            key BLOB NOT NULL,
            initiated REAL NOT NULL,
            owner TEXT NOT NULL,
            content_type TEXT,
            headers TEXT NOT NULL,
            user_meta TEXT NOT NULL,
            storage_class TEXT NOT NULL,
            checksum_algorithm TEXT,
            checksum_type TEXT,
            props TEXT NOT NULL
        )""",
        """CREATE TABLE parts (
            upload_id TEXT NOT NULL REFERENCES uploads(upload_id),
            number INTEGER NOT NULL,
            size INTEGER NOT NULL,
            etag TEXT NOT NULL,
            last_modified REAL NOT NULL,
            ref TEXT NOT NULL,
            ref_size INTEGER NOT NULL,
            checksums TEXT NOT NULL,
            PRIMARY KEY (upload_id, number)
        ) WITHOUT ROWID""",
        """CREATE TABLE data_refs (
            ref TEXT PRIMARY KEY,
            count INTEGER NOT NULL CHECK (count > 0)
        ) WITHOUT ROWID""",
    ]
    for sql in statements:
        conn.execute(sql)


def _v2_indexes(conn: sqlite3.Connection) -> None:
    """Secondary indexes for listings by owner/user and for ListMultipartUploads."""
    # The uploads index is ordered exactly like list_uploads pages (key bytes, initiated,
    # upload_id), so a page is one index range scan; it also serves the uploads->buckets
    # foreign key check when a bucket is deleted.
    conn.execute("CREATE INDEX uploads_by_key ON uploads(bucket, key, initiated, upload_id)")
    conn.execute("CREATE INDEX access_keys_by_user ON access_keys(user_id)")
    conn.execute("CREATE INDEX buckets_by_owner ON buckets(owner, name)")


def _versions_table(conn: sqlite3.Connection) -> None:
    """Noncurrent versions and delete markers (issue 4): see sqlite_versions."""
    from coffer.server.meta.sqlite.versions import create_table

    create_table(conn)


# Index i holds the migration that takes the schema from version i to version i + 1.
def _event_queue(conn: sqlite3.Connection) -> None:
    """The bucket-notification event queue (issue 6): see sqlite_events."""
    from coffer.server.meta.sqlite.events import migrate_event_queue

    migrate_event_queue(conn)


def _jobs_tables(conn: sqlite3.Connection) -> None:
    """Bulk jobs (issue 6, Spectra DS3): jobs, job_chunks, job_blobs (see sqlite_jobs)."""
    from coffer.server.meta.sqlite.bulk import jobs_tables

    jobs_tables(conn)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1_tables, _v2_indexes, _versions_table, _event_queue, _jobs_tables,
]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int | None = None) -> int:
    """Bring the database to `target` (default: the newest) version; returns the version reached.

    The caller holds no transaction; this runs one BEGIN IMMEDIATE transaction so that the version
    check and the migrations are atomic with respect to other processes opening the same file.
    `target` below the newest exists for tests that need an old-format file.
    """
    target = SCHEMA_VERSION if target is None else target
    if not 0 <= target <= SCHEMA_VERSION:
        raise ValueError(f"no schema version {target}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(conn)
        if current > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"metadata database schema version {current} is newer than this Coffer supports "
                f"({SCHEMA_VERSION}); upgrade Coffer or restore a backup"
            )
        for version in range(current, target):
            MIGRATIONS[version](conn)
        if target > current:
            # user_version lives in the database header and is written inside this transaction,
            # so the version and the schema change commit (or vanish) together.
            conn.execute(f"PRAGMA user_version = {int(target)}")
        conn.execute("COMMIT")
        return max(current, target)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
