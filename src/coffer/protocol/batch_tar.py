"""The batch GET answer (`POST /_coffer/batch/v1/get`, docs/batch-get.md): a POSIX pax tar stream.

One member per requested object, in request order, named by its key. A pax extended header before
each member carries what a client needs to verify and restore it (`COFFER.*` records, below); the
member's mtime is the object's Last-Modified. A key that could not be read is a member of size 0
whose pax records carry `COFFER.error-code`, `COFFER.error-message` and `COFFER.error-status`
instead of data. The stream ends with two zero blocks; a stream without them was cut.

Both halves are here, pure: `member_header` / `end_of_archive` (the server writes the data between
them, then `padding`), and `TarReader`, an incremental (sans-I/O) parser the SDK feeds with what it
receives.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field

BLOCK = 512
PREFIX = "COFFER."
# pax record names (after PREFIX)
ETAG, VERSION_ID, CONTENT_TYPE, CHECKSUM_TYPE = "etag", "version-id", "content-type", "checksum-type"
ERROR_CODE, ERROR_MESSAGE, ERROR_STATUS = "error-code", "error-message", "error-status"
CHECKSUM = "checksum-"  # + algorithm in lower case: COFFER.checksum-crc32c = base64 value


class TarFormatError(ValueError):
    """The stream is not a tar this protocol writes (bad header checksum, truncated block, ...)."""


def member_header(name: str, size: int, mtime: float, records: dict[str, str]) -> bytes:
    """The header blocks (pax extended header included) of one regular-file member."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime  # a float: tarfile writes the exact value as a pax `mtime` record
    info.mode = 0o644
    info.type = tarfile.REGTYPE
    info.pax_headers = {PREFIX + k: v for k, v in records.items()}
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def padding(size: int) -> bytes:
    """Zero bytes completing a member's data of `size` bytes to whole blocks."""
    return b"\0" * (-size % BLOCK)


def end_of_archive() -> bytes:
    return b"\0" * (2 * BLOCK)


@dataclass(slots=True)
class Member:
    """One member as the reader found it: `records` are the COFFER.* pax records, prefix removed."""

    name: str
    size: int
    mtime: float
    records: dict[str, str] = field(default_factory=dict)


def _number(field_: bytes) -> int:
    if field_[:1] in (b"\x80", b"\xff"):  # base-256 (GNU) for values octal cannot hold
        n = int.from_bytes(field_[1:], "big")
        return -n if field_[:1] == b"\xff" else n
    text = field_.rstrip(b"\0 ").strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarFormatError(f"bad number field {field_!r}") from None


def _parse_pax(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            raise TarFormatError("bad pax record")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise TarFormatError("bad pax record length") from None
        record = data[space + 1 : pos + length]
        if length <= 0 or not record.endswith(b"\n") or b"=" not in record:
            raise TarFormatError("bad pax record")
        k, v = record[:-1].split(b"=", 1)
        out[k.decode("utf-8", "surrogateescape")] = v.decode("utf-8", "surrogateescape")
        pos += length
    return out


class TarReader:
    """Feed it bytes; it hands back events: `Member` (header of the next member), `bytes` (a piece of
    its data) and, once both end-of-archive blocks arrived, `done` is True. Memory: at most one pax
    header and one block besides what it is fed."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._remaining = 0  # data bytes of the current member still to come
        self._pad = 0  # padding bytes after them
        self._pax: dict[str, str] | None = None
        self._pax_left = -1  # >= 0: reading a pax header's data
        self._pax_buf = bytearray()
        self._pax_pad = 0
        self._zeros = 0
        self.done = False

    def feed(self, data: bytes) -> list[Member | bytes]:
        if self.done:
            if data.strip(b"\0"):
                raise TarFormatError("data after the end of the archive")
            return []
        self._buf += data
        out: list[Member | bytes] = []
        while self._buf and not self.done:
            if self._remaining:
                n = min(self._remaining, len(self._buf))
                out.append(bytes(self._buf[:n]))
                del self._buf[:n]
                self._remaining -= n
                continue
            if self._pad:
                n = min(self._pad, len(self._buf))
                del self._buf[:n]
                self._pad -= n
                continue
            if self._pax_left >= 0:
                n = min(self._pax_left, len(self._buf))
                self._pax_buf += self._buf[:n]
                del self._buf[:n]
                self._pax_left -= n
                if self._pax_left == 0:
                    self._pax = _parse_pax(bytes(self._pax_buf))
                    self._pax_left, self._pad = -1, self._pax_pad
                continue
            if len(self._buf) < BLOCK:
                break
            block = bytes(self._buf[:BLOCK])
            del self._buf[:BLOCK]
            if not block.strip(b"\0"):
                self._zeros += 1
                self.done = self._zeros == 2  # the end of the archive: two zero blocks
                continue
            self._zeros = 0
            out.extend(self._header(block))
        return out

    def _header(self, block: bytes) -> list[Member | bytes]:
        stored = _number(block[148:156])
        if stored != sum(block[:148]) + 8 * 32 + sum(block[156:]):
            raise TarFormatError("bad tar header checksum")
        kind = block[156:157]
        size = _number(block[124:136])
        if kind == b"x":
            if size > 1 << 20:
                raise TarFormatError("pax header too large")
            self._pax_buf = bytearray()
            self._pax_left, self._pax_pad = size, -size % BLOCK
            if size == 0:
                self._pax, self._pax_left, self._pad = {}, -1, 0
            return []
        if kind not in (b"0", b"\0"):
            raise TarFormatError(f"unexpected tar member type {kind!r}")
        pax = self._pax or {}
        self._pax = None
        name = block[:100].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        prefix = block[345:500].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        if prefix:
            name = prefix + "/" + name
        name = pax.get("path", name)
        size = int(pax["size"]) if "size" in pax else size
        mtime = float(pax["mtime"]) if "mtime" in pax else float(_number(block[136:148]))
        records = {k[len(PREFIX):]: v for k, v in pax.items() if k.startswith(PREFIX)}
        self._remaining, self._pad = size, -size % BLOCK
        return [Member(name, size, mtime, records)]
