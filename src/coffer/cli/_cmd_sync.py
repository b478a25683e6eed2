"""``coffer sync SRC DST [--delete]``: make DST hold what SRC holds, moving only what differs.

A file is sent when it is missing at the destination, differs in size, or is newer than the copy
there (local mtime vs. the object's Last-Modified). Downloads set the local mtime to the object's
Last-Modified so an unchanged object is never fetched twice. Remote-to-remote syncs compare size and
ETag. ``--delete`` removes what exists only at the destination; ``--dry-run`` only reports.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from coffer.cli._aliases import Remote
from coffer.cli._cmd_transfer import Job, Runner, _child, _config, _metadata, _options, _target
from coffer.cli._output import Output, UsageError, command
from coffer.sdk._transfer._directory import key_for, local_path_for, walk_files
from coffer.sdk._types import ObjectInfo

SLACK = 2.0  # seconds: file systems and servers round timestamps differently


def _remote_index(r: Remote) -> tuple[str, dict[str, ObjectInfo]]:
    prefix = r.key if not r.key or r.key.endswith("/") else r.key + "/"
    bucket = r.alias.client().bucket(r.bucket or "")
    index = {}
    for e in bucket.list_objects(prefix=prefix):
        if isinstance(e, ObjectInfo):
            index[e.key[len(prefix):]] = e
    return prefix, index


def _plan(src: Path | Remote, dst: Path | Remote) -> tuple[list[Job], list[Path | Remote]]:
    jobs: list[Job] = []
    extra: list[Path | Remote] = []
    if isinstance(src, Path) and isinstance(dst, Remote):
        if not src.is_dir():
            raise UsageError(f"{src} is not a directory")
        prefix, remote = _remote_index(dst)
        seen = set()
        for path, rel, size in walk_files(src):
            name = "/".join(rel)
            seen.add(name)
            have = remote.get(name)
            mtime = path.stat().st_mtime
            if have is None or have.size != size or (
                    have.last_modified and mtime > have.last_modified.timestamp() + SLACK):
                jobs.append(Job("upload", path, _child(dst, key_for(prefix, rel)), size))
        extra = [_child(dst, prefix + name) for name in remote if name not in seen]
    elif isinstance(src, Remote) and isinstance(dst, Path):
        prefix, remote = _remote_index(src)
        wanted = set()
        for name, info in remote.items():
            local = local_path_for(dst, name)
            if local is None:
                continue
            wanted.add(local)
            try:
                st = local.stat()
            except FileNotFoundError:
                st = None
            if st is None or st.st_size != info.size or (
                    info.last_modified and info.last_modified.timestamp() > st.st_mtime + SLACK):
                jobs.append(Job("download", _child(src, prefix + name), local, info.size))
        if dst.is_dir():
            extra = [p for p, _rel, _s in walk_files(dst) if p not in wanted]
    elif isinstance(src, Remote) and isinstance(dst, Remote):
        sprefix, have_src = _remote_index(src)
        dprefix, have_dst = _remote_index(dst)
        for name, info in have_src.items():
            other = have_dst.get(name)
            if other is None or other.size != info.size or other.etag != info.etag:
                jobs.append(Job("copy", _child(src, sprefix + name), _child(dst, dprefix + name), info.size))
        extra = [_child(dst, dprefix + n) for n in have_dst if n not in have_src]
    else:
        raise UsageError("both paths are local: use rsync(1)")
    return jobs, extra


@click.command("sync")
@click.argument("source")
@click.argument("target")
@click.option("--delete", is_flag=True, help="Remove what exists only at the destination.")
@click.option("--dry-run", is_flag=True, help="Say what would happen, change nothing.")
@_options
@command
def sync(out: Output, source: str, target: str, delete: bool, dry_run: bool, concurrency: int,
         part_size: int, content_type: str | None, attr: tuple[str, ...], limit_rate: int | None) -> None:
    """Mirror a directory or prefix: local<->remote or remote->remote."""
    src, dst = _target(source), _target(target)
    jobs, extra = _plan(src, dst)
    if dry_run:
        for job in jobs:
            out.emit({"action": job.kind, "source": str(job.src), "target": str(job.dst), "size": job.size,
                      "dry_run": True}, f"would {job.kind}: {job.src} -> {job.dst}")
        for item in extra if delete else []:
            out.emit({"action": "delete", "target": str(item), "dry_run": True}, f"would delete: {item}")
        return
    failed = Runner(out, _config(concurrency, part_size, limit_rate), content_type, _metadata(attr)).run(
        jobs, f"sync {len(jobs)} files") if jobs else 0
    for job in jobs:  # downloads take the object's time, so the next sync sees them as current
        if job.kind == "download" and isinstance(job.dst, Path) and job.dst.exists():
            _stamp(job)
    if delete and not failed:
        _delete(out, extra)
    if not jobs and not (delete and extra):
        out.note("Already in sync.")
    if failed:
        raise click.exceptions.Exit(1)


def _stamp(job: Job) -> None:
    assert isinstance(job.src, Remote) and isinstance(job.dst, Path)
    props = job.src.alias.client().bucket(job.src.bucket or "").object(job.src.key).head()
    if props.last_modified:
        ts = props.last_modified.timestamp()
        os.utime(job.dst, (ts, ts))


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
