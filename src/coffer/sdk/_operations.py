"""Bucket and object configuration operations as request specs, shared by the sync and async handles.

Each function here returns a :class:`Call`: the request (method, subresource query, headers, body)
and how to read its answer. ``Bucket``/``Object`` run a call through the urllib3 transport,
``AsyncBucket``/``AsyncObject`` through the aiohttp one, so every operation is defined once.

``missing``: error codes that mean "not configured" (S3 answers 404 NoSuchCORSConfiguration and the
like); the handle then returns ``default`` instead of raising.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from coffer.sdk import _documents as doc
from coffer.sdk._types import DeleteResult

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    data: bytes


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    query: dict[str, str]
    parse: Callable[[Answer], T]
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    missing: frozenset[str] = frozenset()
    default: Any = None


def _none(_a: Answer) -> None:
    return None


def _xml_headers(body: bytes) -> dict[str, str]:
    # Object Lock and lifecycle documents need Content-MD5 (S3's rule); it costs nothing on the others.
    md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    return {"Content-MD5": md5, "Content-Type": "application/xml"}


def _put(sub: str, body: bytes, query: Mapping[str, str | None] | None = None,
         headers: Mapping[str, str] | None = None) -> Call[None]:
    return Call("PUT", _q(sub, query), _none, {**_xml_headers(body), **(headers or {})}, body)


def _q(sub: str, extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    out = {sub: ""}
    out.update({k: v for k, v in (extra or {}).items() if v is not None})
    return out


def _vid(version_id: str | None) -> dict[str, str | None]:
    return {"versionId": version_id}


def _get(sub: str, parse: Callable[[bytes], Any], missing: tuple[str, ...] = (), default: Any = None,
         query: Mapping[str, str | None] | None = None) -> Call[Any]:
    return Call("GET", _q(sub, query), lambda a: parse(a.data), missing=frozenset(missing), default=default)


def _delete(sub: str, query: Mapping[str, str | None] | None = None) -> Call[None]:
    return Call("DELETE", _q(sub, query), _none)


# --- versioning -----------------------------------------------------------------------------------------


def get_versioning() -> Call[str | None]:
    return _get("versioning", doc.parse_versioning)


def put_versioning(status: str) -> Call[None]:
    if status not in ("Enabled", "Suspended"):
        raise ValueError("versioning status is 'Enabled' or 'Suspended'")
    return _put("versioning", doc.versioning_body(status))


def list_versions_page(prefix: str, delimiter: str | None, key_marker: str | None,
                       version_id_marker: str | None, page_size: int) -> dict[str, str | None]:
    """The query of one ListObjectVersions page (the caller loops over the markers)."""
    return {"versions": "", "prefix": prefix or None, "delimiter": delimiter, "key-marker": key_marker,
            "version-id-marker": version_id_marker if key_marker else None, "max-keys": str(page_size),
            "encoding-type": "url"}


def delete_objects(keys: list[str | tuple[str, str]], bucket: str, *, check: bool = False,
                   bypass: bool = False) -> Call[list[DeleteResult]]:
    """DeleteObjects of one batch (names, or (key, version id) pairs): a result per key. ``check``
    raises for any key left: AccessDenied naming the locked versions (retention, legal hold), else
    the first failure's error."""
    from coffer.protocol import xmlutil
    from coffer.sdk._types import parse_delete_result

    items = [{"Key": k} if isinstance(k, str) else {"Key": k[0], "VersionId": k[1]} for k in keys]
    body = xmlutil.to_xml("Delete", {"Quiet": False, "Object": items})
    md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    headers = {"Content-MD5": md5, "Content-Type": "application/xml"}
    if bypass:
        headers["x-amz-bypass-governance-retention"] = "true"

    def parse(a: Answer) -> list[DeleteResult]:
        results = parse_delete_result(a.data)
        seen = {(r.key, r.version_id) for r in results} | {(r.key, None) for r in results}
        # Quiet servers (or Quiet-by-default ones) only report failures; the rest were deleted.
        for k in keys:
            key, vid = (k, None) if isinstance(k, str) else k
            if (key, vid) not in seen:
                results.append(DeleteResult(key, True, vid))
        if check:
            _raise_for_left(bucket, [r for r in results if not r.deleted])
        return results

    return Call("POST", {"delete": ""}, parse, headers, body)


def _raise_for_left(bucket: str, failed: list[DeleteResult]) -> None:
    from coffer.sdk._errors import AccessDenied, CofferError

    locked = [r for r in failed if r.error_code == "AccessDenied" and "protected" in (r.error_message or "")]
    if locked:
        first = locked[0]
        version = f" version {first.version_id}" if first.version_id else ""
        raise AccessDenied(
            f"{len(locked)} object version(s) of bucket {bucket} are protected by Object Lock retention, a "
            f"legal hold or a retention policy (first: {first.key!r}{version}: {first.error_message}); they "
            "can be deleted once their retention ends and holds are removed (GOVERNANCE mode: "
            "bypass_governance=True)", code="AccessDenied")
    if failed:
        first = failed[0]
        raise CofferError(f"could not delete {len(failed)} objects, first {first.key!r}: {first.error_message}",
                          code=first.error_code or "DeleteFailed")


def delete_result(key: str, headers: Mapping[str, str]) -> DeleteResult:
    lowered = {k.lower(): v for k, v in headers.items()}
    return DeleteResult(key, True, lowered.get("x-amz-version-id"),
                        delete_marker=lowered.get("x-amz-delete-marker", "").lower() == "true")


# --- tagging --------------------------------------------------------------------------------------------


def get_tags(version_id: str | None = None) -> Call[dict[str, str]]:
    return _get("tagging", doc.parse_tagging, ("NoSuchTagSet",), {}, _vid(version_id))


def put_tags(tags: Mapping[str, str], version_id: str | None = None) -> Call[None]:
    return _put("tagging", doc.tagging_body({str(k): str(v) for k, v in tags.items()}), _vid(version_id))


def delete_tags(version_id: str | None = None) -> Call[None]:
    return _delete("tagging", _vid(version_id))


# --- Object Lock ----------------------------------------------------------------------------------------


def get_object_lock() -> Call[doc.ObjectLockConfig | None]:
    return _get("object-lock", doc.parse_object_lock,
                ("ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration"))


def put_object_lock(cfg: doc.ObjectLockConfig) -> Call[None]:
    return _put("object-lock", doc.object_lock_body(cfg))


def _bypass(bypass_governance: bool) -> dict[str, str]:
    return {"x-amz-bypass-governance-retention": "true"} if bypass_governance else {}


def get_retention(version_id: str | None = None) -> Call[doc.Retention | None]:
    return _get("retention", doc.parse_retention, ("NoSuchObjectLockConfiguration",), None, _vid(version_id))


def put_retention(mode: str, until: datetime, version_id: str | None = None,
                  bypass_governance: bool = False) -> Call[None]:
    if mode not in ("GOVERNANCE", "COMPLIANCE"):
        raise ValueError("retention mode is 'GOVERNANCE' or 'COMPLIANCE'")
    return _put("retention", doc.retention_body(mode, until), _vid(version_id), _bypass(bypass_governance))


def get_legal_hold(version_id: str | None = None) -> Call[bool]:
    return _get("legal-hold", doc.parse_legal_hold, ("NoSuchObjectLockConfiguration",), False, _vid(version_id))


def put_legal_hold(on: bool, version_id: str | None = None) -> Call[None]:
    return _put("legal-hold", doc.legal_hold_body(on), _vid(version_id))


# --- IBM COS immutable storage --------------------------------------------------------------------------


def get_protection() -> Call[doc.ProtectionConfig]:
    return _get("protection", doc.parse_protection)


def put_protection(cfg: doc.ProtectionConfig) -> Call[None]:
    return _put("protection", doc.protection_body(cfg))


def change_legal_hold(add: str | None = None, remove: str | None = None) -> Call[None]:
    if (add is None) == (remove is None):
        raise ValueError("give exactly one of add or remove")
    return Call("POST", _q("legalHold", {"add": add, "remove": remove}), _none)


def list_legal_holds() -> Call[doc.RetentionState]:
    return _get("legalHold", doc.parse_retention_state)


def extend_retention(*, additional_seconds: int | None = None, from_now_seconds: int | None = None,
                     new_period_seconds: int | None = None, new_expiration: datetime | None = None) -> Call[None]:
    given = {"Additional-Retention-Period": additional_seconds,
             "Extend-Retention-From-Current-Time": from_now_seconds,
             "New-Retention-Period": new_period_seconds}
    headers = {k: str(v) for k, v in given.items() if v is not None}
    if new_expiration is not None:
        headers["New-Retention-Expiration-Date"] = doc.iso(new_expiration)
    if len(headers) != 1:
        raise ValueError("give exactly one of additional_seconds, from_now_seconds, new_period_seconds, "
                         "new_expiration")
    return Call("POST", _q("extendRetention"), _none, headers)


def ibm_retention_headers(period_seconds: int | None = None, expiration: datetime | None = None,
                          legal_hold_id: str | None = None) -> dict[str, str]:
    """IBM's retention headers for a PUT or copy into a protected bucket."""
    out: dict[str, str] = {}
    if period_seconds is not None:
        out["Retention-Period"] = str(period_seconds)
    if expiration is not None:
        out["Retention-Expiration-Date"] = doc.iso(expiration)
    if legal_hold_id is not None:
        out["Retention-Legal-Hold-ID"] = legal_hold_id
    return out


# --- policy ---------------------------------------------------------------------------------------------


def _json(data: bytes) -> dict[str, Any]:
    value = json.loads(data.decode("utf-8"))
    return value if isinstance(value, dict) else {"Policy": value}


def get_policy() -> Call[dict[str, Any] | None]:
    return _get("policy", _json, ("NoSuchBucketPolicy",))


def put_policy(policy: Mapping[str, Any] | str) -> Call[None]:
    body = (policy if isinstance(policy, str) else json.dumps(policy, separators=(",", ":"))).encode("utf-8")
    return Call("PUT", _q("policy"), _none, {"Content-Type": "application/json"}, body)


def delete_policy() -> Call[None]:
    return _delete("policy")


def get_policy_status() -> Call[bool]:
    return _get("policyStatus", doc.parse_policy_status, ("NoSuchBucketPolicy",), False)


# --- lifecycle, CORS, website, encryption, notifications -------------------------------------------------


def get_lifecycle() -> Call[list[doc.LifecycleRule]]:
    return _get("lifecycle", doc.parse_lifecycle, ("NoSuchLifecycleConfiguration",), [])


def put_lifecycle(rules: list[doc.LifecycleRule]) -> Call[None]:
    return _put("lifecycle", doc.lifecycle_body(rules))


def get_cors() -> Call[list[doc.CorsRule]]:
    return _get("cors", doc.parse_cors, ("NoSuchCORSConfiguration",), [])


def put_cors(rules: list[doc.CorsRule]) -> Call[None]:
    return _put("cors", doc.cors_body(rules))


def get_website() -> Call[doc.WebsiteConfig | None]:
    return _get("website", doc.parse_website, ("NoSuchWebsiteConfiguration",))


def put_website(cfg: doc.WebsiteConfig) -> Call[None]:
    return _put("website", doc.website_body(cfg))


def get_encryption() -> Call[doc.EncryptionConfig | None]:
    return _get("encryption", doc.parse_encryption, ("ServerSideEncryptionConfigurationNotFoundError",))


def put_encryption(cfg: doc.EncryptionConfig) -> Call[None]:
    return _put("encryption", doc.encryption_body(cfg))


def get_notifications() -> Call[list[doc.NotificationTarget]]:
    return _get("notification", doc.parse_notifications)


def put_notifications(targets: list[doc.NotificationTarget]) -> Call[None]:
    return _put("notification", doc.notification_body(targets))


# --- ACLs, ownership, public access block ---------------------------------------------------------------

CANNED_ACLS = frozenset({"private", "public-read", "public-read-write", "authenticated-read",
                         "bucket-owner-read", "bucket-owner-full-control"})


def get_acl(version_id: str | None = None) -> Call[doc.Acl]:
    return _get("acl", doc.parse_acl, query=_vid(version_id))


def put_acl(acl: doc.Acl | None = None, canned: str | None = None, version_id: str | None = None) -> Call[None]:
    if (acl is None) == (canned is None):
        raise ValueError("give exactly one of acl or canned")
    if canned is not None:
        if canned not in CANNED_ACLS:
            raise ValueError(f"unknown canned ACL {canned!r}")
        return Call("PUT", _q("acl", _vid(version_id)), _none, {"x-amz-acl": canned})
    assert acl is not None
    return _put("acl", doc.acl_body(acl), _vid(version_id))


def get_ownership() -> Call[str | None]:
    return _get("ownershipControls", doc.parse_ownership, ("OwnershipControlsNotFoundError",))


def put_ownership(mode: str) -> Call[None]:
    return _put("ownershipControls", doc.ownership_body(mode))


def delete_ownership() -> Call[None]:
    return _delete("ownershipControls")


def get_public_access_block() -> Call[doc.PublicAccessBlock | None]:
    return _get("publicAccessBlock", doc.parse_pab, ("NoSuchPublicAccessBlockConfiguration",))


def put_public_access_block(cfg: doc.PublicAccessBlock) -> Call[None]:
    return _put("publicAccessBlock", doc.pab_body(cfg))


def delete_public_access_block() -> Call[None]:
    return _delete("publicAccessBlock")


def delete_sub(sub: str) -> Call[None]:
    """DELETE ?lifecycle / ?cors / ?website / ?encryption."""
    return _delete(sub)
