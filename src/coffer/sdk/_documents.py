"""Typed bucket and object settings, and their S3 XML both ways.

Owns the small dataclasses the SDK hands back for versions, tags, Object Lock, IBM immutable storage,
lifecycle, CORS, website, default encryption, notifications and ACLs, plus pure functions that turn
them into request bodies and answers back into them. No I/O here: :mod:`._operations` pairs these with
requests, so the sync and async handles share one definition of every operation.

Answers are untrusted: parsers leave a field empty rather than raise on an odd value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus
from xml.etree.ElementTree import Element

from coffer.protocol import xmlutil
from coffer.sdk._types import parse_iso, safe_int, unquote_etag

XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _parse(body: bytes) -> Element:
    return xmlutil.parse(body, max_bytes=64 << 20)


def _text(el: Element | None, name: str) -> str | None:
    return None if el is None else xmlutil.child_text(el, name)


def _bool(text: str | None) -> bool:
    return (text or "").strip().lower() == "true"


def _int_or_none(text: str | None) -> int | None:
    if text is None or not text.strip().lstrip("-").isdigit():
        return None
    return int(text)


def iso(dt: datetime) -> str:
    """An aware (or naive-as-UTC) datetime as S3's ISO 8601 (``2030-01-01T00:00:00.000Z``)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# --- versioning ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectVersion:
    """One entry of a version listing: a version of an object, or a delete marker."""

    bucket: str
    key: str
    version_id: str
    is_latest: bool
    last_modified: datetime | None
    delete_marker: bool = False
    size: int = 0
    etag: str = ""
    storage_class: str | None = None
    owner_id: str | None = None

    is_prefix = False

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "version_id": self.version_id, "is_latest": self.is_latest,
                "delete_marker": self.delete_marker, "size": self.size, "etag": self.etag,
                "last_modified": self.last_modified.isoformat() if self.last_modified else None}


@dataclass(frozen=True)
class VersionPage:
    entries: list[Any]  # ObjectVersion | Prefix
    next_key_marker: str | None
    next_version_id_marker: str | None


def versioning_body(status: str) -> bytes:
    return xmlutil.to_xml("VersioningConfiguration", {"Status": status})


def parse_versioning(body: bytes) -> str | None:
    """"Enabled", "Suspended", or None for a bucket that never had versioning."""
    return xmlutil.child_text(_parse(body), "Status") or None


def parse_versions(bucket: str, body: bytes) -> VersionPage:
    from coffer.sdk._types import Prefix

    root = _parse(body)
    encoded = (xmlutil.child_text(root, "EncodingType") or "").lower() == "url"

    def dec(s: str | None) -> str:
        return unquote_plus(s or "") if encoded else (s or "")

    entries: list[Any] = []
    for el in root:
        name = xmlutil.local_name(el)
        if name in ("Version", "DeleteMarker"):
            owner = xmlutil.find(el, "Owner")
            entries.append(ObjectVersion(
                bucket=bucket, key=dec(xmlutil.child_text(el, "Key")),
                version_id=xmlutil.child_text(el, "VersionId") or "null",
                is_latest=_bool(xmlutil.child_text(el, "IsLatest")),
                last_modified=parse_iso(xmlutil.child_text(el, "LastModified")),
                delete_marker=name == "DeleteMarker",
                size=safe_int(xmlutil.child_text(el, "Size")),
                etag=unquote_etag(xmlutil.child_text(el, "ETag")),
                storage_class=xmlutil.child_text(el, "StorageClass"),
                owner_id=_text(owner, "ID"),
            ))
        elif name == "CommonPrefixes":
            entries.append(Prefix(bucket, dec(xmlutil.child_text(el, "Prefix"))))
    truncated = _bool(xmlutil.child_text(root, "IsTruncated"))
    key_marker = dec(xmlutil.child_text(root, "NextKeyMarker")) if truncated else None
    vid_marker = xmlutil.child_text(root, "NextVersionIdMarker") if truncated else None
    return VersionPage(entries, key_marker or None, vid_marker or None)


# --- tagging ------------------------------------------------------------------------------------------


def tagging_body(tags: Mapping[str, str]) -> bytes:
    return xmlutil.to_xml("Tagging", {"TagSet": {"Tag": [{"Key": k, "Value": v} for k, v in tags.items()]}})


def parse_tagging(body: bytes) -> dict[str, str]:
    root = _parse(body)
    ts = xmlutil.find(root, "TagSet")
    out: dict[str, str] = {}
    for t in xmlutil.children(ts, "Tag") if ts is not None else []:
        k = xmlutil.child_text(t, "Key")
        if k is not None:
            out[k] = xmlutil.child_text(t, "Value") or ""
    return out


# --- S3 Object Lock -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectLockConfig:
    """A bucket's Object Lock configuration; ``mode`` (GOVERNANCE/COMPLIANCE) with ``days`` or
    ``years`` is the default retention of new versions (all None: no default)."""

    enabled: bool = True
    mode: str | None = None
    days: int | None = None
    years: int | None = None


def object_lock_body(cfg: ObjectLockConfig) -> bytes:
    body: dict[str, Any] = {"ObjectLockEnabled": "Enabled" if cfg.enabled else None}
    if cfg.mode:
        if (cfg.days is None) == (cfg.years is None):
            raise ValueError("a default retention needs exactly one of days or years")
        body["Rule"] = {"DefaultRetention": {"Mode": cfg.mode, "Days": cfg.days, "Years": cfg.years}}
    return xmlutil.to_xml("ObjectLockConfiguration", body)


def parse_object_lock(body: bytes) -> ObjectLockConfig:
    root = _parse(body)
    d = None
    rule = xmlutil.find(root, "Rule")
    if rule is not None:
        d = xmlutil.find(rule, "DefaultRetention")
    return ObjectLockConfig(
        enabled=xmlutil.child_text(root, "ObjectLockEnabled") == "Enabled",
        mode=_text(d, "Mode"), days=_int_or_none(_text(d, "Days")), years=_int_or_none(_text(d, "Years")),
    )


@dataclass(frozen=True)
class Retention:
    """An object version's S3 retention: GOVERNANCE or COMPLIANCE until ``retain_until``."""

    mode: str
    retain_until: datetime | None


def retention_body(mode: str, until: datetime) -> bytes:
    return xmlutil.to_xml("Retention", {"Mode": mode, "RetainUntilDate": iso(until)})


def parse_retention(body: bytes) -> Retention:
    root = _parse(body)
    return Retention(xmlutil.child_text(root, "Mode") or "",
                     parse_iso(xmlutil.child_text(root, "RetainUntilDate")))


def legal_hold_body(on: bool) -> bytes:
    return xmlutil.to_xml("LegalHold", {"Status": "ON" if on else "OFF"})


def parse_legal_hold(body: bytes) -> bool:
    return xmlutil.child_text(_parse(body), "Status") == "ON"


# --- IBM COS immutable storage ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProtectionConfig:
    """IBM COS bucket protection (``?protection``): retention bounds in days."""

    status: str = "Retention"
    min_days: int = 0
    default_days: int = 0
    max_days: int = 0
    permanent: bool = False

    @property
    def enabled(self) -> bool:
        return self.status == "Retention"


def protection_body(cfg: ProtectionConfig) -> bytes:
    return xmlutil.to_xml("ProtectionConfiguration", xmlutil.pairs(
        ("Status", cfg.status),
        ("MinimumRetention", {"Days": cfg.min_days}),
        ("DefaultRetention", {"Days": cfg.default_days}),
        ("MaximumRetention", {"Days": cfg.max_days}),
        ("EnablePermanentRetention", True if cfg.permanent else None),
    ))


def parse_protection(body: bytes) -> ProtectionConfig:
    root = _parse(body)

    def days(name: str) -> int:
        return _int_or_none(_text(xmlutil.find(root, name), "Days")) or 0

    return ProtectionConfig(
        status=xmlutil.child_text(root, "Status") or "Disabled", min_days=days("MinimumRetention"),
        default_days=days("DefaultRetention"), max_days=days("MaximumRetention"),
        permanent=_bool(xmlutil.child_text(root, "EnablePermanentRetention")),
    )


@dataclass(frozen=True)
class LegalHold:
    """One named IBM legal hold on an object."""

    id: str
    date: datetime | None


@dataclass(frozen=True)
class RetentionState:
    """IBM's answer to ``GET ?legalHold``: the object's holds and retention."""

    create_time: datetime | None
    legal_holds: list[LegalHold]
    retention_period: int
    retention_expiration: datetime | None


def parse_retention_state(body: bytes) -> RetentionState:
    root = _parse(body)
    holds_el = xmlutil.find(root, "LegalHolds")
    holds: list[LegalHold] = []
    for el in list(holds_el) if holds_el is not None else []:
        if xmlutil.local_name(el):
            holds.append(LegalHold(xmlutil.child_text(el, "ID") or "", parse_iso(xmlutil.child_text(el, "Date"))))
    return RetentionState(
        create_time=parse_iso(xmlutil.child_text(root, "CreateTime")), legal_holds=holds,
        retention_period=_int_or_none(xmlutil.child_text(root, "RetentionPeriod")) or 0,
        retention_expiration=parse_iso(xmlutil.child_text(root, "RetentionPeriodExpirationDate")),
    )


# --- lifecycle ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LifecycleRule:
    """One lifecycle rule. The filter is ``prefix``, ``tags`` and the size bounds (all must match);
    actions: expiration (``expiration_days`` or ``expiration_date``, ``expired_object_delete_marker``),
    noncurrent version expiration, and aborting incomplete multipart uploads."""

    id: str = ""
    enabled: bool = True
    prefix: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    size_greater_than: int | None = None
    size_less_than: int | None = None
    expiration_days: int | None = None
    expiration_date: datetime | None = None
    expired_object_delete_marker: bool | None = None
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int | None = None
    abort_incomplete_upload_days: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if v not in (None, {}, "")}
        if self.expiration_date is not None:
            out["expiration_date"] = self.expiration_date.isoformat()
        out["enabled"] = self.enabled
        return out


def _rule_xml(r: LifecycleRule) -> Any:
    conds: list[tuple[str, Any]] = []
    if r.prefix:
        conds.append(("Prefix", r.prefix))
    conds += [("Tag", {"Key": k, "Value": v}) for k, v in r.tags.items()]
    if r.size_greater_than is not None:
        conds.append(("ObjectSizeGreaterThan", r.size_greater_than))
    if r.size_less_than is not None:
        conds.append(("ObjectSizeLessThan", r.size_less_than))
    flt: Any = xmlutil.pairs(("And", xmlutil.pairs(*conds))) if len(conds) > 1 else xmlutil.pairs(*conds)
    if not conds:
        flt = {"Prefix": ""}
    out: list[tuple[str, Any]] = [("ID", r.id or None), ("Filter", flt),
                                  ("Status", "Enabled" if r.enabled else "Disabled")]
    if r.expiration_days is not None or r.expiration_date is not None or r.expired_object_delete_marker is not None:
        out.append(("Expiration", xmlutil.pairs(
            ("Days", r.expiration_days),
            ("Date", iso(r.expiration_date) if r.expiration_date else None),
            ("ExpiredObjectDeleteMarker", r.expired_object_delete_marker),
        )))
    if r.noncurrent_days is not None or r.newer_noncurrent_versions is not None:
        out.append(("NoncurrentVersionExpiration", xmlutil.pairs(
            ("NoncurrentDays", r.noncurrent_days or 0), ("NewerNoncurrentVersions", r.newer_noncurrent_versions))))
    if r.abort_incomplete_upload_days is not None:
        out.append(("AbortIncompleteMultipartUpload", {"DaysAfterInitiation": r.abort_incomplete_upload_days}))
    return xmlutil.pairs(*out)


def lifecycle_body(rules: list[LifecycleRule]) -> bytes:
    return xmlutil.to_xml("LifecycleConfiguration", {"Rule": [_rule_xml(r) for r in rules]})


def parse_lifecycle(body: bytes) -> list[LifecycleRule]:
    out: list[LifecycleRule] = []
    for r in xmlutil.children(_parse(body), "Rule"):
        f = xmlutil.find(r, "Filter")
        src = f
        if f is not None and xmlutil.find(f, "And") is not None:
            src = xmlutil.find(f, "And")
        prefix = (_text(src, "Prefix") if src is not None else xmlutil.child_text(r, "Prefix")) or ""
        tags = {xmlutil.child_text(t, "Key") or "": xmlutil.child_text(t, "Value") or ""
                for t in (xmlutil.children(src, "Tag") if src is not None else [])}
        e = xmlutil.find(r, "Expiration")
        n = xmlutil.find(r, "NoncurrentVersionExpiration")
        a = xmlutil.find(r, "AbortIncompleteMultipartUpload")
        marker = _text(e, "ExpiredObjectDeleteMarker")
        out.append(LifecycleRule(
            id=xmlutil.child_text(r, "ID") or "", enabled=xmlutil.child_text(r, "Status") == "Enabled",
            prefix=prefix, tags=tags,
            size_greater_than=_int_or_none(_text(src, "ObjectSizeGreaterThan")),
            size_less_than=_int_or_none(_text(src, "ObjectSizeLessThan")),
            expiration_days=_int_or_none(_text(e, "Days")), expiration_date=parse_iso(_text(e, "Date")),
            expired_object_delete_marker=None if marker is None else _bool(marker),
            noncurrent_days=_int_or_none(_text(n, "NoncurrentDays")),
            newer_noncurrent_versions=_int_or_none(_text(n, "NewerNoncurrentVersions")),
            abort_incomplete_upload_days=_int_or_none(_text(a, "DaysAfterInitiation")),
        ))
    return out


# --- CORS ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorsRule:
    allowed_origins: list[str]
    allowed_methods: list[str]
    allowed_headers: list[str] = field(default_factory=list)
    expose_headers: list[str] = field(default_factory=list)
    max_age_seconds: int | None = None
    id: str | None = None


def cors_body(rules: list[CorsRule]) -> bytes:
    return xmlutil.to_xml("CORSConfiguration", {"CORSRule": [xmlutil.pairs(
        ("ID", r.id), *[("AllowedHeader", h) for h in r.allowed_headers],
        *[("AllowedMethod", m) for m in r.allowed_methods], *[("AllowedOrigin", o) for o in r.allowed_origins],
        *[("ExposeHeader", h) for h in r.expose_headers], ("MaxAgeSeconds", r.max_age_seconds),
    ) for r in rules]})


def parse_cors(body: bytes) -> list[CorsRule]:
    def texts(el: Element, name: str) -> list[str]:
        return [(c.text or "").strip() for c in xmlutil.children(el, name)]

    return [CorsRule(texts(el, "AllowedOrigin"), texts(el, "AllowedMethod"), texts(el, "AllowedHeader"),
                     texts(el, "ExposeHeader"), _int_or_none(xmlutil.child_text(el, "MaxAgeSeconds")),
                     xmlutil.child_text(el, "ID"))
            for el in xmlutil.children(_parse(body), "CORSRule")]


# --- website ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutingRule:
    """``redirect``: Protocol, HostName, ReplaceKeyPrefixWith, ReplaceKeyWith, HttpRedirectCode;
    ``condition``: KeyPrefixEquals, HttpErrorCodeReturnedEquals (S3's element names)."""

    redirect: dict[str, str]
    condition: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebsiteConfig:
    index_document: str | None = None
    error_document: str | None = None
    redirect_all_to: str | None = None  # host name
    redirect_all_protocol: str | None = None
    routing_rules: list[RoutingRule] = field(default_factory=list)


def website_body(cfg: WebsiteConfig) -> bytes:
    if cfg.redirect_all_to:
        return xmlutil.to_xml("WebsiteConfiguration", {"RedirectAllRequestsTo": xmlutil.pairs(
            ("HostName", cfg.redirect_all_to), ("Protocol", cfg.redirect_all_protocol))})
    rules = [xmlutil.pairs(("Condition", dict(r.condition) if r.condition else None), ("Redirect", dict(r.redirect)))
             for r in cfg.routing_rules]
    return xmlutil.to_xml("WebsiteConfiguration", xmlutil.pairs(
        ("IndexDocument", {"Suffix": cfg.index_document}),
        ("ErrorDocument", {"Key": cfg.error_document} if cfg.error_document else None),
        ("RoutingRules", {"RoutingRule": rules} if rules else None),
    ))


def _fields(el: Element | None) -> dict[str, str]:
    if el is None:
        return {}
    return {xmlutil.local_name(c): (c.text or "").strip() for c in el if xmlutil.local_name(c)}


def parse_website(body: bytes) -> WebsiteConfig:
    root = _parse(body)
    redirect = xmlutil.find(root, "RedirectAllRequestsTo")
    rules_el = xmlutil.find(root, "RoutingRules")
    rules = [RoutingRule(_fields(xmlutil.find(r, "Redirect")), _fields(xmlutil.find(r, "Condition")))
             for r in (xmlutil.children(rules_el, "RoutingRule") if rules_el is not None else [])]
    return WebsiteConfig(
        index_document=_text(xmlutil.find(root, "IndexDocument"), "Suffix"),
        error_document=_text(xmlutil.find(root, "ErrorDocument"), "Key"),
        redirect_all_to=_text(redirect, "HostName"), redirect_all_protocol=_text(redirect, "Protocol"),
        routing_rules=rules,
    )


# --- default encryption -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncryptionConfig:
    """A bucket's default encryption: ``AES256`` (SSE-S3) or ``aws:kms`` with an optional key id."""

    algorithm: str = "AES256"
    kms_key_id: str | None = None
    bucket_key_enabled: bool = False


def encryption_body(cfg: EncryptionConfig) -> bytes:
    return xmlutil.to_xml("ServerSideEncryptionConfiguration", {"Rule": xmlutil.pairs(
        ("ApplyServerSideEncryptionByDefault", xmlutil.pairs(("SSEAlgorithm", cfg.algorithm),
                                                             ("KMSMasterKeyID", cfg.kms_key_id))),
        ("BucketKeyEnabled", cfg.bucket_key_enabled),
    )})


def parse_encryption(body: bytes) -> EncryptionConfig:
    rule = xmlutil.find(_parse(body), "Rule")
    default = xmlutil.find(rule, "ApplyServerSideEncryptionByDefault") if rule is not None else None
    return EncryptionConfig(_text(default, "SSEAlgorithm") or "", _text(default, "KMSMasterKeyID") or None,
                            _bool(_text(rule, "BucketKeyEnabled")))


# --- notifications ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationTarget:
    """One notification configuration. ``url`` is a webhook URL (Coffer) or, for a Queue/Topic/
    CloudFunction configuration, its ARN; ``kind`` says which element carried it."""

    url: str
    events: list[str] = field(default_factory=lambda: ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    id: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    secret: str | None = None
    kind: str = "Webhook"  # Webhook | Queue | Topic | CloudFunction


_NOTIFY_ELEMENTS = {"Webhook": ("WebhookConfiguration", "Url"), "Queue": ("QueueConfiguration", "Queue"),
                    "Topic": ("TopicConfiguration", "Topic"),
                    "CloudFunction": ("CloudFunctionConfiguration", "CloudFunction")}


def notification_body(targets: list[NotificationTarget]) -> bytes:
    items: list[tuple[str, Any]] = []
    for t in targets:
        element, field_name = _NOTIFY_ELEMENTS[t.kind]
        body: list[tuple[str, Any]] = [("Id", t.id), (field_name, t.url)]
        body += [("Event", e) for e in t.events]
        rules = [{"Name": n, "Value": v} for n, v in (("prefix", t.prefix), ("suffix", t.suffix)) if v is not None]
        if rules:
            body.append(("Filter", {"S3Key": {"FilterRule": rules}}))
        if t.secret and t.kind == "Webhook":
            body.append(("Secret", t.secret))
        items.append((element, xmlutil.pairs(*body)))
    return xmlutil.to_xml("NotificationConfiguration", xmlutil.pairs(*items))


def parse_notifications(body: bytes) -> list[NotificationTarget]:
    out: list[NotificationTarget] = []
    by_element = {el: (kind, f) for kind, (el, f) in _NOTIFY_ELEMENTS.items()}
    for el in _parse(body):
        found = by_element.get(xmlutil.local_name(el))
        if found is None:
            continue
        kind, field_name = found
        flt = xmlutil.find(el, "Filter")
        key = xmlutil.find(flt, "S3Key") if flt is not None else None
        rules = {(xmlutil.child_text(r, "Name") or "").lower(): xmlutil.child_text(r, "Value") or ""
                 for r in (xmlutil.children(key, "FilterRule") if key is not None else [])}
        out.append(NotificationTarget(
            url=xmlutil.child_text(el, field_name) or "",
            events=[(e.text or "") for e in xmlutil.children(el, "Event")],
            id=xmlutil.child_text(el, "Id"), prefix=rules.get("prefix"), suffix=rules.get("suffix"),
            secret=xmlutil.child_text(el, "Secret"), kind=kind,
        ))
    return out


# --- access control -----------------------------------------------------------------------------------

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


@dataclass(frozen=True)
class Grant:
    """``permission`` (FULL_CONTROL, READ, WRITE, READ_ACP, WRITE_ACP) given to a user (``grantee_id``)
    or a group (``grantee_uri``, e.g. :data:`ALL_USERS`)."""

    permission: str
    grantee_id: str | None = None
    grantee_uri: str | None = None
    display_name: str | None = None

    @property
    def grantee_type(self) -> str:
        return "Group" if self.grantee_uri else "CanonicalUser"


@dataclass(frozen=True)
class Acl:
    owner_id: str
    grants: list[Grant]
    owner_name: str | None = None


def acl_body(acl: Acl) -> bytes:
    grants = []
    for g in acl.grants:
        grantee: dict[str, Any] = {"@xmlns:xsi": XSI, "@xsi:type": g.grantee_type}
        if g.grantee_uri:
            grantee["URI"] = g.grantee_uri
        else:
            grantee["ID"] = g.grantee_id
            grantee["DisplayName"] = g.display_name
        grants.append({"Grantee": grantee, "Permission": g.permission})
    return xmlutil.to_xml("AccessControlPolicy", {
        "Owner": {"ID": acl.owner_id, "DisplayName": acl.owner_name}, "AccessControlList": {"Grant": grants}})


def parse_acl(body: bytes) -> Acl:
    root = _parse(body)
    owner = xmlutil.find(root, "Owner")
    holder = xmlutil.find(root, "AccessControlList")
    grants = []
    for g in xmlutil.children(holder, "Grant") if holder is not None else []:
        who = xmlutil.find(g, "Grantee")
        grants.append(Grant(xmlutil.child_text(g, "Permission") or "", _text(who, "ID"), _text(who, "URI"),
                            _text(who, "DisplayName") or None))
    return Acl(_text(owner, "ID") or "", grants, _text(owner, "DisplayName") or None)


@dataclass(frozen=True)
class PublicAccessBlock:
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False


_PAB = (("BlockPublicAcls", "block_public_acls"), ("IgnorePublicAcls", "ignore_public_acls"),
        ("BlockPublicPolicy", "block_public_policy"), ("RestrictPublicBuckets", "restrict_public_buckets"))


def pab_body(cfg: PublicAccessBlock) -> bytes:
    return xmlutil.to_xml("PublicAccessBlockConfiguration", xmlutil.pairs(*[(x, getattr(cfg, a)) for x, a in _PAB]))


def parse_pab(body: bytes) -> PublicAccessBlock:
    root = _parse(body)
    return PublicAccessBlock(**{a: _bool(xmlutil.child_text(root, x)) for x, a in _PAB})


def ownership_body(mode: str) -> bytes:
    return xmlutil.to_xml("OwnershipControls", {"Rule": {"ObjectOwnership": mode}})


def parse_ownership(body: bytes) -> str:
    rule = xmlutil.find(_parse(body), "Rule")
    return _text(rule, "ObjectOwnership") or ""


def parse_policy_status(body: bytes) -> bool:
    return _bool(xmlutil.child_text(_parse(body), "IsPublic"))
