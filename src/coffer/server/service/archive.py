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
from collections.abc import AsyncIterator
from dataclasses import dataclass

from coffer.protocol.errors import S3Error

from ..meta.model import ObjectRecord
from .core import Core

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
        out = bytearray()
        for span in self.core.data.spans(self.record.segments, start, length):
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


def _no_member(record: ObjectRecord, archpath: str) -> S3Error:
    return S3Error("NoSuchKey", f"ais://{record.bucket}/{record.key}: archived file {archpath!r} does not exist",
                   Key=f"{record.key}/{archpath}")


def _not_archive(record: ObjectRecord) -> S3Error:
    return S3Error("InvalidRequest", f"ais://{record.bucket}/{record.key} is not a tar or zip archive "
                   "(archpath needs one)")


def _compressed(head: bytes) -> bool:
    """gzip, bzip2 or xz magic: a compressed tar, readable only as a stream."""
    return head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00"))


def _locate_sync(f: ObjectFile, archpath: str) -> Member:
    record = f.record
    want = archpath.lstrip("/")
    head = f.pread(0, min(record.size, 6))
    if head.startswith(b"PK") or record.key.endswith(".zip"):
        try:
            with zipfile.ZipFile(f) as z:
                info = z.getinfo(want)
        except KeyError:
            raise _no_member(record, archpath) from None
        except zipfile.BadZipFile:
            raise _not_archive(record) from None
        if info.is_dir():
            raise _no_member(record, archpath)
        offset = None
        if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 0x1:
            # the data follows the local header: 30 fixed bytes + name + extra field
            hdr = f.pread(info.header_offset, 30)
            name_len = int.from_bytes(hdr[26:28], "little")
            extra_len = int.from_bytes(hdr[28:30], "little")
            offset = info.header_offset + 30 + name_len + extra_len
        return Member(info.filename, info.file_size, offset, "zip")
    mode = "r|*" if _compressed(head) else "r:"
    try:
        with tarfile.open(fileobj=f, mode=mode) as t:
            for m in t:
                if m.name.lstrip("/") == want or m.name == "./" + want:
                    if not m.isreg():
                        raise _no_member(record, archpath)
                    return Member(m.name, m.size, m.offset_data if mode == "r:" else None, "tar")
    except tarfile.ReadError:
        raise _not_archive(record) from None
    raise _no_member(record, archpath)


class Archives:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def locate(self, record: ObjectRecord, archpath: str) -> Member:
        if not archpath:
            raise S3Error("InvalidArgument", "archpath must not be empty", ArgumentName="archpath")
        f = ObjectFile(self.core, record)
        try:
            return await self.core.run(_locate_sync, f, archpath)
        finally:
            f.close()

    async def read(self, record: ObjectRecord, member: Member, start: int = 0,
                   length: int | None = None) -> AsyncIterator[bytes]:
        """A member's bytes [start, start+length) for members that are not a plain byte range."""
        length = member.size - start if length is None else length
        f = ObjectFile(self.core, record)
        try:
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
    if member.kind == "zip":
        z = zipfile.ZipFile(f)
        return _Closing(z.open(member.name), z)
    t = tarfile.open(fileobj=f, mode="r|*")  # noqa: SIM115 - _Closing closes it
    for m in t:
        if m.name == member.name:
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
