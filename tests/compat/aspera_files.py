"""Files and trees for the transfer tests of tests/compat (fast to make, easy to compare)."""

from __future__ import annotations

import os
from pathlib import Path


def make_file(path: Path, size: int, seed: int = 0) -> Path:
    """A file of ``size`` pseudo-random bytes (fast: one random MiB repeated with a counter)."""
    block = bytearray(os.urandom(1 << 20))
    with open(path, "wb") as f:
        left, n = size, seed
        while left > 0:
            block[:8] = n.to_bytes(8, "little")
            chunk = bytes(block[: min(left, len(block))])
            f.write(chunk)
            left -= len(chunk)
            n += 1
    return path


def make_tree(root: Path, count: int, size: int = 1024) -> dict[str, bytes]:
    """``count`` small files in sub-folders of ``root``; returns {relative path: content}."""
    files = {}
    for i in range(count):
        rel = f"d{i % 20:02d}/f{i:05d}.bin"
        data = i.to_bytes(4, "little") * (size // 4)
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        files[rel] = data
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
