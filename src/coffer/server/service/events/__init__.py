"""Bucket notifications: configuration, event matching, the durable queue's intents, webhook safety.

Modules:
  announce          `Announce`: the intent -> write -> events sequence, for service-level writes outside `h_notify`.
  listen            The listen API (MinIO's ListenBucketNotification): live S3 event streams across workers.
  notifications     Bucket notifications: the configuration document, event matching and queueing (no HTTP here).
  webhook_security  Webhook safety: which networks notifications may be delivered to, and the signature of each ...
"""
