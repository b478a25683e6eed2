"""Append sessions (AIStore's handle-based appends, Coffer's own API).

An append session is a multipart upload marked `append` in its props: each append stores one more
piece as the next part (no minimum size), the handle is the upload id, and the stored object does
not change until the flush. The flush makes the object the concatenation of the pieces — after the
current object's own segments when the session was opened with base=existing — in one metadata
transaction: no stored byte is copied, however large the object already is. In a versioned bucket
the flush is a new version (the previous current version becomes noncurrent, in the same
transaction); the WORM guard refuses a flush that would destroy a protected version (an unversioned
protected bucket), and the new version gets the bucket's default retention like any PUT.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import AsyncIterable

from coffer.protocol.errors import S3Error
from coffer.server.meta import interface as mi
from coffer.server.meta.model import MultipartUpload, ObjectRecord, Part, Segment
from coffer.server.service.core import Core, Integrity, Principal
from coffer.server.service.objects import versioning as ver
from coffer.server.service.objects.multipart import Multipart
from coffer.server.service.objects.naming import check_key
from coffer.server.service.storage.policies import part_policy, upload_policy
from coffer.server.service.worm import rule as worm
from coffer.server.service.worm.retention import initial_props


def _no_sse() -> S3Error:
    return S3Error("InvalidRequest", "Append sessions do not support encrypted objects or buckets with "
                   "default encryption.")


class Appends:
    def __init__(self, core: Core, multipart: Multipart) -> None:
        self.core = core
        self.multipart = multipart

    async def _session(self, who: Principal, bucket: str, key: str, handle: str) -> MultipartUpload:
        up = await self.multipart._upload(who, bucket, key, handle)
        if not up.props.get("append"):
            raise S3Error("InvalidArgument", "The handle is not an append handle.", ArgumentName="handle",
                          ArgumentValue=handle)
        return up

    async def _all_parts(self, handle: str) -> list[Part]:
        out: list[Part] = []
        after = 0
        while True:
            page, truncated = await self.core.meta.list_parts(handle, after, 1000)
            out.extend(page)
            if not truncated or not page:
                return out
            after = page[-1].number

    async def append(
        self, who: Principal, bucket: str, key: str, handle: str | None, base_existing: bool,
        body: AsyncIterable[bytes], integrity: Integrity,
    ) -> str:
        check_key(key, self.core.limits.max_key_bytes)
        if handle is None:
            b = await self.core.bucket_for(who, bucket)
            if b.props.get("encryption"):
                raise _no_sse()
            up = MultipartUpload(upload_id=secrets.token_urlsafe(24), bucket=bucket, key=key, initiated=time.time(),
                                 owner=who.user_id, props={"append": True, "base": base_existing,
                                                           **upload_policy(self.core.data, b, None)})
            await self.core.meta.create_upload(up)
            handle = up.upload_id
        else:
            up = await self._session(who, bucket, key, handle)
        parts = await self._all_parts(handle)
        number = parts[-1].number + 1 if parts else 1
        if number > self.core.limits.max_parts:
            raise S3Error("InvalidArgument", "An append session holds at most 10000 pieces; flush it first.")
        got = await self.core.receive(body, integrity, allow_inline=False, max_size=self.core.limits.max_put_size,
                                      policy=part_policy(up))
        await self.multipart._store_part(handle, number, got.size, got.md5.hex(), got.checksums, got.segment)
        return handle

    async def flush(self, who: Principal, bucket: str, key: str, handle: str) -> ObjectRecord:
        up = await self._session(who, bucket, key, handle)
        b = await self.core.bucket_for(who, bucket)
        parts = await self._all_parts(handle)
        base = await self.core.meta.get_object(bucket, key) if up.props.get("base") else None
        if base is not None and base.props.get("sse"):
            # An append would join plaintext pieces to ciphertext streams: refused, nothing changes.
            raise _no_sse()
        segments: list[Segment] = []
        etags: list[str] = []
        if base is not None and base.size:
            if base.inline is not None:
                # A small inline object becomes a piece of its own, numbered 0 so it goes first.
                w = await self.core.new_writer({})
                await self.core.run(w.write, base.inline)
                seg = Segment(await self.core.commit_segment(w), base.size)
                parts.insert(0, await self.multipart._store_part(handle, 0, base.size, base.etag, {}, seg))
            else:
                segments.extend(base.segments)
                etags.append(base.etag.split("-")[0])
        segments.extend(p.segment for p in parts)
        etags.extend(p.etag for p in parts)
        md5 = hashlib.md5(b"".join(bytes.fromhex(e) for e in etags)).hexdigest()
        record = ObjectRecord(
            bucket=bucket, key=key, size=sum(s.size for s in segments), etag=f"{md5}-{len(etags)}",
            last_modified=time.time(), owner=who.user_id,
            content_type=base.content_type if base else None, headers=dict(base.headers) if base else {},
            user_meta=dict(base.user_meta) if base else {}, storage_class=base.storage_class if base else "STANDARD",
            segments=segments, version_id=ver.new_version_id(b),
        )
        # a flush writes a new version: the bucket's default retention / protection applies to it
        record.props = initial_props(b, None, record.last_modified)
        try:
            # the WORM guard refuses a flush that would replace a protected object
            freed = await self.core.meta.complete_upload(handle, record, [p.number for p in parts],
                                                         versioning=ver.mode(b), guard=worm.guard())
        except (mi.ConditionalConflict, mi.PreconditionFailed):
            raise S3Error("ConditionalRequestConflict", "The object changed while the append session was open; "
                          "flush again.") from None
        await self.core.free(freed)
        if ver.mode(b) == "Suspended":
            record.version_id = "null"
        return record

    async def abort(self, who: Principal, bucket: str, key: str, handle: str) -> None:
        await self._session(who, bucket, key, handle)
        await self.multipart.abort(who, bucket, key, handle)
