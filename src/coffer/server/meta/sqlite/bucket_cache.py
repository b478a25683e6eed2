"""Bucket rows cached per process, checked on every use against a change stamp shared by all processes.

Every request reads its bucket's row (the access gate: owner, ACL, policy, versioning, Object Lock,
quota). On a busy store that point lookup was the costliest step of a small PUT's event-loop time:
the read is cheap, but it releases and retakes the GIL while the writer thread runs. The row changes
rarely, so each process keeps the rows it read, together with the stamp it saw before reading.

The stamp is 8 bytes in a file beside the database (`<db>-buckets`), mapped into memory by every
process that opens the store (server workers, the collector, `coffer` admin commands). Whoever changes
a bucket row writes a fresh random stamp *after* its transaction committed and before it answers; a
reader compares the stamp (a memory read) with the one saved beside the row. So a request that
starts after a change was acknowledged always reads the new row, in any process.

A process killed between its commit and its stamp leaves other processes' rows unstamped: each row
is also read again once it is `TTL_SECONDS` old, which bounds that window. A database without a
file (":memory:") or a stamp file that cannot be mapped turns the cache off: every call reads.
"""

from __future__ import annotations

import mmap
import os
import time
from pathlib import Path

TTL_SECONDS = 1.0
_STAMP = 8


class BucketRowCache:
    def __init__(self, db_path: Path) -> None:
        self._path = db_path
        self._rows: dict[str, tuple[bytes, float, tuple]] = {}
        self._map: mmap.mmap | None = None

    def attach(self) -> None:
        """Map the stamp file (once the database's folder exists: when the store opens)."""
        if self._map is not None or str(self._path) in ("", ":memory:") or str(self._path).startswith("file:"):
            return
        try:
            fd = os.open(f"{self._path}-buckets", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return
        try:
            if os.fstat(fd).st_size < _STAMP:
                os.ftruncate(fd, _STAMP)
            self._map = mmap.mmap(fd, _STAMP)
        except (OSError, ValueError):
            self._map = None
        finally:
            os.close(fd)

    def stamp(self) -> bytes | None:
        """The current stamp: read it before the row it will be saved with."""
        return None if self._map is None else self._map[:_STAMP]

    def get(self, name: str, stamp: bytes | None) -> tuple | None:
        """The cached row of bucket `name`, if it was read under `stamp` and is young enough."""
        hit = self._rows.get(name)
        if hit is None or stamp is None or hit[0] != stamp or time.monotonic() - hit[1] > TTL_SECONDS:
            return None
        return hit[2]

    def put(self, name: str, row: tuple, stamp: bytes | None) -> None:
        if stamp is None:
            return
        if len(self._rows) > 4096:  # many buckets: start over rather than grow without bound
            self._rows.clear()
        self._rows[name] = (stamp, time.monotonic(), row)

    def changed(self) -> None:
        """A bucket row changed (or may have): after its commit, before the caller answers."""
        self._rows.clear()
        if self._map is not None:
            self._map[:_STAMP] = os.urandom(_STAMP)

