"""Copy coordinator: one server-side CopyObject, or UploadPartCopy in parallel for big objects.

No object data passes through the client either way. Up to ``copy_threshold`` (5 GiB, S3's limit
for CopyObject) a single request does it; on Coffer that copy shares the stored data instead of
rewriting it. Larger objects are copied as ranges of the source pinned to its ETag, so a source
overwritten mid-copy fails the copy instead of producing a mix of two versions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from coffer.sdk import _multipart as mp
from coffer.sdk._config import TransferConfig
from coffer.sdk._errors import CofferError
from coffer.sdk._object import KEPT_HEADERS, meta_headers
from coffer.sdk._transfer._executor import Scheduler, run_parts
from coffer.sdk._transfer._future import TransferFuture
from coffer.sdk._types import PutResult

if TYPE_CHECKING:
    from coffer.sdk._object import Object


class CopyJob:
    def __init__(self, src: Object, sched: Scheduler, config: TransferConfig, future: TransferFuture,
                 bucket: str, key: str, metadata: Mapping[str, str] | None, content_type: str | None) -> None:
        self.src, self.sched, self.config, self.future = src, sched, config, future
        self.bucket, self.key = bucket, key
        self.metadata, self.content_type = metadata, content_type
        self.upload_id: str | None = None

    def run(self) -> PutResult:
        props = self.src.head()
        self.future.total = props.size
        if props.size <= self.config.copy_threshold:
            replace = self.metadata is not None or self.content_type is not None
            result = self.sched.inline(self.future, lambda: self.src._copy_object(
                self.bucket, self.key, props if replace else None, self.metadata, self.content_type,
                props.etag or None))
            self.future.add_progress(props.size)
            return result
        t = self.src._t
        headers = {name: props.headers[name] for name in KEPT_HEADERS if props.headers.get(name)}
        if self.content_type:
            headers["content-type"] = self.content_type
        headers.update(meta_headers(self.metadata if self.metadata is not None else props.custom))
        self.upload_id = mp.create(t, self.bucket, self.key, headers=headers)
        self.future.meta["upload_id"] = self.upload_id
        part = self.config.part_size_for(props.size)
        src_bucket, src_key = self.src.bucket.name, self.src.key

        def task(number: int, first: int, last: int) -> Callable[[], mp.Part]:
            def go() -> mp.Part:
                assert self.upload_id is not None
                p = mp.upload_part_copy(t, self.bucket, self.key, self.upload_id, number, src_bucket,
                                        src_key, (first, last), if_match=props.etag or None)
                self.future.add_progress(last - first + 1)
                return p
            return go

        ranges = [(s, min(s + part, props.size) - 1) for s in range(0, props.size, part)]
        parts = run_parts(self.future, self.sched,
                          (task(i + 1, a, b) for i, (a, b) in enumerate(ranges)))
        self.future.checkpoint()
        return mp.complete(t, self.bucket, self.key, self.upload_id, parts)

    def cleanup(self, exc: BaseException) -> None:
        # A copy cannot be resumed from the client's side (nothing local to compare), so any
        # failure aborts; cancellation in particular must leave nothing behind.
        if self.upload_id is not None:
            try:
                mp.abort(self.src._t, self.bucket, self.key, self.upload_id)
            except CofferError:
                pass
        del exc
