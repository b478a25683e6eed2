"""Local data store: object data as files in one data folder, written crash-safely.

Owns the on-disk layout of object bytes and the write protocol that makes them durable:

    DATA/objects/ab/cd/abcd0123...ef   one file per segment (a whole object, or one multipart part)
    DATA/tmp/<random>.tmp               files being written; anything here at start is garbage

A segment is written to tmp/, fdatasync'ed, renamed into objects/ and the destination directory is
fsync'ed, so the name is durable before the caller commits the metadata that points at it. The
metadata commit is the moment an object exists: a crash before it leaves an unreferenced file (an
orphan, found by `iter_refs` + the metadata store's `referenced`), never a partial object.

A ref is the 32-hex-digit file name; the two directory levels spread files so that no directory
grows past a few thousand entries per million segments.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from coffer.protocol.checksums import Hasher
from coffer.server.data.durable import fsync_dir
from coffer.server.data.interface import DataShort, DataStore, ReadSpan, SegmentLike
from coffer.server.data.volumes.storage_policy import Policy

READ_BATCH = 4 << 20  # bytes per batch of `FileReader`


def plan_range(segments: Sequence[SegmentLike], start: int, length: int) -> list[tuple[str, int, int]]:
    """(ref, offset in segment, length) of every segment piece holding bytes [start, start+length)."""
    out: list[tuple[str, int, int]] = []
    pos, end = 0, start + length
    for seg in segments:
        seg_end = pos + seg.size
        if seg_end > start and pos < end:
            lo = max(start, pos) - pos
            out.append((seg.ref, lo, min(end, seg_end) - pos - lo))
        pos = seg_end
        if pos >= end:
            break
    return out


_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


class FileWriter:
    """Receives one segment's bytes (called from a worker thread, never on the event loop).

    Hashes as it writes so the data is touched once: MD5 for the ETag, plus whatever checksums
    the request asked for or must verify (x-amz-checksum-*, the SigV4 payload SHA-256).
    """

    def __init__(self, store: LocalDataStore, hashers: dict[str, Hasher]) -> None:
        self._store = store
        self.ref = secrets.token_hex(16)
        self.tmp_path = store.tmp_dir / f"{self.ref}.tmp"
        self._fd: int | None = os.open(self.tmp_path, _OPEN_FLAGS, 0o640)
        self.hashers = hashers
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        for h in self.hashers.values():
            h.update(data)
        view = memoryview(data)
        fd = self._fd
        assert fd is not None
        while view:
            n = os.write(fd, view)
            view = view[n:]
        self.size += len(data)

    def commit(self) -> str:
        """Make the bytes durable under their final name. After this, only metadata is missing."""
        fd = self._fd
        assert fd is not None
        try:
            if self._store.fsync:
                os.fdatasync(fd)
        finally:
            os.close(fd)
            self._fd = None
        final = self._store.path(self.ref)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(self.tmp_path, final)
        if self._store.fsync:
            fsync_dir(final.parent)
        return self.ref

    def abort(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        try:
            os.unlink(self.tmp_path)
        except FileNotFoundError:
            pass


class FileReader:
    """Bytes of a range of segment files in batches (the `reader` of the single-folder store)."""

    def __init__(self, spans: list[ReadSpan]) -> None:
        self._spans = spans

    def next_batch(self) -> list[memoryview]:
        out: list[memoryview] = []
        n = 0
        while self._spans and n < READ_BATCH:
            span = self._spans[0]
            want = min(span.length, READ_BATCH - n)
            got = _pread_exact(span.path, span.offset, want)
            out.append(memoryview(got))
            n += want
            if want == span.length:
                self._spans.pop(0)
            else:
                self._spans[0] = ReadSpan(span.path, span.offset + want, span.length - want)
        return out

    def close(self) -> None:
        self._spans.clear()


def _pread_exact(path: str, offset: int, length: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise DataShort("object data is shorter than its metadata says") from None
    try:
        out = bytearray()
        while len(out) < length:
            data = os.pread(fd, length - len(out), offset + len(out))
            if not data:
                raise DataShort("object data is shorter than its metadata says")
            out += data
        return bytes(out)
    finally:
        os.close(fd)


class LocalDataStore(DataStore):
    """Object data as files in one data folder (see module docstring); every segment is SINGLE."""

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.objects_dir = self.root / "objects"
        self.tmp_dir = self.root / "tmp"
        self.fsync = fsync

    def open(self) -> None:
        self.objects_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def path(self, ref: str) -> Path:
        return self.objects_dir / ref[0:2] / ref[2:4] / ref

    def default_policy(self) -> Policy | None:
        return None  # one folder, one layout: storage policies do not apply

    def writer(self, hashers: dict[str, Hasher], policy: Policy | None = None) -> FileWriter:
        return FileWriter(self, hashers)  # one folder: every segment is SINGLE (service/storage/policies.py)

    def spans(self, segments: Sequence[SegmentLike], start: int, length: int) -> list[ReadSpan]:
        """The pieces of files that hold bytes [start, start+length) of an object."""
        return [ReadSpan(str(self.path(ref)), lo, n) for ref, lo, n in plan_range(segments, start, length)]

    def reader(self, segments: Sequence[SegmentLike], start: int, length: int) -> FileReader:
        return FileReader(self.spans(segments, start, length))

    def read(self, segments: Sequence[SegmentLike], start: int, length: int) -> bytes:
        return b"".join(_pread_exact(s.path, s.offset, s.length) for s in self.spans(segments, start, length))

    def fragments(self, segment: SegmentLike, trust: int = 2) -> dict[str, Any]:
        """One file per segment: present (and as long as the object uses) or missing. There is no
        checksum to verify per block, so every trust level means the same."""
        path = self.path(segment.ref)
        try:
            size: int | None = os.stat(path).st_size
        except FileNotFoundError:
            size = None
        good = size is not None and size >= segment.size
        status = "ok" if good else ("missing" if size is None else "short")
        frag = {"index": 0, "path": str(path), "size": size, "status": status}
        return {"ref": segment.ref, "policy": "SINGLE", "state": "healthy" if good else "missing",
                "good": int(good), "width": 1, "fragments": [frag]}

    def delete(self, refs: list[str]) -> None:
        for ref in refs:
            try:
                os.unlink(self.path(ref))
            except FileNotFoundError:
                pass

    # -- housekeeping -------------------------------------------------------------------------------
    def sweep_tmp(self, older_than: float = 0.0) -> int:
        """Delete leftover temporary files (all of them at start, when no writer can be running)."""
        removed = 0
        cutoff = time.time() - older_than
        for entry in os.scandir(self.tmp_dir):
            try:
                if entry.stat().st_mtime <= cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                pass
        return removed

    def iter_refs(self, before: float) -> Iterator[str]:
        """Every segment file on disk last written before the time `before` (the orphan sweep's input).

        The sweep passes the server's start time: a file written before this start cannot belong to a
        write still in progress, so an unreferenced one is certainly garbage."""
        cutoff = before
        if not self.objects_dir.exists():
            return
        for d1 in os.scandir(self.objects_dir):
            if not d1.is_dir():
                continue
            for d2 in os.scandir(d1.path):
                if not d2.is_dir():
                    continue
                for f in os.scandir(d2.path):
                    try:
                        if f.stat().st_mtime <= cutoff:
                            yield f.name
                    except FileNotFoundError:
                        pass
