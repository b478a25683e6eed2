"""Schema of the SQLite metadata database, as an ordered list of migrations.

Owns every table and index of the SQLite backend (all the DDL is here; the modules beside it only
query) and the rule for evolving them: the database's
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
- `pending_refs` and `gc_queue` (migration 8) make garbage collection crash-safe and cluster-safe:
  a ref is pending while its data is written, queued once its count reaches zero (rows.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


class SchemaTooNew(RuntimeError):
    """The database was written by a newer Coffer (its schema version is unknown to this code)."""


# -- the object record: one column list for `objects` and `versions` -----------------------------
# (name, declaration) of what an object version stores, in table order, shared by `objects`
# (current versions) and `versions` (noncurrent versions and delete markers); rows.py builds every
# INSERT/SELECT column list of both tables from it. `inline` stays last in this list (see Layout
# notes). A new field goes here (before `inline`) and into ADDED_LATER with the number of the new
# migration that adds it to both tables (ALTER TABLE ... ADD COLUMN): the CREATE TABLE texts of
# migrations 1 and 3 leave it out, so they stay what they shipped as
# (tests/unit/test_sqlite_schema.py pins them against the shipped schema).
RECORD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("size", "INTEGER NOT NULL"),
    ("etag", "TEXT NOT NULL"),
    ("last_modified", "REAL NOT NULL"),
    ("owner", "TEXT NOT NULL"),
    ("content_type", "TEXT"),
    ("headers", "TEXT NOT NULL"),
    ("user_meta", "TEXT NOT NULL"),
    ("checksums", "TEXT NOT NULL"),
    ("checksum_type", "TEXT"),
    ("storage_class", "TEXT NOT NULL"),
    ("version_id", "TEXT"),
    ("segments", "TEXT NOT NULL"),
    ("parts", "TEXT"),
    ("props", "TEXT NOT NULL"),
    ("inline", "BLOB"),
)
# Where the record belongs: the key of `objects`, the first two of `versions`.
RECORD_IDENTITY: tuple[tuple[str, str], ...] = (
    ("bucket", "TEXT NOT NULL REFERENCES buckets(name)"),
    ("key", "BLOB NOT NULL"),
)
# What `versions` adds between the identity and the record: order per key, marker flag, and since
# when the version is noncurrent (lifecycle's NoncurrentDays).
VERSION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", "INTEGER NOT NULL"),
    ("marker", "INTEGER NOT NULL"),
    ("noncurrent_since", "REAL NOT NULL"),
)


# Record columns added by a migration after the tables were created: {name: migration number}.
ADDED_LATER: dict[str, int] = {}


def _record_table(name: str, columns: tuple[tuple[str, str], ...], primary_key: str) -> str:
    """The CREATE TABLE text of a record table as migrations 1 and 3 wrote it (columns added
    later are left out: their own migration adds them)."""
    body = "".join(f"            {col} {decl},\n" for col, decl in columns if col not in ADDED_LATER)
    return f"CREATE TABLE {name} (\n{body}            PRIMARY KEY ({primary_key})\n        ) WITHOUT ROWID"


OBJECTS_TABLE = _record_table("objects", RECORD_IDENTITY + RECORD_COLUMNS, "bucket, key")
VERSIONS_TABLE = _record_table("versions", RECORD_IDENTITY + VERSION_COLUMNS + RECORD_COLUMNS, "bucket, key, seq")


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
        OBJECTS_TABLE,
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
    """Noncurrent versions and delete markers: see versions.py."""
    conn.execute(VERSIONS_TABLE)


def _event_queue(conn: sqlite3.Connection) -> None:
    """The bucket-notification event queue: see events.py."""
    conn.execute(
        """CREATE TABLE event_queue (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            target TEXT NOT NULL,
            payload TEXT NOT NULL,
            created REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_at REAL NOT NULL,
            claimed_until REAL NOT NULL DEFAULT 0,
            last_error TEXT
        )"""
    )
    # Delivery scans due rows in order: this index makes that scan O(due rows).
    conn.execute("CREATE INDEX event_queue_due ON event_queue(next_at, id)")


def _jobs_tables(conn: sqlite3.Connection) -> None:
    """Bulk jobs (Spectra DS3 bulk PUT/GET/VERIFY): jobs, job_chunks, job_blobs (see bulk.py)."""
    conn.execute("""CREATE TABLE jobs (
        id TEXT PRIMARY KEY, bucket TEXT NOT NULL, owner TEXT NOT NULL, type TEXT NOT NULL,
        status TEXT NOT NULL, name TEXT NOT NULL, priority TEXT NOT NULL, created REAL NOT NULL,
        touched REAL NOT NULL, finished REAL, total_bytes INTEGER NOT NULL, done_bytes INTEGER NOT NULL,
        props TEXT NOT NULL DEFAULT '{}')""")
    conn.execute("CREATE INDEX jobs_by_status ON jobs(status, touched)")
    conn.execute("""CREATE TABLE job_chunks (
        job_id TEXT NOT NULL REFERENCES jobs(id), number INTEGER NOT NULL, id TEXT NOT NULL UNIQUE,
        allocated INTEGER NOT NULL, PRIMARY KEY (job_id, number)) WITHOUT ROWID""")
    conn.execute("""CREATE TABLE job_blobs (
        job_id TEXT NOT NULL REFERENCES jobs(id), chunk INTEGER NOT NULL, name BLOB NOT NULL,
        offset INTEGER NOT NULL, length INTEGER NOT NULL, id TEXT NOT NULL, done INTEGER NOT NULL,
        upload_id TEXT, idx INTEGER NOT NULL, count INTEGER NOT NULL, etag TEXT,
        PRIMARY KEY (job_id, name, offset)) WITHOUT ROWID""")
    conn.execute("CREATE INDEX job_blobs_by_chunk ON job_blobs(job_id, chunk, done)")


# -- cluster upkeep: the repair queue and saved cursors --
def _upkeep_tables(conn: sqlite3.Connection) -> None:
    """The repair queue and the background passes' saved state: see coordination.py."""
    conn.execute("""CREATE TABLE repair_queue (
        ref TEXT PRIMARY KEY, queued REAL NOT NULL, not_before REAL NOT NULL DEFAULT 0) WITHOUT ROWID""")
    conn.execute("CREATE INDEX repair_queue_due ON repair_queue(not_before, ref)")
    conn.execute("CREATE TABLE upkeep_state (name TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID")


def _listen_tables(conn: sqlite3.Connection) -> None:
    """The listen API's short-lived event log and its listeners' leases: see listen.py."""
    conn.execute(
        """CREATE TABLE listen_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            bucket TEXT NOT NULL,
            created REAL NOT NULL,
            record TEXT NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX listen_log_created ON listen_log(created)")
    conn.execute("CREATE TABLE listeners (id TEXT PRIMARY KEY, bucket TEXT NOT NULL, expires REAL NOT NULL)")


def _garbage_tables(conn: sqlite3.Connection) -> None:
    """Garbage collection of object data (docs/cluster.md, "Garbage collection"): `pending_refs`
    holds a ref from before its data is durable until the metadata commit that references it (or
    the write's clean-up); `gc_queue` holds a ref whose last reference a commit dropped, until its
    data is deleted. Both are keyed by the ref; `claimed_until` is a GC worker's lease."""
    conn.execute("""CREATE TABLE pending_refs (
        ref TEXT PRIMARY KEY, created REAL NOT NULL, owner TEXT NOT NULL) WITHOUT ROWID""")
    conn.execute("CREATE INDEX pending_refs_by_age ON pending_refs(created)")
    conn.execute("""CREATE TABLE gc_queue (
        ref TEXT PRIMARY KEY, queued REAL NOT NULL, claimed_until REAL NOT NULL DEFAULT 0) WITHOUT ROWID""")


# Index i holds the migration that takes the schema from version i to version i + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1_tables, _v2_indexes, _versions_table, _event_queue, _jobs_tables, _upkeep_tables, _listen_tables,
    _garbage_tables,
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


# The cluster map's own database (DATA/meta/cluster.sqlite3, or a file the nodes share): created as a
# whole, idempotently, by meta/sqlite/cluster.py.
CLUSTER_MAP_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
  id TEXT PRIMARY KEY, zone TEXT NOT NULL DEFAULT '', host TEXT NOT NULL, address TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'active', last_seen REAL NOT NULL);
CREATE TABLE IF NOT EXISTS volumes (
  uuid TEXT PRIMARY KEY, node TEXT NOT NULL REFERENCES nodes(id), weight REAL NOT NULL DEFAULT 1.0,
  state TEXT NOT NULL DEFAULT 'active');
CREATE TABLE IF NOT EXISTS cluster_layout (id INTEGER PRIMARY KEY CHECK (id = 1), generation INTEGER NOT NULL);
INSERT OR IGNORE INTO cluster_layout VALUES (1, 0);
"""
