"""Bucket handles: create, probe, delete, list lazily and delete objects in batches.

A :class:`Bucket` is just (client, name); nothing is fetched until a method runs. Listings are
generators over ListObjectsV2 pages, so walking a bucket of millions of keys holds one page at a time.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from coffer.protocol import xmlutil
from coffer.sdk import _multipart as mp
from coffer.sdk._errors import BucketAlreadyOwnedByYou, NoSuchBucket, NotFound
from coffer.sdk._types import DeleteResult, ObjectInfo, Prefix, parse_delete_result, parse_list_v2

if TYPE_CHECKING:
    from coffer.sdk._client import Client
    from coffer.sdk._coffer_ext import BucketExt
    from coffer.sdk._group import ObjectGroup
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

    def create(self, exist_ok: bool = False, region: str | None = None) -> Bucket:
        """Create the bucket; with ``exist_ok`` an existing bucket of ours is not an error."""
        body = None
        region = region or self.client.region
        if region and region != "us-east-1":
            body = xmlutil.to_xml("CreateBucketConfiguration", {"LocationConstraint": region})
        try:
            self._t.request("PUT", self.name, body=body)
        except BucketAlreadyOwnedByYou as exc:
            # After a retry the "already yours" may be our own first attempt that did go through.
            if not exist_ok and exc.attempts == 1:
                raise
        return self

    def exists(self) -> bool:
        """True when the bucket exists and we may see it (HEAD); AccessDenied still raises."""
        try:
            self._t.request("HEAD", self.name, not_found=NoSuchBucket)
            return True
        except NotFound:
            return False

    def delete(self, force: bool = False) -> None:
        """Delete the bucket; ``force`` first deletes every object and aborts pending uploads."""
        if force:
            self.abort_uploads()
            batch: list[str] = []
            for entry in self.list_objects():
                batch.append(entry.key)
                if len(batch) == DELETE_BATCH:
                    self._delete_batch(batch, check=True)
                    batch = []
            if batch:
                self._delete_batch(batch, check=True)
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
            resp = self._t.request("GET", self.name, query=query, not_found=NoSuchBucket)
            page = parse_list_v2(self.name, resp.data or b"")
            yield from page.entries
            if not page.next_token or (page.next_token == token):
                return
            token = page.next_token

    def delete_objects(self, keys: Iterable[str]) -> list[DeleteResult]:
        """Delete ``keys`` in batches of 1000; one :class:`DeleteResult` per key (errors included)."""
        results: list[DeleteResult] = []
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == DELETE_BATCH:
                results += self._delete_batch(batch)
                batch = []
        if batch:
            results += self._delete_batch(batch)
        return results

    def _delete_batch(self, keys: list[str], check: bool = False) -> list[DeleteResult]:
        body = xmlutil.to_xml("Delete", {"Quiet": False, "Object": [{"Key": k} for k in keys]})
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        resp = self._t.request("POST", self.name, query={"delete": ""}, body=body,
                               headers={"Content-MD5": md5, "Content-Type": "application/xml"},
                               not_found=NoSuchBucket)
        results = parse_delete_result(resp.data or b"")
        seen = {r.key for r in results}
        # Quiet servers (or Quiet-by-default ones) only report failures; the rest were deleted.
        results += [DeleteResult(k, True) for k in keys if k not in seen]
        if check:
            failed = [r for r in results if not r.deleted]
            if failed:
                from coffer.sdk._errors import CofferError

                first = failed[0]
                raise CofferError(f"could not delete {len(failed)} objects, first {first.key!r}: "
                                  f"{first.error_message}", code=first.error_code or "DeleteFailed")
        return results

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
