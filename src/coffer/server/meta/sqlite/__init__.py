"""The SQLite metadata store (`store.SqliteMetaStore`): the embedded default backend of `MetaStore`.

Modules:
  bulk      The SQLite backend of the bulk-jobs store (`JobStore`), sharing the metadata database.
  cluster   The cluster map on SQLite (one host: tests, a cluster whose nodes share a file system).
  coordination  Coordination on SQLite (one host): flock files beside the database; repair queue, state in it.
  engine    SQLite plumbing of the metadata store: connections, busy retries, group commit, read threads.
  events    SQLite side of bucket notifications and container snapshots (OpenIO).
  listen    The listen API's short-lived event log and listener leases (ListenBucketNotification).
  listing   Listing pages (ListObjects and ListMultipartUploads) over the SQLite metadata tables.
  ops       The mutating operations of the SQLite metadata store, as functions of a connection.
  rows      Mapping between metadata records and SQLite rows, and data-ref counting.
  schema    Schema of the SQLite metadata database, as an ordered list of migrations.
  stamps    Change stamps shared by every process that opens the database, and the bucket rows cached behind one.
  store     The SQLite metadata store: `SqliteMetaStore`, the MetaStore backend for one-machine deployments.
  versions  Object versions in the SQLite backend: noncurrent versions, delete markers, version listings.
"""
