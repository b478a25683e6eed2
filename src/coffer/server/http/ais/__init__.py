"""The AIStore front: `/v1/buckets/...` and `/v1/objects/...` for AIStore's own SDK (bearer tokens, JSON errors).

Modules:
  buckets  AIStore bucket endpoints: `/v1/buckets[/{bucket}]` with JSON action messages.
  front    The AIStore API front: `/v1/buckets/...` and `/v1/objects/...` for AIStore's own SDK and tools.
  moss     AIStore's GetBatch: `GET /v1/ml/moss[/{bucket}]`, many objects in one tar stream.
  objects  AIStore object endpoints: `/v1/objects/{bucket}/{object}`.
"""
