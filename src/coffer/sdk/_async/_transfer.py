"""The async transfer manager: many files up and down at once on one event loop.

The asyncio twin of :class:`coffer.TransferManager`: ``upload``, ``download``, ``copy``,
``upload_directory`` and ``download_directory`` are coroutines with the sync API's arguments
(subscribers, include/exclude globs) and results (:class:`PutResult`, :class:`ObjectProps`,
:class:`DirectoryResult`; a directory with failed files raises :class:`TransferFailed` after the
others finished). Each has a ``start_*`` twin that returns an :class:`AsyncTransferFuture` at once
(the transfer runs as a task): ``pause()``, ``resume()``, ``cancel()``, progress, and ``await``
for the result; the coroutines are ``await start_*(...)``. One ``asyncio.Semaphore`` of
``max_concurrency`` slots bounds the requests in flight across everything the manager runs, and a
slot is taken *before* a part is read, so memory stays within ``max_concurrency x part size``
however many files are queued; a paused transfer takes no slot. A directory keeps a bounded window
of file tasks, so a tree of a million files never holds a million tasks. ``max_bandwidth`` is one
token bucket (:class:`AsyncThrottle`, the sync one's arithmetic) paced by every body, up and down.

Uploads carry ``checksum_algorithm``'s CRC as the sync manager's do (one PUT: the file's CRC; multipart:
a FULL_OBJECT checksum asked for, each part's CRC sent with it and in the Complete; the helpers are
sdk/_multipart.py's). Files at or above ``multipart_threshold`` go up as a multipart upload (the async writer's
:func:`multipart_upload`, parts under the shared slots; with ``resume`` a pending upload of the
same key is continued with the stored parts whose MD5 matches, and a failed one is kept for the
next try) and come down as parallel ranged GETs pinned to the ETag (If-Match) and written in place.
Downloads read through the async reader (a cut body goes on from its last byte) into a hidden
temporary file that is renamed once its size (and the object's full-object CRC, when the server
has one) checks out. Cancelling (the future, or the task awaiting
a coroutine) aborts a multipart upload and removes a partial download.
"""

from __future__ import annotations

import asyncio
import functools
import mimetypes
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from coffer.protocol import checksums, sigv4
from coffer.sdk import _multipart as mp
from coffer.sdk._async._future import AsyncTransferFuture, TransferSlots
from coffer.sdk._async._io import AsyncObjectReader, find_upload, list_parts, multipart_copy, multipart_upload
from coffer.sdk._body import TokenBucket, with_crc32c
from coffer.sdk._config import TransferConfig
from coffer.sdk._errors import (
    ConnectionFailed,
    IntegrityError,
    NoSuchUpload,
    ServerError,
    TransferCancelled,
    TransferFailed,
)
from coffer.sdk._headers import KEPT_HEADERS, meta_headers
from coffer.sdk._transfer._directory import DirectoryResult, key_for, local_path_for, name_selected, walk_files
from coffer.sdk._transfer._download import full_object_crc, part_path
from coffer.sdk._transfer._future import TransferFuture
from coffer.sdk._transfer._manager import _name
from coffer.sdk._transfer._upload import reusable_parts
from coffer.sdk._transport import object_path
from coffer.sdk._types import ObjectInfo, ObjectProps, PutResult, put_result
from coffer.sdk._writer import write_headers

if TYPE_CHECKING:
    from coffer.sdk._async._client import AsyncClient
    from coffer.sdk._async._handles import AsyncBucket
    from coffer.sdk._async._transport import AsyncTransport, Pace


class AsyncThrottle:
    """A :class:`TokenBucket` shared by every transfer of one async manager (bytes per second)."""

    def __init__(self, rate: int) -> None:
        self.rate = float(rate)
        self._bucket = TokenBucket(rate, time.monotonic())

    async def consume(self, n: int) -> None:
        wait = self._bucket.take(n, time.monotonic())
        if wait > 0:
            await asyncio.sleep(wait)


class _Forward:
    """Relays a file's progress to its directory's future."""

    def __init__(self, parent: TransferFuture) -> None:
        self.parent = parent

    def on_progress(self, future: TransferFuture, n: int) -> None:
        self.parent.add_progress(n)


# A body cut or corrupt on the way: the GET is worth another try (the transport retried the request itself).
RETRYABLE_BODY_ERRORS = (ConnectionFailed, ServerError, IntegrityError, aiohttp.ClientError, TimeoutError)

# (name, size, start): start(subscribers) begins one file's transfer and returns its future.
DirectoryItem = tuple[str, int, Callable[[list[Any]], AsyncTransferFuture]]


class AsyncTransferManager:
    """Uploads and downloads files and folders concurrently on asyncio; see docs/sdk.md."""

    def __init__(self, client: AsyncClient, config: TransferConfig | None = None) -> None:
        self.client = client
        self.config = config or TransferConfig()
        self._slots = asyncio.Semaphore(self.config.max_concurrency)
        self.throttle = AsyncThrottle(self.config.max_bandwidth) if self.config.max_bandwidth else None
        # The CRC uploads carry (a FULL_OBJECT checksum, as the sync manager's); None: a CRC32C per request.
        self._algo = self.config.checksum_algorithm.upper() if self.config.checksum_algorithm else None

    @property
    def _t(self) -> AsyncTransport:
        return self.client._transport

    @property
    def _pace(self) -> Pace | None:
        return self.throttle.consume if self.throttle is not None else None

    # --- single files -------------------------------------------------------------------------------

    def start_upload(
        self,
        path: str | os.PathLike[str],
        bucket: str | AsyncBucket,
        key: str,
        subscribers: Iterable[Any] | None = None,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> AsyncTransferFuture:
        """Start uploading the local file ``path`` to ``bucket/key``; call it on the event loop."""
        path = os.fspath(path)
        content_type = content_type or mimetypes.guess_type(path)[0]
        headers = write_headers(content_type, metadata, extra_headers)
        fut = AsyncTransferFuture("upload", {"bucket": _name(bucket), "key": key, "source": path}, subscribers)
        return self._spawn(fut, lambda: self._upload(fut, path, _name(bucket), key, headers))

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
        result: PutResult = await self.start_upload(path, bucket, key, subscribers, content_type=content_type,
                                                    metadata=metadata, extra_headers=extra_headers)
        return result

    def start_download(
        self,
        bucket: str | AsyncBucket,
        key: str,
        path: str | os.PathLike[str],
        subscribers: Iterable[Any] | None = None,
        *,
        version_id: str | None = None,
        size_hint: int | None = None,
    ) -> AsyncTransferFuture:
        """Start downloading ``bucket/key`` to ``path``; call it on the event loop."""
        target = Path(path)
        fut = AsyncTransferFuture("download", {"bucket": _name(bucket), "key": key, "path": os.fspath(target)},
                                  subscribers)
        return self._spawn(fut, lambda: self._download(fut, _name(bucket), key, target, version_id, size_hint))

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
        result: ObjectProps = await self.start_download(bucket, key, path, subscribers, version_id=version_id,
                                                        size_hint=size_hint)
        return result

    def start_copy(
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
    ) -> AsyncTransferFuture:
        """Start a server-side copy (see :meth:`copy`); call it on the event loop."""
        fut = AsyncTransferFuture("copy", {"bucket": _name(bucket), "key": key, "src_bucket": _name(src_bucket),
                                           "src_key": src_key, "version_id": version_id}, subscribers)
        return self._spawn(fut, lambda: self._copy(fut, _name(src_bucket), src_key, _name(bucket), key,
                                                   metadata, content_type, version_id))

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
        result: PutResult = await self.start_copy(src_bucket, src_key, bucket, key, subscribers, metadata=metadata,
                                                  content_type=content_type, version_id=version_id)
        return result

    async def _copy(self, fut: AsyncTransferFuture, src_bucket: str, src_key: str, bucket: str, key: str,
                    metadata: Mapping[str, str] | None, content_type: str | None,
                    version_id: str | None) -> PutResult:
        src = self.client.bucket(src_bucket).object(src_key)
        props = await src.head(version_id)
        fut.total = props.size
        slots = TransferSlots(self._slots, fut)
        if props.size <= self.config.copy_threshold:
            async with slots:
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
                                    self.config.part_size_for(props.size), props.etag or None, slots,
                                    fut.add_progress)

    # --- many files ---------------------------------------------------------------------------------

    def start_upload_directory(
        self, local_dir: str | os.PathLike[str], bucket: str | AsyncBucket, prefix: str = "",
        subscribers: Iterable[Any] | None = None, *, include: Iterable[str] = (), exclude: Iterable[str] = (),
    ) -> AsyncTransferFuture:
        """Start uploading a folder (see :meth:`upload_directory`); call it on the event loop."""
        root = Path(local_dir)
        if not root.is_dir():
            raise NotADirectoryError(f"not a directory: {root}")
        inc, exc = tuple(include), tuple(exclude)
        fut = AsyncTransferFuture("upload_directory", {"bucket": _name(bucket), "prefix": prefix,
                                                       "path": os.fspath(root)}, subscribers)

        def chosen() -> list[tuple[Path, tuple[str, ...], int]]:
            return [f for f in walk_files(root) if name_selected("/".join(f[1]), inc, exc)]

        async def run() -> DirectoryResult:
            files = await asyncio.to_thread(chosen)
            fut.total = sum(size for _p, _r, size in files)

            async def items() -> AsyncIterator[DirectoryItem]:
                for path, rel, size in files:
                    key = key_for(prefix, rel)
                    yield key, size, functools.partial(self.start_upload, path, bucket, key)

            return await self._many(fut, items(), DirectoryResult())

        return self._spawn(fut, run)

    async def upload_directory(
        self, local_dir: str | os.PathLike[str], bucket: str | AsyncBucket, prefix: str = "",
        subscribers: Iterable[Any] | None = None, *, include: Iterable[str] = (), exclude: Iterable[str] = (),
    ) -> DirectoryResult:
        """Upload every file under ``local_dir`` to ``prefix/<relative path>``.

        ``include``/``exclude`` are globs on the relative path or base name (the CLI's rules)."""
        result: DirectoryResult = await self.start_upload_directory(local_dir, bucket, prefix, subscribers,
                                                                    include=include, exclude=exclude)
        return result

    def start_download_directory(
        self, bucket: str | AsyncBucket, prefix: str, local_dir: str | os.PathLike[str],
        subscribers: Iterable[Any] | None = None, *, include: Iterable[str] = (), exclude: Iterable[str] = (),
    ) -> AsyncTransferFuture:
        """Start downloading a prefix (see :meth:`download_directory`); call it on the event loop."""
        root = Path(local_dir)
        inc, exc = tuple(include), tuple(exclude)
        fut = AsyncTransferFuture("download_directory", {"bucket": _name(bucket), "prefix": prefix,
                                                         "path": os.fspath(root)}, subscribers)
        result = DirectoryResult()

        async def items() -> AsyncIterator[DirectoryItem]:
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

        return self._spawn(fut, run)

    async def download_directory(
        self, bucket: str | AsyncBucket, prefix: str, local_dir: str | os.PathLike[str],
        subscribers: Iterable[Any] | None = None, *, include: Iterable[str] = (), exclude: Iterable[str] = (),
    ) -> DirectoryResult:
        """Download every object under ``prefix`` into ``local_dir``; keys that would escape it are
        skipped (listed in ``skipped``). ``include``/``exclude`` are globs on the key minus the prefix."""
        result: DirectoryResult = await self.start_download_directory(bucket, prefix, local_dir, subscribers,
                                                                      include=include, exclude=exclude)
        return result

    # --- plumbing -----------------------------------------------------------------------------------

    def _download_one(self, bucket: str | AsyncBucket, key: str, path: Path, size: int,
                      subs: list[Any]) -> AsyncTransferFuture:
        return self.start_download(bucket, key, path, subs, size_hint=size)

    def _window(self) -> int:
        return max(64, 8 * self.config.max_concurrency)

    def _spawn(self, fut: AsyncTransferFuture, body: Callable[[], Awaitable[Any]]) -> AsyncTransferFuture:
        task = asyncio.get_running_loop().create_task(self._run(fut, body), name=f"coffer-{fut.kind}")
        fut.started(task)
        return fut

    async def _run(self, fut: AsyncTransferFuture, body: Callable[[], Awaitable[Any]]) -> Any:
        fut.set_running()
        try:
            value = await body()
        except asyncio.CancelledError:
            cancelled = TransferCancelled("transfer cancelled", resource=fut.meta.get("key"))
            fut.set_exception(cancelled)
            task = asyncio.current_task()
            if fut.cancelled_by_handle() and task is not None and task.uncancel() == 0:
                raise cancelled from None  # cancelled through its future: awaiting it raises TransferCancelled
            raise
        except BaseException as exc:
            fut.set_exception(exc)
            raise
        fut.set_result(value)
        return value

    async def _many(self, parent: AsyncTransferFuture, items: AsyncIterator[DirectoryItem],
                    result: DirectoryResult) -> DirectoryResult:
        """Start each (name, size, start) under a window of file transfers; the others go on when one
        fails. Pause, resume and cancel of ``parent`` reach the files it runs."""
        window = asyncio.Semaphore(self._window())
        failures: dict[str, BaseException] = {}
        forward = _Forward(parent)

        async def one(child: AsyncTransferFuture, name: str, size: int) -> None:
            try:
                await child
            except asyncio.CancelledError:
                raise
            except TransferCancelled:
                pass  # cancelled on its own: neither moved nor failed (the sync manager's rule)
            except Exception as exc:
                failures[name] = exc
            else:
                result.files += 1
                result.bytes += size
                result.keys.append(name)
            finally:
                parent.children.discard(child)
                window.release()

        tasks: set[asyncio.Task[None]] = set()
        try:
            async for name, size, start in items:
                await window.acquire()
                try:
                    await parent.until_running()  # a paused folder starts no new file
                except BaseException:
                    window.release()
                    raise
                try:
                    child = start([forward])
                except Exception as exc:  # refused before it began (bad arguments): this file failed
                    failures[name] = exc
                    window.release()
                    continue
                parent.children.add(child)
                if parent.paused():
                    child.pause()
                task = asyncio.create_task(one(child, name, size))
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

    async def _upload(self, fut: AsyncTransferFuture, path: str, bucket: str, key: str,
                      headers: dict[str, str]) -> PutResult:
        size = os.stat(path).st_size
        fut.total = size
        slots = TransferSlots(self._slots, fut)
        if size < self.config.multipart_threshold:
            async with slots:
                data = await asyncio.to_thread(Path(path).read_bytes)
                crc = await asyncio.to_thread(mp.data_checksum, self._algo, data) if self._algo else None
                resp = await self._t.request(
                    "PUT", bucket, key, body=data, pace=self._pace, progress=fut.add_progress,
                    headers={**headers, checksums.header_name(crc[0]): crc[1]} if crc else with_crc32c(data, headers))
            return put_result(resp.headers)
        part = self.config.part_size_for(size)
        upload_id: str | None = None
        stored: dict[int, str] = {}
        if self.config.resume:
            async with slots:  # a folder of big files must not list uploads past max_concurrency
                part, upload_id, stored = await self._resumable(bucket, key, size, part)
            if upload_id:
                fut.meta["upload_id"] = upload_id

        def reused(n: int) -> None:
            fut.bytes_resumed += n
            fut.add_progress(n)

        with open(path, "rb") as f:
            async def next_part() -> bytes | None:
                data = await asyncio.to_thread(f.read, part)
                return data or None

            return await multipart_upload(self._t, bucket, key, headers, next_part, slots, fut.add_progress,
                                          pace=self._pace, upload_id=upload_id, stored=stored, on_reused=reused,
                                          keep_on_failure=self.config.resume, algo=self._algo)

    async def _resumable(self, bucket: str, key: str, size: int, part: int) -> tuple[int, str | None, dict[int, str]]:
        """A pending upload of ``key`` to continue: (part size, upload id, {part number: MD5 ETag})."""
        upload_id = await find_upload(self._t, bucket, key)
        if upload_id is None:
            return part, None, {}
        try:
            stored = await list_parts(self._t, bucket, key, upload_id)
        except NoSuchUpload:
            return part, None, {}
        part, reusable = reusable_parts(stored, size, part)
        return part, upload_id, {n: p.etag for n, p in reusable.items()}

    async def _download(self, fut: AsyncTransferFuture, bucket: str, key: str, path: Path, version_id: str | None,
                        size_hint: int | None) -> ObjectProps:
        small_hint = size_hint is not None and size_hint < self.config.multipart_threshold
        props: ObjectProps | None = None
        if not small_hint:
            async with TransferSlots(self._slots, fut):
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

    async def _get_range(self, fut: AsyncTransferFuture, fd: int, bucket: str, key: str, version_id: str | None,
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

    async def _get_once(self, fut: AsyncTransferFuture, fd: int, bucket: str, key: str, version_id: str | None,
                        first: int | None, last: int | None, etag: str | None, *,
                        whole: bool = False) -> ObjectProps:
        """One read (of a range, or the whole object) written at its offset: the async reader's
        stream, so a body cut mid-way goes on from its last byte pinned to the ETag. Checks the byte
        count, and for a whole object the full-object CRC the answer carries."""
        reader = AsyncObjectReader(self.client.bucket(bucket).object(key), version_id=version_id)
        pos = first or 0
        written = 0
        crc: tuple[str, str] | None = None
        hasher: checksums.Hasher | None = None
        async with TransferSlots(self._slots, fut):
            stream = reader._stream(first, last, etag, self.config.io_chunksize)
            try:
                async for chunk in stream:
                    if not written and whole and self.config.verify and reader.props is not None:
                        crc = full_object_crc(reader.props)  # the answer is in: choose what to check
                        hasher = checksums.Hasher(crc[0]) if crc else None
                    os.pwrite(fd, chunk, pos + written)
                    written += len(chunk)
                    if hasher is not None:
                        hasher.update(chunk)
                    fut.add_progress(len(chunk))
                    if self.throttle is not None:
                        await self.throttle.consume(len(chunk))
            except BaseException:
                fut.add_progress(-written)
                raise
            finally:
                await stream.aclose()
        props = reader.props
        assert props is not None
        if whole and not written and self.config.verify:
            crc = full_object_crc(props)
            hasher = checksums.Hasher(crc[0]) if crc else None
        if last is not None and written != last - pos + 1:
            raise IntegrityError(f"GET {bucket}/{key}: got {written} bytes of {last - pos + 1}")
        if hasher is not None and crc is not None and hasher.b64() != crc[1]:
            raise IntegrityError(f"{crc[0]} mismatch: object says {crc[1]}, data gives {hasher.b64()}")
        return props

    async def _ranged(self, fut: AsyncTransferFuture, fd: int, bucket: str, key: str, version_id: str | None,
                      props: ObjectProps) -> None:
        os.ftruncate(fd, props.size)
        part = self.config.range_size_for(props.size)
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
