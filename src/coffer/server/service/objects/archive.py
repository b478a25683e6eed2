"""Reading one member of a tar or zip object by its path, without reading the whole archive.

The object is opened as a seekable read-only file over its segments (`ObjectFile`: positioned
reads, no copy), and the standard library's tarfile/zipfile walk it:
- plain tar: tarfile reads each 512-byte member header and seeks past the member's data, so
  finding a member costs one small read per member before it, never the data;
- zip: zipfile reads the central directory at the end of the object, then the member's local header;
- compressed tar (.tar.gz, .tgz, .tar.bz2, .tar.xz) can only be read as a stream: the members
  before the wanted one are decompressed and discarded (documented in docs/aistore.md).

A member stored uncompressed (every tar member; a zip member with ZIP_STORED) is answered as a
byte range of the object, so the HTTP layer sends it with sendfile like any ranged GET; a deflated
zip member is decompressed in a worker thread, piece by piece.
"""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from coffer.protocol.errors import S3Error
from coffer.server.meta.model import ObjectRecord
from coffer.server.service.core import Core
from coffer.server.service.objects import archive_index as ix

_PIECE = 1 << 20


class ObjectFile(io.RawIOBase):
    """A seekable, read-only file over an object's bytes (inline or segment files)."""

    def __init__(self, core: Core, record: ObjectRecord) -> None:
        self.core = core
        self.record = record
        self.pos = 0
        self._fds: dict[str, int] = {}

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.record.size}[whence]
        if base + offset < 0:
            raise OSError("negative seek position")
        self.pos = base + offset
        return self.pos

    def readinto(self, b) -> int:  # type: ignore[override]
        n = min(len(b), max(0, self.record.size - self.pos))
        if n == 0:
            return 0
        data = self.pread(self.pos, n)
        b[: len(data)] = data
        self.pos += len(data)
        return len(data)

    def pread(self, start: int, length: int) -> bytes:
        if self.record.inline is not None:
            return self.record.inline[start : start + length]
        spans = self.core.data.spans(self.record.segments, start, length)
        if spans is None:  # no plain files to pread (volumes): verified bytes from the store
            return self.core.data.read(self.record.segments, start, length)
        out = bytearray()
        for span in spans:
            fd = self._fds.get(span.path)
            if fd is None:
                fd = self._fds[span.path] = os.open(span.path, os.O_RDONLY)
            got = os.pread(fd, span.length, span.offset)
            if len(got) != span.length:
                raise OSError("object data is shorter than its metadata says")
            out += got
        return bytes(out)

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        super().close()


@dataclass(slots=True)
class Member:
    """Where a member's bytes are: `offset` in the object when stored as is, else None."""

    name: str
    size: int
    offset: int | None
    kind: str  # "tar" | "zip"
    # a deflated zip member: where its compressed bytes are, how many, and the CRC-32 to check
    deflated_at: int | None = None
    compressed_size: int = 0
    crc: int = 0


def _no_member(record: ObjectRecord, archpath: str) -> S3Error:
    return S3Error("NoSuchKey", f"ais://{record.bucket}/{record.key}: archived file {archpath!r} does not exist",
                   Key=f"{record.key}/{archpath}")


def _not_archive(record: ObjectRecord) -> S3Error:
    return S3Error("InvalidRequest", f"ais://{record.bucket}/{record.key} is not a tar or zip archive "
                   "(archpath needs one)")


def _compressed(head: bytes) -> bool:
    """gzip, bzip2 or xz magic: a compressed tar, readable only as a stream."""
    return head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00"))


def _zip_member(f: ObjectFile, infos: dict[str, zipfile.ZipInfo], want: str) -> Member:
    record = f.record
    info = infos.get(want)
    if info is None or info.is_dir():
        raise _no_member(record, want)
    if info.flag_bits & 0x1:  # encrypted: nothing we can serve
        raise S3Error("InvalidRequest", f"archived file {want!r} is encrypted")
    # the data follows the local header: 30 fixed bytes + name + extra field
    hdr = f.pread(info.header_offset, 30)
    data_at = info.header_offset + 30 + int.from_bytes(hdr[26:28], "little") + int.from_bytes(hdr[28:30], "little")
    if info.compress_type == zipfile.ZIP_STORED:
        return Member(info.filename, info.file_size, data_at, "zip")
    if info.compress_type == zipfile.ZIP_DEFLATED:
        return Member(info.filename, info.file_size, None, "zip", data_at, info.compress_size, info.CRC)
    return Member(info.filename, info.file_size, None, "zip")  # bzip2/lzma: through zipfile


def _zip_infos(f: ObjectFile) -> dict[str, zipfile.ZipInfo]:
    try:
        with zipfile.ZipFile(f) as z:
            return {ix.norm(i.filename): i for i in z.infolist()}
    except zipfile.BadZipFile:
        raise _not_archive(f.record) from None


def _tarfile_member(f: ObjectFile, want: str, compressed: bool) -> Member:
    record = f.record
    mode = "r|*" if compressed else "r:"
    try:
        with tarfile.open(fileobj=f, mode=mode) as t:
            for m in t:
                if ix.norm(m.name) == want:
                    if not m.isreg():
                        raise _no_member(record, want)
                    return Member(m.name, m.size, None if compressed else m.offset_data, "tar")
    except tarfile.ReadError:
        raise _not_archive(record) from None
    raise _no_member(record, want)


def _locate_sync(f: ObjectFile, archpath: str, cache: ix.IndexCache) -> Member:
    record = f.record
    want = ix.norm(archpath)
    key = (record.bucket, record.key, record.etag, record.size, record.last_modified)
    head = f.pread(0, min(record.size, 6))
    if head.startswith(b"PK") or record.key.endswith(".zip"):
        infos = cache.get(key, lambda: _zip_infos(f))
        return _zip_member(f, infos, want)
    if _compressed(head):
        return _tarfile_member(f, want, True)
    idx: ix.TarIndex = cache.get(key, ix.TarIndex)
    with idx.lock:
        ix.scan_tar(f, record.size, idx, want)
        if idx.fallback:
            cache.drop(key)
        elif idx.next == 0 and idx.done and record.size > 0:
            raise _not_archive(record)  # not even one valid header
    if idx.fallback:
        return _tarfile_member(f, want, False)
    found = idx.members.get(want)
    if found is None or not found[2]:
        raise _no_member(record, archpath)
    return Member(want, found[1], found[0], "tar")


class Archives:
    def __init__(self, core: Core) -> None:
        self.core = core
        self._index = ix.IndexCache()  # per worker: a shard read member by member is scanned once

    async def locate(self, record: ObjectRecord, archpath: str) -> Member:
        if not archpath:
            raise S3Error("InvalidArgument", "archpath must not be empty", ArgumentName="archpath")
        f = ObjectFile(self.core, record)
        try:
            return await self.core.run(_locate_sync, f, archpath, self._index)
        finally:
            f.close()

    async def read(self, record: ObjectRecord, member: Member, start: int = 0,
                   length: int | None = None) -> AsyncIterator[bytes]:
        """A member's bytes [start, start+length) for members that are not a plain byte range."""
        length = member.size - start if length is None else length
        f = ObjectFile(self.core, record)
        try:
            if member.offset is not None:  # stored as is: a byte range of the object
                pos, end = member.offset + start, member.offset + start + length
                while pos < end:
                    data = await self.core.run(f.pread, pos, min(_PIECE, end - pos))
                    pos += len(data)
                    yield data
                return
            reader = await self.core.run(_open_member, f, member)
            try:
                skip, left = start, length
                while left > 0:
                    data = await self.core.run(reader.read, _PIECE)
                    if not data:
                        raise S3Error("InternalError", "archived file is shorter than its header says")
                    if skip:
                        cut = min(skip, len(data))
                        data, skip = data[cut:], skip - cut
                    data = data[:left]
                    left -= len(data)
                    if data:
                        yield data
            finally:
                reader.close()
        finally:
            f.close()


def _open_member(f: ObjectFile, member: Member):
    if member.deflated_at is not None:
        return _Inflater(f, member)
    if member.kind == "zip":
        z = zipfile.ZipFile(f)
        return _Closing(z.open(member.name), z)
    t = tarfile.open(fileobj=f, mode="r|*")  # noqa: SIM115 - _Closing closes it
    for m in t:
        if ix.norm(m.name) == ix.norm(member.name):
            src = t.extractfile(m)
            if src is not None:
                return _Closing(src, t)
    t.close()
    raise S3Error("InternalError", "archived file vanished while being read")


class _Closing:
    def __init__(self, src, owner) -> None:
        self.src, self.owner = src, owner

    def read(self, n: int) -> bytes:
        return self.src.read(n)

    def close(self) -> None:
        self.src.close()
        self.owner.close()


class _Inflater:
    """A deflated zip member read straight from its bytes (the central directory is not parsed again);
    its CRC-32 is checked at the end, as zipfile does."""

    def __init__(self, f: ObjectFile, member: Member) -> None:
        assert member.deflated_at is not None
        self.f, self.member = f, member
        self.pos, self.end = member.deflated_at, member.deflated_at + member.compressed_size
        self.z = zlib.decompressobj(-15)
        self.crc = 0
        self.out = 0

    def read(self, n: int) -> bytes:
        while True:
            if self.z.unconsumed_tail:
                data = self.z.decompress(self.z.unconsumed_tail, n)
            elif self.pos < self.end:
                raw = self.f.pread(self.pos, min(_PIECE, self.end - self.pos))
                self.pos += len(raw)
                data = self.z.decompress(raw, n)
            else:
                data = self.z.flush()
            self.crc = zlib.crc32(data, self.crc)
            self.out += len(data)
            if self.out > self.member.size or (self.out == self.member.size and self.crc != self.member.crc):
                raise S3Error("InternalError", f"archived file {self.member.name!r} is corrupt (size or CRC-32 "
                              "differs from its directory entry)")
            if data or (self.pos >= self.end and not self.z.unconsumed_tail):
                return data

    def close(self) -> None:
        pass

