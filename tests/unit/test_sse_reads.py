"""Property test of encrypted range reads (service/crypto/sse.py read_plain) over a real local data store:
objects of one stream or of several parts (each its own stream with a derived key), any range, any
run size, read back exactly; a changed stored byte fails only the ranges whose blocks hold it.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coffer.protocol.errors import S3Error
from coffer.server.config import Limits
from coffer.server.crypto.envelope import BLOCK_SIZE, Encryptor, new_data_key
from coffer.server.data import LocalDataStore
from coffer.server.meta.model import ObjectRecord, PartInfo, Segment
from coffer.server.service.core import Core
from coffer.server.service.crypto.sse import read_plain, stream_key


def _store(tmp_path) -> LocalDataStore:
    data = LocalDataStore(tmp_path, fsync=False)
    data.open()
    return data


def _write(data: LocalDataStore, plain: bytes, key_for, stream_id: int) -> Segment:
    w = data.writer({})
    enc: Encryptor = key_for(w.ref, stream_id)
    for i in range(0, len(plain), 100_000):
        w.write(enc.feed(plain[i : i + 100_000]))
    w.write(enc.finish())
    size = w.size
    return Segment(w.commit(), size)


def _object(data: LocalDataStore, part_sizes: list[int], seed: int) -> tuple[ObjectRecord, bytes, bytes]:
    rnd = random.Random(seed)
    dk = new_data_key()
    parts = [rnd.randbytes(n) for n in part_sizes]
    if len(parts) == 1:
        segs = [_write(data, parts[0], lambda _ref, sid: Encryptor(dk, sid), 0)]
        infos = None
    else:
        segs = [_write(data, p, lambda ref, sid: Encryptor(stream_key(dk, ref), sid), n)
                for n, p in enumerate(parts, 1)]
        infos = [PartInfo(n, len(p), "00") for n, p in enumerate(parts, 1)]
    rec = ObjectRecord(bucket="b", key="k", size=sum(part_sizes), etag="e", last_modified=0.0, owner="o",
                       segments=segs, parts=infos)
    return rec, b"".join(parts), dk


def _read(core: Core, rec: ObjectRecord, dk: bytes, start: int, length: int) -> bytes:
    async def go() -> bytes:
        return b"".join([c async for c in read_plain(core, rec, dk, start, length)])

    return asyncio.run(go())


sizes = st.lists(st.integers(min_value=1, max_value=3 * BLOCK_SIZE + 77), min_size=1, max_size=4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(part_sizes=sizes, seed=st.integers(0, 1000), a=st.floats(0, 1), b=st.floats(0, 1),
       chunk_blocks=st.integers(1, 3))
def test_any_range_reads_back(tmp_path, part_sizes, seed, a, b, chunk_blocks):
    data = _store(tmp_path)
    core = Core(None, data, Limits(io_chunk=chunk_blocks * BLOCK_SIZE), "us-east-1")  # type: ignore[arg-type]
    try:
        rec, plain, dk = _object(data, part_sizes, seed)
        start = int(a * (len(plain) - 1))
        length = 1 + int(b * (len(plain) - start - 1))
        assert _read(core, rec, dk, start, length) == plain[start : start + length]
    finally:
        core.close()


def test_damage_fails_only_the_blocks_holding_it(tmp_path):
    data = _store(tmp_path)
    core = Core(None, data, Limits(io_chunk=BLOCK_SIZE), "us-east-1")  # type: ignore[arg-type]
    try:
        rec, plain, dk = _object(data, [5 * BLOCK_SIZE, 2 * BLOCK_SIZE + 5], 1)
        path = data.path(rec.segments[1].ref)
        raw = bytearray(path.read_bytes())
        raw[BLOCK_SIZE + 16 + 3] ^= 0x80  # second block of the second part
        path.write_bytes(bytes(raw))
        assert _read(core, rec, dk, 0, 5 * BLOCK_SIZE) == plain[: 5 * BLOCK_SIZE]
        assert _read(core, rec, dk, 5 * BLOCK_SIZE, 10) == plain[5 * BLOCK_SIZE : 5 * BLOCK_SIZE + 10]
        with pytest.raises(S3Error) as ei:
            _read(core, rec, dk, 6 * BLOCK_SIZE + 1, 10)
        assert ei.value.code == "InternalError"
        with pytest.raises(S3Error):  # the wrong data key never yields bytes
            _read(core, rec, new_data_key(), 0, 10)
    finally:
        core.close()
