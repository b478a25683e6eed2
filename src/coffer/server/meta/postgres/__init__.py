"""The metadata store on PostgreSQL (scale-out): `store.PostgresMetaStore`, the shared backend of
`MetaStore` for several gateways on several hosts, and the cluster map (`cluster.PostgresClusterMap`).

Modules:
  bulk      The PostgreSQL backend of the bulk-jobs store (`JobStore`), sharing the metadata database.
  cluster   The cluster map (nodes, volumes, layout generation) on PostgreSQL (see meta/cluster.py).
  coordination  Coordination on PostgreSQL (a cluster): session advisory locks, the repair queue and saved state.
  engine    psycopg plumbing: the group-commit writer connection, the read pool, error mapping, retries.
  events    Bucket notifications (event queue, `FOR UPDATE SKIP LOCKED` claims) and bucket snapshots.
  invalidate  Cache invalidation by LISTEN/NOTIFY: notify() in user and key writes, the listener thread.
  listen    The listen API's event log (read by (txid, id) cursors, never skipping a late commit) and leases.
  listing   Listing pages; the delimiter roll-up runs in the database as one recursive query.
  ops       The mutating operations, as functions of a connection inside the writer's transaction.
  rows      Column lists, key locks and data-ref counting for PostgreSQL (row mapping shared with SQLite).
  schema    Tables and functions as an ordered list of migrations, versioned in `schema_version`.
  store     `PostgresMetaStore`: the public face (open/close, routing writes and reads).
  versions  Noncurrent versions and delete markers (the same layout as the SQLite backend).
"""
