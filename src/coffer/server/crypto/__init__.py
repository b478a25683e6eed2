"""Encryption at rest: the envelope format (AES-256-GCM blocks, wrapped data keys) and key custody
(master key, local KMS key store).

Modules:
  envelope  Encryption at rest: block-wise AES-256-GCM object streams, data-key wrapping, SSE request headers.
  keys      Key custody for encryption at rest: the master key and the local KMS key store (SSE-KMS).
"""
