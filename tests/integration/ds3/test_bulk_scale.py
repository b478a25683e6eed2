"""Bulk jobs at scale: 5,000 small files in one job, and three 200 MiB files (sparse, streamed).

The large files are sparse (a few random pages in a hole-filled file), so the test machine writes
little; the client streams every blob from the file with pread, and the check of what the server
stored is its multipart-style ETag (MD5 of the blobs' MD5s) computed locally, plus one full download.
"""

from __future__ import annotations

import hashlib
import time
import uuid

import pytest

from coffer import Client

MiB = 1 << 20


@pytest.fixture
def client(endpoint) -> Client:
    return Client(endpoint.url, endpoint.access_key, endpoint.secret_key, proxy="")


@pytest.fixture
def bkt(client):
    b = client.bucket(f"scale-{uuid.uuid4().hex[:10]}").create()
    yield b
    try:
        b.delete(force=True)
    except Exception:
        pass


def test_bulk_put_5000_small_files(client, bkt, tmp_path):
    src = tmp_path / "many"
    for d in range(10):
        (src / f"d{d}").mkdir(parents=True)
        for i in range(500):
            (src / f"d{d}" / f"f{i:04d}.txt").write_bytes(f"{d}/{i}\n".encode() * (1 + i % 7))
    t0 = time.monotonic()
    job = client.bulk_put_files(bkt.name, src, workers=8)
    elapsed = time.monotonic() - t0
    st = job.status()
    assert st.state == "COMPLETED" and st.bytes_done == st.bytes_total
    keys = [o.key for o in bkt.list_objects()]
    assert len(keys) == 5000 and keys[0] == "d0/f0000.txt"
    assert bkt.object("d7/f0123.txt").get_reader().read_all() == b"7/123\n" * (1 + 123 % 7)
    print(f"\n5000 small files in one bulk job: {elapsed:.1f} s ({5000 / elapsed:.0f} objects/s)")


def _sparse(path, size: int, seed: int) -> None:
    with open(path, "wb") as f:
        f.truncate(size)
        rnd = hashlib.sha256(str(seed).encode()).digest() * 128  # 4 KiB of deterministic noise
        for pos in range(0, size, 37 * MiB):
            f.seek(pos)
            f.write(rnd)
        f.seek(size - len(rnd))
        f.write(rnd)


def _etag(path, blob: int) -> str:
    digests = []
    with open(path, "rb") as f:
        while True:
            block = f.read(blob)
            if not block:
                break
            digests.append(hashlib.md5(block).digest())
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def test_bulk_put_three_200_mib_files(client, bkt, tmp_path):
    size = 200 * MiB
    paths = []
    for i in range(3):
        p = tmp_path / f"big{i}.bin"
        _sparse(p, size, i)
        paths.append(p)
    t0 = time.monotonic()
    job = client.bulk_put_files(bkt.name, paths, prefix="big/", workers=4)
    elapsed = time.monotonic() - t0
    st = job.status()
    assert (st.state, st.bytes_total, st.bytes_done) == ("COMPLETED", 3 * size, 3 * size)
    assert len(job.chunks) >= 3 and all(b.length <= 64 * MiB for b in job.blobs())
    for p in paths:
        info = bkt.object("big/" + p.name).head()
        assert info.size == size
        assert info.etag.strip('"') == _etag(p, 64 * MiB)
    dest = tmp_path / "back"
    got = client.bulk_get_files(bkt.name, ["big/big1.bin"], dest, workers=4)
    assert got.status().state == "COMPLETED"
    assert _etag(dest / "big" / "big1.bin", 64 * MiB) == _etag(paths[1], 64 * MiB)
    print(f"\n3 x 200 MiB in one bulk job: {elapsed:.1f} s ({3 * size / MiB / elapsed:.0f} MiB/s)")
