"""Plain value types the SDK hands back, and their parsing from S3 headers and XML.

Everything coming from the server is untrusted input: parsers here never raise on odd values (a
missing date, a non-numeric size) but leave the field empty, so one strange object cannot break a
listing of a million good ones. Timestamps become timezone-aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus
from xml.etree.ElementTree import Element

from coffer.protocol import checksums, timeutil, xmlutil

META_PREFIX = "x-amz-meta-"


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def parse_http(text: str | None) -> datetime | None:
    return _dt(timeutil.parse_http_date(text)) if text else None


def unquote_etag(etag: str | None) -> str:
    if not etag:
        return ""
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag[1:-1] if len(etag) >= 2 and etag[0] == etag[-1] == '"' else etag


def safe_int(text: Any, default: int = 0) -> int:
    """A non-negative integer from an untrusted field; ``default`` when it is anything else."""
    try:
        value = int(str(text).strip())
    except (TypeError, ValueError):
        return default
    return value if value >= 0 else default


@dataclass(frozen=True)
class ObjectProps:
    """What HEAD says about an object. ``custom`` holds the user metadata (``x-amz-meta-*``)."""

    size: int
    etag: str
    content_type: str | None = None
    last_modified: datetime | None = None
    custom: dict[str, str] = field(default_factory=dict)
    version_id: str | None = None
    checksums: dict[str, str] = field(default_factory=dict)
    checksum_type: str | None = None
    content_encoding: str | None = None
    content_disposition: str | None = None
    content_language: str | None = None
    cache_control: str | None = None
    storage_class: str | None = None
    parts_count: int | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def multipart(self) -> bool:
        """True when the ETag is a multipart one (``md5-N``) and thus not the MD5 of the data."""
        return "-" in self.etag

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size, "etag": self.etag, "content_type": self.content_type,
            "last_modified": self.last_modified.isoformat() if self.last_modified else None,
            "custom": dict(self.custom), "version_id": self.version_id, "checksums": dict(self.checksums),
            "checksum_type": self.checksum_type, "storage_class": self.storage_class,
            "content_encoding": self.content_encoding, "cache_control": self.cache_control,
            "content_disposition": self.content_disposition, "parts_count": self.parts_count,
        }


def props_from_headers(headers: Mapping[str, str]) -> ObjectProps:
    lowered = {k.lower(): v for k, v in headers.items()}
    size = safe_int(lowered.get("content-length"))
    content_range = lowered.get("content-range", "")
    if "/" in content_range:  # a ranged GET: the object size is after the slash
        total = content_range.rsplit("/", 1)[1].strip()
        if total.isdigit():
            size = int(total)
    found: dict[str, str] = {}
    for name, value in lowered.items():
        algo = checksums.algo_from_header(name)
        if algo:
            found[algo] = value
    parts = lowered.get("x-amz-mp-parts-count")
    return ObjectProps(
        size=size,
        etag=unquote_etag(lowered.get("etag")),
        content_type=lowered.get("content-type"),
        last_modified=parse_http(lowered.get("last-modified")),
        custom={k[len(META_PREFIX):]: v for k, v in lowered.items() if k.startswith(META_PREFIX)},
        version_id=lowered.get("x-amz-version-id"),
        checksums=found,
        checksum_type=lowered.get("x-amz-checksum-type"),
        content_encoding=lowered.get("content-encoding"),
        content_disposition=lowered.get("content-disposition"),
        content_language=lowered.get("content-language"),
        cache_control=lowered.get("cache-control"),
        storage_class=lowered.get("x-amz-storage-class"),
        parts_count=safe_int(parts) if parts else None,
        headers=lowered,
    )


@dataclass(frozen=True)
class ObjectInfo:
    """One entry of a listing."""

    bucket: str
    key: str
    size: int
    etag: str
    last_modified: datetime | None = None
    storage_class: str | None = None

    is_prefix = False

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "size": self.size, "etag": self.etag, "storage_class": self.storage_class,
                "last_modified": self.last_modified.isoformat() if self.last_modified else None}


@dataclass(frozen=True)
class Prefix:
    """A common prefix ("folder") in a listing made with a delimiter."""

    bucket: str
    prefix: str

    is_prefix = True

    @property
    def key(self) -> str:
        return self.prefix

    def to_dict(self) -> dict[str, Any]:
        return {"prefix": self.prefix}


@dataclass(frozen=True)
class ListPage:
    entries: list[ObjectInfo | Prefix]
    next_token: str | None


LIST_ATTEMPTS = 3  # a listing page that arrives unreadable (cut or corrupted on the way) is asked again


def list_page_or_retry(bucket: str, body: bytes, attempt: int) -> ListPage | None:
    """The parsed page; None when it is unreadable and another of LIST_ATTEMPTS is left (the caller
    asks again), ProtocolError on the last."""
    from coffer.sdk._errors import ProtocolError

    try:
        return parse_list_v2(bucket, body)
    except ProtocolError:
        if attempt >= LIST_ATTEMPTS - 1:
            raise
        return None


def parse_list_v2(bucket: str, body: bytes) -> ListPage:
    """Parse a ListObjectsV2 answer (keys url-decoded when the server used encoding-type=url);
    ProtocolError when it is not readable XML."""
    from coffer.sdk._errors import ProtocolError

    try:
        root = xmlutil.parse(body, max_bytes=64 << 20)
    except xmlutil.XmlError as exc:
        raise ProtocolError(f"the ListObjectsV2 answer for bucket {bucket} is not readable XML: {exc}") from None
    encoded = (xmlutil.child_text(root, "EncodingType") or "").lower() == "url"

    def dec(s: str | None) -> str:
        s = s or ""
        # S3 (and botocore when decoding) use form encoding here:  is a space.
        return unquote_plus(s) if encoded else s

    entries: list[ObjectInfo | Prefix] = []
    for el in xmlutil.children(root, "Contents"):
        entries.append(_object_info(bucket, el, dec))
    for el in xmlutil.children(root, "CommonPrefixes"):
        entries.append(Prefix(bucket, dec(xmlutil.child_text(el, "Prefix"))))
    truncated = (xmlutil.child_text(root, "IsTruncated") or "").lower() == "true"
    token = xmlutil.child_text(root, "NextContinuationToken") if truncated else None
    if truncated and not token:
        # A V1-style answer or a server that forgot the token: continue after the last key we saw.
        last = max((e.key for e in entries), default=None)
        token = ("\0after:" + last) if last else None
    # Servers send Contents and CommonPrefixes as separate runs; callers want one sorted stream.
    entries.sort(key=lambda e: e.key)
    return ListPage(entries, token)


def _object_info(bucket: str, el: Element, dec: Any) -> ObjectInfo:
    return ObjectInfo(
        bucket=bucket,
        key=dec(xmlutil.child_text(el, "Key")),
        size=safe_int(xmlutil.child_text(el, "Size")),
        etag=unquote_etag(xmlutil.child_text(el, "ETag")),
        last_modified=parse_iso(xmlutil.child_text(el, "LastModified")),
        storage_class=xmlutil.child_text(el, "StorageClass"),
    )


@dataclass(frozen=True)
class BucketInfo:
    name: str
    creation_date: datetime | None


def parse_list_buckets(body: bytes) -> tuple[list[BucketInfo], str | None]:
    root = xmlutil.parse(body, max_bytes=64 << 20)
    out: list[BucketInfo] = []
    holder = xmlutil.find(root, "Buckets")
    for el in xmlutil.children(holder, "Bucket") if holder is not None else []:
        name = xmlutil.child_text(el, "Name")
        if name:
            out.append(BucketInfo(name, parse_iso(xmlutil.child_text(el, "CreationDate"))))
    return out, xmlutil.child_text(root, "ContinuationToken") or None


@dataclass(frozen=True)
class DeleteResult:
    """Per-key outcome of :meth:`Bucket.delete_objects`; ``error`` is None when the key is gone."""

    key: str
    deleted: bool
    version_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    delete_marker: bool = False  # the delete made (or removed) a delete marker


def parse_delete_result(body: bytes) -> list[DeleteResult]:
    root = xmlutil.parse(body, max_bytes=64 << 20)
    out: list[DeleteResult] = []
    for el in xmlutil.children(root, "Deleted"):
        out.append(DeleteResult(xmlutil.child_text(el, "Key") or "", True, xmlutil.child_text(el, "VersionId"),
                                delete_marker=(xmlutil.child_text(el, "DeleteMarker") or "").lower() == "true"))
    for el in xmlutil.children(root, "Error"):
        out.append(DeleteResult(
            xmlutil.child_text(el, "Key") or "", False, xmlutil.child_text(el, "VersionId"),
            xmlutil.child_text(el, "Code") or "InternalError", xmlutil.child_text(el, "Message") or "",
        ))
    return out


@dataclass(frozen=True)
class PutResult:
    """What a write answered: the new ETag, version and any checksums the server echoed."""

    etag: str
    version_id: str | None = None
    checksums: dict[str, str] = field(default_factory=dict)


def put_result(headers: Mapping[str, str], etag: str | None = None) -> PutResult:
    lowered = {k.lower(): v for k, v in headers.items()}
    found = {a: v for k, v in lowered.items() if (a := checksums.algo_from_header(k))}
    return PutResult(unquote_etag(etag or lowered.get("etag")), lowered.get("x-amz-version-id"), found)
