"""Listing pages (ListObjects and ListMultipartUploads) over the SQLite metadata tables.

Owns the roll-up scan that turns a key range into a page of entries, following the model in
`MetaStore.list_objects` exactly:

    take every key starting with `prefix`; with a delimiter, a key having the delimiter after the
    prefix becomes key[:end of the first delimiter after prefix]; de-duplicate; keep the entries
    greater than the marker (UTF-8 bytes); return the first `limit`, truncated if more exist.

without materialising that model: keys are read in byte order in `key > ? LIMIT n` batches, and
when a key rolls up into a common prefix, the prefix is emitted once and the scan seeks to the
prefix's byte successor instead of reading the (possibly millions of) keys under it. A common
prefix that is not greater than the marker is skipped the same way. The prefix bounds the scan as
`key >= prefix AND key < successor(prefix)`. So a page costs O(limit) seeks/rows, whatever the
bucket size or the depth of the page.

Functions here take a connection already inside a read transaction (one snapshot per page).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from coffer.server.meta.model import CommonPrefix, ListPage, UploadPage
from coffer.server.meta.sqlite.rows import OBJECT_ENTRY_SELECT, UPLOAD_SELECT, enc, entry_from_row, upload_from_row

# A scan position: ("ge", key) / ("gt", key) at key level, or ("row", key, initiated, upload_id)
# just after one upload (uploads of one key are ordered by (initiated, upload_id)): where a
# list_uploads page continues from an upload-id-marker.
Pos = tuple


def successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with `prefix` (None: no bound).

    Trailing 0xFF bytes cannot be incremented, so they are dropped first (valid UTF-8 never holds
    0xFF, but the function is exact for any bytes).
    """
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def scan_rollup(
    fetch: Callable[[Pos, int], sqlite3.Cursor],
    start: Pos,
    *,
    prefix: bytes,
    delimiter: bytes | None,
    upper: bytes | None,
    floor: bytes | None,
    limit: int,
    make_entry: Callable[[tuple], Any],
    entries: list,
) -> bool:
    """Append entries from `start` on until `limit` entries are held; returns `truncated`.

    Every row yielded by fetch has the key bytes first and lies at or after `start`, in order.
    `floor` is the marker: rows are already past it, but a common prefix may still be <= it.
    A batch asks for one row more than there is room for: reaching that row proves the listing
    is truncated, and a short batch proves the range is exhausted, so the only reason to query
    again is a seek past a common prefix.
    """
    pos = start
    while True:
        cur = fetch(pos, limit - len(entries) + 1)
        try:
            for row in cur:
                key: bytes = row[0]
                at = -1 if delimiter is None else key.find(delimiter, len(prefix))
                if at < 0:
                    if len(entries) >= limit:
                        return True
                    entries.append(make_entry(row))
                    continue
                common = key[: at + len(delimiter or b"")]
                if floor is None or common > floor:
                    if len(entries) >= limit:
                        return True
                    entries.append(CommonPrefix(common.decode("utf-8")))
                nxt = successor(common)
                if nxt is None or (upper is not None and nxt >= upper):
                    return False
                pos = ("ge", nxt)
                break
            else:
                return False
        finally:
            cur.close()


def _bounds(prefix: str, delimiter: str | None) -> tuple[bytes, bytes | None, bytes | None]:
    pb = enc(prefix)
    return pb, (enc(delimiter) if delimiter else None), (successor(pb) if pb else None)


def list_objects(
    conn: sqlite3.Connection, bucket: str, prefix: str, delimiter: str | None, after: str | None,
    limit: int,
) -> ListPage:
    """A page of `bucket`'s listing (entries carry every field except `inline`, which stays None)."""
    if limit <= 0:
        return ListPage(entries=[], truncated=False, next_marker=None)
    pb, db, upper = _bounds(prefix, delimiter)
    ab = enc(after) if after else None
    start: Pos = ("gt", ab) if ab is not None and ab >= pb else ("ge", pb)
    bound = " AND key < ?" if upper is not None else ""

    def fetch(pos: Pos, n: int) -> sqlite3.Cursor:
        op = ">=" if pos[0] == "ge" else ">"
        sql = (
            f"SELECT {OBJECT_ENTRY_SELECT} FROM objects WHERE bucket = ? AND key {op} ?{bound} "
            "ORDER BY key LIMIT ?"
        )
        params = (bucket, pos[1], upper, n) if upper is not None else (bucket, pos[1], n)
        return conn.execute(sql, params)

    entries: list = []
    truncated = scan_rollup(
        fetch, start, prefix=pb, delimiter=db, upper=upper, floor=ab, limit=limit,
        make_entry=entry_from_row,
        entries=entries,
    )
    marker = None
    if truncated:
        last = entries[-1]
        marker = last.prefix if isinstance(last, CommonPrefix) else last.key
    return ListPage(entries=entries, truncated=truncated, next_marker=marker)


def list_uploads(
    conn: sqlite3.Connection, bucket: str, prefix: str, delimiter: str | None,
    key_marker: str | None, upload_id_marker: str | None, limit: int,
) -> UploadPage:
    """A page of ListMultipartUploads, ordered by (key bytes, initiated, upload_id).

    Marker semantics (S3 ListMultipartUploads): with key_marker alone, uploads of keys greater
    than key_marker; with upload_id_marker too, also the uploads of key == key_marker that come
    after that upload. The upload-id-marker names a position in our (initiated, upload_id) order,
    so it is located first; if that upload is gone, S3's documented rule applies instead: the
    key's uploads whose id is greater than the marker. upload_id_marker without key_marker is
    ignored, as S3 does. A common prefix is kept only if it is greater than key_marker.
    """
    empty = UploadPage(uploads=[], prefixes=[], truncated=False, next_key_marker=None,
                       next_upload_id_marker=None)
    if limit <= 0:
        return empty
    pb, db, upper = _bounds(prefix, delimiter)
    km = enc(key_marker) if key_marker else None
    entries: list = []
    start: Pos = ("ge", pb)
    truncated = False
    if km is not None and km >= pb:
        start = ("gt", km)
        rolls_up = db is not None and km.find(db, len(pb)) >= 0
        if upload_id_marker and km.startswith(pb) and not rolls_up:
            found = conn.execute(
                "SELECT initiated FROM uploads WHERE upload_id = ? AND bucket = ? AND key = ?",
                (upload_id_marker, bucket, km),
            ).fetchone()
            if found is not None:
                start = ("row", km, found[0], upload_id_marker)
            else:
                rest = conn.execute(
                    f"SELECT {UPLOAD_SELECT} FROM uploads WHERE bucket = ? AND key = ? AND upload_id > ? "
                    "ORDER BY initiated, upload_id",
                    (bucket, km, upload_id_marker),
                ).fetchall()
                for row in rest:
                    if len(entries) >= limit:
                        truncated = True
                        break
                    entries.append(upload_from_row(bucket, row))
    bound = " AND key < ?" if upper is not None else ""

    def fetch(pos: Pos, n: int) -> sqlite3.Cursor:
        if pos[0] == "row":
            where, args = "(key, initiated, upload_id) > (?, ?, ?)", pos[1:]
        else:
            where, args = ("key >= ?" if pos[0] == "ge" else "key > ?"), pos[1:]
        sql = (
            f"SELECT {UPLOAD_SELECT} FROM uploads WHERE bucket = ? AND {where}{bound} "
            "ORDER BY key, initiated, upload_id LIMIT ?"
        )
        tail = (upper, n) if upper is not None else (n,)
        return conn.execute(sql, (bucket, *args, *tail))

    if not truncated:
        truncated = scan_rollup(
            fetch, start, prefix=pb, delimiter=db, upper=upper, floor=km, limit=limit,
            make_entry=lambda row: upload_from_row(bucket, row),
            entries=entries,
        )
    page = UploadPage(
        uploads=[e for e in entries if not isinstance(e, CommonPrefix)],
        prefixes=[e.prefix for e in entries if isinstance(e, CommonPrefix)],
        truncated=truncated, next_key_marker=None, next_upload_id_marker=None,
    )
    if truncated:
        last = entries[-1]
        if isinstance(last, CommonPrefix):
            page.next_key_marker = last.prefix
        else:
            page.next_key_marker, page.next_upload_id_marker = last.key, last.upload_id
    return page
