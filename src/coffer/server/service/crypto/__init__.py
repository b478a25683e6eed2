"""Encryption at rest in the request path (SSE-S3, SSE-KMS, SSE-C): which key seals an object, sealing and
opening streams.

Modules:
  sse  Encryption at rest in the request path: which key seals an object, and the sealing/opening streams.
"""
