"""Many small objects in one PUT (MinIO's "snowball" auto-extract): header names, Coffer's pax keys.

A PUT whose `X-Amz-Meta-Snowball-Auto-Extract: true` header is set carries a tar (plain or gzip)
that the server extracts: each regular member becomes an object `prefix + member name`. Coffer
reads these pax (POSIX.1-2001 extended header) records of a member, all under the `COFFER.`
vendor namespace (docs/s3-compatibility.md, "Snowball"):

  COFFER.checksum-crc32 / -crc32c / -crc64nvme / -sha1 / -sha256   the member's checksum, base64 as
      in x-amz-checksum-*: verified by the server and stored as the object's checksum
  COFFER.content-type   the member's Content-Type (else the request's)

`pack` writes such a tar in memory for the SDK and the CLI (the server never imports it).
"""

from __future__ import annotations

import io
import tarfile
import time
from dataclasses import dataclass

AUTO_EXTRACT = "X-Amz-Meta-Snowball-Auto-Extract"
PREFIX = "X-Amz-Meta-Minio-Snowball-Prefix"
IGNORE_DIRS = "X-Amz-Meta-Minio-Snowball-Ignore-Dirs"
IGNORE_ERRORS = "X-Amz-Meta-Minio-Snowball-Ignore-Errors"
EXTRACTED = "x-coffer-extracted"  # response: how many objects the request created
# the user-metadata names (x-amz-meta-* lower-cased, prefix removed) that are instructions, never stored
META_NAMES = frozenset({"snowball-auto-extract", "minio-snowball-prefix", "minio-snowball-ignore-dirs",
                        "minio-snowball-ignore-errors"})

PAX_CHECKSUM = "COFFER.checksum-"  # + crc32 | crc32c | crc64nvme | sha1 | sha256
PAX_CONTENT_TYPE = "COFFER.content-type"


@dataclass(slots=True)
class Member:
    """One object to pack: its name in the tar (the key, before the server's prefix) and its bytes."""
    name: str
    data: bytes
    checksum: tuple[str, str] | None = None  # (algorithm, base64 value), e.g. ("CRC32C", "yZRlqg==")
    content_type: str | None = None


def pax_records(m: Member) -> dict[str, str]:
    out: dict[str, str] = {}
    if m.checksum is not None:
        out[PAX_CHECKSUM + m.checksum[0].lower()] = m.checksum[1]
    if m.content_type:
        out[PAX_CONTENT_TYPE] = m.content_type
    return out


def pack(members: list[Member], mtime: float | None = None) -> bytes:
    """A plain (uncompressed) pax tar of `members`, in memory."""
    buf = io.BytesIO()
    now = int(time.time() if mtime is None else mtime)
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.size = len(m.data)
            info.mtime = now
            info.mode = 0o644
            info.pax_headers = pax_records(m)
            tar.addfile(info, io.BytesIO(m.data))
    return buf.getvalue()


def parse_pax(data: bytes) -> dict[str, str]:
    """The records of a pax extended header (`"<len> <key>=<value>\\n"` each); ValueError if malformed."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # NUL padding after the last record
            break
        sp = data.index(b" ", pos)
        length = int(data[pos:sp])
        if length <= sp - pos + 1 or pos + length > len(data) or data[pos + length - 1] != 0x0A:
            raise ValueError("bad pax record length")
        key, eq, value = data[sp + 1 : pos + length - 1].partition(b"=")
        if not eq:
            raise ValueError("pax record without '='")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "true"
