"""Bucket versioning: the versioning state, version ids, reads and deletes by version, listings.

Owns S3's versioning semantics on top of the metadata store's versions (meta/sqlite/versions.py):

- A bucket is unversioned (no state), Enabled or Suspended (bucket props["versioning"]); once
  versioned it never returns to unversioned, and a bucket with Object Lock is never suspended.
- Enabled: every write gets a fresh version id and keeps the previous version; Suspended: writes get
  the null version, replacing the previous null version only.
- DeleteObject without a version id adds a delete marker (Enabled: with a new id; Suspended: the
  null marker, removing the null version); with a version id it removes that version for good, if
  the WORM guard allows (service/worm/rule.py).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass

from coffer.protocol.errors import MALFORMED_XML, S3Error
from coffer.protocol.timeutil import http_date
from coffer.server.meta.model import Bucket, ObjectRecord, VersionPage
from coffer.server.service.core import Core, Principal
from coffer.server.service.worm import rule as worm


def mode(bucket: Bucket) -> str | None:
    """"Enabled", "Suspended" or None (never versioned)."""
    return bucket.props.get("versioning")


def new_version_id(bucket: Bucket) -> str | None:
    """The version id of a new write to `bucket`: None is the null version."""
    if mode(bucket) != "Enabled":
        return None
    # time-ordered prefix (readable in logs, sorts by creation) + randomness; URL-safe
    return f"{time.time_ns():x}" + os.urandom(10).hex()


_VERSION_ID = re.compile(r"^[0-9a-f]{30,40}$")


def valid_version_id(value: str) -> bool:
    """"null" or an id `new_version_id` could have made (hex time in ns + 20 hex digits)."""
    return value == "null" or bool(_VERSION_ID.match(value))


def with_marker_headers(err: S3Error, marker: ObjectRecord | None) -> S3Error:
    """S3 tells a client that a key's latest version is a delete marker in response headers."""
    if marker is not None:
        err.headers = {"x-amz-delete-marker": "true",  # type: ignore[attr-defined]
                       "x-amz-version-id": marker.version_id or "null"}
    return err


@dataclass(slots=True)
class DeleteOutcome:
    delete_marker: bool = False
    version_id: str | None = None  # of the marker created or the version removed


class Versioning:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def put(self, who: Principal, name: str, status: str | None, mfa_delete: str | None = None) -> None:
        await self.core.bucket_for(who, name)
        if status not in ("Enabled", "Suspended"):
            raise S3Error("MalformedXML", MALFORMED_XML)
        if mfa_delete == "Enabled":
            raise S3Error("InvalidArgument", "MFA Delete is not supported.", ArgumentName="MfaDelete")

        def change(props: dict) -> dict:  # checked in the transaction: no race with object lock / protection
            if status == "Suspended" and props.get("object_lock"):
                raise S3Error("InvalidBucketState", "An Object Lock configuration is present on this bucket, so the "
                              "versioning state cannot be changed.")
            if props.get("protection"):
                raise S3Error("InvalidBucketState", "Versioning cannot be enabled on a bucket with a protection "
                              "policy.")
            return {**props, "versioning": status}

        await self.core.meta.modify_bucket_props(name, change)

    async def get(self, who: Principal, name: str) -> str | None:
        return mode(await self.core.bucket_for(who, name))

    async def get_version(self, bucket: str, key: str, version_id: str) -> ObjectRecord:
        """A version for GET/HEAD/copy; a delete marker answers 405 as S3 does."""
        if version_id != "null" and not version_id:
            raise S3Error("InvalidArgument", "Version id cannot be the empty string", ArgumentName="versionId")
        rec = await self.core.meta.get_version(bucket, key, version_id)
        if rec is None:
            raise S3Error("NoSuchVersion", "The specified version does not exist.", Key=key, VersionId=version_id)
        if rec.delete_marker:
            err = S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.",
                          Method="GET", ResourceType="DeleteMarker")
            err.headers = {"x-amz-delete-marker": "true", "x-amz-version-id": version_id,  # type: ignore[attr-defined]
                           "Last-Modified": http_date(rec.last_modified)}
            raise err
        return rec

    async def no_such_key(self, bucket: Bucket, key: str) -> S3Error:
        err = S3Error("NoSuchKey", "The specified key does not exist.", Key=key)
        if mode(bucket) is not None:
            with_marker_headers(err, await self.core.meta.latest_marker(bucket.name, key))
        return err

    async def delete(
        self, bucket: Bucket, who: Principal, key: str, version_id: str | None, bypass_governance: bool = False
    ) -> DeleteOutcome:
        """DeleteObject (one key), after access checks. Deleting what does not exist succeeds."""
        guard = worm.guard(bypass_governance)
        if version_id is not None:
            removed, freed = await self.core.meta.delete_version(bucket.name, key, version_id, guard)
            await self.core.free(freed)
            marker = bool(removed and removed.delete_marker)
            return DeleteOutcome(marker, version_id)
        state = mode(bucket)
        if state is None:
            # always guarded: a guard that finds no protection costs one dict lookup
            _, freed = await self.core.meta.delete_objects(bucket.name, [key], guard)
            await self.core.free(freed)
            return DeleteOutcome()
        marker = ObjectRecord(bucket=bucket.name, key=key, size=0, etag="", last_modified=time.time(),
                              owner=who.user_id, version_id=new_version_id(bucket), delete_marker=True)
        freed = await self.core.meta.add_delete_marker(marker, state, guard)
        await self.core.free(freed)
        return DeleteOutcome(True, marker.version_id or "null")

    async def delete_many(
        self, who: Principal, bucket: str, items: list[tuple[str | None, str | None]], bypass_governance: bool = False,
    ) -> list[DeleteOutcome | S3Error]:
        """DeleteObjects: (key, version id) pairs; per item an outcome or the S3 error for it (a
        protected version is refused alone, the others are deleted). An unversioned bucket whose
        objects carry no protection is deleted in one metadata transaction, as before versioning existed."""
        b = await self.core.bucket_for(who, bucket)
        out: list[DeleteOutcome | S3Error | None] = [None] * len(items)
        plain = mode(b) is None and not any(v for _k, v in items)
        if plain:
            keys = [k for k, _v in items if k]
            try:
                _removed, freed = await self.core.meta.delete_objects(bucket, keys, worm.guard(bypass_governance))
                await self.core.free(freed)
                return [DeleteOutcome() if k else S3Error("InvalidArgument", "Invalid key") for k, _v in items]
            except worm.Locked:
                pass  # a protected key in the batch: one transaction per key below
        by_key: dict[str, list[int]] = {}
        for i, (key, _vid) in enumerate(items):
            if key:
                by_key.setdefault(key, []).append(i)
            else:
                out[i] = S3Error("InvalidArgument", "Invalid key")

        async def one_key(key: str, indexes: list[int]) -> None:
            for i in indexes:  # the items of one key in request order
                try:
                    out[i] = await self.delete(b, who, key, items[i][1], bypass_governance)
                except S3Error as e:
                    out[i] = e

        # keys are independent: run them concurrently so the group-commit writer batches them
        await asyncio.gather(*(one_key(k, ix) for k, ix in by_key.items()))
        return [o for o in out if o is not None]

    async def list(
        self, who: Principal, bucket: str, prefix: str, delimiter: str | None, key_marker: str | None,
        version_id_marker: str | None, limit: int,
    ) -> VersionPage:
        await self.core.bucket_for(who, bucket)
        if version_id_marker and not key_marker:
            raise S3Error("InvalidArgument", "A version-id marker cannot be specified without a key marker.",
                          ArgumentName="version-id-marker", ArgumentValue=version_id_marker)
        if version_id_marker and not valid_version_id(version_id_marker):
            # S3 decodes the marker and refuses one that is not a version id at all
            raise S3Error("InvalidArgument", "Invalid version id specified", ArgumentName="version-id-marker",
                          ArgumentValue=version_id_marker)
        if limit <= 0:
            return VersionPage([], False, None, None)
        return await self.core.meta.list_versions(bucket, prefix, delimiter or None, key_marker or None,
                                                  version_id_marker or None, limit)
