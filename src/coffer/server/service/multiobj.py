"""Multi-object operations over a selection: a list of names or a template ("shard-{000..999}.tar").

Used by the AIStore API (`delete-listrange`, `copy-listrange`). Both run to the end before the
request is answered (Coffer has no background job runner): deletes go in batches of 1000 keys, one
metadata transaction each; copies share data (a copy is one metadata commit, whatever the size).

A template names objects that may or may not exist: names that do not exist are skipped. A list
names objects that must exist: a missing one is an error unless `continue_on_error` is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from coffer.protocol import template as tpl
from coffer.protocol.errors import S3Error

from .conditions import ReadConditions
from .core import Core, Principal
from .naming import check_key
from .objects import Objects

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


def _batches(names: Iterable[str], n: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for name in names:
        batch.append(name)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


class MultiObjects:
    def __init__(self, core: Core, objects: Objects) -> None:
        self.core = core
        self.objects = objects

    async def delete(self, who: Principal, bucket: str, sel: Selection, continue_on_error: bool = True) -> Outcome:
        sel.validate()
        await self.core.bucket_for(who, bucket)
        out = Outcome()
        for batch in _batches(sel, BATCH):
            removed = await self.objects.delete_many(who, bucket, batch)
            for name, rec in zip(batch, removed, strict=True):
                if rec is None:
                    out.skipped += 1
                    if not sel.is_template() and not continue_on_error:
                        out.errors.append(f"ais://{bucket}/{name} does not exist")
                else:
                    out.done += 1
        return out

    async def copy(
        self, who: Principal, bucket: str, sel: Selection, dest_bucket: str, prepend: str = "",
        continue_on_error: bool = False, dry_run: bool = False,
    ) -> Outcome:
        sel.validate()
        await self.core.bucket_for(who, bucket)
        await self.core.bucket_for(who, dest_bucket)
        if dest_bucket == bucket and not prepend:
            raise S3Error("InvalidRequest", "copying objects onto themselves: give another bucket or a prefix "
                          "to prepend")
        out = Outcome()
        # Copies run COPY_WINDOW at a time: each is one metadata commit, and commits that are in
        # flight together share one group-commit fsync (sequential copies paid one fsync each).
        for batch in _batches(sel, COPY_WINDOW):
            for name in batch:
                check_key(prepend + name, self.core.limits.max_key_bytes)
            results = await asyncio.gather(*(self._copy_one(who, bucket, n, dest_bucket, prepend + n, dry_run)
                                             for n in batch))
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
                        dry_run: bool) -> bool:
        """Copy one object; False when it does not exist (or vanished meanwhile)."""
        if dry_run:
            return await self.core.meta.get_object(bucket, name) is not None
        try:
            await self.objects.copy(who, bucket, name, dest_bucket, dest_key, cond=ReadConditions(),
                                    replace=None, storage_class=None)
        except S3Error as e:
            if e.code != "NoSuchKey":
                raise
            return False
        return True
