"""Multi-object operations: a group of objects named by a list or a template, deleted or copied together.

    bucket.objects(template="shard-{000..999}.tar").delete()
    bucket.objects(names=["a", "b"]).copy("other-bucket", prepend="backup/")

Templates are bash-style brace expansions (`coffer.protocol.template`, the same expansion the
server's AIStore API uses). A template names objects that may not exist: missing ones are skipped.
A list names objects that must exist: copying a missing one raises NoSuchKey unless
``continue_on_error``. Deletes go as S3 DeleteObjects batches of 1000 keys; copies are server-side
CopyObject requests (the server shares the data, no bytes move), several in parallel.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from coffer.protocol import template as tpl
from coffer.sdk._errors import NoSuchKey

if TYPE_CHECKING:
    from coffer.sdk._bucket import Bucket


@dataclass
class GroupResult:
    """What a group operation did: names done, names skipped (missing), and per-name errors."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


class ObjectGroup:
    """Objects of one bucket named by a list or a template; nothing is fetched until a method runs."""

    def __init__(self, bucket: Bucket, names: list[str] | None = None, template: str | None = None) -> None:
        if (names is None) == (template is None):
            raise ValueError("give exactly one of names= or template=")
        if names is not None and not names:
            raise ValueError("names must not be empty")
        if template is not None:
            tpl.count(template)  # raises TemplateError (a ValueError) for a malformed template
        self.bucket = bucket
        self._names = list(names) if names is not None else None
        self.template = template

    def __iter__(self) -> Iterator[str]:
        if self.template is not None:
            return tpl.expand(self.template)
        return iter(self._names or [])

    def names(self) -> list[str]:
        return list(self)

    def delete(self) -> GroupResult:
        """Delete every named object (missing ones count as skipped only when the server says so)."""
        out = GroupResult()
        for r in self.bucket.delete_objects(self):
            if r.deleted:
                out.done.append(r.key)
            else:
                out.errors[r.key] = f"{r.error_code}: {r.error_message}"
        return out

    def copy(self, to_bucket: Bucket | str, prepend: str = "", *, continue_on_error: bool = False,
             workers: int = 8) -> GroupResult:
        """Server-side copy of each named object to ``to_bucket`` under ``prepend + name``."""
        dest = to_bucket if isinstance(to_bucket, str) else to_bucket.name
        if dest == self.bucket.name and not prepend:
            raise ValueError("copying objects onto themselves: give another bucket or a prefix to prepend")
        out = GroupResult()
        is_template = self.template is not None

        def one(name: str) -> tuple[str, str | None]:
            try:
                self.bucket.object(name).copy_to(dest, prepend + name)
                return name, None
            except NoSuchKey:
                return name, "NoSuchKey"

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for name, err in (r for batch in tpl.batches(iter(self), 1000) for r in pool.map(one, batch)):
                if err is None:
                    out.done.append(name)
                elif is_template:
                    out.skipped.append(name)
                elif continue_on_error:
                    out.skipped.append(name)
                    out.errors[name] = err
                else:
                    raise NoSuchKey(f"cannot copy {self.bucket.name}/{name}: it does not exist", code="NoSuchKey")
        return out
