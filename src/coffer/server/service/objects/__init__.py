"""Buckets and objects: S3's object semantics (put/get/copy/delete, multipart, appends, versions, tags,
lifecycle, listings, archives) with no HTTP in them.

Modules:
  appends        Append sessions (AIStore's handle-based appends, Coffer's own API).
  archive        Reading one member of a tar or zip object by its path, without reading the whole archive.
  archive_index  Member indexes of tar and zip objects, kept per worker so a shard read member by member is ...
  batch_reads    Batch reads: many objects of one bucket, records and bytes, in request order (the batch GET, ...
  bucket_config  Bucket configuration documents: default encryption, CORS rules, website.
  buckets        Bucket operations: create, list, head, delete, location; bucket-level access checks.
  conditions     Conditional requests: S3's evaluation of If-Match / If-None-Match / If-(Un)Modified-Since.
  frozen         Two guards the OpenIO features add to ordinary S3 operations (kept apart to avoid import cycles).
  lifecycle      Bucket lifecycle: configuration rules and the background worker that enforces them.
  multiobj       Multi-object operations over a selection: a list of names or a template ("shard-{000..999}.tar").
  multipart      Multipart uploads: create, upload part (and part copy), list, complete, abort.
  naming         Name rules: which bucket names and object keys S3 accepts, and the errors it gives for the rest.
  operations     Object operations: put, get/head, delete (one and many), copy, listing, attributes.
  snowball       Snowball: a tar (plain or gzip) PUT whose members become objects (MinIO's auto-extract).
  tagging        Object and bucket tagging: validation with S3's limits, and the tag operations.
  versioning     Bucket versioning: the versioning state, version ids, reads and deletes by version, listings.
"""
