"""The batch front: Coffer's batch GET, `POST /_coffer/batch/v1/get` (a JSON list of keys in, a tar
stream out, docs/batch-get.md), used by `Bucket.get_many` and `coffer cp -r` downloads.

Modules:
  front     The batch front: claims `/_coffer/batch/v1/`, S3-signed (common.signed), S3 XML errors.
  handlers  The batch GET: the request document, and the answer streamed as a pax tar, one member per key.
"""
