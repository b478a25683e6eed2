"""The TransferManager: the public face of parallel uploads, downloads, copies and directory moves.

Each call returns a :class:`TransferFuture` at once and runs on the manager's pools. One manager
shares its request slots and bandwidth limit across everything it runs, so ten concurrent uploads
with ``max_concurrency=10`` still make at most ten requests at a time. Used as a context manager it
waits for every transfer on exit (and cancels them all if the block raised).
"""

from __future__ import annotations

import mimetypes
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from coffer.sdk._config import TransferConfig
from coffer.sdk._transfer._directory import (
    DirectoryFuture,
    DirectoryResult,
    key_for,
    local_path_for,
    name_selected,
    run_directory,
    walk_files,
)
from coffer.sdk._transfer._download import DownloadJob
from coffer.sdk._transfer._future import Scheduler, TransferFuture
from coffer.sdk._transfer._upload import CopyJob, UploadJob
from coffer.sdk._types import ObjectInfo
from coffer.sdk._writer import write_headers

if TYPE_CHECKING:
    from coffer.sdk._bucket import Bucket
    from coffer.sdk._client import Client

FutureT = TypeVar("FutureT", bound=TransferFuture)


def _name(bucket: Any) -> str:
    return bucket if isinstance(bucket, str) else bucket.name


class TransferManager:
    """Runs transfers in parallel with bounded memory; see docs/transfer.md."""

    def __init__(self, client: Client, config: TransferConfig | None = None) -> None:
        self.client = client
        self.config = config or TransferConfig()
        self._sched = Scheduler(self.config.max_concurrency, self.config.max_bandwidth)
        self._futures: set[TransferFuture] = set()  # not finished yet; each leaves when done
        self._lock = threading.Lock()
        self._closed = False

    # --- single objects -----------------------------------------------------------------------------

    def upload(
        self,
        path_or_fileobj: str | os.PathLike[str] | BinaryIO,
        bucket: str | Bucket,
        key: str,
        subscribers: Iterable[Any] | None = None,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> TransferFuture:
        """Upload a local file (path) or a binary file object to ``bucket/key``."""
        if content_type is None and isinstance(path_or_fileobj, str | os.PathLike):
            content_type = mimetypes.guess_type(os.fspath(path_or_fileobj))[0]
        headers = write_headers(content_type, metadata, extra_headers)
        fut = TransferFuture("upload", {"bucket": _name(bucket), "key": key,
                                        "source": _describe(path_or_fileobj)}, subscribers)
        job = UploadJob(self.client._transport, self._sched, self.config, fut, path_or_fileobj,
                        _name(bucket), key, headers)
        return self._start(fut, job.run, job.cleanup)

    def download(
        self,
        bucket: str | Bucket,
        key: str,
        path: str | os.PathLike[str],
        subscribers: Iterable[Any] | None = None,
        *,
        version_id: str | None = None,
        size_hint: int | None = None,
    ) -> TransferFuture:
        """Download ``bucket/key`` to ``path`` (written to a temporary file, renamed when verified).

        ``size_hint`` (the size a listing reported) lets small objects skip the HEAD request.
        """
        obj = self.client.bucket(_name(bucket)).object(key)
        fut = TransferFuture("download", {"bucket": _name(bucket), "key": key, "path": os.fspath(path)},
                             subscribers)
        job = DownloadJob(obj, self._sched, self.config, fut, path, version_id, size_hint)
        return self._start(fut, job.run, None)

    def copy(
        self,
        src_bucket: str | Bucket,
        src_key: str,
        bucket: str | Bucket,
        key: str,
        subscribers: Iterable[Any] | None = None,
        *,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
        version_id: str | None = None,
    ) -> TransferFuture:
        """Server-side copy of the source (its version ``version_id``, else the current one);
        ``metadata`` given replaces the source's (REPLACE), else it is kept."""
        src = self.client.bucket(_name(src_bucket)).object(src_key)
        fut = TransferFuture("copy", {"bucket": _name(bucket), "key": key, "src_bucket": _name(src_bucket),
                                      "src_key": src_key, "version_id": version_id}, subscribers)
        job = CopyJob(src, self._sched, self.config, fut, _name(bucket), key, metadata, content_type, version_id)
        return self._start(fut, job.run, job.cleanup)

    # --- directories --------------------------------------------------------------------------------

    def upload_directory(
        self, local_dir: str | os.PathLike[str], bucket: str | Bucket, prefix: str = "",
        subscribers: Iterable[Any] | None = None, *, include: Iterable[str] = (), exclude: Iterable[str] = (),
    ) -> DirectoryFuture:
        """Upload every file under ``local_dir`` to ``prefix/<relative path>``.

        ``include``/``exclude`` are globs on the relative path (or base name); see ``name_selected``.
        """
        inc, exc = tuple(include), tuple(exclude)
        root = Path(local_dir)
        if not root.is_dir():
            raise NotADirectoryError(f"not a directory: {root}")
        fut = DirectoryFuture("upload_directory", {"bucket": _name(bucket), "prefix": prefix,
                                                   "path": os.fspath(root)}, subscribers)

        def items() -> Iterator[tuple[str, Any]]:
            for path, rel, _size in walk_files(root):
                if not name_selected("/".join(rel), inc, exc):
                    continue
                key = key_for(prefix, rel)
                yield key, lambda subs, p=path, k=key: self.upload(p, bucket, k, subs)

        def run() -> DirectoryResult:
            fut.total = sum(size for _p, rel, size in walk_files(root) if name_selected("/".join(rel), inc, exc))
            return run_directory(fut, items(), self._window(), DirectoryResult())

        return self._start_thread(fut, run)

    def download_directory(
        self, bucket: str | Bucket, prefix: str, local_dir: str | os.PathLike[str],
        subscribers: Iterable[Any] | None = None, *, include: Iterable[str] = (), exclude: Iterable[str] = (),
    ) -> DirectoryFuture:
        """Download every object under ``prefix`` into ``local_dir`` (keys that would escape it are skipped).

        ``include``/``exclude`` are globs on the key minus the prefix (or its base name).
        """
        inc, exc = tuple(include), tuple(exclude)
        root = Path(local_dir)
        fut = DirectoryFuture("download_directory", {"bucket": _name(bucket), "prefix": prefix,
                                                     "path": os.fspath(root)}, subscribers)
        result = DirectoryResult()
        listing_prefix = prefix

        def items() -> Iterator[tuple[str, Any]]:
            total = 0
            for entry in self.client.bucket(_name(bucket)).list_objects(listing_prefix):
                assert isinstance(entry, ObjectInfo)  # no delimiter: no common prefixes
                rel = entry.key[len(listing_prefix):]
                if not name_selected(rel, inc, exc):
                    continue
                target = local_path_for(root, rel)
                if target is None:
                    result.skipped.append(entry.key)
                    continue
                total += entry.size
                yield entry.key, lambda subs, k=entry.key, p=target, n=entry.size: self.download(
                    bucket, k, p, subs, size_hint=n)
            fut.total = total

        def run() -> DirectoryResult:
            root.mkdir(parents=True, exist_ok=True)
            return run_directory(fut, items(), self._window(), result)

        return self._start_thread(fut, run)

    # --- plumbing -----------------------------------------------------------------------------------

    def _window(self) -> int:
        return max(64, 8 * self.config.max_concurrency)

    def _track(self, fut: TransferFuture) -> None:
        if self._closed:
            raise RuntimeError("this transfer manager is shut down")
        # A set and a done-callback, not a list filtered on every call: `cp -r` of 10,000 files
        # would otherwise scan the list 10,000 times (quadratic, seconds of CPU).
        with self._lock:
            self._futures.add(fut)
        fut.add_done_callback(self._untrack)

    def _untrack(self, fut: TransferFuture) -> None:
        with self._lock:
            self._futures.discard(fut)

    def _start(self, fut: TransferFuture, run: Any, cleanup: Any) -> TransferFuture:
        self._track(fut)

        def body() -> None:
            fut.set_running()
            try:
                value = run()
            except BaseException as exc:
                if cleanup is not None:
                    try:
                        cleanup(exc)
                    except Exception:
                        pass
                fut.set_exception(exc)
            else:
                fut.set_result(value)

        self._sched.coordinators.submit(body)
        return fut

    def _start_thread(self, fut: FutureT, run: Callable[[], Any]) -> FutureT:
        # Directory coordinators wait on children that need the coordinator pool; giving them their
        # own thread means they can never occupy every pool thread and deadlock.
        self._track(fut)

        def body() -> None:
            fut.set_running()
            try:
                fut.set_result(run())
            except BaseException as exc:
                fut.set_exception(exc)

        threading.Thread(target=body, name="coffer-dir", daemon=True).start()
        return fut

    def wait(self) -> None:
        """Wait until every transfer started so far has finished (errors stay in their futures)."""
        while True:
            with self._lock:
                pending = [f for f in self._futures if not f.done()]
            if not pending:
                return
            for f in pending:
                f.exception()

    def shutdown(self, cancel: bool = False) -> None:
        """Finish (or with ``cancel``, cancel) every transfer and stop the worker threads."""
        if cancel:
            with self._lock:
                for f in list(self._futures):
                    f.cancel()
        self.wait()
        self._closed = True
        self._sched.shutdown(wait=True)

    def __enter__(self) -> TransferManager:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.shutdown(cancel=exc_type is not None)


def _describe(src: Any) -> str:
    if isinstance(src, str | os.PathLike):
        return os.fspath(src)
    return getattr(src, "name", None) or type(src).__name__
