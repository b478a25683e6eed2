"""Object versions in the SQLite backend: noncurrent versions, delete markers, version listings.

Owns the queries on the `versions` table (its DDL, built from the column list it shares with
`objects`, is in schema.py) and every operation that moves a row between it and `objects`.

Layout (the why): `objects` stays the table of *current* versions, exactly as for an unversioned
bucket, so ListObjects, GET and HEAD of unversioned and versioned buckets cost what they cost before
versioning existed. `versions` holds everything else: noncurrent versions and all delete markers,
keyed (bucket, key BLOB, seq) where `seq` grows per key (newest = highest). Invariant:

    an `objects` row exists for a key  <=>  the key's newest version is not a delete marker,
    and then that row *is* the newest version (newer than every `versions` row of the key).

So an overwrite moves the current row to `versions` (its data refs move with it: no ref-count
change), a delete without a version id moves it and adds a marker, and removing the newest version
promotes the next one back into `objects` unless that one is a marker. The null version (suspended
or never-versioned writes) has version_id NULL in either table; the API spells it "null".

Every function runs inside the writer's transaction (see ops.py); a `guard` raising refuses the
destruction of a version (WORM) and rolls the whole operation back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from coffer.server.meta.interface import Guard, NoSuchBucket
from coffer.server.meta.model import CommonPrefix, ObjectRecord, VersionEntry, VersionPage
from coffer.server.meta.sqlite.listing import successor
from coffer.server.meta.sqlite.rows import (
    OBJECT_COLUMNS,
    OBJECT_PLACEHOLDERS,
    OBJECT_SELECT,
    OBJECT_SELECT_NO_INLINE,
    VERSION_COLUMNS_LIST,
    VERSION_SELECT,
    VERSION_SELECT_NO_INLINE,
    decref,
    enc,
    object_from_row,
    segment_refs,
)

PropsFn = Callable[[ObjectRecord], dict]  # given the version, returns its new props



def _vid(version_id: str | None) -> str | None:
    return None if version_id in (None, "null") else version_id


def _record(bucket: str, row: tuple) -> tuple[ObjectRecord, float]:
    """A record from a VERSION_SELECT row, and its noncurrent_since."""
    rec = object_from_row(bucket, row[3:])
    rec.delete_marker = bool(row[1])
    return rec, row[2]


def _next_seq(conn: sqlite3.Connection, bucket: str, kb: bytes) -> int:
    row = conn.execute("SELECT max(seq) FROM versions WHERE bucket = ? AND key = ?", (bucket, kb)).fetchone()
    return (row[0] or 0) + 1


def _retire_marker(conn: sqlite3.Connection, bucket: str, kb: bytes, now: float) -> None:
    """A newer version is being added: a delete marker that was the latest becomes noncurrent now."""
    conn.execute(
        "UPDATE versions SET noncurrent_since = ? WHERE bucket = ? AND key = ? AND marker = 1 "
        "AND noncurrent_since = 0 AND seq = (SELECT max(seq) FROM versions WHERE bucket = ? AND key = ?)",
        (now, bucket, kb, bucket, kb),
    )


def _move_current(conn: sqlite3.Connection, bucket: str, kb: bytes, now: float) -> None:
    """The current version (if any) becomes the newest noncurrent one; its refs move with it."""
    seq = _next_seq(conn, bucket, kb)
    moved = conn.execute(
        f"INSERT INTO versions ({VERSION_COLUMNS_LIST}) "
        f"SELECT ?, 0, ?, {OBJECT_COLUMNS} FROM objects WHERE bucket = ? AND key = ?",
        (seq, now, bucket, kb),
    ).rowcount
    if moved:
        conn.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, kb))


def _guarded(guard: Guard | None, props_json: str) -> None:
    if guard is not None and props_json != "{}":
        guard(json.loads(props_json))


def _drop_null(conn: sqlite3.Connection, bucket: str, kb: bytes, guard: Guard | None) -> list[str]:
    """Remove the key's null version, wherever it is (suspended writes replace it)."""
    freed: list[str] = []
    row = conn.execute(
        "SELECT segments, props FROM objects WHERE bucket = ? AND key = ? AND version_id IS NULL", (bucket, kb)
    ).fetchone()
    if row is not None:
        _guarded(guard, row[1])
        conn.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, kb))
        freed += decref(conn, segment_refs(row[0]))
    rows = conn.execute(
        "SELECT seq, segments, props FROM versions WHERE bucket = ? AND key = ? AND version_id IS NULL",
        (bucket, kb),
    ).fetchall()
    for seq, segments, props in rows:
        _guarded(guard, props)
        conn.execute("DELETE FROM versions WHERE bucket = ? AND key = ? AND seq = ?", (bucket, kb, seq))
        freed += decref(conn, segment_refs(segments))
    return freed


def _promote(conn: sqlite3.Connection, bucket: str, kb: bytes) -> None:
    """Restore the invariant after a removal: the newest version, unless a marker, is current."""
    if conn.execute("SELECT 1 FROM objects WHERE bucket = ? AND key = ?", (bucket, kb)).fetchone():
        return
    row = conn.execute(
        "SELECT seq, marker FROM versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1", (bucket, kb)
    ).fetchone()
    if row is None:
        return
    if row[1]:
        conn.execute("UPDATE versions SET noncurrent_since = 0 WHERE bucket = ? AND key = ? AND seq = ?",
                     (bucket, kb, row[0]))
        return
    conn.execute(
        f"INSERT INTO objects ({OBJECT_COLUMNS}) SELECT {OBJECT_COLUMNS} FROM versions "
        "WHERE bucket = ? AND key = ? AND seq = ?",
        (bucket, kb, row[0]),
    )
    conn.execute("DELETE FROM versions WHERE bucket = ? AND key = ? AND seq = ?", (bucket, kb, row[0]))


def make_room(
    conn: sqlite3.Connection, bucket: str, kb: bytes, versioning: str, guard: Guard | None, now: float
) -> list[str]:
    """Before a new current version is written in a versioned bucket: Suspended replaces the null
    version; the current version (if still there) becomes noncurrent. Returns freed refs."""
    freed = _drop_null(conn, bucket, kb, guard) if versioning == "Suspended" else []
    _retire_marker(conn, bucket, kb, now)
    _move_current(conn, bucket, kb, now)
    return freed


def add_marker(
    conn: sqlite3.Connection, marker: ObjectRecord, versioning: str, guard: Guard | None
) -> list[str]:
    """DeleteObject without a version id in a versioned bucket: the current version becomes
    noncurrent (Suspended: the null version is removed) and a delete marker becomes the latest."""
    kb = enc(marker.key)
    if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (marker.bucket,)).fetchone() is None:
        raise NoSuchBucket(marker.bucket)
    freed = make_room(conn, marker.bucket, kb, versioning, guard, marker.last_modified)
    conn.execute(
        f"INSERT INTO versions ({VERSION_COLUMNS_LIST}) "
        f"VALUES (?, 1, 0, {OBJECT_PLACEHOLDERS})",
        (_next_seq(conn, marker.bucket, kb), *_marker_values(marker)),
    )
    return freed


def _marker_values(m: ObjectRecord) -> tuple:
    return (m.bucket, enc(m.key), 0, "", m.last_modified, m.owner, None, "{}", "{}", "{}", None, "STANDARD",
            _vid(m.version_id), "[]", None, "{}", None)


def delete_version(
    conn: sqlite3.Connection, bucket: str, key: str, version_id: str, guard: Guard | None
) -> tuple[ObjectRecord | None, list[str]]:
    """Permanently remove one version (or delete marker); returns (removed, freed refs)."""
    kb, vid = enc(key), _vid(version_id)
    row = conn.execute(
        f"SELECT {OBJECT_SELECT} FROM objects WHERE bucket = ? AND key = ? AND version_id IS ?", (bucket, kb, vid)
    ).fetchone()
    if row is not None:
        rec = object_from_row(bucket, row)
        if guard is not None:
            guard(rec.props)
        conn.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, kb))
    else:
        row = conn.execute(
            f"SELECT {VERSION_SELECT} FROM versions WHERE bucket = ? AND key = ? AND version_id IS ? LIMIT 1",
            (bucket, kb, vid),
        ).fetchone()
        if row is None:
            return None, []
        rec, _ = _record(bucket, row)
        if guard is not None and not rec.delete_marker:
            guard(rec.props)
        conn.execute("DELETE FROM versions WHERE bucket = ? AND key = ? AND seq = ?", (bucket, kb, row[0]))
    freed = decref(conn, (s.ref for s in rec.segments))
    _promote(conn, bucket, kb)
    return rec, freed


def get_version(conn: sqlite3.Connection, bucket: str, key: str, version_id: str) -> ObjectRecord | None:
    kb, vid = enc(key), _vid(version_id)
    row = conn.execute(
        f"SELECT {OBJECT_SELECT} FROM objects WHERE bucket = ? AND key = ? AND version_id IS ?", (bucket, kb, vid)
    ).fetchone()
    if row is not None:
        return object_from_row(bucket, row)
    row = conn.execute(
        f"SELECT {VERSION_SELECT} FROM versions WHERE bucket = ? AND key = ? AND version_id IS ? LIMIT 1",
        (bucket, kb, vid),
    ).fetchone()
    return None if row is None else _record(bucket, row)[0]


def latest_marker(conn: sqlite3.Connection, bucket: str, key: str) -> ObjectRecord | None:
    """The delete marker that is the key's latest version, if it is one (the 404 path only)."""
    kb = enc(key)
    row = conn.execute(
        f"SELECT {VERSION_SELECT} FROM versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1", (bucket, kb)
    ).fetchone()
    if row is None or not row[1]:
        return None
    if conn.execute("SELECT 1 FROM objects WHERE bucket = ? AND key = ?", (bucket, kb)).fetchone():
        return None
    return _record(bucket, row)[0]


def modify_props(
    conn: sqlite3.Connection, bucket: str, key: str, version_id: str | None, fn: PropsFn
) -> ObjectRecord | None:
    """Read-modify-write of one version's props in the transaction (None: the current version).
    Returns the updated record, or None if there is no such version (delete markers have none)."""
    kb = enc(key)
    if version_id is None:
        row = conn.execute(f"SELECT {OBJECT_SELECT} FROM objects WHERE bucket = ? AND key = ?", (bucket, kb)).fetchone()
        table, where, args = "objects", "bucket = ? AND key = ?", (bucket, kb)
        rec = None if row is None else object_from_row(bucket, row)
    else:
        vid = _vid(version_id)
        where, args = "bucket = ? AND key = ? AND version_id IS ?", (bucket, kb, vid)
        row = conn.execute(f"SELECT {OBJECT_SELECT} FROM objects WHERE {where}", args).fetchone()
        if row is not None:
            table, rec = "objects", object_from_row(bucket, row)
        else:
            row = conn.execute(f"SELECT {VERSION_SELECT} FROM versions WHERE {where} LIMIT 1", args).fetchone()
            if row is None:
                return None
            table, rec = "versions", _record(bucket, row)[0]
            if rec.delete_marker:
                return None
    if rec is None:
        return None
    rec.props = fn(rec)
    conn.execute(f"UPDATE {table} SET props = ? WHERE {where}", (json.dumps(rec.props, separators=(",", ":")), *args))
    return rec


def has_versions(conn: sqlite3.Connection, bucket: str) -> bool:
    return conn.execute("SELECT 1 FROM versions WHERE bucket = ? LIMIT 1", (bucket,)).fetchone() is not None


# -- listing -------------------------------------------------------------------------------------


def _key_versions(conn: sqlite3.Connection, bucket: str, kb: bytes) -> list[VersionEntry]:
    out: list[VersionEntry] = []
    row = conn.execute(
        f"SELECT {OBJECT_SELECT_NO_INLINE} FROM objects WHERE bucket = ? AND key = ?", (bucket, kb)
    ).fetchone()
    if row is not None:
        out.append(VersionEntry(object_from_row(bucket, row), True, None))
    for vrow in conn.execute(
        f"SELECT {VERSION_SELECT_NO_INLINE} FROM versions WHERE bucket = ? AND key = ? ORDER BY seq DESC", (bucket, kb)
    ):
        rec, since = _record(bucket, vrow)
        out.append(VersionEntry(rec, not out, since or None))
    return out


def _next_key(
    conn: sqlite3.Connection, bucket: str, after: bytes, inclusive: bool, upper: bytes | None
) -> bytes | None:
    op = ">=" if inclusive else ">"
    bound, args = ("", ()) if upper is None else (" AND key < ?", (upper,))
    keys = [
        r[0] for t in ("objects", "versions")
        for r in [conn.execute(f"SELECT min(key) FROM {t} WHERE bucket = ? AND key {op} ?{bound}",
                               (bucket, after, *args)).fetchone()]
        if r[0] is not None
    ]
    return min(keys) if keys else None


def _id_time(version_id: str) -> float:
    try:
        return float(int(version_id[:16], 16)) if version_id != "null" else 0.0
    except ValueError:
        return 0.0


def list_versions(
    conn: sqlite3.Connection, bucket: str, prefix: str, delimiter: str | None, key_marker: str | None,
    version_id_marker: str | None, limit: int,
) -> VersionPage:
    """ListObjectVersions: keys in byte order, each key's versions newest first, common prefixes
    rolled up as in list_objects. Walks key by key (one seek per key or common prefix)."""
    pb, db = enc(prefix), enc(delimiter) if delimiter else None
    upper = successor(pb) if pb else None
    floor = enc(key_marker) if key_marker else None
    entries: list[VersionEntry | CommonPrefix] = []
    want = limit + 1  # one more than asked proves truncation
    if floor is not None and version_id_marker is not None and floor.startswith(pb):
        rest = _key_versions(conn, bucket, floor)
        ids = [e.record.version_id or "null" for e in rest]
        if version_id_marker in ids:
            entries.extend(rest[ids.index(version_id_marker) + 1 :][:want])
        else:
            # a well-formed id that is not (or no longer) there, e.g. the version was deleted between
            # two pages: resume with the versions older than it (ids begin with their creation time in
            # hex ns), so no remaining version of the key is skipped
            entries.extend([e for e in rest if e.record.last_modified * 1e9 < _id_time(version_id_marker)][:want])
    pos, inclusive = (floor, False) if floor is not None and floor >= pb else (pb, True)
    while len(entries) < want:
        kb = _next_key(conn, bucket, pos, inclusive, upper)
        if kb is None:
            break
        at = -1 if db is None else kb.find(db, len(pb))
        if at >= 0:
            common = kb[: at + len(db or b"")]
            if floor is None or common > floor:
                entries.append(CommonPrefix(common.decode("utf-8")))
            nxt = successor(common)
            if nxt is None:
                break
            pos, inclusive = nxt, True
            continue
        entries.extend(_key_versions(conn, bucket, kb)[: want - len(entries)])
        pos, inclusive = kb, False
    truncated = len(entries) > limit
    entries = entries[:limit]
    nkm = nvm = None
    if truncated and entries:
        last = entries[-1]
        if isinstance(last, CommonPrefix):
            nkm = last.prefix
        else:
            nkm, nvm = last.record.key, last.record.version_id or "null"
    return VersionPage(entries, truncated, nkm, nvm)


# -- lifecycle scans -----------------------------------------------------------------------------


def scan_current(conn: sqlite3.Connection, bucket: str, after: str | None, limit: int) -> list[tuple]:
    """(key, size, last_modified, version_id, props) of current versions after `after`, in order."""
    rows = conn.execute(
        "SELECT key, size, last_modified, version_id, props FROM objects WHERE bucket = ? AND key > ? "
        "ORDER BY key LIMIT ?", (bucket, enc(after) if after else b"", limit),
    ).fetchall()
    return [(r[0].decode("utf-8"), r[1], r[2], r[3], json.loads(r[4])) for r in rows]


def scan_keys_with_versions(conn: sqlite3.Connection, bucket: str, after: str | None, limit: int) -> list[str]:
    rows = conn.execute(
        "SELECT DISTINCT key FROM versions WHERE bucket = ? AND key > ? ORDER BY key LIMIT ?",
        (bucket, enc(after) if after else b"", limit),
    ).fetchall()
    return [r[0].decode("utf-8") for r in rows]


def key_versions(conn: sqlite3.Connection, bucket: str, key: str) -> list[VersionEntry]:
    return _key_versions(conn, bucket, enc(key))
