"""The SQLite backend of the bulk-jobs store (`JobStore`), sharing the metadata database.

Owns the `jobs`, `job_chunks` and `job_blobs` tables (created by the migration `_jobs_tables` in
schema.py) and every query on them. Writes go through the metadata store's group-commit writer,
so a blob marked done is durable when the call returns, like any other metadata; reads use its read
threads. Blob names are stored as UTF-8 BLOBs, like object keys, so they order like S3 keys.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from coffer.server.meta.bulk import COMPLETED, IN_PROGRESS, Blob, Chunk, Job, JobStore
from coffer.server.meta.model import MultipartUpload
from coffer.server.meta.sqlite.ops import create_upload

if TYPE_CHECKING:
    from coffer.server.meta.sqlite.store import SqliteMetaStore

_JOB_COLS = "id, bucket, owner, type, status, name, priority, created, touched, finished, total_bytes, " \
    "done_bytes, props"
_BLOB_COLS = "job_id, chunk, name, offset, length, id, done, upload_id, idx, count, etag"
# bytes not yet received in allocated chunks of open PUT jobs: the cache in use
_PENDING_SQL = ("SELECT coalesce(sum(b.length), 0) FROM jobs j "
                "JOIN job_chunks c ON c.job_id = j.id AND c.allocated = 1 "
                "JOIN job_blobs b ON b.job_id = c.job_id AND b.chunk = c.number AND b.done = 0 "
                "WHERE j.status = ? AND j.type = 'PUT'")


def _job(row: tuple) -> Job:
    return Job(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10], row[11],
               json.loads(row[12]))


def _blob(row: tuple) -> Blob:
    return Blob(row[0], row[1], bytes(row[2]).decode(), row[3], row[4], row[5], bool(row[6]), row[7], row[8],
                row[9], row[10])


class SqliteJobStore(JobStore):
    def __init__(self, meta: SqliteMetaStore) -> None:
        self.meta = meta

    async def create(self, job: Job, chunks: list[Chunk], uploads: list[MultipartUpload]) -> None:
        def op(c: sqlite3.Connection) -> None:
            for up in uploads:
                create_upload(c, up)
            c.execute(f"INSERT INTO jobs ({_JOB_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      (job.id, job.bucket, job.owner, job.type, job.status, job.name, job.priority, job.created,
                       job.touched, job.finished, job.total_bytes, job.done_bytes, json.dumps(job.props)))
            for ch in chunks:
                c.execute("INSERT INTO job_chunks (job_id, number, id, allocated) VALUES (?,?,?,?)",
                          (job.id, ch.number, ch.id, int(ch.allocated)))
                c.executemany(f"INSERT INTO job_blobs ({_BLOB_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", [
                    (job.id, ch.number, b.name.encode(), b.offset, b.length, b.id, int(b.done), b.upload_id,
                     b.index, b.count, b.etag) for b in ch.blobs])

        await self.meta._write(op)

    async def get(self, job_id: str) -> Job | None:
        row = await self.meta._one(f"SELECT {_JOB_COLS} FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else _job(row)

    async def list(self, owner: str | None, status: str | None, offset: int, limit: int) -> tuple[list[Job], int]:
        where, args = [], []
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        cond = (" WHERE " + " AND ".join(where)) if where else ""

        def op(c: sqlite3.Connection) -> tuple[list[Job], int]:
            total = c.execute(f"SELECT count(*) FROM jobs{cond}", args).fetchone()[0]
            rows = c.execute(f"SELECT {_JOB_COLS} FROM jobs{cond} ORDER BY created DESC, id LIMIT ? OFFSET ?",
                             [*args, limit, offset]).fetchall()
            return [_job(r) for r in rows], int(total)

        return await self.meta._read(op)

    async def chunks(self, job_id: str, only_open: bool = False) -> list[Chunk]:
        def op(c: sqlite3.Connection) -> list[Chunk]:
            out = {n: Chunk(job_id, n, cid, bool(a)) for n, cid, a in c.execute(
                "SELECT number, id, allocated FROM job_chunks WHERE job_id = ? ORDER BY number", (job_id,))}
            for row in c.execute(f"SELECT {_BLOB_COLS} FROM job_blobs WHERE job_id = ? ORDER BY chunk, name, offset",
                                 (job_id,)):
                out[row[1]].blobs.append(_blob(row))
            chunks = list(out.values())
            return [ch for ch in chunks if any(not b.done for b in ch.blobs)] if only_open else chunks

        return await self.meta._read(op)

    async def chunk(self, chunk_id: str) -> Chunk | None:
        def op(c: sqlite3.Connection) -> Chunk | None:
            row = c.execute("SELECT job_id, number, id, allocated FROM job_chunks WHERE id = ?", (chunk_id,)).fetchone()
            if row is None:
                return None
            ch = Chunk(row[0], row[1], row[2], bool(row[3]))
            ch.blobs = [_blob(r) for r in c.execute(
                f"SELECT {_BLOB_COLS} FROM job_blobs WHERE job_id = ? AND chunk = ? ORDER BY name, offset",
                (row[0], row[1]))]
            return ch

        return await self.meta._read(op)

    async def blob(self, job_id: str, name: str, offset: int) -> Blob | None:
        row = await self.meta._one(f"SELECT {_BLOB_COLS} FROM job_blobs WHERE job_id = ? AND name = ? AND offset = ?",
                                   (job_id, name.encode(), offset))
        return None if row is None else _blob(row)

    async def object_blobs(self, job_id: str, name: str) -> list[Blob]:
        rows = await self.meta._all(f"SELECT {_BLOB_COLS} FROM job_blobs WHERE job_id = ? AND name = ? ORDER BY offset",
                                    (job_id, name.encode()))
        return [_blob(r) for r in rows]

    async def allocate(self, job_id: str, numbers: list[int], touched: float) -> None:
        def op(c: sqlite3.Connection) -> None:
            c.executemany("UPDATE job_chunks SET allocated = 1 WHERE job_id = ? AND number = ?",
                          [(job_id, n) for n in numbers])
            c.execute("UPDATE jobs SET touched = ? WHERE id = ?", (touched, job_id))

        await self.meta._write(op)

    async def allocate_ready(self, job_id: str, limit: int, budget: int, touched: float) -> list[int]:
        def op(c: sqlite3.Connection) -> list[int]:
            # one write transaction: two workers cannot both hand out the last of the budget
            pending = c.execute(_PENDING_SQL, (IN_PROGRESS,)).fetchone()[0]
            rows = c.execute(
                "SELECT c.number, c.allocated, sum(CASE WHEN b.done = 0 THEN b.length ELSE 0 END), min(b.done) "
                "FROM job_chunks c JOIN job_blobs b ON b.job_id = c.job_id AND b.chunk = c.number "
                "WHERE c.job_id = ? GROUP BY c.number ORDER BY c.number", (job_id,)).fetchall()
            open_rows = [r for r in rows if r[3] == 0]
            chosen = [r[0] for r in open_rows if r[1]][:limit]
            newly = []
            for number, allocated, need, _ in open_rows:
                if allocated or len(chosen) >= limit:
                    continue
                if pending > 0 and pending + need > budget:
                    break
                chosen.append(number)
                newly.append(number)
                pending += need
            c.executemany("UPDATE job_chunks SET allocated = 1 WHERE job_id = ? AND number = ?",
                          [(job_id, n) for n in newly])
            c.execute("UPDATE jobs SET touched = ? WHERE id = ?", (touched, job_id))
            return sorted(chosen)

        return await self.meta._write(op)

    async def pending_bytes(self) -> int:
        row = await self.meta._read(lambda c: c.execute(_PENDING_SQL, (IN_PROGRESS,)).fetchone())
        return int(row[0])

    async def mark_blob(self, job_id: str, name: str, offset: int, touched: float) -> tuple[int, int, bool]:
        key = name.encode()

        def op(c: sqlite3.Connection) -> tuple[int, int, bool]:
            row = c.execute("SELECT length, done FROM job_blobs WHERE job_id = ? AND name = ? AND offset = ?",
                            (job_id, key, offset)).fetchone()
            changed = row is not None and not row[1]
            if changed:
                c.execute("UPDATE job_blobs SET done = 1 WHERE job_id = ? AND name = ? AND offset = ?",
                          (job_id, key, offset))
                c.execute("UPDATE jobs SET done_bytes = done_bytes + ?, touched = ? WHERE id = ?",
                          (row[0], touched, job_id))
            obj_left = c.execute("SELECT count(*) FROM job_blobs WHERE job_id = ? AND name = ? AND done = 0",
                                 (job_id, key)).fetchone()[0]
            job_left = c.execute("SELECT count(*) FROM job_blobs WHERE job_id = ? AND done = 0",
                                 (job_id,)).fetchone()[0]
            if job_left == 0:
                _settle(c, job_id, touched)
            return int(obj_left), int(job_left), changed

        return await self.meta._write(op)

    async def settle(self, job_id: str, touched: float) -> bool:
        def op(c: sqlite3.Connection) -> bool:
            if c.execute("SELECT 1 FROM job_blobs WHERE job_id = ? AND done = 0 LIMIT 1", (job_id,)).fetchone():
                return False
            return _settle(c, job_id, touched)

        return await self.meta._write(op)

    async def unmark_blob(self, job_id: str, name: str, offset: int, touched: float) -> None:
        key = name.encode()

        def op(c: sqlite3.Connection) -> None:
            row = c.execute("SELECT length, done FROM job_blobs WHERE job_id = ? AND name = ? AND offset = ?",
                            (job_id, key, offset)).fetchone()
            if row is not None and row[1]:
                c.execute("UPDATE job_blobs SET done = 0 WHERE job_id = ? AND name = ? AND offset = ?",
                          (job_id, key, offset))
                c.execute("UPDATE jobs SET done_bytes = done_bytes - ?, touched = ? WHERE id = ?",
                          (row[0], touched, job_id))

        await self.meta._write(op)

    async def update(self, job_id: str, *, status: str | None = None, name: str | None = None,
                     priority: str | None = None, touched: float | None = None,
                     props: dict[str, Any] | None = None, only_if_status: str | None = None) -> bool:
        sets: list[str] = []
        args: list[Any] = []
        for col, value in (("status", status), ("name", name), ("priority", priority), ("touched", touched)):
            if value is not None:
                sets.append(f"{col} = ?")
                args.append(value)
        if status is not None and status != IN_PROGRESS:
            sets.append("finished = ?")
            args.append(touched)
        if props is not None:
            sets.append("props = ?")
            args.append(json.dumps(props))
        if not sets:
            return await self.get(job_id) is not None
        sql = f"UPDATE jobs SET {', '.join(sets)} WHERE id = ?"
        args.append(job_id)
        if only_if_status is not None:
            sql += " AND status = ?"
            args.append(only_if_status)
        return await self.meta._rowcount(sql, tuple(args)) > 0

    async def idle(self, before: float) -> list[Job]:
        rows = await self.meta._all(f"SELECT {_JOB_COLS} FROM jobs WHERE status = ? AND touched < ?",
                                    (IN_PROGRESS, before))
        return [_job(r) for r in rows]

    async def open_uploads(self, job_id: str) -> list[str]:
        rows = await self.meta._all("SELECT DISTINCT upload_id FROM job_blobs WHERE job_id = ? "
                                    "AND upload_id IS NOT NULL AND name IN "
                                    "(SELECT name FROM job_blobs WHERE job_id = ? AND done = 0)",
                                    (job_id, job_id))
        return [r[0] for r in rows]


def _settle(c: sqlite3.Connection, job_id: str, touched: float) -> bool:
    """Every blob is in: the job is COMPLETED, unless a multi-blob object is still being completed
    (its upload is open: the completion may yet be refused, e.g. by a WORM-locked key)."""
    if c.execute("SELECT 1 FROM job_blobs b JOIN uploads u ON u.upload_id = b.upload_id WHERE b.job_id = ? "
                 "LIMIT 1", (job_id,)).fetchone():
        return False
    return c.execute("UPDATE jobs SET status = ?, finished = ? WHERE id = ? AND status = ?",
                     (COMPLETED, touched, job_id, IN_PROGRESS)).rowcount > 0
