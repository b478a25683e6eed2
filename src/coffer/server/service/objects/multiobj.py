"""Multi-object operations over a selection: a list of names or a template ("shard-{000..999}.tar").

Used by the AIStore API (`delete-listrange`, `copy-listrange`). Both run to the end before the
request is answered (Coffer has no background job runner): deletes go in batches of 1000 keys, one
metadata transaction each; copies share data (a copy is one metadata commit, whatever the size).

A template names objects that may or may not exist: names that do not exist are skipped. A list
names objects that must exist: a missing one is an error unless `continue_on_error` is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

from coffer.protocol import template as tpl
from coffer.protocol.errors import S3Error
from coffer.server.meta.model import Bucket, ObjectRecord
from coffer.server.service.core import Core, Principal
from coffer.server.service.events.announce import Announce
from coffer.server.service.events.notifications import Notifier, ObjectEvent
from coffer.server.service.objects import versioning as ver
from coffer.server.service.objects.conditions import ReadConditions
from coffer.server.service.objects.frozen import check_writable
from coffer.server.service.objects.naming import check_key
from coffer.server.service.objects.operations import Objects

BATCH = 1000
COPY_WINDOW = 64
MAX_SELECTION = 1_000_000


@dataclass(slots=True)
class Selection:
    names: list[str] | None = None
    template: str | None = None

    def is_template(self) -> bool:
        return self.template is not None

    def __iter__(self) -> Iterator[str]:
        if self.template is not None:
            try:
                return tpl.expand(self.template, MAX_SELECTION)
            except tpl.TemplateError as e:
                raise S3Error("InvalidArgument", str(e), ArgumentName="template") from None
        return iter(self.names or [])

    def validate(self) -> None:
        if (self.names is None) == (self.template is None):
            raise S3Error("InvalidArgument", "give exactly one of a list of object names or a template")
        if self.template is not None:
            iter(self)  # raises for a malformed or too large template
        elif len(self.names or []) > MAX_SELECTION:
            raise S3Error("InvalidArgument", f"a list names at most {MAX_SELECTION} objects")


@dataclass(slots=True)
class Outcome:
    done: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


class MultiObjects:
    def __init__(self, core: Core, objects: Objects, versioning: ver.Versioning, notifier: Notifier | None) -> None:
        self.core = core
        self.objects = objects
        self.versioning = versioning
        self.notifier = notifier  # bucket notifications of these writes

    async def delete(self, who: Principal, bucket: str, sel: Selection, continue_on_error: bool = True,
                     request_id: str = "") -> Outcome:
        """Frozen buckets refuse it; each object removed raises ObjectRemoved:Delete (or
        DeleteMarkerCreated: a versioned bucket gets delete markers, as DeleteObjects makes)."""
        sel.validate()
        b = await self.core.bucket_for(who, bucket)
        check_writable(b)
        out = Outcome()
        for batch in tpl.batches(sel, BATCH):
            async with Announce(self.notifier, b, "s3:ObjectRemoved:Delete", who.user_id, request_id,
                                keys=batch) as note:
                if ver.mode(b) is None:
                    removed = await self.objects.delete_many(who, bucket, batch)
                    gone = [(n, rec is not None, False) for n, rec in zip(batch, removed, strict=True)]
                else:
                    gone = await self._delete_versioned(who, b, batch)
                for name, existed, marker in gone:
                    if not existed:
                        out.skipped += 1
                        if not sel.is_template() and not continue_on_error:
                            out.errors.append(f"ais://{bucket}/{name} does not exist")
                        continue
                    out.done += 1
                    note.events.append(ObjectEvent("s3:ObjectRemoved:DeleteMarkerCreated" if marker else
                                                   "s3:ObjectRemoved:Delete", name))
        return out

    async def _delete_versioned(self, who: Principal, b: Bucket, batch: list[str]) -> list[tuple[str, bool, bool]]:
        """(name, existed, became a delete marker) per name; a protected object stays (not counted)."""
        present = [n for n in batch if await self.core.meta.get_object(b.name, n) is not None]
        results = await self.versioning.delete_many(who, b.name, [(n, None) for n in present])
        done = {n: r.delete_marker for n, r in zip(present, results, strict=True) if not isinstance(r, S3Error)}
        return [(n, n in done, done.get(n, False)) for n in batch]

    async def copy(
        self, who: Principal, bucket: str, sel: Selection, dest_bucket: str, prepend: str = "",
        continue_on_error: bool = False, dry_run: bool = False, request_id: str = "",
    ) -> Outcome:
        """Copies share data; the destination must not be frozen; each copy raises
        ObjectCreated:Copy in the destination bucket."""
        sel.validate()
        await self.core.bucket_for(who, bucket)
        dest = await self.core.bucket_for(who, dest_bucket)
        if not dry_run:
            check_writable(dest)
        if dest_bucket == bucket and not prepend:
            raise S3Error("InvalidRequest", "copying objects onto themselves: give another bucket or a prefix "
                          "to prepend")
        out = Outcome()
        # Copies run COPY_WINDOW at a time: each is one metadata commit, and commits that are in
        # flight together share one group-commit fsync (sequential copies paid one fsync each).
        for batch in tpl.batches(sel, COPY_WINDOW):
            for name in batch:
                check_key(prepend + name, self.core.limits.max_key_bytes)
            async with Announce(None if dry_run else self.notifier, dest, "s3:ObjectCreated:Copy", who.user_id,
                                request_id, keys=[prepend + n for n in batch]) as note:
                results = await asyncio.gather(*(self._copy_one(who, bucket, n, dest_bucket, prepend + n, dry_run)
                                                 for n in batch))
                note.events += [ObjectEvent("s3:ObjectCreated:Copy", prepend + n, rec.size, rec.etag, rec.version_id)
                                for n, rec in zip(batch, results, strict=True) if rec is not None and rec is not True]
            for name, ok in zip(batch, results, strict=True):
                if ok:
                    out.done += 1
                    continue
                out.skipped += 1
                if not sel.is_template():
                    msg = f"ais://{bucket}/{name} does not exist"
                    if not continue_on_error:
                        raise S3Error("NoSuchKey", msg, Key=name)
                    out.errors.append(msg)
        return out

    async def _copy_one(self, who: Principal, bucket: str, name: str, dest_bucket: str, dest_key: str,
                        dry_run: bool) -> ObjectRecord | bool | None:
        """Copy one object: the new record (True for a dry run), or None/False when it does not
        exist (or vanished meanwhile)."""
        if dry_run:
            return await self.core.meta.get_object(bucket, name) is not None
        try:
            rec, _ = await self.objects.copy(who, bucket, name, dest_bucket, dest_key, cond=ReadConditions(),
                                             replace=None, storage_class=None)
        except S3Error as e:
            if e.code != "NoSuchKey":
                raise
            return None
        return rec
