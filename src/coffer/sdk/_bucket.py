"""Bucket handles: create, probe, delete, list lazily and delete objects in batches.

A :class:`Bucket` is just (client, name); nothing is fetched until a method runs. Listings are
generators over ListObjectsV2 pages, so walking a bucket of millions of keys holds one page at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from urllib3.exceptions import HTTPError as _Urllib3Error

from coffer.protocol import xmlutil
from coffer.sdk import _batch, _snowball
from coffer.sdk import _multipart as mp
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
    NotFound,
)
from coffer.sdk._ext import EXT_BUCKET
from coffer.sdk._snowball import PutManyResult
from coffer.sdk._types import LIST_ATTEMPTS, DeleteResult, ObjectInfo, Prefix, list_page_or_retry

if TYPE_CHECKING:
    from coffer.sdk._client import Client
    from coffer.sdk._coffer_ext import BucketExt
    from coffer.sdk._group import ObjectGroup
    from coffer.sdk._listen import EventStream
    from coffer.sdk._object import Object
    from coffer.sdk._transport import Transport

DELETE_BATCH = 1000  # S3's limit per DeleteObjects request


class Bucket:
    """A bucket on the client's endpoint."""

    def __init__(self, client: Client, name: str, creation_date: datetime | None = None) -> None:
        if not name or "/" in name:
            raise ValueError(f"invalid bucket name: {name!r}")
        self.client = client
        self.name = name
        self.creation_date = creation_date

    @property
    def _t(self) -> Transport:
        return self.client._transport

    def __repr__(self) -> str:
        return f"Bucket({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bucket) and other.name == self.name and other.client is self.client

    def __hash__(self) -> int:
        return hash(self.name)

    # --- lifecycle ---------------------------------------------------------------------------------

    def create(self, exist_ok: bool = False, region: str | None = None, *, object_lock: bool = False,
               acl: str | None = None) -> Bucket:
        """Create the bucket; with ``exist_ok`` an existing bucket of ours is not an error.

        ``object_lock`` creates it with S3 Object Lock enabled (and versioning on); ``acl`` is a
        canned ACL (``private``, ``public-read``, ...)."""
        body = None
        headers: dict[str, str] = {}
        if object_lock:
            headers["x-amz-bucket-object-lock-enabled"] = "true"
        if acl:
            headers["x-amz-acl"] = acl
        region = region or self.client.region
        if region and region != "us-east-1":
            body = xmlutil.to_xml("CreateBucketConfiguration", {"LocationConstraint": region})
        elif not exist_ok and self._visible():
            # S3 answers a re-create of one's own us-east-1 bucket with 200 (its legacy rule): ask first.
            raise BucketAlreadyOwnedByYou("the bucket exists and is yours", resource=self.name)
        try:
            self._t.request("PUT", self.name, body=body, headers=headers)
        except BucketAlreadyOwnedByYou as exc:
            # After a retry the "already yours" may be our own first attempt that did go through.
            if not exist_ok and exc.attempts == 1:
                raise
        return self

    def _visible(self) -> bool:
        """exists(), with a bucket we may not see (someone else's) counted as not ours."""
        try:
            return self.exists()
        except AccessDenied:
            return False

    def exists(self) -> bool:
        """True when the bucket exists and we may see it (HEAD); AccessDenied still raises."""
        try:
            self._t.request("HEAD", self.name, not_found=NoSuchBucket)
            return True
        except NotFound:
            return False

    def delete(self, force: bool = False, *, bypass_governance: bool = False) -> None:
        """Delete the bucket; ``force`` first deletes every object (every version and delete marker
        of a versioned bucket) and aborts pending uploads. Versions under Object Lock retention or a
        legal hold (or IBM retention) stay: AccessDenied says how many and why;
        ``bypass_governance`` also deletes those in GOVERNANCE mode (with the permission to)."""
        if force:
            self.abort_uploads()
            batch: list[str | tuple[str, str]] = []
            for entry in self.list_objects():
                batch.append(entry.key)
                if len(batch) == DELETE_BATCH:
                    self._delete_batch(batch, check=True, bypass=bypass_governance)
                    batch = []
            if batch:
                self._delete_batch(batch, check=True, bypass=bypass_governance)
            if self._versioned():  # versions and delete markers stay after the keys go
                batch = []
                for v in self.list_versions():
                    if isinstance(v, ObjectVersion):
                        batch.append((v.key, v.version_id))
                    if len(batch) == DELETE_BATCH:
                        self._delete_batch(batch, check=True, bypass=bypass_governance)
                        batch = []
                if batch:
                    self._delete_batch(batch, check=True, bypass=bypass_governance)
        self._t.request("DELETE", self.name, not_found=NoSuchBucket)

    @property
    def ext(self) -> BucketExt:
        """Coffer-only operations: stats, properties, snapshot, flush, freeze, webhooks."""
        from coffer.sdk._coffer_ext import BucketExt

        return BucketExt(self)

    # --- objects -----------------------------------------------------------------------------------

    def object(self, key: str) -> Object:
        """A handle on object ``key`` in this bucket."""
        from coffer.sdk._object import Object

        return Object(self, key)

    def objects(self, names: list[str] | None = None, *, template: str | None = None) -> ObjectGroup:
        """A group of objects named by a list or a template ("shard-{000..999}.tar") to delete or copy."""
        from coffer.sdk._group import ObjectGroup

        return ObjectGroup(self, names=names, template=template)

    def list_objects(
        self,
        prefix: str = "",
        delimiter: str | None = None,
        start_after: str | None = None,
        page_size: int = 1000,
    ) -> Iterator[ObjectInfo | Prefix]:
        """Lazily yield the objects (and, with a delimiter, the common prefixes) in key order.

        Pages of ``page_size`` are fetched as the caller consumes them; nothing is kept afterwards.
        """
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
                resp = self._t.request("GET", self.name, query=query, not_found=NoSuchBucket)
                if (page := list_page_or_retry(self.name, resp.data or b"", attempt)) is not None:
                    break
            assert page is not None
            yield from page.entries
            if not page.next_token or (page.next_token == token):
                return
            token = page.next_token

    def get_many(self, keys: Iterable[str | tuple[str, str | None]], *, batch_size: int = _batch.BATCH_KEYS,
                 verify: bool = True, max_size: int | None = None) -> Iterator[_batch.BatchResult]:
        """Many objects in few requests (Coffer's batch GET, docs/batch-get.md): yields a
        :class:`BatchResult` per key (a key, or (key, version id)), in order, its bytes verified
        (length, full-object CRC or single-part MD5 ETag) before it is yielded; a key that could not
        be read carries its typed error (NoSuchKey, AccessDenied, IntegrityError...). Sends
        ``batch_size`` keys per request. An answer cut short raises ConnectionFailed after the
        results it delivered. ``max_size``: an object larger than this is not read into memory (its
        result carries EntityTooLarge). Raises NotImplementedByServer against a server that is not Coffer."""
        items = _batch.items_of(keys)
        for chunk in _batch.batches(items, batch_size):
            yield from self._get_batch(chunk, verify, max_size)

    def _get_batch(self, items: list[tuple[str, str | None]], verify: bool,
                   max_size: int | None) -> Iterator[_batch.BatchResult]:
        t = self._t
        body = _batch.request_body(self.name, items)
        try:
            resp = t.request("POST", EXT_BUCKET, _batch.PATH, body=body, stream=True,
                             headers=_batch.REQUEST_HEADERS)
        except CofferError as exc:
            raise _batch.not_coffer(exc, t.server_header, self.name) from exc
        if not _batch.is_tar(resp.headers):
            resp.discard()
            raise _batch.not_a_batch_answer(self.name)
        parser = _batch.BatchParser(self.name, verify, max_size)
        assert resp.raw is not None
        try:
            while chunk := resp.raw.read1(256 * 1024):  # what has arrived: a member is handed out as it completes
                yield from parser.feed(chunk)
            parser.end()
        except (_Urllib3Error, OSError) as exc:
            resp.discard()
            raise ConnectionFailed(f"batch GET: {exc}", resource=self.name) from exc
        except BaseException:
            resp.discard()
            raise
        resp.release()

    def delete_objects(self, keys: Iterable[str | tuple[str, str]], *,
                       bypass_governance: bool = False) -> list[DeleteResult]:
        """Delete ``keys`` (names, or ``(key, version_id)`` pairs) in batches of 1000; one
        :class:`DeleteResult` per key (errors included)."""
        results: list[DeleteResult] = []
        batch: list[str | tuple[str, str]] = []
        for key in keys:
            batch.append(key)
            if len(batch) == DELETE_BATCH:
                results += self._delete_batch(batch, bypass=bypass_governance)
                batch = []
        if batch:
            results += self._delete_batch(batch, bypass=bypass_governance)
        return results

    def put_many(
        self, items: Iterable[tuple[str, Any]], *, prefix: str = "", content_type: str | None = None,
        metadata: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
    ) -> PutManyResult:
        """Store many small objects in ONE request: ``items`` are ``(key, content)`` pairs, content
        being bytes/str or a path (``os.PathLike``: the file's bytes). The server (Coffer, or MinIO)
        extracts the tar it receives; each object gets ``prefix + key``, a CRC32C checksum the server
        verifies, ``content_type`` (else one guessed from the key) and ``metadata``; ``headers`` go on
        the request as for a put (tagging, retention, SSE...) and apply to every object. Not atomic:
        an error may leave some objects created. Only for servers that extract snowball PUTs (any
        other S3 server stores the archive as one object). Docs: docs/sdk.md "Many small objects"."""
        key, body, hdrs = _snowball.request(items, prefix=prefix, content_type=content_type,
                                            metadata=metadata, headers=headers)
        resp = self._t.request("PUT", self.name, key, body=body, headers=hdrs)
        return _snowball.result(resp.headers)

    def _delete_batch(self, keys: list[str | tuple[str, str]], check: bool = False,
                      bypass: bool = False) -> list[DeleteResult]:
        return self._t.run(ops.delete_objects(keys, self.name, check=check, bypass=bypass), self.name)

    # --- multipart housekeeping --------------------------------------------------------------------

    def list_uploads(self, prefix: str = "") -> Iterator[mp.Upload]:
        """Pending (unfinished) multipart uploads under ``prefix``."""
        return mp.list_uploads(self._t, self.name, prefix)

    def abort_uploads(self, prefix: str = "") -> int:
        """Abort every pending multipart upload under ``prefix``; returns how many."""
        uploads = list(self.list_uploads(prefix))
        for up in uploads:
            mp.abort(self._t, self.name, up.key, up.upload_id)
        return len(uploads)

    # --- versioning --------------------------------------------------------------------------------

    def _versioned(self) -> bool:
        try:
            return self.get_versioning() is not None
        except ClientRequestError:  # a server without versioning (NotImplemented)
            return False

    def get_versioning(self) -> str | None:
        """``"Enabled"``, ``"Suspended"``, or None when versioning was never enabled."""
        return self._t.run(ops.get_versioning(), self.name)

    def enable_versioning(self) -> None:
        self._t.run(ops.put_versioning("Enabled"), self.name)

    def suspend_versioning(self) -> None:
        self._t.run(ops.put_versioning("Suspended"), self.name)

    def list_versions(
        self, prefix: str = "", delimiter: str | None = None, *, key_marker: str | None = None,
        version_id_marker: str | None = None, page_size: int = 1000,
    ) -> Iterator[ObjectVersion | Prefix]:
        """Lazily yield every version and delete marker (newest first per key), and common prefixes."""
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000")
        while True:
            query = ops.list_versions_page(prefix, delimiter, key_marker, version_id_marker, page_size)
            resp = self._t.request("GET", self.name, query=query, not_found=NoSuchBucket)
            page = parse_versions(self.name, resp.data or b"")
            yield from page.entries
            if page.next_key_marker is None or (page.next_key_marker, page.next_version_id_marker) == \
                    (key_marker, version_id_marker):
                return
            key_marker, version_id_marker = page.next_key_marker, page.next_version_id_marker

    # --- tagging -----------------------------------------------------------------------------------

    def get_tags(self) -> dict[str, str]:
        """The bucket's tags ({} when it has none)."""
        return self._t.run(ops.get_tags(), self.name)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Replace the bucket's tags."""
        self._t.run(ops.put_tags(tags), self.name)

    def delete_tags(self) -> None:
        self._t.run(ops.delete_tags(), self.name)

    # --- S3 Object Lock and IBM protection ---------------------------------------------------------

    def get_object_lock(self) -> ObjectLockConfig | None:
        """The Object Lock configuration, or None when the bucket has no Object Lock."""
        return self._t.run(ops.get_object_lock(), self.name)

    def set_object_lock(self, mode: str | None = None, *, days: int | None = None, years: int | None = None) -> None:
        """Enable Object Lock (if the bucket allows) and set (mode + days/years) or clear the default
        retention of new versions."""
        self._t.run(ops.put_object_lock(ObjectLockConfig(True, mode, days, years)), self.name)

    def get_protection(self) -> ProtectionConfig:
        """IBM COS bucket protection (``status`` "Disabled" when never set)."""
        return self._t.run(ops.get_protection(), self.name)

    def set_protection(self, min_days: int, default_days: int, max_days: int, *, permanent: bool = False,
                       status: str = "Retention") -> None:
        """IBM COS immutable storage: retention bounds (days) for every object of the bucket."""
        self._t.run(ops.put_protection(ProtectionConfig(status, min_days, default_days, max_days, permanent)),
                    self.name)

    # --- policy and access control -----------------------------------------------------------------

    def get_policy(self) -> dict[str, Any] | None:
        """The bucket policy (parsed JSON), or None when there is none."""
        return self._t.run(ops.get_policy(), self.name)

    def set_policy(self, policy: Mapping[str, Any] | str) -> None:
        self._t.run(ops.put_policy(policy), self.name)

    def delete_policy(self) -> None:
        self._t.run(ops.delete_policy(), self.name)

    def is_public(self) -> bool:
        """GetBucketPolicyStatus: whether the bucket policy makes the bucket public."""
        return self._t.run(ops.get_policy_status(), self.name)

    def get_acl(self) -> Acl:
        return self._t.run(ops.get_acl(), self.name)

    def set_acl(self, acl: Acl | None = None, *, canned: str | None = None) -> None:
        """Replace the bucket's ACL by a full :class:`Acl` or a canned one (``canned="public-read"``)."""
        self._t.run(ops.put_acl(acl, canned), self.name)

    def get_ownership(self) -> str | None:
        """Object ownership (BucketOwnerEnforced, BucketOwnerPreferred, ObjectWriter) or None."""
        return self._t.run(ops.get_ownership(), self.name)

    def set_ownership(self, mode: str) -> None:
        self._t.run(ops.put_ownership(mode), self.name)

    def delete_ownership(self) -> None:
        self._t.run(ops.delete_ownership(), self.name)

    def get_public_access_block(self) -> PublicAccessBlock | None:
        return self._t.run(ops.get_public_access_block(), self.name)

    def set_public_access_block(self, cfg: PublicAccessBlock) -> None:
        self._t.run(ops.put_public_access_block(cfg), self.name)

    def delete_public_access_block(self) -> None:
        self._t.run(ops.delete_public_access_block(), self.name)

    # --- lifecycle, CORS, website, default encryption, notifications -------------------------------

    def get_lifecycle(self) -> list[LifecycleRule]:
        """The lifecycle rules ([] when none)."""
        return self._t.run(ops.get_lifecycle(), self.name)

    def set_lifecycle(self, rules: list[LifecycleRule]) -> None:
        self._t.run(ops.put_lifecycle(rules), self.name)

    def delete_lifecycle(self) -> None:
        self._t.run(ops.delete_sub("lifecycle"), self.name)

    def get_cors(self) -> list[CorsRule]:
        """The CORS rules ([] when none)."""
        return self._t.run(ops.get_cors(), self.name)

    def set_cors(self, rules: list[CorsRule]) -> None:
        self._t.run(ops.put_cors(rules), self.name)

    def delete_cors(self) -> None:
        self._t.run(ops.delete_sub("cors"), self.name)

    def get_website(self) -> WebsiteConfig | None:
        return self._t.run(ops.get_website(), self.name)

    def set_website(self, cfg: WebsiteConfig) -> None:
        self._t.run(ops.put_website(cfg), self.name)

    def delete_website(self) -> None:
        self._t.run(ops.delete_sub("website"), self.name)

    def get_encryption(self) -> EncryptionConfig | None:
        """Default encryption of new objects, or None when the bucket has none."""
        return self._t.run(ops.get_encryption(), self.name)

    def set_encryption(self, cfg: EncryptionConfig) -> None:
        self._t.run(ops.put_encryption(cfg), self.name)

    def delete_encryption(self) -> None:
        self._t.run(ops.delete_sub("encryption"), self.name)

    # --- live events (the listen API) ---------------------------------------------------------------

    def listen(self, events: Iterable[str] | None = None, *, prefix: str = "", suffix: str = "") -> EventStream:
        """Follow this bucket's writes live: an :class:`EventStream` of :class:`BucketEvent`s (``with`` it,
        or ``close()`` it). ``events``: S3 event names (``s3:ObjectCreated:*``, ``s3:ObjectRemoved:Delete``
        ...; default every event); ``prefix``/``suffix`` filter keys. Needs s3:ListenBucketNotification.
        The stream is live once this returns: every later write is reported."""
        from coffer.sdk._listen import EventStream, listen_query

        return EventStream(self._t, self.name, listen_query(events, prefix, suffix))

    def get_notifications(self) -> list[NotificationTarget]:
        return self._t.run(ops.get_notifications(), self.name)

    def set_notifications(self, targets: list[NotificationTarget]) -> None:
        """Replace the notification configuration ([] removes every target)."""
        self._t.run(ops.put_notifications(targets), self.name)
