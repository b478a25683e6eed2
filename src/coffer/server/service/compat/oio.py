"""OpenIO's account/container/object semantics over Coffer's buckets and objects (no HTTP here).

Owns what `coffer.compat.oio.ObjectStorageApi` needs beyond plain S3: an account is a user (its
properties live in `user.props["oio_props"]`), a container is a bucket (properties in
`bucket.props["oio_props"]`), and the object operations that change metadata without rewriting data:
properties, truncate (shrink only), drain (drop the data, keep the metadata), link (a shallow copy
sharing reference-counted data, across buckets), snapshots (a frozen bucket sharing the source's
data, made in one metadata transaction) and flush (delete every object).

A snapshot is **frozen**: `check_writable` refuses writes to it (the HTTP front calls it before
every object write). A drained object keeps its metadata; `check_readable` refuses to serve its
bytes (S3 InvalidObjectState, as for an archived object).
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any

from coffer.protocol.checksums import Hasher
from coffer.protocol.errors import S3Error
from coffer.server.meta import interface as mi
from coffer.server.meta.model import Bucket, CommonPrefix, Expect, ObjectEntry, ObjectRecord, Segment
from coffer.server.service.core import DEFAULT_CHECKSUM, Core, Principal
from coffer.server.service.events.notifications import Notifier, ObjectEvent
from coffer.server.service.objects import versioning as ver
from coffer.server.service.objects.conditions import ReadConditions
from coffer.server.service.objects.frozen import DRAINED, FROZEN, check_readable, check_writable
from coffer.server.service.objects.naming import check_bucket_name
from coffer.server.service.objects.operations import Objects, check_meta_size
from coffer.server.service.storage.locate import check_present, locate
from coffer.server.service.worm import rule as worm

PROPS = "oio_props"
EC_ALGORITHM = "isa_l_rs_cauchy"  # what the volume store encodes with (data/volumes/storage_policy.py)


def chunk_method(policy_name: str | None) -> str:
    """OpenIO's chunk_method for a Coffer storage policy: `plain/nb_copy=N` for SINGLE and REPLICA-N,
    `ec/algo=...,k=K,m=M` for EC-K+M."""
    if not policy_name or policy_name == "SINGLE":
        return "plain/nb_copy=1"
    if policy_name.startswith("REPLICA-"):
        return "plain/nb_copy=" + policy_name[len("REPLICA-"):]
    k, m = policy_name[len("EC-"):].split("+")
    return f"ec/algo={EC_ALGORITHM},k={k},m={m}"


def oio_chunks(data: Any, rec: ObjectRecord, chunk_info: bool = False) -> tuple[str | None, list[dict[str, Any]]]:
    """(the policy the object's data is stored under, every fragment or copy holding it), read from the
    fragments' headers (worker thread). A chunk is OpenIO's `{url, pos, size, hash, score}`: pos is the
    segment's number for a copy, `segment.index` for an EC fragment; url names the volume holding it.
    `hash` is the copy's MD5 when known (the whole object's for a single segment) and, with `chunk_info`,
    an EC fragment's MD5 as stored (read from disk: only when asked, as OpenIO asks its rawx)."""
    if rec.inline is not None or not rec.segments:
        return None, locate(data, rec)
    whole = rec.etag.upper() if "-" not in rec.etag and len(rec.segments) == 1 else None
    policy: str | None = None
    out: list[dict[str, Any]] = []
    offset = 0
    for i, seg in enumerate(rec.segments):
        census = data.fragments(seg, trust=1)
        policy = policy or census.get("policy")
        ec = (census.get("policy") or "").startswith("EC-")
        for f in sorted(census["fragments"], key=lambda f: f["index"]):
            if f.get("status") != "ok":
                continue
            vol = f.get("volume")
            url = f"coffer://volume/{vol}/{seg.ref}/{f['index']}" if vol else f"coffer://local/{seg.ref}"
            chunk = {"url": url, "pos": f"{i}.{f['index']}" if ec else str(i), "offset": offset,
                     "size": (f["size"] or 0) if ec else seg.size, "hash": None if ec else whole,
                     "score": 100, "ref": seg.ref, "volume": vol}
            if ec and chunk_info:
                chunk["hash"] = _file_md5(f.get("path"))
            out.append(chunk)
        offset += seg.size
    return policy, out


def _file_md5(path: str | None) -> str | None:
    import hashlib

    if not path:
        return None
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "md5").hexdigest().upper()
    except OSError:
        return None  # a remote volume's fragment, or gone meanwhile


_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_object_props(props: dict[str, str], max_bytes: int) -> None:
    """Object properties are served as x-amz-meta-* headers: names must be header tokens, values
    free of control characters (a CR/LF would split the header), the whole within S3's 2 KiB."""
    for k, v in props.items():
        if not _TOKEN.match(k) or _CONTROL.search(v):
            raise S3Error("InvalidArgument", "Property names must be HTTP header tokens and values must not "
                          "contain control characters.", ArgumentName="properties", ArgumentValue=k[:64])
    check_meta_size(props, max_bytes)


MAX_PROPS_BYTES = 64 * 1024  # account and container properties: a bound, as on every stored document


def _changed(props: dict[str, str], set_: dict[str, str] | None, delete: list[str] | None, clear: bool,
             max_bytes: int = MAX_PROPS_BYTES) -> dict:
    out = {} if clear else dict(props)
    for k in delete or []:
        out.pop(str(k), None)
    out.update({str(k): str(v) for k, v in (set_ or {}).items()})
    size = sum(len(k.encode()) + len(v.encode()) for k, v in out.items())
    if size > max_bytes:
        raise S3Error("MetadataTooLarge", "The properties exceed the maximum allowed size.", Size=str(size),
                      MaxSizeAllowed=str(max_bytes))
    return out


class Oio:
    def __init__(self, core: Core, objects: Objects, notifier: Notifier, versioning: ver.Versioning) -> None:
        self.core = core
        self.objects = objects
        self.notifier = notifier
        self.versioning = versioning

    # -- accounts --------------------------------------------------------------------------------
    async def account_show(self, who: Principal) -> dict[str, Any]:
        user = await self.core.meta.get_user(who.user_id)
        buckets = await self.core.meta.list_buckets(who.user_id)
        objects = size = 0
        for b in buckets:
            n, s = await self.core.meta.count_objects(b.name)
            objects += n
            size += s
        ctime = user.created if user else 0.0
        mtime = max([ctime, *(b.created for b in buckets)])
        return {"id": who.user_id, "containers": len(buckets), "objects": objects, "bytes": size,
                "ctime": ctime, "mtime": mtime, "metadata": dict((user.props if user else {}).get(PROPS, {}))}

    async def account_set_properties(self, who: Principal, set_: dict | None, delete: list | None,
                                     clear: bool = False) -> dict[str, str]:
        def change(user_props: dict[str, Any]) -> dict[str, Any]:
            return {**user_props, PROPS: _changed(user_props.get(PROPS, {}), set_, delete, clear)}

        try:  # in one metadata transaction with the read: concurrent changes all land
            return (await self.core.meta.modify_user_props(who.user_id, change))[PROPS]
        except mi.NoSuchUser:
            raise S3Error("AccessDenied", "Access Denied") from None

    async def container_list(self, who: Principal, prefix: str, marker: str, limit: int) -> list[list[Any]]:
        out: list[list[Any]] = []
        for b in await self.core.meta.list_buckets(who.user_id):
            if not b.name.startswith(prefix) or (marker and b.name <= marker):
                continue
            n, s = await self.core.meta.count_objects(b.name)
            out.append([b.name, n, s, 0, b.created])
            if len(out) >= limit:
                break
        return out

    # -- containers ------------------------------------------------------------------------------
    async def container_show(self, who: Principal, name: str) -> dict[str, Any]:
        b = await self.core.bucket_for(who, name)
        n, s = await self.core.meta.count_objects(name)
        system = {"sys.m2.objects": str(n), "sys.m2.usage": str(s), "sys.m2.ctime": str(int(b.created * 1e6)),
                  "sys.account": who.user_id, "sys.user.name": name, "sys.status": "frozen" if
                  b.props.get(FROZEN) else "enabled", "sys.m2.region": b.region}
        if b.props.get("snapshot_of"):
            system["sys.snapshot.source"] = b.props["snapshot_of"]
        stats = b.props.get("oio_stats") or {}
        for name, field in (("sys.m2.objects.damaged", "damaged_objects"), ("sys.m2.chunks.missing", "missing_chunks")):
            if field in stats:
                system[name] = str(stats[field])
        return {"properties": dict(b.props.get(PROPS, {})), "system": system}

    async def container_set_properties(self, who: Principal, name: str, set_: dict | None, delete: list | None,
                                       clear: bool = False, system: dict | None = None) -> dict[str, str]:
        """User properties; of the system ones only `sys.status` (enabled | frozen) may be set: it is
        how a snapshot is unfrozen (to be deleted) or a container frozen."""
        b = await self.core.bucket_for(who, name)
        props = _changed(b.props.get(PROPS, {}), set_, delete, clear)
        doc = {**b.props, PROPS: props}
        status = (system or {}).get("sys.status")
        if status is not None:
            if status not in ("enabled", "frozen"):
                raise S3Error("InvalidArgument", "sys.status must be enabled or frozen.", ArgumentName="sys.status",
                              ArgumentValue=str(status))
            doc[FROZEN] = status == "frozen"
        await self.core.meta.update_bucket_props(name, doc)
        return props

    async def container_snapshot(self, who: Principal, name: str, dest: str) -> int:
        src = await self.core.bucket_for(who, name)
        check_bucket_name(dest)
        props = {FROZEN: True, "snapshot_of": name, PROPS: dict(src.props.get(PROPS, {}))}
        snap = Bucket(name=dest, owner=who.user_id, created=time.time(), region=src.region, props=props)
        try:
            return await self.core.meta.snapshot_bucket(name, snap)
        except mi.BucketExists:
            raise S3Error("BucketAlreadyExists", "The requested bucket name is not available.",
                          BucketName=dest) from None

    async def container_flush(self, who: Principal, name: str, request_id: str) -> int:
        """Delete every current object, as DeleteObjects would (versioned buckets get delete markers;
        objects under retention or legal hold stay). Returns how many were deleted."""
        b = await self.core.bucket_for(who, name)
        check_writable(b)
        removed = 0
        after: str | None = None
        while True:
            page = await self.core.meta.list_objects(name, "", None, after, 1000)
            keys = [e.key for e in page.entries if isinstance(e, ObjectEntry)]
            if not keys:
                return removed
            after = keys[-1]  # protected objects stay: never list them again
            outcomes = await self.versioning.delete_many(who, name, [(k, None) for k in keys])
            events = [ObjectEvent("s3:ObjectRemoved:DeleteMarkerCreated" if o.delete_marker else
                                  "s3:ObjectRemoved:Delete", k, version_id=o.version_id)
                      for k, o in zip(keys, outcomes, strict=True) if not isinstance(o, S3Error)]
            removed += len(events)
            await self.notifier.emit(b, events, who.user_id, request_id)

    async def object_list(self, who: Principal, name: str, prefix: str, delimiter: str | None, marker: str | None,
                          limit: int, properties: bool, versions: bool, deleted: bool) -> dict[str, Any]:
        """A listing page. versions: every version (newest first per key); deleted: also the keys
        whose newest version is a delete marker (as `deleted: true` entries)."""
        b = await self.core.bucket_for(who, name)
        objects: list[dict[str, Any]] = []
        prefixes: list[str] = []
        if versions or deleted:
            vpage = await self.versioning.list(who, name, prefix, delimiter or None, marker or None, None, limit)
            for v in vpage.entries:
                if isinstance(v, CommonPrefix):
                    prefixes.append(v.prefix)
                elif (versions or v.is_latest) and (deleted or not v.record.delete_marker):
                    item = self.describe(v.record)
                    item.update(is_latest=v.is_latest, deleted=v.record.delete_marker)
                    objects.append(item if properties else {k: x for k, x in item.items() if k != "properties"})
            truncated, next_marker = vpage.truncated, vpage.next_key_marker
        else:
            page = await self.core.meta.list_objects(name, prefix, delimiter or None, marker or None, max(0, limit))
            for e in page.entries:
                if isinstance(e, CommonPrefix):
                    prefixes.append(e.prefix)
                    continue
                item = {"name": e.key, "size": e.size, "hash": e.etag.split("-")[0].upper(),
                        "ctime": int(e.last_modified), "mtime": int(e.last_modified), "version": "null",
                        "deleted": False, "is_latest": True, "policy": e.storage_class, "mime_type": None}
                if properties:
                    rec = await self.core.meta.get_object(name, e.key)
                    if rec is not None:
                        item.update(properties=dict(rec.user_meta), mime_type=rec.content_type,
                                    version=rec.version_id or "null")
                objects.append(item)
            truncated, next_marker = page.truncated, page.next_marker
        return {"objects": objects, "prefixes": prefixes, "truncated": truncated,
                "next_marker": next_marker if truncated else None,
                "properties": dict(b.props.get(PROPS, {}))}

    # -- objects ---------------------------------------------------------------------------------
    async def _get(self, who: Principal, bucket: str, key: str, version: str | None = None) -> ObjectRecord:
        return await self.get(who, bucket, key, version, current_only=True)

    async def get(self, who: Principal, bucket: str, key: str, version: str | None = None,
                  current_only: bool = False) -> ObjectRecord:
        """The object, or its version `version` (OpenIO's `version` argument = S3 version id).
        `current_only`: the operation changes the record in place, which only the current version
        allows; naming another version is refused rather than silently acting on the current one."""
        if not version:
            return await self.objects.get(who, bucket, key)
        if not current_only:
            return await self.objects.get(who, bucket, key, version_id=version)
        rec = await self.objects.get(who, bucket, key)
        if (rec.version_id or "null") != version:
            await self.objects.get(who, bucket, key, version_id=version)  # NoSuchVersion if there is none
            raise S3Error("InvalidArgument", "Only the current version of an object can be changed.",
                          ArgumentName="versionId", ArgumentValue=version)
        return rec

    def describe(self, rec: ObjectRecord, policy: str | None = None) -> dict[str, Any]:
        """OpenIO's object description; `policy` is the data's real storage policy when known (read from
        its fragments), else the object's storage class."""
        return {"name": rec.key, "id": rec.etag, "hash": rec.etag.split("-")[0].upper(), "hash_method": "md5",
                "length": rec.size, "size": rec.size, "ctime": int(rec.last_modified),
                "mtime": int(rec.last_modified), "version": rec.version_id or "null", "deleted": False,
                "mime_type": rec.content_type or "application/octet-stream", "policy": policy or rec.storage_class,
                "chunk_method": "inline" if rec.inline is not None else chunk_method(policy),
                "properties": dict(rec.user_meta), "drained": bool(rec.props.get("drained"))}

    async def object_show(self, who: Principal, bucket: str, key: str, version: str | None = None) -> dict[str, Any]:
        rec = await self.get(who, bucket, key, version)
        policy, _ = await self.core.run(oio_chunks, self.core.data, rec)
        return self.describe(rec, policy)

    async def object_set_properties(self, who: Principal, bucket: str, key: str, set_: dict | None,
                                    delete: list | None, clear: bool = False,
                                    version: str | None = None) -> dict[str, str]:
        """Change user properties (S3 user metadata) in place: the data is not rewritten."""
        b = await self.core.bucket_for(who, bucket)
        check_writable(b)
        rec = await self._get(who, bucket, key, version)
        rec.user_meta = _changed(rec.user_meta, set_, delete, clear)
        check_object_props(rec.user_meta, self.core.limits.max_user_meta_bytes)
        try:
            await self.core.meta.update_object(rec, expect_etag=rec.etag)
        except mi.PreconditionFailed:
            raise S3Error("ConditionalRequestConflict", "The object changed meanwhile; retry.") from None
        return rec.user_meta

    async def object_head(self, who: Principal, bucket: str, key: str, trust_level: int,
                          version: str | None = None) -> bool:
        try:
            rec = await self.get(who, bucket, key, version)
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchVersion", "MethodNotAllowed"):
                return False
            raise
        return await self.core.run(check_present, self.core.data, rec, trust_level)

    async def object_locate(self, who: Principal, bucket: str, key: str, version: str | None = None,
                            chunk_info: bool = False) -> tuple[dict, list[dict]]:
        rec = await self.get(who, bucket, key, version)
        policy, chunks = await self.core.run(oio_chunks, self.core.data, rec, chunk_info)
        return self.describe(rec, policy), chunks

    async def object_truncate(self, who: Principal, bucket: str, key: str, size: int, request_id: str,
                              version: str | None = None) -> dict:
        b = await self.core.bucket_for(who, bucket)
        check_writable(b)
        rec = await self._get(who, bucket, key, version)
        check_readable(rec)
        if rec.props.get("sse"):
            # the stored bytes are ciphertext blocks: cutting them needs a re-encryption (not built)
            raise S3Error("NotImplemented", "Truncating an encrypted object is not supported.")
        if size < 0 or size > rec.size:
            raise S3Error("InvalidArgument", "Only shrinking is supported: size must be between 0 and the "
                          "object's size.", ArgumentName="size", ArgumentValue=str(size))
        hs = {"MD5": Hasher("MD5"), DEFAULT_CHECKSUM: Hasher(DEFAULT_CHECKSUM)}
        # The ETag and checksum of the shorter object must be computed from its bytes: a read, never a
        # write (the kept segments are shared as they are; a segment cut in the middle keeps its file).
        async for chunk in self.objects.read_range(rec, 0, size):
            await self.core.run(_update, hs, chunk)
        segments: list[Segment] = []
        pos = 0
        for seg in rec.segments:
            if pos >= size:
                break
            segments.append(Segment(seg.ref, min(seg.size, size - pos)))
            pos += seg.size
        new = replace(rec, size=size, etag=hs["MD5"].digest().hex(), last_modified=time.time(),
                      version_id=ver.new_version_id(b),
                      checksums={DEFAULT_CHECKSUM: hs[DEFAULT_CHECKSUM].b64()}, checksum_type="FULL_OBJECT",
                      parts=None, segments=segments if rec.inline is None else [],
                      inline=rec.inline[:size] if rec.inline is not None else None)
        # a versioned bucket keeps the whole object as a noncurrent version (sharing the same data)
        await self._replace(new, rec, "s3:ObjectCreated:Put", b, who, request_id, ver.mode(b))
        return self.describe(new)

    async def object_drain(self, who: Principal, bucket: str, key: str, request_id: str,
                           version: str | None = None) -> None:
        b = await self.core.bucket_for(who, bucket)
        check_writable(b)
        rec = await self._get(who, bucket, key, version)
        new = replace(rec, segments=[], inline=None, props={**rec.props, DRAINED: True})
        await self._replace(new, rec, None, b, who, request_id)

    async def _replace(self, new: ObjectRecord, old: ObjectRecord, event: str | None, b: Bucket,
                       who: Principal, request_id: str, versioning: str | None = None) -> None:
        """Replace the current object, guarded like any overwrite (retention, legal hold)."""
        try:
            freed = await self.core.meta.put_object(new, Expect(if_match=old.etag), shared=True,
                                                    versioning=versioning, guard=worm.guard())
        except (mi.PreconditionFailed, mi.ConditionalConflict):
            raise S3Error("ConditionalRequestConflict", "The object changed meanwhile; retry.") from None
        await self.core.free(freed)
        if event:
            await self.notifier.emit(b, [ObjectEvent(event, new.key, new.size, new.etag)], who.user_id, request_id)

    async def object_link(self, who: Principal, bucket: str, key: str, dest_bucket: str, dest_key: str,
                          request_id: str, version: str | None = None) -> dict:
        """A shallow copy: a new record sharing the source's reference-counted data (CopyObject's
        mechanism), in any bucket of the caller's; deleting either never affects the other."""
        dst = await self.core.bucket_for(who, dest_bucket)
        check_writable(dst)
        src = await self.get(who, bucket, key, version)
        check_readable(src)
        rec, _ = await self.objects.copy(who, bucket, key, dest_bucket, dest_key, cond=ReadConditions(),
                                         replace=None, storage_class=src.storage_class, src_version=version)
        await self.notifier.emit(dst, [ObjectEvent("s3:ObjectCreated:Copy", dest_key, rec.size, rec.etag)],
                                 who.user_id, request_id)
        return self.describe(rec)


def _update(hs: dict[str, Hasher], chunk: bytes) -> None:
    for h in hs.values():
        h.update(chunk)


__all__ = ["Oio", "check_readable", "check_writable"]
