"""Schema of the PostgreSQL metadata database, as an ordered list of migrations.

Owns every table, index and SQL function of the PostgreSQL backend and the rule for evolving them:
the `schema_version` table holds the number of migrations applied; opening applies the missing
ones in order in one transaction, holding a transaction-level advisory lock so that several
gateways starting at once serialise (PostgreSQL DDL is transactional: a crash mid-migration leaves
the previous version intact). A database whose version is newer than this code is refused.

Migrations are append-only: never edit one that has shipped, add a new one.

Layout notes (the why):
- Keys (object, upload, version, bulk-blob names) are `bytea` holding the key's UTF-8 bytes:
  bytea compares with memcmp, so the primary-key order *is* S3's order whatever the database's
  default collation (the tests run on an ICU en-US database on purpose).
- Times are double precision (epoch seconds), sizes bigint; dict/list fields JSON text, exactly as
  SQLite stores them, so the row <-> record mapping is shared (meta/sqlite/rows.py).
- `coffer_rollup` / `coffer_skip` are the roll-up arithmetic of a delimiter listing, in SQL, so
  the seek-past-each-common-prefix loop runs inside one recursive query (see listing.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `coffer serve` on SQLite imports this module's SchemaTooNew without loading psycopg
    import psycopg

# Any fixed 64-bit number: the advisory lock that serialises migrations between gateways.
MIGRATION_LOCK = 0x436F66666572  # "Coffer"


class SchemaTooNew(RuntimeError):
    """The database was written by a newer Coffer (its schema version is unknown to this code)."""


_V1 = [
    """CREATE TABLE users (
        id text PRIMARY KEY, display_name text NOT NULL, email text, created double precision NOT NULL,
        props text NOT NULL DEFAULT '{}')""",
    """CREATE TABLE access_keys (
        access_key text PRIMARY KEY, secret_key text NOT NULL, user_id text NOT NULL, status text NOT NULL,
        created double precision NOT NULL)""",
    "CREATE INDEX access_keys_by_user ON access_keys(user_id)",
    """CREATE TABLE buckets (
        name text COLLATE "C" PRIMARY KEY, owner text NOT NULL, created double precision NOT NULL,
        region text NOT NULL, props text NOT NULL DEFAULT '{}')""",
    "CREATE INDEX buckets_by_owner ON buckets(owner, name)",
    """CREATE TABLE objects (
        bucket text NOT NULL REFERENCES buckets(name), key bytea NOT NULL, size bigint NOT NULL,
        etag text NOT NULL, last_modified double precision NOT NULL, owner text NOT NULL, content_type text,
        headers text NOT NULL, user_meta text NOT NULL, checksums text NOT NULL, checksum_type text,
        storage_class text NOT NULL, version_id text, segments text NOT NULL, parts text, props text NOT NULL,
        inline bytea, PRIMARY KEY (bucket, key))""",
    """CREATE TABLE uploads (
        upload_id text PRIMARY KEY, bucket text NOT NULL REFERENCES buckets(name), key bytea NOT NULL,
        initiated double precision NOT NULL, owner text NOT NULL, content_type text, headers text NOT NULL,
        user_meta text NOT NULL, storage_class text NOT NULL, checksum_algorithm text, checksum_type text,
        props text NOT NULL)""",
    "CREATE INDEX uploads_by_key ON uploads(bucket, key, initiated, upload_id COLLATE \"C\")",
    """CREATE TABLE parts (
        upload_id text NOT NULL REFERENCES uploads(upload_id), number integer NOT NULL, size bigint NOT NULL,
        etag text NOT NULL, last_modified double precision NOT NULL, ref text NOT NULL, ref_size bigint NOT NULL,
        checksums text NOT NULL, PRIMARY KEY (upload_id, number))""",
    "CREATE TABLE data_refs (ref text PRIMARY KEY, count bigint NOT NULL CHECK (count > 0))",
    """CREATE TABLE versions (
        bucket text NOT NULL REFERENCES buckets(name), key bytea NOT NULL, seq bigint NOT NULL,
        marker integer NOT NULL, noncurrent_since double precision NOT NULL, size bigint NOT NULL,
        etag text NOT NULL, last_modified double precision NOT NULL, owner text NOT NULL, content_type text,
        headers text NOT NULL, user_meta text NOT NULL, checksums text NOT NULL, checksum_type text,
        storage_class text NOT NULL, version_id text, segments text NOT NULL, parts text, props text NOT NULL,
        inline bytea, PRIMARY KEY (bucket, key, seq))""",
    """CREATE TABLE event_queue (
        id bigserial PRIMARY KEY, target text NOT NULL, payload text NOT NULL, created double precision NOT NULL,
        attempts integer NOT NULL DEFAULT 0, next_at double precision NOT NULL,
        claimed_until double precision NOT NULL DEFAULT 0, last_error text)""",
    "CREATE INDEX event_queue_due ON event_queue(next_at, id)",
    """CREATE TABLE jobs (
        id text PRIMARY KEY, bucket text NOT NULL, owner text NOT NULL, type text NOT NULL, status text NOT NULL,
        name text NOT NULL, priority text NOT NULL, created double precision NOT NULL,
        touched double precision NOT NULL, finished double precision, total_bytes bigint NOT NULL,
        done_bytes bigint NOT NULL, props text NOT NULL DEFAULT '{}')""",
    "CREATE INDEX jobs_by_status ON jobs(status, touched)",
    """CREATE TABLE job_chunks (
        job_id text NOT NULL REFERENCES jobs(id), number integer NOT NULL, id text NOT NULL UNIQUE,
        allocated integer NOT NULL, PRIMARY KEY (job_id, number))""",
    """CREATE TABLE job_blobs (
        job_id text NOT NULL REFERENCES jobs(id), chunk integer NOT NULL, name bytea NOT NULL,
        "offset" bigint NOT NULL, length bigint NOT NULL, id text NOT NULL, done integer NOT NULL,
        upload_id text, idx integer NOT NULL, count integer NOT NULL, etag text,
        PRIMARY KEY (job_id, name, "offset"))""",
    "CREATE INDEX job_blobs_by_chunk ON job_blobs(job_id, chunk, done)",
    # The roll-up of a delimiter listing: the common prefix key `k` rolls up into (NULL: none).
    # Both functions are one expression without FROM, so the planner inlines them into the listing
    # query (measured: as SQL functions with a sub-select they were not inlined and cost ~0.2 ms a
    # call, 230 ms for a page of 1,000 prefixes, against ~30 ms inlined).
    """CREATE FUNCTION coffer_rollup(k bytea, plen integer, delim bytea) RETURNS bytea
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN position(delim IN substring(k FROM plen + 1)) > 0
               THEN substring(k FROM 1 FOR plen + position(delim IN substring(k FROM plen + 1)) - 1 + length(delim))
               END $$""",
    # Where the scan goes after `k`: past every key under its common prefix (the prefix's byte
    # successor: it ends with the delimiter, valid UTF-8, whose last byte is < 0xFF: that byte + 1),
    # else to the smallest key greater than k (k || 0x00).
    """CREATE FUNCTION coffer_skip(k bytea, plen integer, delim bytea) RETURNS bytea
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN position(delim IN substring(k FROM plen + 1)) > 0
               THEN substring(k FROM 1 FOR plen + position(delim IN substring(k FROM plen + 1)) + length(delim) - 2)
                    || set_byte('\\x00'::bytea, 0, get_byte(delim, length(delim) - 1) + 1)
               ELSE k || '\\x00'::bytea END $$""",
]

# Cluster upkeep: the repair queue, the background passes' saved state and the shared keys
# (meta/postgres/coordination.py).
_UPKEEP = [
    """CREATE TABLE repair_queue (
        ref text COLLATE "C" PRIMARY KEY, queued double precision NOT NULL,
        not_before double precision NOT NULL DEFAULT 0)""",
    "CREATE INDEX repair_queue_due ON repair_queue(not_before, ref)",
    "CREATE TABLE upkeep_state (name text PRIMARY KEY, doc text NOT NULL)",
    # the cluster's encryption and token-signing keys (crypto/keys.py `KeyVault`): master, kms, token
    "CREATE TABLE shared_keys (name text PRIMARY KEY, value bytea NOT NULL)",
]

# The listen API's short-lived event log and its listeners' leases (meta/postgres/listen.py).
_LISTEN = [
    """CREATE TABLE listen_log (
        id bigserial PRIMARY KEY, bucket text NOT NULL, created double precision NOT NULL, record text NOT NULL)""",
    "CREATE INDEX listen_log_created ON listen_log(created)",
    "CREATE TABLE listeners (id text PRIMARY KEY, bucket text NOT NULL, expires double precision NOT NULL)",
]

# Garbage collection (docs/cluster.md, "Garbage collection"); the same tables as SQLite's `_garbage_tables`.
# `created` and `claimed_until` are epoch seconds of the database's clock, never a gateway's.
_GARBAGE = [
    """CREATE TABLE pending_refs (
        ref text PRIMARY KEY, created double precision NOT NULL, owner text NOT NULL)""",
    "CREATE INDEX pending_refs_by_age ON pending_refs(created)",
    """CREATE TABLE gc_queue (
        ref text PRIMARY KEY, queued double precision NOT NULL,
        claimed_until double precision NOT NULL DEFAULT 0)""",
]

# Index i takes the schema from version i to version i + 1.
MIGRATIONS: list[list[str]] = [_V1, _UPKEEP, _LISTEN, _GARBAGE]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: psycopg.Connection) -> int:
    exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return 0 if row is None else int(row[0])


def migrate(conn: psycopg.Connection, target: int | None = None) -> int:
    """Bring the database to `target` (default: the newest) version; returns the version reached.

    `conn` is in autocommit mode; this runs one transaction holding the migration advisory lock.
    """
    target = SCHEMA_VERSION if target is None else target
    if not 0 <= target <= SCHEMA_VERSION:
        raise ValueError(f"no schema version {target}")
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        current = schema_version(conn)
        if current > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"metadata database schema version {current} is newer than this Coffer supports "
                f"({SCHEMA_VERSION}); upgrade Coffer or restore a backup"
            )
        if current == 0 and target > 0:
            conn.execute("CREATE TABLE schema_version (version integer NOT NULL)")
            conn.execute("INSERT INTO schema_version VALUES (0)")
        for version in range(current, target):
            for sql in MIGRATIONS[version]:
                conn.execute(sql)  # type: ignore[arg-type]
        if target > current:
            conn.execute("UPDATE schema_version SET version = %s", (target,))
        return max(current, target)


# The cluster map's tables (meta/postgres/cluster.py), in the database the cluster map URL names.
CLUSTER_MAP_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
  id text PRIMARY KEY, zone text NOT NULL DEFAULT '', host text NOT NULL, address text NOT NULL,
  state text NOT NULL DEFAULT 'active', last_seen timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS volumes (
  uuid text PRIMARY KEY, node text NOT NULL REFERENCES nodes(id), weight double precision NOT NULL DEFAULT 1.0,
  state text NOT NULL DEFAULT 'active');
CREATE TABLE IF NOT EXISTS cluster_layout (id int PRIMARY KEY CHECK (id = 1), generation bigint NOT NULL);
INSERT INTO cluster_layout VALUES (1, 0) ON CONFLICT DO NOTHING;
"""


def create_cluster_map(cur: psycopg.Cursor) -> None:
    """Create the cluster map's tables if missing. Several nodes and gateways start at once: CREATE ...
    IF NOT EXISTS races in PostgreSQL (a unique violation in pg_type), so they take turns on the
    migration advisory lock, inside the caller's transaction."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
    cur.execute(CLUSTER_MAP_SCHEMA)
