"""The seed systems' semantics S3 lacks: OpenIO (accounts, containers, snapshots, links, truncate, ...) and
AIStore (custom properties, job ids), built on the other services.

Modules:
  ais              AIStore semantics that S3 lacks, built on Coffer's services (no HTTP here).
  ais_job_ids      AIStore job ids: signed, so that a status query for an id Coffer never issued is refused.
  ds3_data_policies  Spectra DS3 data policies made by their users (put/modify/delete), mapped onto storage policies.
  oio              OpenIO's account/container/object semantics over Coffer's buckets and objects (no HTTP here).
  oio_maintenance  The rest of OpenIO's ObjectStorageApi semantics: touch, purge, refresh, account delete, ...
"""
