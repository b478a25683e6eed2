"""Metadata records: the typed rows the metadata store keeps.

Owns the shape of everything the service layer stores as metadata (users, keys, buckets, objects,
multipart uploads, parts). Plain dataclasses with no behaviour, so that every backend (SQLite now,
PostgreSQL later) stores and returns exactly the same values. Times are float epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class User:
    id: str  # canonical id (owner id in listings and ACLs)
    display_name: str
    email: str | None = None
    created: float = 0.0
    props: dict[str, Any] = field(default_factory=dict)  # quotas, flags


@dataclass(slots=True)
class AccessKey:
    access_key: str
    secret_key: str
    user_id: str
    status: str = "active"  # active | disabled
    created: float = 0.0


@dataclass(slots=True)
class Bucket:
    name: str
    owner: str  # user id
    created: float
    region: str
    # Per-bucket configuration documents (versioning, lock, policy, cors, ...) added by later
    # features; stored as one JSON object so new settings need no schema change.
    props: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Segment:
    """A piece of object data in the data store: `ref` is opaque to everything but the data layer."""

    ref: str
    size: int


@dataclass(slots=True)
class PartInfo:
    """What an object keeps of each part it was completed from (partNumber GET, attributes)."""

    number: int
    size: int
    etag: str  # hex md5 of the part, no quotes
    checksums: dict[str, str] = field(default_factory=dict)  # ALGO -> base64


@dataclass(slots=True)
class ObjectRecord:
    bucket: str
    key: str
    size: int
    etag: str  # no quotes; "hex" or "hex-N" for multipart
    last_modified: float
    owner: str
    content_type: str | None = None
    # Content-Encoding, Content-Disposition, Content-Language, Cache-Control, Expires (as sent)
    headers: dict[str, str] = field(default_factory=dict)
    user_meta: dict[str, str] = field(default_factory=dict)  # x-amz-meta-* without the prefix, lowercased
    # ALGO ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256") -> base64 value; a composite value
    # carries its "-N" suffix. checksum_type is FULL_OBJECT or COMPOSITE.
    checksums: dict[str, str] = field(default_factory=dict)
    checksum_type: str | None = None
    storage_class: str = "STANDARD"
    version_id: str | None = None
    inline: bytes | None = None  # small objects live in the metadata row itself
    segments: list[Segment] = field(default_factory=list)  # data, in order; empty when inline
    parts: list[PartInfo] | None = None  # set for objects completed from a multipart upload
    props: dict[str, Any] = field(default_factory=dict)  # tags, retention, encryption... (later issues)
    # A delete marker of a versioned bucket (no data; only returned by version lookups/listings).
    delete_marker: bool = False


@dataclass(slots=True)
class MultipartUpload:
    upload_id: str
    bucket: str
    key: str
    initiated: float
    owner: str
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    user_meta: dict[str, str] = field(default_factory=dict)
    storage_class: str = "STANDARD"
    checksum_algorithm: str | None = None
    checksum_type: str | None = None  # FULL_OBJECT | COMPOSITE
    props: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Part:
    upload_id: str
    number: int
    size: int
    etag: str  # hex md5, no quotes
    last_modified: float
    segment: Segment
    checksums: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ObjectEntry:
    """One object in a listing page: only what ListObjects shows. No defaults on purpose: building
    a full ObjectRecord (20 fields, several default factories) was a tenth of a 1000-key page."""

    key: str
    size: int
    etag: str
    last_modified: float
    owner: str
    checksum_algorithm: str | None  # the object's checksum algorithm, if it has one
    checksum_type: str | None
    storage_class: str


@dataclass(slots=True)
class CommonPrefix:
    prefix: str


@dataclass(slots=True)
class ListPage:
    """One page of a listing: entries in UTF-8 byte order, objects and common prefixes mixed."""

    entries: list[ObjectEntry | CommonPrefix]
    truncated: bool
    # The last entry returned (a key or a common prefix); pass it back as `after` to continue.
    next_marker: str | None


@dataclass(slots=True)
class VersionEntry:
    """One version in a ListObjectVersions page: the record (no inline data) and its place."""

    record: ObjectRecord
    is_latest: bool
    noncurrent_since: float | None = None  # when a newer version replaced it (None: current)


@dataclass(slots=True)
class VersionPage:
    """Versions ordered by key bytes, newest first within a key; common prefixes mixed in."""

    entries: list[VersionEntry | CommonPrefix]
    truncated: bool
    next_key_marker: str | None
    next_version_id_marker: str | None


@dataclass(slots=True)
class UploadPage:
    uploads: list[MultipartUpload]
    prefixes: list[str]
    truncated: bool
    next_key_marker: str | None
    next_upload_id_marker: str | None


@dataclass(slots=True)
class Expect:
    """A precondition checked atomically with a write (conditional PUT / complete).

    if_match: the current object must exist with this etag (no quotes), or "*" for "must exist".
    if_none_match_any: the key must not exist (If-None-Match: *).
    if_none_match: the current object, if any, must not have this etag (If-None-Match: etag).
    """

    if_match: str | None = None
    if_none_match_any: bool = False
    if_none_match: str | None = None

    def failed(self) -> str:
        """The header to name in a 412 answer."""
        return "If-Match" if self.if_match is not None else "If-None-Match"
