"""Member indexes of tar and zip objects, kept per worker so a shard read member by member is scanned once.

A plain tar is scanned with a minimal header reader (one 512-byte positioned read per member, the
member's data skipped) that stops at the member asked for and remembers where it stopped; the next
lookup in the same archive resumes there, or answers at once from what was already seen. Headers the
minimal reader does not handle — pax ('x', 'g'), GNU long names ('L', 'K'), sparse files, base-256
sizes — make it give up (`fallback`) and the caller uses the standard library's tarfile, which
handles them all. Zip central directories are cached as parsed by zipfile.

The cache is keyed by (bucket, key, etag, size, mtime): a new version of the object is a new key,
so a stale index is never used. It is bounded by the number of archives and of members it holds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

_BLOCK = 512
_ZERO = bytes(_BLOCK)
_REGULAR = (b"0", b"\0", b"7")
_PLAIN = frozenset((b"0", b"\0", b"7", b"1", b"2", b"3", b"4", b"5", b"6"))
MAX_ARCHIVES = 64
MAX_MEMBERS = 500_000


class Reader(Protocol):
    def pread(self, start: int, length: int) -> bytes: ...


def norm(name: str) -> str:
    """Member names as looked up: no leading "./" or "/"."""
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


@dataclass
class TarIndex:
    """Members of a plain tar seen so far: name -> (data offset, size, regular file)."""

    members: dict[str, tuple[int, int, bool]] = field(default_factory=dict)
    next: int = 0  # offset of the next header to read
    done: bool = False
    fallback: bool = False  # a header needs tarfile: the caller must use it
    lock: threading.Lock = field(default_factory=threading.Lock)


def _octal(field_bytes: bytes) -> int | None:
    text = field_bytes.rstrip(b"\0 ").lstrip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        return None


def _parse(hdr: bytes) -> tuple[str, int, bytes] | None:
    """(name, size, type) of a plain ustar/v7 header; None when tarfile must take over."""
    if hdr[124] & 0x80:  # base-256 size (members of 8 GiB and more)
        return None
    want = _octal(hdr[148:156])
    if want is None or want != sum(hdr[:148]) + 8 * 32 + sum(hdr[156:]):
        return None
    typ = hdr[156:157]
    if typ not in _PLAIN:
        return None
    size = _octal(hdr[124:136])
    if size is None:
        return None
    name = hdr[:100].split(b"\0", 1)[0]
    if hdr[257:262] == b"ustar":
        prefix = hdr[345:500].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    return name.decode("utf-8", "surrogateescape"), size, typ


def scan_tar(f: Reader, size: int, idx: TarIndex, want: str) -> None:
    """Read headers from idx.next until `want` is indexed, the archive ends, or tarfile is needed."""
    while not idx.done and not idx.fallback and want not in idx.members:
        if idx.next + _BLOCK > size:
            idx.done = True
            return
        hdr = f.pread(idx.next, _BLOCK)
        if hdr == _ZERO:
            idx.done = True
            return
        parsed = _parse(hdr)
        if parsed is None:
            idx.fallback = True
            return
        name, msize, typ = parsed
        data_at = idx.next + _BLOCK
        # as tarfile does: only regular files have data blocks (links, directories, devices have none)
        blocks = -(-msize // _BLOCK) if typ in _REGULAR else 0
        idx.members[norm(name)] = (data_at, msize, typ in _REGULAR)
        idx.next = data_at + blocks * _BLOCK


class IndexCache:
    """A small per-worker LRU of archive indexes (TarIndex, or a zip's name -> info map)."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, make):
        with self._lock:
            item = self._items.get(key)
            if item is None:
                item = make()
                self._items[key] = item
            self._items.move_to_end(key)
            self._trim()
            return item

    def drop(self, key: tuple) -> None:
        with self._lock:
            self._items.pop(key, None)

    def _trim(self) -> None:
        def members(v: object) -> int:
            return len(v.members) if isinstance(v, TarIndex) else len(v)  # type: ignore[arg-type]

        while len(self._items) > MAX_ARCHIVES or (
                len(self._items) > 1 and sum(members(v) for v in self._items.values()) > MAX_MEMBERS):
            self._items.popitem(last=False)
