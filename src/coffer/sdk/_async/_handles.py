"""Async bucket and object handles: the sync ``Bucket``/``Object`` API as coroutines.

Every configuration operation comes from :mod:`coffer.sdk._operations`, the module the sync handles
use too, so both SDKs send the same requests and return the same dataclasses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from coffer.protocol import sigv4, xmlutil
from coffer.sdk import _batch, _snowball
from coffer.sdk import _operations as ops
from coffer.sdk._documents import (
    Acl,
    CorsRule,
    EncryptionConfig,
    LifecycleRule,
    NotificationTarget,
    ObjectLockConfig,
    ObjectVersion,
    ProtectionConfig,
    PublicAccessBlock,
    Retention,
    RetentionState,
    WebsiteConfig,
    parse_versions,
)
from coffer.sdk._errors import (
    AccessDenied,
    BucketAlreadyOwnedByYou,
    ClientRequestError,
    CofferError,
    ConnectionFailed,
    NoSuchBucket,
    NoSuchKey,
    NotFound,
    error_from_response,
)
from coffer.sdk._ext import EXT_BUCKET
from coffer.sdk._headers import meta_headers
from coffer.sdk._snowball import PutManyResult
from coffer.sdk._transport import object_path
from coffer.sdk._types import (
    LIST_ATTEMPTS,
    DeleteResult,
    ObjectInfo,
    ObjectProps,
    Prefix,
    PutResult,
    list_page_or_retry,
    props_from_headers,
    put_result,
)

if TYPE_CHECKING:
    from coffer.sdk._async._client import AsyncClient
    from coffer.sdk._async._io import AsyncObjectReader, AsyncObjectWriter
    from coffer.sdk._async._listen import AsyncEventStream
    from coffer.sdk._async._transport import AsyncTransport
    from coffer.sdk._reader import ByteRange

DELETE_BATCH = 1000


class AsyncBucket:
    """A bucket on the async client's endpoint (no request until a coroutine runs)."""

    def __init__(self, client: AsyncClient, name: str, creation_date: datetime | None = None) -> None:
        if not name or "/" in name:
            raise ValueError(f"invalid bucket name: {name!r}")
        self.client = client
        self.name = name
        self.creation_date = creation_date

    @property
    def _t(self) -> AsyncTransport:
        return self.client._transport

    def __repr__(self) -> str:
        return f"AsyncBucket({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AsyncBucket) and other.name == self.name and other.client is self.client

    def __hash__(self) -> int:
        return hash(self.name)

    async def create(self, exist_ok: bool = False, region: str | None = None, *, object_lock: bool = False,
                     acl: str | None = None) -> AsyncBucket:
        body = None
        region = region or self.client.region
        if region and region != "us-east-1":
            body = xmlutil.to_xml("CreateBucketConfiguration", {"LocationConstraint": region})
        elif not exist_ok and await self._visible():
            # S3 answers a re-create of one's own us-east-1 bucket with 200 (its legacy rule): ask first.
            raise BucketAlreadyOwnedByYou("the bucket exists and is yours", resource=self.name)
        headers: dict[str, str] = {}
        if object_lock:
            headers["x-amz-bucket-object-lock-enabled"] = "true"
        if acl:
            headers["x-amz-acl"] = acl
        try:
            await self._t.request("PUT", self.name, body=body, headers=headers)
        except BucketAlreadyOwnedByYou as exc:
            if not exist_ok and exc.attempts == 1:
                raise
        return self

    async def _visible(self) -> bool:
        try:
            return await self.exists()
        except AccessDenied:
            return False

    async def exists(self) -> bool:
        try:
            await self._t.request("HEAD", self.name, not_found=NoSuchBucket)
            return True
        except NotFound:
            return False

    async def delete(self, force: bool = False, *, bypass_governance: bool = False) -> None:
        """Delete the bucket; ``force`` first deletes every object (and version) and pending upload
        (locked versions stay: AccessDenied says how many and why; see Bucket.delete)."""
        if force:
            await self.abort_uploads()
            batch: list[str | tuple[str, str]] = []
            async for entry in self.list_objects():
                batch.append(entry.key)
                if len(batch) == DELETE_BATCH:
                    await self._delete_batch(batch, check=True, bypass=bypass_governance)
                    batch = []
            if batch:
                await self._delete_batch(batch, check=True, bypass=bypass_governance)
            if await self._versioned():
                batch = []
                async for v in self.list_versions():
                    if isinstance(v, ObjectVersion):
                        batch.append((v.key, v.version_id))
                    if len(batch) == DELETE_BATCH:
                        await self._delete_batch(batch, check=True, bypass=bypass_governance)
                        batch = []
                if batch:
                    await self._delete_batch(batch, check=True, bypass=bypass_governance)
        await self._t.request("DELETE", self.name, not_found=NoSuchBucket)

    def object(self, key: str) -> AsyncObject:
        return AsyncObject(self, key)

    async def list_objects(self, prefix: str = "", delimiter: str | None = None, start_after: str | None = None,
                           page_size: int = 1000) -> AsyncIterator[ObjectInfo | Prefix]:
        """Lazily yield objects (and common prefixes with a delimiter) in key order, a page at a time."""
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000")
        token: str | None = None
        after = start_after
        while True:
            query: dict[str, str | None] = {
                "list-type": "2", "prefix": prefix, "delimiter": delimiter, "max-keys": str(page_size),
                "encoding-type": "url",
            }
            if token and token.startswith("\0after:"):
                after, token = token[len("\0after:"):], None
            if token:
                query["continuation-token"] = token
            elif after:
                query["start-after"] = after
            page = None
            for attempt in range(LIST_ATTEMPTS):
                resp = await self._t.request("GET", self.name, query=query, not_found=NoSuchBucket)
                if (page := list_page_or_retry(self.name, resp.data or b"", attempt)) is not None:
                    break
            assert page is not None
            for entry in page.entries:
                yield entry
            if not page.next_token or page.next_token == token:
                return
            token = page.next_token

    async def put_many(
        self, items: Iterable[tuple[str, Any]], *, prefix: str = "", content_type: str | None = None,
        metadata: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
    ) -> PutManyResult:
        """Many small objects in one request: see the sync ``Bucket.put_many``."""
        key, body, hdrs = _snowball.request(items, prefix=prefix, content_type=content_type,
                                            metadata=metadata, headers=headers)
        resp = await self._t.request("PUT", self.name, key, body=body, headers=hdrs)
        return _snowball.result(resp.headers)

    async def get_many(self, keys: Iterable[str | tuple[str, str | None]], *, batch_size: int = _batch.BATCH_KEYS,
                       verify: bool = True, max_size: int | None = None) -> AsyncIterator[_batch.BatchResult]:
        """The async twin of :meth:`Bucket.get_many`: an async iterator of verified
        :class:`BatchResult`, in order (Coffer's batch GET; NotImplementedByServer elsewhere)."""
        items = _batch.items_of(keys)
        for chunk in _batch.batches(items, batch_size):
            async for result in self.get_batch(chunk, verify, max_size):
                yield result

    async def get_batch(self, items: list[tuple[str, str | None]], verify: bool = True,
                        max_size: int | None = None) -> AsyncIterator[_batch.BatchResult]:
        """One batch GET request for ``items`` ((key, version id or None)), whatever their number.
        ``max_size``: a larger object is not read into memory; its result carries EntityTooLarge."""
        t = self._t
        body = _batch.request_body(self.name, items)
        try:
            resp = await t.request("POST", EXT_BUCKET, _batch.PATH, body=body, stream=True,
                                   headers=_batch.REQUEST_HEADERS)
        except CofferError as exc:
            raise _batch.not_coffer(exc, t.server_header, self.name) from exc
        if not _batch.is_tar(resp.headers):
            resp.discard()
            raise _batch.not_a_batch_answer(self.name)
        parser = _batch.BatchParser(self.name, verify, max_size)
        try:
            async for chunk in resp.iter_raw(256 * 1024):
                for result in parser.feed(chunk):
                    yield result
            parser.end()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            resp.discard()
            raise ConnectionFailed(f"batch GET: {exc}", resource=self.name) from exc
        except BaseException:
            resp.discard()
            raise
        resp.release()

    async def delete_objects(self, keys: Iterable[str | tuple[str, str]], *,
                             bypass_governance: bool = False) -> list[DeleteResult]:
        results: list[DeleteResult] = []
        batch: list[str | tuple[str, str]] = []
        for key in keys:
            batch.append(key)
            if len(batch) == DELETE_BATCH:
                results += await self._delete_batch(batch, bypass=bypass_governance)
                batch = []
        if batch:
            results += await self._delete_batch(batch, bypass=bypass_governance)
        return results

    async def _delete_batch(self, keys: list[str | tuple[str, str]], check: bool = False,
                            bypass: bool = False) -> list[DeleteResult]:
        return await self._t.run(ops.delete_objects(keys, self.name, check=check, bypass=bypass), self.name)

    async def list_uploads(self, prefix: str = "") -> list[tuple[str, str]]:
        """Pending multipart uploads under ``prefix`` as (key, upload_id)."""
        out: list[tuple[str, str]] = []
        key_marker = upload_marker = ""
        while True:
            query = {"uploads": "", "prefix": prefix or None, "key-marker": key_marker or None,
                     "upload-id-marker": upload_marker or None}
            resp = await self._t.request("GET", self.name, query=query, not_found=NoSuchBucket)
            root = xmlutil.parse(resp.data or b"", max_bytes=64 << 20)
            for el in xmlutil.children(root, "Upload"):
                out.append((xmlutil.child_text(el, "Key") or "", xmlutil.child_text(el, "UploadId") or ""))
            if (xmlutil.child_text(root, "IsTruncated") or "").lower() != "true":
                return out
            nk = xmlutil.child_text(root, "NextKeyMarker") or ""
            nu = xmlutil.child_text(root, "NextUploadIdMarker") or ""
            if (nk, nu) == (key_marker, upload_marker):
                return out
            key_marker, upload_marker = nk, nu

    async def abort_uploads(self, prefix: str = "") -> int:
        uploads = await self.list_uploads(prefix)
        for key, upload_id in uploads:
            await self._t.request("DELETE", self.name, key, query={"uploadId": upload_id}, not_found=NoSuchKey)
        return len(uploads)

    # --- versioning --------------------------------------------------------------------------------

    async def _versioned(self) -> bool:
        try:
            return await self.get_versioning() is not None
        except ClientRequestError:
            return False

    async def get_versioning(self) -> str | None:
        return await self._t.run(ops.get_versioning(), self.name)

    async def enable_versioning(self) -> None:
        await self._t.run(ops.put_versioning("Enabled"), self.name)

    async def suspend_versioning(self) -> None:
        await self._t.run(ops.put_versioning("Suspended"), self.name)

    async def list_versions(
        self, prefix: str = "", delimiter: str | None = None, *, key_marker: str | None = None,
        version_id_marker: str | None = None, page_size: int = 1000,
    ) -> AsyncIterator[ObjectVersion | Prefix]:
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000")
        while True:
            query = ops.list_versions_page(prefix, delimiter, key_marker, version_id_marker, page_size)
            resp = await self._t.request("GET", self.name, query=query, not_found=NoSuchBucket)
            page = parse_versions(self.name, resp.data or b"")
            for entry in page.entries:
                yield entry
            if page.next_key_marker is None or (page.next_key_marker, page.next_version_id_marker) == \
                    (key_marker, version_id_marker):
                return
            key_marker, version_id_marker = page.next_key_marker, page.next_version_id_marker

    # --- tagging -----------------------------------------------------------------------------------

    async def get_tags(self) -> dict[str, str]:
        """The bucket's tags ({} when it has none)."""
        return await self._t.run(ops.get_tags(), self.name)

    async def set_tags(self, tags: Mapping[str, str]) -> None:
        """Replace the bucket's tags."""
        await self._t.run(ops.put_tags(tags), self.name)

    async def delete_tags(self) -> None:
        await self._t.run(ops.delete_tags(), self.name)

    # --- S3 Object Lock and IBM protection ---------------------------------------------------------

    async def get_object_lock(self) -> ObjectLockConfig | None:
        """The Object Lock configuration, or None when the bucket has no Object Lock."""
        return await self._t.run(ops.get_object_lock(), self.name)

    async def set_object_lock(self, mode: str | None = None, *, days: int | None = None,
                              years: int | None = None) -> None:
        """Enable Object Lock (if the bucket allows) and set (mode + days/years) or clear the default
        retention of new versions."""
        await self._t.run(ops.put_object_lock(ObjectLockConfig(True, mode, days, years)), self.name)

    async def get_protection(self) -> ProtectionConfig:
        """IBM COS bucket protection (``status`` "Disabled" when never set)."""
        return await self._t.run(ops.get_protection(), self.name)

    async def set_protection(self, min_days: int, default_days: int, max_days: int, *, permanent: bool = False,
                       status: str = "Retention") -> None:
        """IBM COS immutable storage: retention bounds (days) for every object of the bucket."""
        await self._t.run(ops.put_protection(ProtectionConfig(status, min_days, default_days, max_days, permanent)),
                    self.name)

    # --- policy and access control -----------------------------------------------------------------

    async def get_policy(self) -> dict[str, Any] | None:
        """The bucket policy (parsed JSON), or None when there is none."""
        return await self._t.run(ops.get_policy(), self.name)

    async def set_policy(self, policy: Mapping[str, Any] | str) -> None:
        await self._t.run(ops.put_policy(policy), self.name)

    async def delete_policy(self) -> None:
        await self._t.run(ops.delete_policy(), self.name)

    async def is_public(self) -> bool:
        """GetBucketPolicyStatus: whether the bucket policy makes the bucket public."""
        return await self._t.run(ops.get_policy_status(), self.name)

    async def get_acl(self) -> Acl:
        return await self._t.run(ops.get_acl(), self.name)

    async def set_acl(self, acl: Acl | None = None, *, canned: str | None = None) -> None:
        """Replace the bucket's ACL by a full :class:`Acl` or a canned one (``canned="public-read"``)."""
        await self._t.run(ops.put_acl(acl, canned), self.name)

    async def get_ownership(self) -> str | None:
        """Object ownership (BucketOwnerEnforced, BucketOwnerPreferred, ObjectWriter) or None."""
        return await self._t.run(ops.get_ownership(), self.name)

    async def set_ownership(self, mode: str) -> None:
        await self._t.run(ops.put_ownership(mode), self.name)

    async def delete_ownership(self) -> None:
        await self._t.run(ops.delete_ownership(), self.name)

    async def get_public_access_block(self) -> PublicAccessBlock | None:
        return await self._t.run(ops.get_public_access_block(), self.name)

    async def set_public_access_block(self, cfg: PublicAccessBlock) -> None:
        await self._t.run(ops.put_public_access_block(cfg), self.name)

    async def delete_public_access_block(self) -> None:
        await self._t.run(ops.delete_public_access_block(), self.name)

    # --- lifecycle, CORS, website, default encryption, notifications -------------------------------

    async def get_lifecycle(self) -> list[LifecycleRule]:
        """The lifecycle rules ([] when none)."""
        return await self._t.run(ops.get_lifecycle(), self.name)

    async def set_lifecycle(self, rules: list[LifecycleRule]) -> None:
        await self._t.run(ops.put_lifecycle(rules), self.name)

    async def delete_lifecycle(self) -> None:
        await self._t.run(ops.delete_sub("lifecycle"), self.name)

    async def get_cors(self) -> list[CorsRule]:
        """The CORS rules ([] when none)."""
        return await self._t.run(ops.get_cors(), self.name)

    async def set_cors(self, rules: list[CorsRule]) -> None:
        await self._t.run(ops.put_cors(rules), self.name)

    async def delete_cors(self) -> None:
        await self._t.run(ops.delete_sub("cors"), self.name)

    async def get_website(self) -> WebsiteConfig | None:
        return await self._t.run(ops.get_website(), self.name)

    async def set_website(self, cfg: WebsiteConfig) -> None:
        await self._t.run(ops.put_website(cfg), self.name)

    async def delete_website(self) -> None:
        await self._t.run(ops.delete_sub("website"), self.name)

    async def get_encryption(self) -> EncryptionConfig | None:
        """Default encryption of new objects, or None when the bucket has none."""
        return await self._t.run(ops.get_encryption(), self.name)

    async def set_encryption(self, cfg: EncryptionConfig) -> None:
        await self._t.run(ops.put_encryption(cfg), self.name)

    async def delete_encryption(self) -> None:
        await self._t.run(ops.delete_sub("encryption"), self.name)

    def listen(self, events: Iterable[str] | None = None, *, prefix: str = "", suffix: str = "") -> AsyncEventStream:
        """Follow this bucket's writes live: ``async with bucket.listen(...) as stream: async for ev in
        stream``; see the sync :meth:`Bucket.listen`."""
        from coffer.sdk._async._listen import AsyncEventStream
        from coffer.sdk._listen import listen_query

        return AsyncEventStream(self._t, self.name, listen_query(events, prefix, suffix))

    async def get_notifications(self) -> list[NotificationTarget]:
        return await self._t.run(ops.get_notifications(), self.name)

    async def set_notifications(self, targets: list[NotificationTarget]) -> None:
        """Replace the notification configuration ([] removes every target)."""
        await self._t.run(ops.put_notifications(targets), self.name)

class AsyncObject:
    """An object (existing or not yet) at ``bucket/key``."""

    def __init__(self, bucket: AsyncBucket, key: str) -> None:
        if not key:
            raise ValueError("object key must not be empty")
        self.bucket = bucket
        self.key = key

    @property
    def _t(self) -> AsyncTransport:
        return self.bucket.client._transport

    @property
    def name(self) -> str:
        return self.key

    def __repr__(self) -> str:
        return f"AsyncObject({self.bucket.name!r}, {self.key!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AsyncObject) and (other.bucket, other.key) == (self.bucket, self.key)

    def __hash__(self) -> int:
        return hash((self.bucket.name, self.key))

    async def head(self, version_id: str | None = None, *, if_match: str | None = None) -> ObjectProps:
        headers = {"x-amz-checksum-mode": "ENABLED"}
        if if_match:
            headers["If-Match"] = f'"{if_match}"'
        resp = await self._t.request("HEAD", self.bucket.name, self.key, headers=headers,
                                     query={"versionId": version_id} if version_id else None, not_found=NoSuchKey)
        return props_from_headers(resp.headers)

    async def _visible(self) -> bool:
        try:
            return await self.exists()
        except AccessDenied:
            return False

    async def exists(self) -> bool:
        try:
            await self.head()
            return True
        except NotFound:
            return False

    def get_reader(self, byte_range: ByteRange = None, *, version_id: str | None = None,
                   chunk_size: int = 1 << 20) -> AsyncObjectReader:
        from coffer.sdk._async._io import AsyncObjectReader

        return AsyncObjectReader(self, byte_range, version_id=version_id, chunk_size=chunk_size)

    def get_writer(self) -> AsyncObjectWriter:
        from coffer.sdk._async._io import AsyncObjectWriter

        return AsyncObjectWriter(self)

    async def read(self, byte_range: ByteRange = None, *, version_id: str | None = None) -> bytes:
        return await self.get_reader(byte_range, version_id=version_id).read_all()

    async def put(self, content: Any, **kw: Any) -> PutResult:
        return await self.get_writer().put_content(content, **kw)

    async def delete(self, version_id: str | None = None, *, bypass_governance: bool = False) -> DeleteResult:
        resp = await self._t.request(
            "DELETE", self.bucket.name, self.key, query={"versionId": version_id} if version_id else None,
            not_found=NoSuchKey,
            headers={"x-amz-bypass-governance-retention": "true"} if bypass_governance else None)
        return ops.delete_result(self.key, resp.headers)

    async def copy_to(self, bucket: AsyncBucket | str, key: str | None = None,
                      metadata: Mapping[str, str] | None = None, *, content_type: str | None = None,
                      if_match: str | None = None, version_id: str | None = None,
                      headers: Mapping[str, str] | None = None) -> PutResult:
        """Server-side CopyObject (up to 5 GiB); ``metadata``/``content_type`` given: REPLACE."""
        from coffer.sdk._headers import KEPT_HEADERS

        dest_bucket = bucket if isinstance(bucket, str) else bucket.name
        source = object_path(self.bucket.name, self.key)[1:]
        if version_id:
            source += "?versionId=" + sigv4.uri_encode(version_id)
        hdrs = {"x-amz-copy-source": source}
        if if_match:
            hdrs["x-amz-copy-source-if-match"] = f'"{if_match}"'
        if metadata is not None or content_type is not None:
            props = await self.head(version_id, if_match=if_match)
            hdrs["x-amz-metadata-directive"] = "REPLACE"
            for name in KEPT_HEADERS:
                if props.headers.get(name):
                    hdrs[name] = props.headers[name]
            if content_type:
                hdrs["content-type"] = content_type
            hdrs.update(meta_headers(metadata if metadata is not None else props.custom))
        hdrs.update(headers or {})
        resp = await self._t.request("PUT", dest_bucket, key or self.key, headers=hdrs, not_found=NoSuchKey)
        root = xmlutil.parse(resp.data or b"<CopyObjectResult/>")
        if xmlutil.local_name(root) == "Error":
            raise error_from_response(500, resp.data or b"", resp.headers)
        return put_result(resp.headers, xmlutil.child_text(root, "ETag"))

    def presign(self, method: str = "GET", expires: int = 3600, **params: str) -> str:
        query = {k.replace("_", "-"): v for k, v in params.items()}
        return self._t.presign(method, self.bucket.name, self.key, int(expires), query or None)

    # --- tagging -----------------------------------------------------------------------------------

    async def get_tags(self, version_id: str | None = None) -> dict[str, str]:
        return await self._t.run(ops.get_tags(version_id), self.bucket.name, self.key)

    async def set_tags(self, tags: Mapping[str, str], version_id: str | None = None) -> None:
        """Replace the object's (or version's) tags."""
        await self._t.run(ops.put_tags(tags, version_id), self.bucket.name, self.key)

    async def delete_tags(self, version_id: str | None = None) -> None:
        await self._t.run(ops.delete_tags(version_id), self.bucket.name, self.key)

    # --- S3 Object Lock ----------------------------------------------------------------------------

    async def get_retention(self, version_id: str | None = None) -> Retention | None:
        """The version's retention, or None when it has none."""
        return await self._t.run(ops.get_retention(version_id), self.bucket.name, self.key)

    async def set_retention(self, mode: str, until: datetime, version_id: str | None = None, *,
                      bypass_governance: bool = False) -> None:
        """Retain the version (GOVERNANCE or COMPLIANCE) until ``until`` (an aware datetime)."""
        await self._t.run(ops.put_retention(mode, until, version_id, bypass_governance), self.bucket.name, self.key)

    async def get_legal_hold(self, version_id: str | None = None) -> bool:
        return await self._t.run(ops.get_legal_hold(version_id), self.bucket.name, self.key)

    async def set_legal_hold(self, on: bool, version_id: str | None = None) -> None:
        await self._t.run(ops.put_legal_hold(on, version_id), self.bucket.name, self.key)

    # --- IBM COS immutable storage -----------------------------------------------------------------

    async def add_legal_hold(self, hold_id: str) -> None:
        """Add a named IBM legal hold (the bucket must be protected)."""
        await self._t.run(ops.change_legal_hold(add=hold_id), self.bucket.name, self.key)

    async def remove_legal_hold(self, hold_id: str) -> None:
        await self._t.run(ops.change_legal_hold(remove=hold_id), self.bucket.name, self.key)

    async def list_legal_holds(self) -> RetentionState:
        """The object's named legal holds and IBM retention."""
        return await self._t.run(ops.list_legal_holds(), self.bucket.name, self.key)

    async def extend_retention(self, *, additional_seconds: int | None = None, from_now_seconds: int | None = None,
                         new_period_seconds: int | None = None, new_expiration: datetime | None = None) -> None:
        """IBM ``?extendRetention``: exactly one of the four ways; retention can only grow."""
        call = ops.extend_retention(additional_seconds=additional_seconds, from_now_seconds=from_now_seconds,
                                    new_period_seconds=new_period_seconds, new_expiration=new_expiration)
        await self._t.run(call, self.bucket.name, self.key)

    # --- ACL ---------------------------------------------------------------------------------------

    async def get_acl(self, version_id: str | None = None) -> Acl:
        return await self._t.run(ops.get_acl(version_id), self.bucket.name, self.key)

    async def set_acl(self, acl: Acl | None = None, *, canned: str | None = None,
                      version_id: str | None = None) -> None:
        await self._t.run(ops.put_acl(acl, canned, version_id), self.bucket.name, self.key)
