"""Encryption at rest in the request path (SSE-S3, SSE-KMS, SSE-C): which key seals an object, sealing and
opening streams.

Modules:
  kms  KMS key administration for the fronts (the console's KMS page): list, create, disable, enable.
  sse  Encryption at rest in the request path: which key seals an object, and the sealing/opening streams.
"""
