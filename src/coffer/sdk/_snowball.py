"""Many small objects in one PUT: the tar `Bucket.put_many` / `AsyncBucket.put_many` send.

The server extracts the tar into objects (MinIO's "snowball" auto-extract, which Coffer serves;
docs/s3-compatibility.md "Snowball"): each member carries Coffer's pax records, a CRC32C that the server verifies
and stores as the object's checksum, and a Content-Type (given, or guessed from the key like
`put_file` does). Only servers that extract such a body should get one: any other S3 server would
store it as one ``.tar`` object.
"""

from __future__ import annotations

import mimetypes
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from coffer.protocol import checksums
from coffer.protocol import snowball as sb
from coffer.sdk._headers import meta_headers

Item = tuple[str, "bytes | bytearray | memoryview | str | os.PathLike[str]"]


@dataclass(frozen=True)
class PutManyResult:
    """What a put_many answered: how many objects the server created, and the request's ETag."""

    count: int
    etag: str


def member(key: str, content: Any, content_type: str | None = None) -> sb.Member:
    """One tar member from bytes/str (the content) or a path (the file's bytes)."""
    if isinstance(content, bytes | bytearray | memoryview):
        data = bytes(content)
    elif isinstance(content, str):
        data = content.encode()
    elif isinstance(content, os.PathLike):
        with open(content, "rb") as f:
            data = f.read()
    else:
        raise TypeError(f"put_many takes bytes, str or a path per key, not {type(content).__name__}")
    ctype = content_type or mimetypes.guess_type(key)[0] or "application/octet-stream"
    return sb.Member(key, data, ("CRC32C", checksums.checksum_b64("CRC32C", data)), ctype)


def request(
    items: Iterable[tuple[str, Any]], *, prefix: str = "", content_type: str | None = None,
    metadata: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
) -> tuple[str, bytes, dict[str, str]]:
    """(archive key, body, headers) of the snowball PUT for `items`."""
    members = [member(k, c, content_type) for k, c in items]
    hdrs = meta_headers(metadata)
    hdrs.update(headers or {})
    hdrs[sb.AUTO_EXTRACT] = "true"
    if prefix:
        hdrs[sb.PREFIX] = prefix
    body = sb.pack(members)
    hdrs["x-amz-checksum-crc32c"] = checksums.checksum_b64("CRC32C", body)
    return f"snowball-{uuid.uuid4().hex}.tar", body, hdrs


def result(resp_headers: Mapping[str, str]) -> PutManyResult:
    low = {k.lower(): v for k, v in resp_headers.items()}
    return PutManyResult(int(low.get(sb.EXTRACTED, "0")), low.get("etag", "").strip('"'))
