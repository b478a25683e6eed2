"""Object handles: HEAD, delete, server-side copy, presigned URLs, and the way to readers and writers.

An :class:`Object` is (bucket, key); it fetches nothing on its own. Reading and writing live in
:mod:`._reader` and :mod:`._writer` so this module stays about the object as a named thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from coffer.protocol import sigv4, xmlutil
from coffer.sdk import _operations as ops
from coffer.sdk._config import MAX_SINGLE_COPY
from coffer.sdk._documents import Acl, Retention, RetentionState
from coffer.sdk._errors import ClientRequestError, NoSuchKey, NotFound, error_from_response
from coffer.sdk._headers import KEPT_HEADERS, meta_headers
from coffer.sdk._transport import object_path
from coffer.sdk._types import DeleteResult, ObjectProps, PutResult, props_from_headers, put_result

if TYPE_CHECKING:
    from coffer.sdk._bucket import Bucket
    from coffer.sdk._coffer_ext import ObjectExt
    from coffer.sdk._reader import ByteRange, ObjectReader
    from coffer.sdk._transport import Transport
    from coffer.sdk._writer import ObjectWriter

# Standard headers that REPLACE would drop unless sent again (set_custom_props keeps them).
class Object:
    """An object (existing or not yet) at ``bucket/key``."""

    def __init__(self, bucket: Bucket, key: str) -> None:
        if not key:
            raise ValueError("object key must not be empty")
        self.bucket = bucket
        self.key = key

    @property
    def _t(self) -> Transport:
        return self.bucket.client._transport

    @property
    def name(self) -> str:
        return self.key

    def __repr__(self) -> str:
        return f"Object({self.bucket.name!r}, {self.key!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Object) and (other.bucket, other.key) == (self.bucket, self.key)

    def __hash__(self) -> int:
        return hash((self.bucket.name, self.key))

    # --- metadata ----------------------------------------------------------------------------------

    def head(self, version_id: str | None = None, *, if_match: str | None = None) -> ObjectProps:
        """The object's properties (size, ETag, type, dates, custom metadata, checksums)."""
        headers = {"x-amz-checksum-mode": "ENABLED"}
        if if_match:
            headers["If-Match"] = f'"{if_match}"'
        resp = self._t.request("HEAD", self.bucket.name, self.key, headers=headers,
                               query={"versionId": version_id} if version_id else None, not_found=NoSuchKey)
        return props_from_headers(resp.headers)

    def exists(self) -> bool:
        try:
            self.head()
            return True
        except NotFound:
            return False

    # --- data --------------------------------------------------------------------------------------

    def get_reader(
        self, byte_range: ByteRange = None, *, version_id: str | None = None, chunk_size: int = 1 << 20,
        archpath: str | None = None,
    ) -> ObjectReader:
        """A reader of the object (or of ``byte_range``); nothing is fetched until you read.

        With ``archpath`` the reader reads that member of a tar or zip object (the server finds it
        without reading the whole archive); ``byte_range`` then applies to the member."""
        from coffer.sdk._reader import ObjectReader

        return ObjectReader(self, byte_range, version_id=version_id, chunk_size=chunk_size, archpath=archpath)

    def get_writer(self) -> ObjectWriter:
        """A writer: whole-object puts, files, appends, streamed writes and custom properties."""
        from coffer.sdk._writer import ObjectWriter

        return ObjectWriter(self)

    def read(self, byte_range: ByteRange = None, *, version_id: str | None = None) -> bytes:
        """Shortcut for ``get_reader(byte_range, version_id=...).read_all()``."""
        return self.get_reader(byte_range, version_id=version_id).read_all()

    def put(self, content: Any, **kw: Any) -> PutResult:
        """Shortcut for ``get_writer().put_content(content, ...)``."""
        return self.get_writer().put_content(content, **kw)

    def delete(self, version_id: str | None = None, *, bypass_governance: bool = False) -> DeleteResult:
        """Delete the object, or one version of it (S3 semantics: deleting a missing key succeeds).

        In a versioned bucket a delete without ``version_id`` makes a delete marker: the result's
        ``delete_marker`` is then True and ``version_id`` is the marker's."""
        resp = self._t.request("DELETE", self.bucket.name, self.key,
                               query={"versionId": version_id} if version_id else None, not_found=NoSuchKey,
                               headers={"x-amz-bypass-governance-retention": "true"} if bypass_governance else None)
        return ops.delete_result(self.key, resp.headers)

    @property
    def ext(self) -> ObjectExt:
        """Coffer-only operations: truncate, drain, link_to, locate, update_properties, ..."""
        from coffer.sdk._coffer_ext import ObjectExt

        return ObjectExt(self)

    # --- copy --------------------------------------------------------------------------------------

    def copy_to(
        self,
        bucket: Bucket | str,
        key: str | None = None,
        metadata: Mapping[str, str] | None = None,
        *,
        content_type: str | None = None,
        if_match: str | None = None,
        version_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> PutResult:
        """Server-side copy to ``bucket/key`` (same key when None).

        Without ``metadata`` the copy keeps the source's metadata (COPY); with it the metadata is
        replaced (REPLACE) while content type and the other standard headers carry over unless
        ``content_type`` is given. Objects above 5 GiB are copied part by part. ``version_id`` copies
        that version of the source; ``headers`` go on the request as given (tagging, retention...).
        """
        dest_bucket = bucket if isinstance(bucket, str) else bucket.name
        dest_key = key or self.key
        props: ObjectProps | None = None
        if metadata is not None or content_type is not None:
            props = self.head(version_id, if_match=if_match)
            if props.size > MAX_SINGLE_COPY:
                if version_id:
                    raise ClientRequestError("copying one version above 5 GiB is not supported",
                                             code="InvalidRequest")
                return self._copy_large(dest_bucket, dest_key, props, metadata, content_type)
        return self._copy_object(dest_bucket, dest_key, props, metadata, content_type, if_match, version_id,
                                 headers)

    def _copy_object(
        self, dest_bucket: str, dest_key: str, props: ObjectProps | None,
        metadata: Mapping[str, str] | None, content_type: str | None, if_match: str | None,
        version_id: str | None = None, extra: Mapping[str, str] | None = None,
    ) -> PutResult:
        source = object_path(self.bucket.name, self.key)[1:]
        if version_id:
            source += "?versionId=" + sigv4.uri_encode(version_id)
        headers = {"x-amz-copy-source": source}
        if if_match:
            headers["x-amz-copy-source-if-match"] = f'"{if_match}"'
        if props is not None:
            headers["x-amz-metadata-directive"] = "REPLACE"
            for name in KEPT_HEADERS:
                if props.headers.get(name):
                    headers[name] = props.headers[name]
            if content_type:
                headers["content-type"] = content_type
            headers.update(meta_headers(metadata if metadata is not None else props.custom))
        headers.update(extra or {})
        try:
            resp = self._t.request("PUT", dest_bucket, dest_key, headers=headers, not_found=NoSuchKey)
        except ClientRequestError as exc:
            # Too big for one CopyObject (S3 answers InvalidRequest above 5 GiB): go by parts.
            if props is None and not version_id and exc.code in ("InvalidRequest", "EntityTooLarge"):
                head = self.head(if_match=if_match)
                if head.size > MAX_SINGLE_COPY:
                    return self._copy_large(dest_bucket, dest_key, head, None, None)
            raise
        root = xmlutil.parse(resp.data or b"<CopyObjectResult/>")
        if xmlutil.local_name(root) == "Error":  # S3 may fail a long copy after answering 200
            raise error_from_response(500, resp.data or b"", resp.headers)
        return put_result(resp.headers, xmlutil.child_text(root, "ETag"))

    def _copy_large(
        self, dest_bucket: str, dest_key: str, props: ObjectProps,
        metadata: Mapping[str, str] | None, content_type: str | None,
    ) -> PutResult:
        with self.bucket.client.transfer() as tm:
            fut = tm.copy(self.bucket.name, self.key, dest_bucket, dest_key, metadata=metadata,
                          content_type=content_type)
            return fut.result()

    # --- presigned URLs ----------------------------------------------------------------------------

    def presign(self, method: str = "GET", expires: int = 3600, **params: str) -> str:
        """A URL that lets anyone holding it run ``method`` on this object until it expires.

        Extra ``params`` become query parameters covered by the signature, e.g.
        ``response_content_disposition="attachment"`` (underscores turn into dashes).
        """
        query = {k.replace("_", "-"): v for k, v in params.items()}
        return self._t.presign(method, self.bucket.name, self.key, int(expires), query or None)

    # --- tagging -----------------------------------------------------------------------------------

    def get_tags(self, version_id: str | None = None) -> dict[str, str]:
        return self._t.run(ops.get_tags(version_id), self.bucket.name, self.key)

    def set_tags(self, tags: Mapping[str, str], version_id: str | None = None) -> None:
        """Replace the object's (or version's) tags."""
        self._t.run(ops.put_tags(tags, version_id), self.bucket.name, self.key)

    def delete_tags(self, version_id: str | None = None) -> None:
        self._t.run(ops.delete_tags(version_id), self.bucket.name, self.key)

    # --- S3 Object Lock ----------------------------------------------------------------------------

    def get_retention(self, version_id: str | None = None) -> Retention | None:
        """The version's retention, or None when it has none."""
        return self._t.run(ops.get_retention(version_id), self.bucket.name, self.key)

    def set_retention(self, mode: str, until: datetime, version_id: str | None = None, *,
                      bypass_governance: bool = False) -> None:
        """Retain the version (GOVERNANCE or COMPLIANCE) until ``until`` (an aware datetime)."""
        self._t.run(ops.put_retention(mode, until, version_id, bypass_governance), self.bucket.name, self.key)

    def get_legal_hold(self, version_id: str | None = None) -> bool:
        return self._t.run(ops.get_legal_hold(version_id), self.bucket.name, self.key)

    def set_legal_hold(self, on: bool, version_id: str | None = None) -> None:
        self._t.run(ops.put_legal_hold(on, version_id), self.bucket.name, self.key)

    # --- IBM COS immutable storage -----------------------------------------------------------------

    def add_legal_hold(self, hold_id: str) -> None:
        """Add a named IBM legal hold (the bucket must be protected)."""
        self._t.run(ops.change_legal_hold(add=hold_id), self.bucket.name, self.key)

    def remove_legal_hold(self, hold_id: str) -> None:
        self._t.run(ops.change_legal_hold(remove=hold_id), self.bucket.name, self.key)

    def list_legal_holds(self) -> RetentionState:
        """The object's named legal holds and IBM retention."""
        return self._t.run(ops.list_legal_holds(), self.bucket.name, self.key)

    def extend_retention(self, *, additional_seconds: int | None = None, from_now_seconds: int | None = None,
                         new_period_seconds: int | None = None, new_expiration: datetime | None = None) -> None:
        """IBM ``?extendRetention``: exactly one of the four ways; retention can only grow."""
        call = ops.extend_retention(additional_seconds=additional_seconds, from_now_seconds=from_now_seconds,
                                    new_period_seconds=new_period_seconds, new_expiration=new_expiration)
        self._t.run(call, self.bucket.name, self.key)

    # --- ACL ---------------------------------------------------------------------------------------

    def get_acl(self, version_id: str | None = None) -> Acl:
        return self._t.run(ops.get_acl(version_id), self.bucket.name, self.key)

    def set_acl(self, acl: Acl | None = None, *, canned: str | None = None, version_id: str | None = None) -> None:
        self._t.run(ops.put_acl(acl, canned, version_id), self.bucket.name, self.key)
