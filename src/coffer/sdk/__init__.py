"""Coffer's Python SDK internals. The public surface is the top-level ``coffer`` package.

Modules here are private (underscore names) so they can change shape without breaking users; import
``Client``, ``TransferConfig``, ``CofferError`` and friends from ``coffer`` instead.

Modules and packages:
  _admin        Coffer's admin API from Python: users, access keys and quotas of a running server.
  _append       Append sessions: Coffer's native append protocol, and the multipart fallback for other servers.
  _async        The asyncio SDK (aiohttp): :class:`AsyncClient` and its async bucket/object handles, readers and ...
  _body         Request bodies: what the transport can send, how it is hashed, re-sent on retry, paced and counted.
  _batch        Coffer's batch GET (`get_many`): the request, the tar answer read and verified member by member.
  _bucket       Bucket handles: create, probe, delete, list lazily and delete objects in batches.
  _bulk         Bulk jobs (Spectra-style): plan many objects at once, then move their blobs chunk by chunk.
  _bulk_files   Parallel bulk transfers of local files: `bulk_put_files` and `bulk_get_files`.
  _client       The SDK entry point: :class:`Client` holds the endpoint, credentials and one connection pool.
  _coffer_ext   Coffer-only operations in the SDK: `client.ext`, `bucket.ext`, `obj.ext` (docs/openio.md).
  _config       Client configuration: the tunables (:class:`ClientConfig`, :class:`TransferConfig`) and where an ...
  _credentials  Credential sources beyond static keys: refreshable credentials, ``credential_process``, and ...
  _documents    Typed bucket and object settings, and their S3 XML both ways.
  _errors       Typed SDK errors: the CofferError hierarchy and the mapping from an S3 error answer to a class.
  _ext          Calls to Coffer's own extension endpoints (`/_coffer/...`): signed JSON requests.
  _group        Multi-object operations: a group of objects named by a list or a template, deleted or copied together.
  _headers      Header helpers shared by object handles, writers, appends and transfers (sync and async).
  _listen      Live bucket events: the listen API (MinIO's ListenBucketNotification) as typed events.
  _multipart    The multipart-upload calls (create, upload part, copy part, complete, abort, list) as plain functions.
  _object       Object handles: HEAD, delete, server-side copy, presigned URLs, and the way to readers and writers.
  _operations   Bucket and object configuration operations as request specs, shared by the sync and async handles.
  _reader       Reading objects: whole, chunked, or as a seekable file, surviving dropped connections.
  _snowball     Many small objects in one PUT: the tar `Bucket.put_many` / `AsyncBucket.put_many` send.
  _sts          Temporary keys from AWS STS (or any STS-compatible service): assume-role and web identity.
  _tracing      Request tracing: one record per HTTP attempt, to the ``coffer.sdk`` logger and an optional hook.
  _transfer     The transfer manager: parallel, resumable, pausable transfers with futures and subscribers.
  _transport    The SDK's HTTP core: one urllib3 connection pool, SigV4 signing, retries, streaming in and out.
  _types        Plain value types the SDK hands back, and their parsing from S3 headers and XML.
  _writer       Writing objects: whole puts, files, appends, streamed file-like writes and custom properties.
"""
