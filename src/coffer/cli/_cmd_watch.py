"""``coffer watch ALIAS/BUCKET[/PREFIX]`` (mc's ``mc watch``) and the bucket side of
``coffer mirror ALIAS/BUCKET[/PREFIX] TARGET --watch``: both follow the bucket's listen stream
(``Bucket.listen``, the listen API), so a change is seen as soon as it is made, not on a rescan.

``follow_bucket`` (mirror): opens the stream first, then mirrors once (so a write made during that
first pass is both mirrored and reported: nothing falls between the two), then applies each event:
created -> download (or server-side copy to a remote TARGET), removed -> delete at TARGET with
``--remove``. When the stream drops (server restart, network), it reconnects with exponential backoff
(1 s doubling to 30 s) and mirrors once more after reconnecting, so what happened while it was away
is caught up. SIGTERM and Ctrl-C end it cleanly and promptly (exit code 0): the stream is interrupted and
the transfers in flight are cancelled (cli/_stop.py says why no exception is raised from a signal).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import click

from coffer import Client
from coffer.cli._aliases import Alias, Remote
from coffer.cli._cmd_settings import EVENT_NAMES
from coffer.cli._cmd_transfer import Job, Runner, child_of, local_or_remote
from coffer.cli._filters import Selector
from coffer.cli._output import Output, UsageError, command, human_size
from coffer.cli._stop import Stopper
from coffer.sdk._errors import CofferError, ConnectionFailed, NoSuchKey, NotFound, ServerError
from coffer.sdk._listen import CREATED, REMOVED, BucketEvent
from coffer.sdk._transfer._directory import local_path_for

BACKOFF_MAX = 30.0


@functools.lru_cache(maxsize=8)
def _client(alias: Alias) -> Client:
    """One client per alias for the whole watch: its time-stamp HEADs and deletes reuse its connections."""
    return alias.client()


def stamp_download(job: Job) -> None:
    """A downloaded file takes its object's Last-Modified, so the next mirror pass sees it as current."""
    assert isinstance(job.src, Remote) and isinstance(job.dst, Path)
    try:
        props = _client(job.src.alias).bucket(job.src.bucket_name).object(job.src.key).head()
    except NoSuchKey:
        return  # removed since it was downloaded: the next pass (or its event) deletes the copy
    if props.last_modified:
        ts = props.last_modified.timestamp()
        os.utime(job.dst, (ts, ts))


def _prefix(r: Remote) -> str:
    return r.key if not r.key or r.key.endswith("/") else r.key + "/"


def follow_bucket(out: Output, src: Remote, dst: Path | Remote, sel: Selector, remove: bool, dry_run: bool,
                  runner: Runner, sync_once: Any) -> None:
    """mirror --watch of a bucket (see the module notes); `sync_once()` runs one whole mirror pass."""
    bucket = src.alias.client().bucket(src.bucket or "")
    prefix = _prefix(src)
    delay = 1.0
    first = True
    out.note(f"Watching {src.alias.name}/{src.bucket}/{prefix} for changes; Ctrl-C to stop")
    with Stopper() as stop:
        stop.on_stop(runner.cancel)
        while not stop.requested:
            try:
                with bucket.listen(events=[CREATED, REMOVED], prefix=prefix) as stream, stop.interrupting(stream):
                    try:
                        sync_once(quiet_when_done=not first)
                    except NoSuchKey as e:  # the pass's one object went away meanwhile: its event follows
                        out.note(f"coffer: {e}")
                    first, delay = False, 1.0
                    for ev in stream:
                        if stop.requested:
                            break
                        _apply(out, ev, src, dst, prefix, sel, remove, dry_run, runner)
                if stop.requested:
                    break
                out.note("The listen stream ended (server stopping?); reconnecting")
            except (ConnectionFailed, ServerError) as e:
                if stop.requested:
                    break
                out.note(f"Lost the listen stream ({e}); reconnecting in {delay:g} s")
            stop.wait(delay)
            delay = min(delay * 2, BACKOFF_MAX)
    out.note("Stopped watching.")


def _apply(out: Output, ev: BucketEvent, src: Remote, dst: Path | Remote, prefix: str, sel: Selector,
           remove: bool, dry_run: bool, runner: Runner) -> None:
    if not ev.key.startswith(prefix):
        return
    name = ev.key[len(prefix):]
    if not name or not sel.name_ok(name):
        return
    if isinstance(dst, Path):
        target: Path | Remote | None = local_path_for(dst, name)
        if target is None:
            return  # a name that cannot be a local path (.., absolute): the first pass skipped it too
    else:
        target = child_of(dst, _prefix(dst) + name)
    if ev.created:
        kind = "download" if isinstance(target, Path) else "copy"
        if dry_run:
            out.emit({"action": kind, "source": str(child_of(src, ev.key)), "target": str(target),
                      "dry_run": True}, f"would {kind}: {child_of(src, ev.key)} -> {target}")
            return
        job = Job(kind, child_of(src, ev.key), target, ev.size or 0)
        try:
            runner.run([job], ev.key)
            if isinstance(target, Path) and target.exists():
                stamp_download(job)
        except NotFound:
            pass  # removed again since: its own event follows
        except CofferError as e:
            out.fail({"action": kind, "source": str(job.src), "target": str(target), "error": e.code},
                     f"coffer: {job.src}: {e}")
    elif ev.removed and remove:
        if dry_run:
            out.emit({"action": "delete", "target": str(target), "dry_run": True}, f"would delete: {target}")
            return
        if isinstance(target, Path):
            if target.is_file():
                target.unlink()
                out.emit({"action": "delete", "target": str(target)}, f"deleted {target}")
        elif target is not None:
            try:
                _client(target.alias).bucket(target.bucket_name).object(target.key).delete()
                out.emit({"action": "delete", "target": str(target)}, f"deleted {target}")
            except CofferError as e:
                out.fail({"action": "delete", "target": str(target), "error": e.code}, f"coffer: {target}: {e}")


@click.command("watch")
@click.argument("target")
@click.option("--events", default="put,delete", show_default=True,
              help="Comma list of put, delete (or full S3 names like s3:ObjectCreated:Put).")
@click.option("--prefix", default=None, help="Only keys under this prefix (default: the TARGET's key).")
@click.option("--suffix", default="", help="Only keys ending so (e.g. .jpg).")
@command
def watch(out: Output, target: str, events: str, prefix: str | None, suffix: str) -> None:
    """mc's watch: print the events of ALIAS/BUCKET[/PREFIX] as they happen, until Ctrl-C."""
    t = local_or_remote(target)
    if not isinstance(t, Remote):
        raise UsageError("watch follows a bucket: ALIAS/BUCKET[/PREFIX]")
    names = [EVENT_NAMES.get(e.strip(), e.strip()) for e in events.split(",") if e.strip()]
    bad = [n for n in names if not n.startswith("s3:")]
    if bad:
        raise UsageError(f"unknown events {bad}: use put, delete or S3 event names")
    bucket = t.alias.client().bucket(t.bucket or "")
    delay = 1.0
    with Stopper() as stop:
        while not stop.requested:
            try:
                with bucket.listen(events=names, prefix=prefix if prefix is not None else t.key or "",
                                   suffix=suffix) as stream, stop.interrupting(stream):
                    delay = 1.0
                    for ev in stream:
                        stamp = ev.time.strftime("%Y-%m-%d %H:%M:%S UTC") if ev.time else "-"
                        size = human_size(ev.size) if ev.size is not None else ""
                        out.emit(ev.to_dict(), f"[{stamp}] [{ev.name.removeprefix('s3:')}] {size:>9} "
                                              f"{t.alias.name}/{ev.bucket}/{ev.key}")
                        if stop.requested:
                            break
            except (ConnectionFailed, ServerError) as e:
                if stop.requested:
                    break
                out.note(f"Lost the listen stream ({e}); reconnecting in {delay:g} s")
            stop.wait(delay)
            delay = min(delay * 2, BACKOFF_MAX)
