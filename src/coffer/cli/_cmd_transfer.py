"""The CLI's data movers: cp, mv and sync, between local paths and ALIAS/bucket/key targets.

Many files below the part size go first, through one event loop (cli/_small_files.py); the rest go
through one TransferManager per endpoint. Each of the two stages holds at most ``--concurrency``
requests in flight, and one progress bar counts the bytes of both. Directory semantics follow the aws CLI: ``cp -r DIR
ALIAS/b/prefix`` puts DIR's *contents* under ``prefix/``. Between two aliases of the same endpoint a
copy is server-side; between different endpoints the data streams through this process.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import click

from coffer import Client, TransferCancelled, TransferConfig, TransferFuture, TransferManager
from coffer.cli import _aliases
from coffer.cli._aliases import Remote
from coffer.cli._filters import Selector, selector, selector_options
from coffer.cli._output import Output, UsageError, command, describe, human_size
from coffer.sdk._transfer._directory import key_for, local_path_for, walk_files
from coffer.sdk._types import ObjectInfo

MiB = 1024 * 1024


class Rate(click.ParamType):
    """A transfer rate in bytes per second: ``512K``, ``10M``, ``1.5G`` (powers of 1024, as curl's
    --limit-rate), or plain bytes; a trailing ``B``, ``iB`` or ``/s`` is allowed (``10MiB/s``)."""

    name = "rate"
    _UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().upper().removesuffix("/S").removesuffix("IB").removesuffix("B")
        unit = text[-1:] if text[-1:] in self._UNITS else ""
        number = text[: len(text) - len(unit)]
        try:
            rate = int(float(number) * self._UNITS[unit])
        except ValueError:
            self.fail(f"{value!r} is not a rate (examples: 512K, 10M, 1.5G, 1048576)", param, ctx)
        if rate <= 0:
            self.fail(f"{value!r}: the rate must be positive", param, ctx)
        return rate


def transfer_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The option stack cp, mv and sync share."""
    fn = click.option("--limit-rate", type=Rate(), default=None, metavar="RATE",
                      help="Cap the whole command's bandwidth, bytes/s: 512K, 10M, 1G.")(fn)
    fn = click.option("--no-batch", is_flag=True,
                      help="One request per small file, even against Coffer (no batch requests).")(fn)
    fn = click.option("--concurrency", default=10, show_default=True, help="Parallel requests.")(fn)
    fn = click.option("--part-size", default=8, show_default=True, help="Multipart part size in MiB.")(fn)
    fn = click.option("--content-type", default=None, help="Content type of uploaded objects.")(fn)
    fn = click.option("--attr", multiple=True, help="Metadata KEY=VALUE for uploads (repeatable).")(fn)
    return fn


@dataclass
class Job:
    kind: str  # upload | download | copy
    src: Path | Remote
    dst: Path | Remote
    size: int


def local_or_remote(arg: str) -> Path | Remote:
    target = _aliases.parse_target(arg, _aliases.load())
    if isinstance(target, Remote) and not target.bucket:
        raise UsageError(f"{arg!r} names no bucket")
    return target


def metadata_args(attrs: tuple[str, ...]) -> dict[str, str] | None:
    out = {}
    for a in attrs:
        k, sep, v = a.partition("=")
        if not sep or not k:
            raise UsageError(f"--attr wants KEY=VALUE, got {a!r}")
        out[k] = v
    return out or None


def child_of(dst: Remote, key: str) -> Remote:
    return Remote(dst.alias, dst.bucket, key)


def _plan_cp(src: Path | Remote, dst: Path | Remote, recursive: bool, into_dir: bool = False,
             sel: Selector | None = None) -> Iterator[Job]:
    """The jobs of one cp; ``into_dir``: the target was written with a trailing slash; ``sel`` filters
    the files of a recursive copy by their name relative to the source, size and modification time."""
    sel = sel or Selector()
    if isinstance(src, Path) and isinstance(dst, Path):
        raise UsageError("both paths are local: use cp(1)")
    if into_dir and isinstance(dst, Remote) and dst.key and not dst.key.endswith("/"):
        dst = child_of(dst, dst.key + "/")
    if isinstance(src, Path):
        assert isinstance(dst, Remote)
        if src.is_dir():
            if not recursive:
                raise UsageError(f"{src} is a directory: add -r")
            for path, rel, size in walk_files(src):
                if sel.active and not sel.ok("/".join(rel), size, path.stat().st_mtime):
                    continue
                yield Job("upload", path, child_of(dst, key_for(dst.key, rel)), size)
            return
        size = src.stat().st_size  # FileNotFoundError -> exit 3 with the path
        key = dst.key + src.name if (not dst.key or dst.key.endswith("/")) else dst.key
        yield Job("upload", src, child_of(dst, key), size)
        return
    client = src.alias.client()
    bucket = client.bucket(src.bucket or "")
    if recursive:
        prefix = src.key if not src.key or src.key.endswith("/") else src.key + "/"
        for entry in bucket.list_objects(prefix=prefix):
            assert isinstance(entry, ObjectInfo)  # no delimiter: no common prefixes
            name = entry.key[len(prefix):]
            if sel.active and not sel.ok(name, entry.size, entry.last_modified):
                continue
            if isinstance(dst, Path):
                local = local_path_for(dst, name)
                if local is not None:
                    yield Job("download", child_of(src, entry.key), local, entry.size)
            else:
                yield Job("copy", child_of(src, entry.key), child_of(dst, key_for(dst.key, [name])), entry.size)
        return
    if not src.key:
        raise UsageError(f"{src} is a bucket: add -r to copy what is in it")
    props = bucket.object(src.key).head()
    base = src.key.rsplit("/", 1)[-1]
    if isinstance(dst, Path):
        local = dst / base if (dst.is_dir() or into_dir) else dst
        yield Job("download", src, local, props.size)
    else:
        key = dst.key + base if (not dst.key or dst.key.endswith("/")) else dst.key
        yield Job("copy", src, child_of(dst, key), props.size)


class Runner:
    """Runs jobs on per-endpoint transfer managers and reports each one as it finishes."""

    def __init__(self, out: Output, config: TransferConfig, content_type: str | None,
                 metadata: dict[str, str] | None, *, batch: bool = True) -> None:
        self.out, self.config = out, config
        self.batch = batch  # False: --no-batch
        self.content_type, self.metadata = content_type, metadata
        self._managers: dict[str, TransferManager] = {}
        self._clients: dict[str, Client] = {}
        self.stopping = threading.Event()  # cancel() was called: start nothing more
        self._lock = threading.Lock()
        self._inflight: list[TransferFuture] = []

    def cancel(self) -> None:
        """Stop (from another thread: the watch commands' signal thread): the transfers in flight are
        cancelled (an upload aborted, a partial download removed), no new one starts, and what was
        cancelled is not reported as failed; ``run`` still counts it, so no ``--remove`` follows."""
        self.stopping.set()
        with self._lock:
            inflight = list(self._inflight)
        for fut in inflight:
            fut.cancel()

    def _tm(self, r: Remote) -> TransferManager:
        if r.alias.name not in self._managers:
            self._clients[r.alias.name] = r.alias.client()
            self._managers[r.alias.name] = self._clients[r.alias.name].transfer(self.config)
        return self._managers[r.alias.name]

    def run(self, jobs: list[Job], label: str) -> int:
        total = sum(j.size for j in jobs)
        failures = 0
        with self.out.bars() as bars:
            subs = bars.subscriber(label, total=total) if len(jobs) > 1 else None
            rest = jobs
            if len(jobs) > 1:
                # Many files: the small ones go through one event loop (cli/_small_files.py), no
                # thread or future per file; big ones (and --limit-rate) keep the transfer manager.
                from coffer.cli import _small_files  # aiohttp: imported by the commands that need it

                small: list[Job] = []
                rest = []
                for j in jobs:
                    (small if _small_files.fits(j, self.config) else rest).append(j)
                if small:
                    def done(job: Job, exc: BaseException | None) -> None:
                        nonlocal failures
                        failures += self._report(job, exc)

                    started = _small_files.run(small, self.config, self.content_type, self.metadata, subs or [],
                                               done, self.stopping, batch_downloads=self.batch,
                                               batch_uploads=self.batch)
                    failures += len(small) - started  # not started: stopped first
            futures = []
            for job in rest:
                if self.stopping.is_set():
                    failures += 1
                    continue
                fut = self._start(job, subs if subs is not None else bars.subscriber(
                    str(job.src).rsplit("/", 1)[-1]))
                with self._lock:
                    self._inflight.append(fut)
                if self.stopping.is_set():  # cancel() may have run before the append
                    fut.cancel()
                futures.append((job, fut))
            for job, fut in futures:
                exc = fut.exception()
                with self._lock:
                    self._inflight.remove(fut)
                if isinstance(exc, TransferCancelled) and self.stopping.is_set():
                    failures += 1  # stopped, not failed: said by the command, once
                    continue
                if exc is not None and len(jobs) == 1:
                    self._shutdown()
                    raise exc  # the command's one error, reported once by the caller
                failures += self._report(job, exc, getattr(fut, "bytes_resumed", 0) or 0)
        self._shutdown()
        return failures

    def _report(self, job: Job, exc: BaseException | None, resumed: int = 0) -> int:
        """One line (or --json record) for a finished job; 1 if it failed."""
        if exc is None:
            note = f", resumed: {human_size(resumed)} were already uploaded" if resumed else ""
            self.out.emit({"action": job.kind, "source": str(job.src), "target": str(job.dst),
                           "size": job.size, "resumed_bytes": resumed},
                          f"{job.src} -> {job.dst} ({human_size(job.size)}{note})")
            return 0
        record, text = describe(exc)
        self.out.fail({"action": job.kind, "source": str(job.src), "target": str(job.dst), **record},
                      f"coffer: {job.src}: {text}")
        return 1

    def _shutdown(self) -> None:
        for tm in self._managers.values():
            tm.shutdown()
        self._managers.clear()  # a later run (mirror --watch) starts fresh managers

    def _start(self, job: Job, subs: list[Any]) -> TransferFuture:
        if job.kind == "upload":
            assert isinstance(job.src, Path) and isinstance(job.dst, Remote)
            return self._tm(job.dst).upload(job.src, job.dst.bucket_name, job.dst.key, subs,
                                            content_type=self.content_type, metadata=self.metadata)
        if job.kind == "download":
            assert isinstance(job.src, Remote)
            # The size came from the listing (or the HEAD of a single object): a small object then
            # needs no HEAD of its own, one GET carries its ETag and checksum (half the requests).
            assert isinstance(job.dst, Path)
            return self._tm(job.src).download(job.src.bucket_name, job.src.key, job.dst, subs, size_hint=job.size)
        assert isinstance(job.src, Remote) and isinstance(job.dst, Remote)
        if job.src.alias.url == job.dst.alias.url and job.src.alias.access_key == job.dst.alias.access_key:
            return self._tm(job.dst).copy(job.src.bucket_name, job.src.key, job.dst.bucket_name, job.dst.key,
                                          subs, metadata=self.metadata, content_type=self.content_type)
        # Different endpoints: stream the object through this process into a multipart upload.
        reader = job.src.alias.client().bucket(job.src.bucket_name).object(job.src.key).get_reader()
        body = cast(BinaryIO, _IterFile(reader.iter_content()))  # upload() only calls read()
        return self._tm(job.dst).upload(body, job.dst.bucket_name, job.dst.key, subs,
                                        content_type=self.content_type, metadata=self.metadata)


class _IterFile:
    """A non-seekable, read-only file over an iterator of chunks (for endpoint-to-endpoint copies)."""

    name = "stream"

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks, self._buf = chunks, b""

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            nxt = next(self._chunks, b"")
            if not nxt:
                break
            self._buf += nxt
        out, self._buf = (self._buf, b"") if n < 0 else (self._buf[:n], self._buf[n:])
        return out


def transfer_config(concurrency: int, part_size: int, limit_rate: int | None = None) -> TransferConfig:
    return TransferConfig(multipart_threshold=part_size * MiB, multipart_chunksize=part_size * MiB,
                          max_concurrency=concurrency, max_bandwidth=limit_rate)


def _stdin_to(out: Output, dst: Remote, config: TransferConfig, content_type: str | None,
              metadata: dict[str, str] | None) -> None:
    """Upload standard input to one object (multipart as it comes, one part in memory per slot)."""
    if not dst.key or dst.key.endswith("/"):
        raise UsageError(f"{dst}: name the object to write standard input to (ALIAS/bucket/key)")
    with dst.alias.client() as client, client.transfer(config) as tm, out.bars() as bars:
        fut = tm.upload(sys.stdin.buffer, dst.bucket or "", dst.key, bars.subscriber("stdin"),
                        content_type=content_type, metadata=metadata)
        fut.result()
    out.emit({"action": "upload", "source": "-", "target": str(dst), "size": fut.bytes_transferred},
             f"- -> {dst} ({human_size(fut.bytes_transferred or 0)})")


def _cp_version(out: Output, sources: tuple[str, ...], target: str, version_id: str,
                config: TransferConfig) -> None:
    """One version of one object, to a file, stdout or another key (server-side on the same endpoint)."""
    src = local_or_remote(sources[0]) if len(sources) == 1 else None
    if not isinstance(src, Remote) or not src.key or src.key.endswith("/"):
        raise UsageError("--version-id copies one object: cp --version-id V ALIAS/bucket/key TARGET")
    if target == "-":
        _to_stdout(src, version_id)
        return
    dst = local_or_remote(target)
    base = src.key.rsplit("/", 1)[-1]
    if isinstance(dst, Path):
        local = dst / base if (dst.is_dir() or target.endswith("/")) else dst
        with src.alias.client() as client, client.transfer(config) as tm:
            props = tm.download(src.bucket or "", src.key, local, version_id=version_id).result()
        out.emit({"action": "download", "source": str(src), "version_id": version_id, "target": str(local),
                  "size": props.size}, f"{src} ({version_id}) -> {local} ({human_size(props.size)})")
        return
    key = dst.key + base if (not dst.key or dst.key.endswith("/")) else dst.key
    if dst.alias.url != src.alias.url:
        raise UsageError("--version-id between two endpoints: download the version first")
    res = src.alias.client().bucket(src.bucket or "").object(src.key).copy_to(dst.bucket or "", key,
                                                                              version_id=version_id)
    out.emit({"action": "copy", "source": str(src), "version_id": version_id, "target": f"{child_of(dst, key)}",
              "new_version_id": res.version_id}, f"{src} ({version_id}) -> {child_of(dst, key)}")


def _to_stdout(src: Remote, version_id: str | None = None) -> None:
    sink = sys.stdout.buffer
    reader = src.alias.client().bucket(src.bucket or "").object(src.key).get_reader(version_id=version_id)
    for chunk in reader.iter_content():
        sink.write(chunk)
    sink.flush()


@click.command("cp")
@click.argument("sources", nargs=-1, required=True)
@click.argument("target")
@click.option("-r", "--recursive", is_flag=True, help="Copy directories / prefixes.")
@click.option("--version-id", "--vid", "version_id", default=None, help="Copy this version of the source object.")
@transfer_options
@selector_options
@command
def cp(out: Output, sources: tuple[str, ...], target: str, recursive: bool, version_id: str | None,
       concurrency: int, part_size: int, content_type: str | None, attr: tuple[str, ...],
       limit_rate: int | None, no_batch: bool, **kw: Any) -> None:
    """Copy local->remote, remote->local or remote->remote; "-" is standard input or output.

    \b
    Several SOURCES go into TARGET as a folder. A TARGET ending in "/" (or an existing local
    folder) is a folder: the source's name is kept. With -r, a source folder's *contents* go
    under TARGET ("cp -r dir alias/b/p" makes p/<files of dir>), the same for "dir" and "dir/".
    """
    config = transfer_config(concurrency, part_size, limit_rate)
    if version_id:
        _cp_version(out, sources, target, version_id, config)
        return
    if sources == ("-",):
        dst = local_or_remote(target)
        if not isinstance(dst, Remote):
            raise UsageError("cp - TARGET: TARGET must be ALIAS/bucket/key")
        _stdin_to(out, dst, config, content_type, metadata_args(attr))
        return
    if target == "-":
        for arg in sources:
            src = local_or_remote(arg)
            if not isinstance(src, Remote) or not src.key:
                raise UsageError(f"cp SOURCE -: {arg!r} must be ALIAS/bucket/key")
            _to_stdout(src)
        return
    into_dir = target.endswith("/") or len(sources) > 1
    sel = selector(kw)
    dst = local_or_remote(target)
    jobs = [j for arg in sources for j in _plan_cp(local_or_remote(arg), dst, recursive, into_dir, sel)]
    runner = Runner(out, config, content_type, metadata_args(attr), batch=not no_batch)
    failed = runner.run(jobs, f"{len(jobs)} files")
    if failed:
        raise click.exceptions.Exit(1)


@click.command("pipe")
@click.argument("target")
@click.option("--part-size", default=8, show_default=True, help="Multipart part size in MiB.")
@click.option("--concurrency", default=4, show_default=True, help="Parts uploaded at once.")
@click.option("--content-type", default=None, help="Content type of the object.")
@click.option("--attr", multiple=True, help="Metadata KEY=VALUE (repeatable).")
@click.option("--limit-rate", type=Rate(), default=None, metavar="RATE", help="Cap the bandwidth, bytes/s: 10M.")
@command
def pipe(out: Output, target: str, part_size: int, concurrency: int, content_type: str | None,
         attr: tuple[str, ...], limit_rate: int | None) -> None:
    """Write standard input to an object (any length: uploaded in parts as it arrives)."""
    dst = local_or_remote(target)
    if not isinstance(dst, Remote):
        raise UsageError(f"{target!r} is not ALIAS/bucket/key")
    _stdin_to(out, dst, transfer_config(concurrency, part_size, limit_rate), content_type, metadata_args(attr))


@click.command("mv")
@click.argument("source")
@click.argument("target")
@click.option("-r", "--recursive", is_flag=True, help="Move directories / prefixes.")
@transfer_options
@command
def mv(out: Output, source: str, target: str, recursive: bool, concurrency: int, part_size: int,
       content_type: str | None, attr: tuple[str, ...], limit_rate: int | None, no_batch: bool) -> None:
    """Move: copy, then remove each source that was copied."""
    jobs = list(_plan_cp(local_or_remote(source), local_or_remote(target), recursive, target.endswith("/")))
    runner = Runner(out, transfer_config(concurrency, part_size, limit_rate), content_type, metadata_args(attr),
                    batch=not no_batch)
    if runner.run(jobs, f"{len(jobs)} files"):
        raise click.exceptions.Exit(1)  # keep every source when anything failed
    remotes: dict[tuple[str, str], list[str]] = {}
    for job in jobs:
        if isinstance(job.src, Path):
            job.src.unlink()
        else:
            remotes.setdefault((job.src.alias.name, job.src.bucket or ""), []).append(job.src.key)
    aliases = _aliases.load()
    for (name, bucket), keys in remotes.items():
        aliases[name].client().bucket(bucket).delete_objects(keys)
    src = local_or_remote(source)
    if isinstance(src, Path) and src.is_dir():
        for dirpath, _dirs, _files in sorted(os.walk(src), reverse=True):
            if not os.listdir(dirpath):
                os.rmdir(dirpath)
