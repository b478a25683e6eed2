"""Parallel bulk transfers of local files: `bulk_put_files` and `bulk_get_files`.

Both run one bulk job to completion: ask which chunks are ready (sleeping as the server asks), move
every blob of those chunks on a thread pool, repeat until none is left. Blobs stream from and to
the files at their offsets (pread/pwrite-style, one descriptor per blob), so memory stays at a few
pieces per worker whatever the sizes. A job that fails part-way can be finished later with
``client.job(job_id)`` and the same functions' ``job=`` argument.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coffer.sdk._body import FilePayload
from coffer.sdk._bulk import Blob, BulkJob, bulk_get, bulk_put

if TYPE_CHECKING:
    from coffer.sdk._client import Client

PIECE = 1 << 20


def _local_files(paths_or_dir: str | os.PathLike | Iterable[str | os.PathLike], prefix: str) -> dict[str, Path]:
    if isinstance(paths_or_dir, str | os.PathLike) and Path(paths_or_dir).is_dir():
        root = Path(paths_or_dir)
        return {prefix + p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}
    items = [paths_or_dir] if isinstance(paths_or_dir, str | os.PathLike) else list(paths_or_dir)
    return {prefix + Path(p).name: Path(p) for p in items}


def _drive(job: BulkJob, move: Callable[[Blob], None], workers: int) -> BulkJob:
    sent: set[tuple[str, int]] = set()

    def owed(b: Blob) -> bool:  # not moved by this run, nor (PUT) already in the server's cache
        return (b.name, b.offset) not in sent and not (b.in_cache and job.request_type == "PUT")

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="coffer-bulk") as pool:
        while True:
            todo = [b for b in job.blobs() if owed(b)]
            if not todo and job.status().state != "IN_PROGRESS":
                return job
            chunks = job.chunks_ready(wait=True)
            if not chunks:
                if job.status().state != "IN_PROGRESS":
                    return job
                time.sleep(0.2)  # nothing ready and no Retry-After: do not spin on the server
                continue
            batch = [b for c in chunks for b in c.blobs if owed(b)]
            if not batch and not todo:
                return job.refresh()
            for f in [pool.submit(move, b) for b in batch]:
                f.result()  # the first failure propagates; the job stays resumable
            sent.update((b.name, b.offset) for b in batch)
            job.refresh()


def bulk_put_files(client: Client, bucket: str, paths_or_dir: Any, prefix: str = "", *, workers: int = 8,
                   job: BulkJob | None = None, blob_size: int | None = None, name: str | None = None) -> BulkJob:
    """Upload files (a directory, recursively, or a list of paths) as objects named ``prefix`` +
    relative path, in one bulk PUT job; returns the completed job."""
    files = _local_files(paths_or_dir, prefix)
    if job is None:
        job = bulk_put(client, bucket, [(k, p.stat().st_size) for k, p in files.items()], blob_size=blob_size,
                       name=name)

    def move(b: Blob) -> None:
        with open(files[b.name], "rb") as f:
            job.put_blob(b.name, b.offset, FilePayload(f, b.offset, b.length))

    return _drive(job, move, workers)


def bulk_get_files(client: Client, bucket: str, names_or_prefix: str | Iterable[str], dest_dir: str | os.PathLike, *,
                   workers: int = 8, job: BulkJob | None = None, strip_prefix: bool = False) -> BulkJob:
    """Download objects (named, or every key under a prefix) into ``dest_dir`` (key = relative path)."""
    dest = Path(dest_dir)
    if job is None:
        job = bulk_get(client, bucket, names_or_prefix)
    cut = len(names_or_prefix) if strip_prefix and isinstance(names_or_prefix, str) else 0
    root = dest.resolve()

    def target(key: str) -> Path:
        p = (dest / key[cut:]).resolve()
        if root not in p.parents:
            raise ValueError(f"object key {key!r} would land outside {dest}")
        return p

    sizes: dict[str, int] = {}
    for b in job.blobs():
        sizes[b.name] = max(sizes.get(b.name, 0), b.offset + b.length)
    for key, size in sizes.items():
        if key.endswith("/"):
            target(key).mkdir(parents=True, exist_ok=True)
            continue
        p = target(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as f:
            f.truncate(size)

    def move(b: Blob) -> None:
        if b.name.endswith("/"):
            return
        resp = job.get_blob_stream(b.name, b.offset)
        try:
            fd = os.open(target(b.name), os.O_WRONLY)
            try:
                pos = b.offset
                for piece in resp.iter_raw(PIECE):
                    os.pwrite(fd, piece, pos)
                    pos += len(piece)
                if pos != b.offset + b.length:
                    raise OSError(f"blob {b.name}@{b.offset}: got {pos - b.offset} of {b.length} bytes")
            finally:
                os.close(fd)
        finally:
            resp.release()

    return _drive(job, move, workers)
