"""The async transfer manager: many files up and down at once on one event loop.

The asyncio twin of :class:`coffer.TransferManager` for files and folders: ``upload``, ``download``,
``upload_directory`` and ``download_directory`` are coroutines with the sync API's arguments
(subscribers, include/exclude globs) and results (:class:`PutResult`, :class:`ObjectProps`,
:class:`DirectoryResult`; a directory with failed files raises :class:`TransferFailed` after the
others finished). One ``asyncio.Semaphore`` of ``max_concurrency`` slots bounds the requests in
flight across everything the manager runs, and a slot is taken *before* a part is read, so memory
stays within ``max_concurrency x part size`` however many files are queued; a directory keeps a
bounded window of file tasks, so a tree of a million files never holds a million tasks.

Files at or above ``multipart_threshold`` go up as a multipart upload (the async writer's
:func:`multipart_upload`, parts under the shared slots) and come down as parallel ranged GETs
pinned to the ETag (If-Match) and written in place. Downloads land in a hidden temporary file that
is renamed once its size (and the object's full-object CRC, when the server has one) checks out.
Cancelling the awaiting task aborts a multipart upload and removes a partial download.
Subscribers get a :class:`TransferFuture` as a status record (``state``, ``total``,
``bytes_transferred``, ``meta``); there is no pause: cancel the task instead.
"""

from __future__ import annotations

import asyncio
import functools
import mimetypes
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from coffer.protocol import checksums, sigv4
from coffer.sdk._async._io import multipart_copy, multipart_upload
from coffer.sdk._body import with_crc32c
from coffer.sdk._config import TransferConfig
from coffer.sdk._errors import (
    ConnectionFailed,
    IntegrityError,
    NoSuchKey,
    ServerError,
    TransferCancelled,
    TransferFailed,
)
from coffer.sdk._headers import KEPT_HEADERS, meta_headers
from coffer.sdk._reader import range_header
from coffer.sdk._transfer._directory import DirectoryResult, key_for, local_path_for, name_selected, walk_files
from coffer.sdk._transfer._download import full_object_crc, part_path
from coffer.sdk._transfer._future import TransferFuture
from coffer.sdk._transfer._manager import _name
from coffer.sdk._transport import object_path
from coffer.sdk._types import ObjectInfo, ObjectProps, PutResult, props_from_headers, put_result
from coffer.sdk._writer import write_headers

if TYPE_CHECKING:
    from coffer.sdk._async._client import AsyncClient
    from coffer.sdk._async._handles import AsyncBucket
    from coffer.sdk._async._transport import AsyncTransport


class _Forward:
    """Relays a file's progress to its directory's status record."""

    def __init__(self, parent: TransferFuture) -> None:
        self.parent = parent

    def on_progress(self, future: TransferFuture, n: int) -> None:
        self.parent.add_progress(n)


# A body cut or corrupt on the way: the GET is worth another try (the transport retried the request itself).
RETRYABLE_BODY_ERRORS = (ConnectionFailed, ServerError, IntegrityError, aiohttp.ClientError, TimeoutError)


class AsyncTransferManager:
    """Uploads and downloads files and folders concurrently on asyncio; see docs/sdk.md."""

    def __init__(self, client: AsyncClient, config: TransferConfig | None = None) -> None:
        self.client = client
        self.config = config or TransferConfig()
        self._slots = asyncio.Semaphore(self.config.max_concurrency)

    @property
    def _t(self) -> AsyncTransport:
        return self.client._transport

    # --- single files -------------------------------------------------------------------------------

    async def upload(
        self,
        path: str | os.PathLike[str],
        bucket: str | AsyncBucket,
        key: str,
        subscribers: Iterable[Any] | None = None,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> PutResult:
        """Upload the local file ``path`` to ``bucket/key`` (multipart at or above the threshold)."""
        path = os.fspath(path)
        content_type = content_type or mimetypes.guess_type(path)[0]
        headers = write_headers(content_type, metadata, extra_headers)
        fut = TransferFuture("upload", {"bucket": _name(bucket), "key": key, "source": path}, subscribers)
        return await self._run(fut, lambda: self._upload(fut, path, _name(bucket), key, headers))

    async def download(
        self,
        bucket: str | AsyncBucket,
        key: str,
        path: str | os.PathLike[str],
        subscribers: Iterable[Any] | None = None,
        *,
        version_id: str | None = None,
        size_hint: int | None = None,
    ) -> ObjectProps:
        """Download ``bucket/key`` to ``path`` (a temporary file renamed once verified).

        ``size_hint`` (the size a listing reported) lets small objects skip the HEAD request.
        """
        target = Path(path)
        fut = TransferFuture("download", {"bucket": _name(bucket), "key": key, "path": os.fspath(target)},
                             subscribers)
        return await self._run(fut, lambda: self._download(fut, _name(bucket), key, target, version_id, size_hint))

    async def copy(
        self,
        src_bucket: str | AsyncBucket,
        src_key: str,
        bucket: str | AsyncBucket,
        key: str,
        subscribers: Iterable[Any] | None = None,
        *,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
        version_id: str | None = None,
    ) -> PutResult:
        """Server-side copy of the source (its version ``version_id``, else the current one): one
        CopyObject up to ``copy_threshold``, UploadPartCopy ranges in parallel above it, each pinned
        to the source's ETag; ``metadata`` given replaces the source's, else it is kept."""
        fut = TransferFuture("copy", {"bucket": _name(bucket), "key": key, "src_bucket": _name(src_bucket),
                                      "src_key": src_key, "version_id": version_id}, subscribers)
        return await self._run(fut, lambda: self._copy(fut, _name(src_bucket), src_key, _name(bucket), key,
                                                       metadata, content_type, version_id))

    async def _copy(self, fut: TransferFuture, src_bucket: str, src_key: str, bucket: str, key: str,
                    metadata: Mapping[str, str] | None, content_type: str | None,
                    version_id: str | None) -> PutResult:
        src = self.client.bucket(src_bucket).object(src_key)
        props = await src.head(version_id)
        fut.total = props.size
        if props.size <= self.config.copy_threshold:
            async with self._slots:
                result = await src.copy_to(bucket, key, metadata, content_type=content_type,
                                           if_match=props.etag or None, version_id=version_id)
            fut.add_progress(props.size)
            return result
        headers = {name: props.headers[name] for name in KEPT_HEADERS if props.headers.get(name)}
        if content_type:
            headers["content-type"] = content_type
        headers.update(meta_headers(metadata if metadata is not None else props.custom))
        source = object_path(src_bucket, src_key)[1:]
        if version_id:
            source += "?versionId=" + sigv4.uri_encode(version_id)
        return await multipart_copy(self._t, bucket, key, headers, source, props.size,
                                    self.config.part_size_for(props.size), props.etag or None, self._slots,
                                    fut.add_progress)

    # --- many files ---------------------------------------------------------------------------------

    async def upload_directory(
        self, local_dir: str | os.PathLike[str], bucket: str | AsyncBucket, prefix: str = "",
        subscribers: Iterable[Any] | None = None, *, include: Iterable[str] = (), exclude: Iterable[str] = (),
    ) -> DirectoryResult:
        """Upload every file under ``local_dir`` to ``prefix/<relative path>``.

        ``include``/``exclude`` are globs on the relative path or base name (the CLI's rules)."""
        root = Path(local_dir)
        if not root.is_dir():
            raise NotADirectoryError(f"not a directory: {root}")
        inc, exc = tuple(include), tuple(exclude)
        fut = TransferFuture("upload_directory", {"bucket": _name(bucket), "prefix": prefix,
                                                  "path": os.fspath(root)}, subscribers)

        def chosen() -> list[tuple[Path, tuple[str, ...], int]]:
            return [f for f in walk_files(root) if name_selected("/".join(f[1]), inc, exc)]

        async def run() -> DirectoryResult:
            files = await asyncio.to_thread(chosen)
            fut.total = sum(size for _p, _r, size in files)

            async def items() -> AsyncIterator[tuple[str, int, Callable[[list[Any]], Awaitable[Any]]]]:
                for path, rel, size in files:
                    key = key_for(prefix, rel)
                    yield key, size, functools.partial(self._upload_one, path, bucket, key)

            return await self._many(fut, items(), DirectoryResult())

        return await self._run(fut, run)

    async def download_directory(
        self, bucket: str | AsyncBucket, prefix: str, local_dir: str | os.PathLike[str],
        subscribers: Iterable[Any] | None = None, *, include: Iterable[str] = (), exclude: Iterable[str] = (),
    ) -> DirectoryResult:
        """Download every object under ``prefix`` into ``local_dir``; keys that would escape it are
        skipped (listed in ``skipped``). ``include``/``exclude`` are globs on the key minus the prefix."""
        root = Path(local_dir)
        inc, exc = tuple(include), tuple(exclude)
        fut = TransferFuture("download_directory", {"bucket": _name(bucket), "prefix": prefix,
                                                    "path": os.fspath(root)}, subscribers)
        result = DirectoryResult()

        async def items() -> AsyncIterator[tuple[str, int, Callable[[list[Any]], Awaitable[Any]]]]:
            total = 0
            async for entry in self.client.bucket(_name(bucket)).list_objects(prefix):
                if not isinstance(entry, ObjectInfo):
                    continue
                rel = entry.key[len(prefix):]
                if not name_selected(rel, inc, exc):
                    continue
                target = local_path_for(root, rel)
                if target is None:
                    result.skipped.append(entry.key)
                    continue
                total += entry.size
                fut.total = total
                yield entry.key, entry.size, functools.partial(self._download_one, bucket, entry.key, target,
                                                               entry.size)

        async def run() -> DirectoryResult:
            root.mkdir(parents=True, exist_ok=True)
            return await self._many(fut, items(), result)

        return await self._run(fut, run)

    # --- plumbing -----------------------------------------------------------------------------------

    async def _upload_one(self, path: Path, bucket: str | AsyncBucket, key: str, subs: list[Any]) -> Any:
        return await self.upload(path, bucket, key, subs)

    async def _download_one(self, bucket: str | AsyncBucket, key: str, path: Path, size: int,
                            subs: list[Any]) -> Any:
        return await self.download(bucket, key, path, subs, size_hint=size)

    def _window(self) -> int:
        return max(64, 8 * self.config.max_concurrency)

    async def _run(self, fut: TransferFuture, body: Callable[[], Awaitable[Any]]) -> Any:
        fut.set_running()
        try:
            value = await body()
        except asyncio.CancelledError:
            fut.set_exception(TransferCancelled("transfer cancelled", resource=fut.meta.get("key")))
            raise
        except BaseException as exc:
            fut.set_exception(exc)
            raise
        fut.set_result(value)
        return value

    async def _many(
        self,
        parent: TransferFuture,
        items: AsyncIterator[tuple[str, int, Callable[[list[Any]], Awaitable[Any]]]],
        result: DirectoryResult,
    ) -> DirectoryResult:
        """Run each (name, size, start) under a window of file tasks; the others go on when one fails."""
        window = asyncio.Semaphore(self._window())
        failures: dict[str, BaseException] = {}
        forward = _Forward(parent)

        async def one(name: str, size: int, start: Callable[[list[Any]], Awaitable[Any]]) -> None:
            try:
                await start([forward])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures[name] = exc
            else:
                result.files += 1
                result.bytes += size
                result.keys.append(name)
            finally:
                window.release()

        tasks: set[asyncio.Task[None]] = set()
        try:
            async for name, size, start in items:
                await window.acquire()
                task = asyncio.create_task(one(name, size, start))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        if failures:
            first_name, first = next(iter(failures.items()))
            raise TransferFailed(f"{len(failures)} of {len(failures) + result.files} transfers failed; "
                                 f"first {first_name}: {first}", failures)
        return result

    async def _upload(self, fut: TransferFuture, path: str, bucket: str, key: str,
                      headers: dict[str, str]) -> PutResult:
        size = os.stat(path).st_size
        fut.total = size
        if size < self.config.multipart_threshold:
            async with self._slots:
                data = await asyncio.to_thread(Path(path).read_bytes)
                resp = await self._t.request("PUT", bucket, key, body=data, headers=with_crc32c(data, headers))
            fut.add_progress(len(data))
            return put_result(resp.headers)
        part = self.config.part_size_for(size)
        with open(path, "rb") as f:
            async def next_part() -> bytes | None:
                data = await asyncio.to_thread(f.read, part)
                return data or None

            return await multipart_upload(self._t, bucket, key, headers, next_part, self._slots,
                                          fut.add_progress)

    async def _download(self, fut: TransferFuture, bucket: str, key: str, path: Path, version_id: str | None,
                        size_hint: int | None) -> ObjectProps:
        small_hint = size_hint is not None and size_hint < self.config.multipart_threshold
        props: ObjectProps | None = None
        if not small_hint:
            async with self._slots:
                props = await self.client.bucket(bucket).object(key).head(version_id)
        fut.total = size_hint if props is None else props.size
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = part_path(path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            try:
                if props is None or props.size < self.config.multipart_threshold:
                    props = await self._get_range(fut, fd, bucket, key, version_id, None, None,
                                                  props.etag if props else None, whole=True)
                    fut.total = props.size
                else:
                    await self._ranged(fut, fd, bucket, key, version_id, props)
            finally:
                os.close(fd)
            written = tmp.stat().st_size
            if written != props.size:
                raise IntegrityError(f"downloaded {written} bytes, object has {props.size}",
                                     resource=f"{bucket}/{key}")
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return props

    async def _get_range(self, fut: TransferFuture, fd: int, bucket: str, key: str, version_id: str | None,
                         first: int | None, last: int | None, etag: str | None, *,
                         whole: bool = False) -> ObjectProps:
        """:meth:`_get_once`, tried up to ``num_download_attempts`` times when a body is cut or corrupt
        (the transport already retried the request itself)."""
        attempts = self.config.num_download_attempts
        for attempt in range(1, attempts + 1):
            try:
                return await self._get_once(fut, fd, bucket, key, version_id, first, last, etag, whole=whole)
            except RETRYABLE_BODY_ERRORS:
                if attempt == attempts:
                    raise
                await asyncio.sleep(random.uniform(0.05, 0.3 * attempt))
        raise AssertionError("unreachable")

    async def _get_once(self, fut: TransferFuture, fd: int, bucket: str, key: str, version_id: str | None,
                        first: int | None, last: int | None, etag: str | None, *,
                        whole: bool = False) -> ObjectProps:
        """One GET (of a range, or the whole object) written at its offset; checks its byte count, and
        for a whole object the full-object CRC the answer carries."""
        headers = {"x-amz-checksum-mode": "ENABLED"}
        rng = range_header(first, last)
        if rng:
            headers["Range"] = rng
        if etag:
            headers["If-Match"] = f'"{etag}"'
        pos = first or 0
        written = 0
        async with self._slots:
            resp = await self._t.request("GET", bucket, key, headers=headers, stream=True, not_found=NoSuchKey,
                                         query={"versionId": version_id} if version_id else None)
            props = props_from_headers(resp.headers)
            crc = full_object_crc(props) if whole and self.config.verify else None
            hasher = checksums.Hasher(crc[0]) if crc else None
            try:
                async for chunk in resp.iter_raw(self.config.io_chunksize):
                    os.pwrite(fd, chunk, pos + written)
                    written += len(chunk)
                    if hasher is not None:
                        hasher.update(chunk)
                    fut.add_progress(len(chunk))
            except BaseException:
                resp.discard()
                fut.add_progress(-written)
                raise
            resp.release()
        expected = (last - pos + 1) if last is not None else int(resp.headers.get("content-length") or written)
        if written != expected:
            raise IntegrityError(f"GET {bucket}/{key}: got {written} bytes of {expected}")
        if hasher is not None and crc is not None and hasher.b64() != crc[1]:
            raise IntegrityError(f"{crc[0]} mismatch: object says {crc[1]}, data gives {hasher.b64()}")
        return props

    async def _ranged(self, fut: TransferFuture, fd: int, bucket: str, key: str, version_id: str | None,
                      props: ObjectProps) -> None:
        os.ftruncate(fd, props.size)
        part = self.config.part_size_for(props.size)
        ranges = [(s, min(s + part, props.size) - 1) for s in range(0, props.size, part)]
        # The shared slots bound the requests; the tasks made here are one per range of one file.
        tasks = [asyncio.create_task(self._get_range(fut, fd, bucket, key, version_id, a, b, props.etag or None))
                 for a, b in ranges]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
