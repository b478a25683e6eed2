"""``coffer bulk``: Spectra-style bulk jobs from the command line (put, get, status, cancel, list).

    coffer bulk put ./dataset local/bkt/prefix/     one job for a whole directory, blobs in parallel
    coffer bulk get local/bkt/prefix/ ./restore     every key under the prefix, in one job
    coffer bulk status local JOB_ID                 state and bytes; resume with --job on put/get
"""

from __future__ import annotations

from pathlib import Path

import click

from coffer import Client
from coffer.cli._aliases import remote
from coffer.cli._output import Output, UsageError, command, human_size
from coffer.sdk._bulk import JobStatus


def _status_text(s: JobStatus) -> str:
    return (f"{s.job_id}  {s.request_type:<6} {s.state:<11} {human_size(s.bytes_done):>9} / "
            f"{human_size(s.bytes_total):<9} {s.bucket}  {s.name}")


@click.group("bulk")
def bulk() -> None:
    """Bulk jobs: plan many objects at once, move them in chunks, resume after any failure."""


@bulk.command("put")
@click.argument("source", nargs=-1, required=True)
@click.argument("target")
@click.option("--workers", default=8, show_default=True, help="Blobs moved at once.")
@click.option("--job", "job_id", default=None, help="Finish this existing job instead of starting one.")
@click.option("--blob-size", type=int, default=None, help="Largest blob in bytes (server default 64 MiB).")
@command
def bulk_put(out: Output, source: tuple[str, ...], target: str, workers: int, job_id: str | None,
             blob_size: int | None) -> None:
    """Upload SOURCE files or one directory to ALIAS/bucket[/prefix] in one bulk job."""
    t = remote(target)
    client = t.alias.client()
    paths = [Path(s) for s in source]
    for p in paths:
        if not p.exists():
            raise UsageError(f"{p}: no such file or directory")
    arg = paths[0] if len(paths) == 1 and paths[0].is_dir() else paths
    job = client.job(job_id) if job_id else None
    done = client.bulk_put_files(t.bucket_name, arg, t.key, workers=workers, job=job, blob_size=blob_size)
    s = done.status()
    out.emit(s.to_dict(), _status_text(s))


@bulk.command("get")
@click.argument("source")
@click.argument("dest")
@click.option("--workers", default=8, show_default=True, help="Blobs moved at once.")
@click.option("--job", "job_id", default=None, help="Finish this existing job instead of starting one.")
@command
def bulk_get(out: Output, source: str, dest: str, workers: int, job_id: str | None) -> None:
    """Download every object under ALIAS/bucket/prefix into DEST (keys become relative paths)."""
    t = remote(source)
    client = t.alias.client()
    job = client.job(job_id) if job_id else None
    done = client.bulk_get_files(t.bucket_name, t.key, dest, workers=workers, job=job)
    s = done.status()
    out.emit(s.to_dict(), _status_text(s))


def _client(alias: str) -> Client:
    """The client of a bare ALIAS (the job commands name no bucket)."""
    return remote(alias, need_bucket=False).alias.client()


@bulk.command("status")
@click.argument("alias")
@click.argument("job_id")
@command
def bulk_status(out: Output, alias: str, job_id: str) -> None:
    """State and progress of job JOB_ID on ALIAS."""
    s = _client(alias).job(job_id).status()
    out.emit(s.to_dict(), _status_text(s))


@bulk.command("cancel")
@click.argument("alias")
@click.argument("job_id")
@command
def bulk_cancel(out: Output, alias: str, job_id: str) -> None:
    """Cancel job JOB_ID on ALIAS (blobs already stored of unfinished objects are freed)."""
    _client(alias).job(job_id).cancel()
    out.emit({"job_id": job_id, "state": "CANCELED"}, f"Canceled {job_id}")


@bulk.command("list")
@click.argument("alias")
@click.option("--state", type=click.Choice(["IN_PROGRESS", "COMPLETED", "CANCELED"], case_sensitive=False),
              default=None, help="Only jobs in this state.")
@command
def bulk_list(out: Output, alias: str, state: str | None) -> None:
    """Bulk jobs on ALIAS (yours; all of them for an admin)."""
    for s in _client(alias).jobs(state):
        out.emit(s.to_dict(), _status_text(s))
