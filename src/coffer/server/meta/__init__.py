"""Metadata stores: the interfaces the service layer may ask (MetaStore, the bulk-job store, the cluster
map), their records, and the backends (sqlite/: the embedded default; postgres/: clusters).

Modules and packages:
  backends   Choosing a metadata backend by its URL: ``postgresql://...`` -> PostgreSQL, else SQLite.
  bulk       Bulk jobs metadata (Spectra DS3 bulk PUT/GET/VERIFY): the records and the store contract.
  cluster    The cluster map: which storage nodes and volumes exist, where, and in what state.
  coordination  Background work's coordination through the metadata: cluster locks, repair queue, cursors.
  copy       Moving metadata between engines: a single-node SQLite store copied into an empty PostgreSQL database.
  interface  The metadata store interface: what the service layer may ask of any metadata backend.
  model      Metadata records: the typed rows the metadata store keeps.
  postgres   The metadata store on PostgreSQL (scale-out): `store.PostgresMetaStore`, the shared backend of ...
  space      Disk space for the metadata: a reserve that lets deletes commit on a full disk.
  sqlite     The SQLite metadata store (`store.SqliteMetaStore`): the embedded default backend of `MetaStore`.
"""

