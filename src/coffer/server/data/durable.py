"""Durability helpers shared by every store and key file: making a rename or a new file survive a crash."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def fsync_dir(path: Path | str) -> None:
    """fsync a directory, so the names created or renamed in it are durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def flock(path: Path, blocking: bool = True) -> Iterator[bool]:
    """An exclusive flock on PATH (created if missing) while the block runs; yields False instead of
    waiting when ``blocking`` is off and another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def write_json(path: Path, value: object) -> None:
    """Replace PATH by a JSON document through a rename (readers see the old one or the new one)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value))
    os.rename(tmp, path)
