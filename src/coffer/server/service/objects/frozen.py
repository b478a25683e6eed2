"""Two guards the OpenIO features add to ordinary S3 operations (kept apart to avoid import cycles).

- A snapshot bucket is **frozen**: no object in it may be written or deleted.
- A **drained** object keeps its metadata but no data: its bytes cannot be served or copied.
"""

from __future__ import annotations

from coffer.protocol.errors import S3Error
from coffer.server.meta.model import Bucket, ObjectRecord

FROZEN = "frozen"
DRAINED = "drained"


def check_writable(bucket: Bucket) -> None:
    if bucket.props.get(FROZEN):
        raise S3Error("AccessDenied", "The container is a frozen snapshot: it cannot be written.")


def check_readable(record: ObjectRecord) -> None:
    if record.props.get(DRAINED):
        raise S3Error("InvalidObjectState", "The object's data was drained; only its metadata remains.",
                      StorageClass=record.storage_class)
