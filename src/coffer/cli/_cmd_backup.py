"""`coffer admin backup` and `coffer admin restore`: the metadata database, copied consistently.

A backup is one SQLite file: the metadata as of one commit (users, keys, buckets and their settings,
every object's row, the inline bytes of small objects). Object data (DATA/objects, or the volumes) is
copied separately, after the metadata: segment files are written once and never changed, so a copy
made after the snapshot holds every segment the snapshot refers to (docs/operations.md).

- through a running server: `coffer admin [-a ALIAS] backup DEST` (the admin API's `GET backup`,
  SQLite's online backup API on the server; admin keys needed);
- on a data folder directly: `coffer admin backup DEST --data DIR` (server running or not);
- `coffer admin restore BACKUP --data DIR`: with the server stopped (it takes the data folder's lock,
  so no server can start meanwhile); the database it replaces is kept beside it.

The client CLI does not import the server: the data folder's layout (meta/coffer.sqlite3, server.lock)
is the documented format of docs/data-format.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import time
from pathlib import Path

import click

from coffer.cli._cmd_admin import PREFIX, admin_alias_name, admin_client
from coffer.cli._output import Output, UsageError, command

META = Path("meta") / "coffer.sqlite3"
LOCK = "server.lock"


def check_backup(path: Path) -> dict:
    """The backup opens, passes SQLite's integrity check and carries a schema version; its summary."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                      for t in ("buckets", "objects", "users")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise UsageError(f"{path} is not a Coffer metadata backup: {e}") from None
    if ok != "ok" or not version:
        raise UsageError(f"{path} is damaged (integrity check: {ok}, schema version {version})")
    return {"schema_version": version, **counts}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _local_backup(data: Path, tmp: Path) -> None:
    src_path = data / META
    if not src_path.exists():
        raise UsageError(f"no metadata database in {data} ({src_path} is missing)")
    src = sqlite3.connect(str(src_path), timeout=30)
    try:
        dst = sqlite3.connect(str(tmp))
        try:
            src.backup(dst)  # one step: one consistent snapshot, even while a server writes
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _remote_backup(tmp: Path) -> None:
    client = admin_client(admin_alias_name())
    try:
        resp = client._transport.request("GET", "_coffer", PREFIX + "backup", stream=True, retries=False)
        try:
            with open(tmp, "wb") as f:
                for chunk in resp.raw.stream(1 << 20):
                    f.write(chunk)
        finally:
            resp.release()
    finally:
        client.close()


@click.command("backup")
@click.argument("dest", type=click.Path(dir_okay=False))
@click.option("--data", type=click.Path(file_okay=False), default=None,
              help="Copy from this data folder directly instead of through the server's admin API.")
@command
def backup(out: Output, dest: str, data: str | None) -> None:
    """Write a consistent copy of the metadata database to DEST (an SQLite file)."""
    target = Path(dest)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        if data:
            _local_backup(Path(data), tmp)
        else:
            _remote_backup(tmp)
        summary = check_backup(tmp)
        _fsync(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    out.emit({"backup": str(target), "bytes": target.stat().st_size, **summary},
             f"backup {target}: schema {summary['schema_version']}, {summary['buckets']} buckets, "
             f"{summary['objects']} objects, {summary['users']} users, {target.stat().st_size} bytes")


@click.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--data", type=click.Path(file_okay=False), required=True, help="The data folder to restore into.")
@click.option("--force", is_flag=True, help="Replace an existing metadata database (it is kept beside it).")
@command
def restore(out: Output, backup_file: str, data: str, force: bool) -> None:
    """Put BACKUP_FILE in place as DATA's metadata database (the server must be stopped)."""
    src, folder = Path(backup_file), Path(data)
    summary = check_backup(src)
    (folder / META).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise UsageError(f"a Coffer server (pid {holder}) runs on {folder}: stop it before restoring") from None
        db = folder / META
        kept = None
        if db.exists():
            if not force:
                raise UsageError(f"{db} exists; give --force to replace it (the current one is kept beside it)")
            kept = db.with_name(f"{db.name}.before-restore-{time.strftime('%Y%m%dT%H%M%S')}")
            for suffix in ("", "-wal", "-shm"):  # a stale WAL must never meet the restored file
                with contextlib.suppress(FileNotFoundError):
                    os.replace(f"{db}{suffix}", f"{kept}{suffix}")
        tmp = db.with_name(f".{db.name}.restore.tmp")
        shutil.copyfile(src, tmp)
        _fsync(tmp)
        os.replace(tmp, db)
        _fsync(db.parent)
    finally:
        os.close(fd)
    out.emit({"restored": str(db), "kept": str(kept) if kept else None, **summary},
             f"restored {src} into {db} (schema {summary['schema_version']}, {summary['objects']} objects)"
             + (f"; the previous database is kept as {kept}" if kept else ""))
