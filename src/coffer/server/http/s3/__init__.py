"""The S3 front: the endpoint table, the front and one handler module per group of S3 operations.

Modules:
  access          Access-control endpoints: Get/Put Bucket/Object Acl, Put/Get/DeleteBucketPolicy, ...
  archive         S3 GetObject/HeadObject with `?archpath=MEMBER`: one member of a tar or zip object (a Coffer ...
  authorize       S3's per-item access checks beyond the gate: DeleteObjects' keys, a copy's source.
  bucket_config   Bucket configuration endpoints: Put/Get/Delete BucketEncryption, ...
  buckets         Bucket endpoints: ListBuckets, Create/Head/DeleteBucket, location, listings, DeleteObjects.
  front           The S3 front: every request no other front claims (router, signature, gate, write hook).
  identity        IBM Cloud IAM's token endpoint on the S3 address, for ibm_boto3 with API keys.
  listen          The listen API (MinIO's ListenBucketNotification): streams of S3 events, one JSON line each.
  lock_integrity  Integrity headers S3 requires on Object Lock requests.
  multipart       Multipart endpoints: Create, UploadPart(Copy), ListParts, ListMultipartUploads, Complete, Abort.
  notifications   Bucket notification endpoints, and which S3 endpoints are writes for the write hook.
  objects         Object endpoints: Put/Get/Head/Delete/CopyObject and GetObjectAttributes.
  post_object     POST Object: browser-based uploads with an HTML form (multipart/form-data).
  router          Request routing: turns an HTTP request into a typed S3 endpoint.
  snowball        Snowball PUT (MinIO's auto-extract): a tar body whose members become objects.
  tagging         Tagging and lifecycle endpoints: object and bucket tagging, bucket lifecycle configuration.
  versioning      Versioning endpoints: Put/GetBucketVersioning and ListObjectVersions.
  worm            WORM endpoints: S3 Object Lock (configuration, retention, legal hold) and IBM COS immutable ...
"""
