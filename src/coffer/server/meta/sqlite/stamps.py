"""Change stamps shared by every process that opens the database, and the bucket rows cached behind one.

Every request reads its bucket's row (the access gate: owner, ACL, policy, versioning, Object Lock,
quota) and, when signed, its access key and user. On a busy store the bucket lookup was the costliest
step of a small PUT's event-loop time (cheap itself, but it gives the GIL to the writer thread and waits
to get it back), and the credential caches of each worker could only expire by time, since SQLite has
no NOTIFY to tell a worker that another one changed a user.

`SharedStamps` are 8-byte slots in a file beside the database (`<db>-stamps`), mapped into memory by
every process that opens the store (server workers, the garbage collector, `coffer` admin commands).
Whoever changes a bucket row, a user or an access key writes a fresh random stamp into its slot *after*
its transaction committed and before it answers. A cache saves, beside what it read, the stamp it saw
*before* reading; an entry whose stamp differs from the current one (a memory read) is read again. So
a request that starts after a change was acknowledged never gets the old value, in any process.

A process killed between its commit and its stamp leaves the others' entries unstamped: entries also
expire by age (`TTL_SECONDS` for bucket rows, the credential cache TTL for users and keys), which bounds
that window. A database without a file (":memory:") or a stamp file that cannot be mapped gives no
stamps (None): caches then rely on their age alone, as before.
"""

from __future__ import annotations

import mmap
import os
import time
from pathlib import Path

TTL_SECONDS = 1.0
BUCKETS, PRINCIPALS = 0, 8  # the slots: bucket rows; users and access keys
_SIZE = 16


class SharedStamps:
    def __init__(self, db_path: Path) -> None:
        self._path = db_path
        self._map: mmap.mmap | None = None

    def attach(self) -> None:
        """Map the stamp file (once the database's folder exists: when the store opens)."""
        if self._map is not None or str(self._path) in ("", ":memory:") or str(self._path).startswith("file:"):
            return
        try:
            fd = os.open(f"{self._path}-stamps", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return
        try:
            if os.fstat(fd).st_size < _SIZE:
                os.ftruncate(fd, _SIZE)
            self._map = mmap.mmap(fd, _SIZE)
        except (OSError, ValueError):
            self._map = None
        finally:
            os.close(fd)

    def read(self, slot: int) -> bytes | None:
        return None if self._map is None else self._map[slot:slot + 8]

    def renew(self, slot: int) -> None:
        """Something of `slot`'s kind changed: after its commit, before the caller answers."""
        if self._map is not None:
            self._map[slot:slot + 8] = os.urandom(8)


class BucketRowCache:
    """Bucket rows (raw tuples: each caller decodes its own Bucket) read under the BUCKETS stamp."""

    def __init__(self, stamps: SharedStamps) -> None:
        self._stamps = stamps
        self._rows: dict[str, tuple[bytes, float, tuple]] = {}

    def stamp(self) -> bytes | None:
        """The current stamp: read it before the row it will be saved with."""
        return self._stamps.read(BUCKETS)

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
        self._stamps.renew(BUCKETS)
