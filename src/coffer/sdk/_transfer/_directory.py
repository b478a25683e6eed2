"""Directory transfers: a tree of local files to a key prefix and back, as one aggregate future.

Files are walked and submitted lazily with a bounded window of outstanding transfers, so a tree of
a million files never holds a million futures. Keys from the server are untrusted when they become
local paths: :func:`local_path_for` refuses anything that would land outside the target directory
(``..`` segments, absolute paths, NUL bytes) rather than trusting the listing.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coffer.sdk._errors import TransferCancelled, TransferFailed
from coffer.sdk._transfer._future import TransferFuture


@dataclass
class DirectoryResult:
    """What a directory transfer did: files moved, their bytes, and the keys or paths skipped."""

    files: int = 0
    bytes: int = 0
    keys: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def key_for(prefix: str, rel_parts: Iterable[str]) -> str:
    """``photos`` + (``2024``, ``a.jpg``) -> ``photos/2024/a.jpg`` (S3 keys always use ``/``)."""
    rel = "/".join(rel_parts)
    if not prefix:
        return rel
    return prefix + rel if prefix.endswith("/") else f"{prefix}/{rel}"


def name_selected(rel: str, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> bool:
    """Whether the relative name ``rel`` passes the ``include``/``exclude`` globs (the CLI's rules).

    Globs are ``fnmatch`` patterns (``*`` crosses ``/``) matched against ``rel`` and its base name; a
    name matching an exclude is skipped unless it also matches an include; includes alone keep only
    what they match.
    """
    if not include and not exclude:
        return True
    base = rel.rstrip("/").rsplit("/", 1)[-1]

    def hit(patterns: tuple[str, ...]) -> bool:
        return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(base, p) for p in patterns)

    if exclude and hit(exclude):
        return bool(include) and hit(include)
    if include and not exclude:
        return hit(include)
    return True


def local_path_for(root: Path, rel_key: str) -> Path | None:
    """Where object ``rel_key`` (the key minus the prefix) goes under ``root``; None to skip it.

    Folder markers (keys ending in ``/``) and keys that would escape ``root`` are skipped.
    """
    if not rel_key or rel_key.endswith("/") or "\0" in rel_key:
        return None
    parts = [p for p in rel_key.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return root.joinpath(*parts)


def walk_files(local_dir: Path) -> Iterator[tuple[Path, tuple[str, ...], int]]:
    """(path, relative parts, size) for every regular file under ``local_dir``, sorted, no symlinked dirs.

    A folder's files come before its subfolders' (``os.walk``'s top-down order). One ``os.scandir``
    per folder and one stat per file (none for the file type where the folder entry tells it).
    """
    yield from _walk(local_dir, ())


def _walk(folder: Path, rel: tuple[str, ...]) -> Iterator[tuple[Path, tuple[str, ...], int]]:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return  # unreadable or vanished: skipped, as os.walk does
    subfolders = []
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                subfolders.append(entry.name)
                continue
            if not entry.is_file():  # follows a symlink to a file, as os.path.isfile
                continue
            size = entry.stat().st_size
        except OSError:
            continue
        yield folder / entry.name, (*rel, entry.name), size
    for name in subfolders:
        yield from _walk(folder / name, (*rel, name))


class DirectoryFuture(TransferFuture):
    """A future over many file transfers; pause, resume and cancel reach every one of them."""

    def __init__(self, kind: str, meta: dict[str, Any], subscribers: Iterable[Any] | None = None) -> None:
        super().__init__(kind, meta, subscribers)
        self.children: list[TransferFuture] = []
        self._children_lock = threading.Lock()

    def _live_children(self) -> list[TransferFuture]:
        with self._children_lock:
            return [c for c in self.children if not c.done()]

    def cancel(self) -> bool:
        ok = super().cancel()
        for c in self._live_children():
            c.cancel()
        return ok

    def pause(self) -> bool:
        ok = super().pause()
        for c in self._live_children():
            c.pause()
        return ok

    def resume(self) -> bool:
        ok = super().resume()
        for c in self._live_children():
            c.resume()
        return ok


class _Forward:
    """Relays a child's progress to the directory future."""

    def __init__(self, parent: DirectoryFuture) -> None:
        self.parent = parent

    def on_progress(self, future: TransferFuture, n: int) -> None:
        self.parent.add_progress(n)


def run_directory(
    parent: DirectoryFuture,
    items: Iterable[tuple[str, Callable[[list[Any]], TransferFuture]]],
    window: int,
    result: DirectoryResult,
) -> DirectoryResult:
    """Start each (name, start_fn) child under a window of ``window`` at a time; gather the outcome."""
    slots = threading.Semaphore(window)
    failures: dict[str, BaseException] = {}
    lock = threading.Lock()
    outstanding: list[TransferFuture] = []

    def finished(name: str, child: TransferFuture) -> None:
        exc = child.exception()
        with lock:
            if exc is None:
                result.files += 1
                result.bytes += child.total or 0
                result.keys.append(name)
            elif not isinstance(exc, TransferCancelled):
                failures[name] = exc
        slots.release()

    try:
        for name, start in items:
            while not slots.acquire(timeout=0.05):
                parent.checkpoint()
            try:
                parent.checkpoint()
            except TransferCancelled:
                slots.release()
                raise
            child = start([_Forward(parent)])
            with parent._children_lock:
                parent.children = [c for c in parent.children if not c.done()] + [child]
            if parent.paused():
                child.pause()
            outstanding.append(child)
            child.add_done_callback(functools.partial(finished, name))
            outstanding = [c for c in outstanding if not c.done()]
    finally:
        for child in outstanding:
            if parent.cancel_requested:
                child.cancel()
            child.exception()  # wait for it
    parent.checkpoint()
    if failures:
        first_name, first = next(iter(failures.items()))
        raise TransferFailed(f"{len(failures)} of {len(failures) + result.files} transfers failed; "
                             f"first {first_name}: {first}", failures)
    return result
