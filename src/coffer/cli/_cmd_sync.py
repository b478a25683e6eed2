"""``coffer sync SRC DST [--delete]`` and ``coffer mirror SRC DST [--remove] [--watch]``: make DST hold
what SRC holds, moving only what differs.

A file is sent when it is missing at the destination, differs in size, or is newer than the copy
there (local mtime vs. the object's Last-Modified). ``--size-only`` looks at sizes alone;
``--checksum`` compares contents instead of times: a local file's MD5 against a single-part object's
ETag, or its CRC32C against the full-object CRC32C of a multipart object (what Coffer's transfer
manager stores); an object with neither is sent again. Downloads set the local mtime to the object's
Last-Modified so an unchanged object is never fetched twice. Remote-to-remote syncs compare size and
ETag. ``--delete`` removes what exists only at the destination (never what the filters exclude);
``--dry-run`` only reports. ``SRC`` and ``SRC/`` mean the same: the folder's contents.

``mirror --watch`` keeps going until interrupted (Ctrl-C or SIGTERM end it promptly with exit code 0,
cancelling the transfers in flight: cli/_stop.py): a local
source folder is rescanned every ``--interval`` and what changed is sent; a bucket source
(``ALIAS/BUCKET[/PREFIX]``) is followed through its listen stream (cli/_cmd_watch.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import click

from coffer.cli._aliases import Remote
from coffer.cli._cmd_transfer import (
    Job,
    Runner,
    child_of,
    local_or_remote,
    metadata_args,
    transfer_config,
    transfer_options,
)
from coffer.cli._cmd_watch import follow_bucket, stamp_download
from coffer.cli._filters import Selector, parse_age, selector, selector_options
from coffer.cli._output import Output, UsageError, command
from coffer.cli._stop import Stopper
from coffer.protocol import checksums
from coffer.sdk._transfer._directory import key_for, local_path_for, walk_files
from coffer.sdk._types import ObjectInfo

SLACK = 2.0  # seconds: file systems and servers round timestamps differently


def _remote_index(r: Remote, sel: Selector) -> tuple[str, dict[str, ObjectInfo]]:
    prefix = r.key if not r.key or r.key.endswith("/") else r.key + "/"
    bucket = r.alias.client().bucket(r.bucket or "")
    index = {}
    for e in bucket.list_objects(prefix=prefix):
        if isinstance(e, ObjectInfo) and sel.name_ok(e.key[len(prefix):]):
            index[e.key[len(prefix):]] = e
    return prefix, index


def _same_content(path: Path, remote: Remote, key: str, info: ObjectInfo) -> bool:
    """--checksum: does the local file hold exactly the object's bytes?"""
    etag = (info.etag or "").strip('"')
    if etag and "-" not in etag:
        md5 = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                md5.update(chunk)
        return md5.hexdigest() == etag
    props = remote.alias.client().bucket(remote.bucket or "").object(key).head()
    crc = props.checksums.get("CRC32C")
    if not crc or props.checksum_type not in (None, "FULL_OBJECT"):
        return False
    h = checksums.Hasher("CRC32C")
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.b64() == crc


def _differs(size_a: int, size_b: int, newer: bool, mode: str, same: Any = None) -> bool:
    if size_a != size_b:
        return True
    if mode == "size":
        return False
    if mode == "checksum":
        return not same()
    return newer


def _plan(src: Path | Remote, dst: Path | Remote, sel: Selector, mode: str = "time"
          ) -> tuple[list[Job], list[Path | Remote]]:
    jobs: list[Job] = []
    extra: list[Path | Remote] = []
    if isinstance(src, Path) and isinstance(dst, Remote):
        if not src.is_dir():
            raise UsageError(f"{src} is not a directory")
        prefix, remote = _remote_index(dst, sel)
        seen = set()
        for path, rel, size in walk_files(src):
            name = "/".join(rel)
            if not sel.name_ok(name):
                continue
            mtime = path.stat().st_mtime
            seen.add(name)
            if not sel.ok(name, size, mtime):
                continue
            have = remote.get(name)
            if have is None or _differs(size, have.size, bool(
                    have.last_modified and mtime > have.last_modified.timestamp() + SLACK), mode,
                    lambda p=path, n=name, h=have: _same_content(p, dst, prefix + n, h)):
                jobs.append(Job("upload", path, child_of(dst, key_for(prefix, rel)), size))
        extra = [child_of(dst, prefix + name) for name in remote if name not in seen]
    elif isinstance(src, Remote) and isinstance(dst, Path):
        prefix, remote = _remote_index(src, sel)
        wanted = set()
        for name, info in remote.items():
            local = local_path_for(dst, name)
            if local is None:
                continue
            wanted.add(local)
            if not sel.ok(name, info.size, info.last_modified):
                continue
            try:
                st = local.stat()
            except FileNotFoundError:
                st = None
            if st is None or _differs(st.st_size, info.size, bool(
                    info.last_modified and info.last_modified.timestamp() > st.st_mtime + SLACK), mode,
                    lambda p=local, n=name, i=info: _same_content(p, src, prefix + n, i)):
                jobs.append(Job("download", child_of(src, prefix + name), local, info.size))
        if dst.is_dir():
            extra = [p for p, rel, _s in walk_files(dst) if p not in wanted and sel.name_ok("/".join(rel))]
    elif isinstance(src, Remote) and isinstance(dst, Remote):
        sprefix, have_src = _remote_index(src, sel)
        dprefix, have_dst = _remote_index(dst, sel)
        for name, info in have_src.items():
            if not sel.ok(name, info.size, info.last_modified):
                continue
            other = have_dst.get(name)
            if other is None or other.size != info.size or (mode != "size" and other.etag != info.etag):
                jobs.append(Job("copy", child_of(src, sprefix + name), child_of(dst, dprefix + name), info.size))
        extra = [child_of(dst, dprefix + n) for n in have_dst if n not in have_src]
    else:
        raise UsageError("both paths are local: use rsync(1)")
    return jobs, extra


def _compare_mode(size_only: bool, checksum: bool) -> str:
    if size_only and checksum:
        raise UsageError("--size-only and --checksum exclude each other")
    return "size" if size_only else "checksum" if checksum else "time"


def _sync_once(out: Output, src: Path | Remote, dst: Path | Remote, sel: Selector, mode: str, delete: bool,
               dry_run: bool, runner: Runner, quiet_when_done: bool = False) -> int:
    jobs, extra = _plan(src, dst, sel, mode)
    if dry_run:
        for job in jobs:
            out.emit({"action": job.kind, "source": str(job.src), "target": str(job.dst), "size": job.size,
                      "dry_run": True}, f"would {job.kind}: {job.src} -> {job.dst}")
        for item in extra if delete else []:
            out.emit({"action": "delete", "target": str(item), "dry_run": True}, f"would delete: {item}")
        return 0
    failed = runner.run(jobs, f"sync {len(jobs)} files") if jobs else 0
    for job in jobs:  # downloads take the object's time, so the next sync sees them as current
        if job.kind == "download" and isinstance(job.dst, Path) and job.dst.exists():
            stamp_download(job)
    if delete and not failed:
        _delete(out, extra)
    if not jobs and not (delete and extra) and not quiet_when_done:
        out.note("Already in sync.")
    return failed


def _sync_options(fn: Any) -> Any:
    fn = click.option("--checksum", is_flag=True, help="Compare contents (MD5 / CRC32C), not times.")(fn)
    fn = click.option("--size-only", is_flag=True, help="Compare sizes only.")(fn)
    fn = click.option("--dry-run", is_flag=True, help="Say what would happen, change nothing.")(fn)
    return fn


@click.command("sync")
@click.argument("source")
@click.argument("target")
@click.option("--delete", is_flag=True, help="Remove what exists only at the destination.")
@_sync_options
@transfer_options
@selector_options
@command
def sync(out: Output, source: str, target: str, delete: bool, dry_run: bool, size_only: bool, checksum: bool,
         concurrency: int, part_size: int, content_type: str | None, attr: tuple[str, ...],
         limit_rate: int | None, no_batch: bool, **kw: Any) -> None:
    """Mirror a directory or prefix: local<->remote or remote->remote."""
    sel = selector(kw)
    runner = Runner(out, transfer_config(concurrency, part_size, limit_rate), content_type, metadata_args(attr),
                    batch=not no_batch)
    src, dst = local_or_remote(source), local_or_remote(target)
    if _sync_once(out, src, dst, sel, _compare_mode(size_only, checksum), delete, dry_run, runner):
        raise click.exceptions.Exit(1)


@click.command("mirror")
@click.argument("source")
@click.argument("target")
@click.option("--remove", is_flag=True, help="Remove what exists only at the destination (sync --delete).")
@click.option("-w", "--watch", is_flag=True,
              help="Keep mirroring as SOURCE changes (a local folder is rescanned, a bucket is followed live).")
@click.option("--interval", default="2s", show_default=True, help="With --watch: how often to look.")
@_sync_options
@transfer_options
@selector_options
@command
def mirror(out: Output, source: str, target: str, remove: bool, watch: bool, interval: str, dry_run: bool,
           size_only: bool, checksum: bool, concurrency: int, part_size: int, content_type: str | None,
           attr: tuple[str, ...], limit_rate: int | None, no_batch: bool, **kw: Any) -> None:
    """mc's mirror: sync SOURCE to TARGET; with --watch, keep doing it as SOURCE changes."""
    sel = selector(kw)
    src, dst = local_or_remote(source), local_or_remote(target)
    mode = _compare_mode(size_only, checksum)
    runner = Runner(out, transfer_config(concurrency, part_size, limit_rate), content_type, metadata_args(attr),
                    batch=not no_batch)
    if not watch:
        if _sync_once(out, src, dst, sel, mode, remove, dry_run, runner):
            raise click.exceptions.Exit(1)
        return
    if isinstance(src, Remote):  # a bucket: follow its listen stream (cli/_cmd_watch.py)
        follow_bucket(out, src, dst, sel, remove, dry_run, runner, lambda quiet_when_done: _sync_once(
            out, src, dst, sel, mode, remove, dry_run, runner, quiet_when_done=quiet_when_done))
        return
    pause = parse_age(interval)
    out.note(f"Watching {src} (every {interval}); Ctrl-C to stop")
    last: dict[str, tuple[int, float]] | None = None
    with Stopper() as stop:
        stop.on_stop(runner.cancel)
        while not stop.requested:
            state = {str(p): (s, p.stat().st_mtime) for p, _r, s in walk_files(src)}
            if state != last:
                _sync_once(out, src, dst, sel, mode, remove, dry_run, runner, quiet_when_done=True)
                last = state
            stop.wait(pause)
    out.note("Stopped watching.")


def _delete(out: Output, extra: list[Path | Remote]) -> None:
    by_bucket: dict[tuple[str, str], tuple[Remote, list[str]]] = {}
    for item in extra:
        if isinstance(item, Path):
            item.unlink()
            out.emit({"action": "delete", "target": str(item)}, f"deleted {item}")
        else:
            by_bucket.setdefault((item.alias.name, item.bucket or ""), (item, []))[1].append(item.key)
    for r, keys in by_bucket.values():
        for res in r.alias.client().bucket(r.bucket or "").delete_objects(keys):
            out.emit({"action": "delete", "target": f"{r.alias.name}/{r.bucket}/{res.key}",
                      "ok": res.deleted}, f"deleted {r.alias.name}/{r.bucket}/{res.key}")
