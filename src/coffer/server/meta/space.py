"""Disk space for the metadata: a reserve that lets deletes commit on a full disk.

SQLite needs a little room to commit anything, a DELETE included (WAL frames). On a disk filled to
the last byte, a store that refuses every write could then not be emptied through its own API. So the
data folder keeps a reserve file (`DATA/meta/reserve`, a few MiB of real blocks); when a commit fails
with "database or disk is full", the reserve is released and the commit retried once, and the
service's space check (service/core.py) refuses new data until free space is back above the margin,
when the reserve is made again.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger("coffer.server.space")
RESERVE_NAME = "reserve"


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno in (28, 122)  # ENOSPC, EDQUOT


def make_reserve(folder: Path, size: int) -> bool:
    """Create (or complete) the reserve file with real blocks; False when there is no room for it."""
    path = folder / RESERVE_NAME
    if size <= 0:
        return True
    try:
        if path.exists() and path.stat().st_size >= size:
            return True
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, size)
            os.fsync(fd)
        finally:
            os.close(fd)
        return True
    except OSError:
        path.unlink(missing_ok=True)
        return False


def release_reserve(folder: Path) -> bool:
    """Free the reserve (a full disk); True when there was one to free."""
    path = folder / RESERVE_NAME
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return False
    log.warning("disk full: released the %d-byte metadata reserve so deletes can commit; writes are refused "
                "until space is freed", size)
    return True
