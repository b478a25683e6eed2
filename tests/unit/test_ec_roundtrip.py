"""Write/read round trips for every policy kind, edge sizes, pieces and byte ranges (real files)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from coffer.server.data.volumes.bitrot import HEADER_SIZE, read_header
from coffer.server.data.volumes.storage_policy import Policy
from coffer.server.data.volumes.stripes import (
    DEFAULT_BLOCK_SIZE,
    ObjectNotFound,
    ObjectReader,
    StripeWriter,
    read_object,
    repair,
    write_object,
)
from coffer.server.data.volumes.volume import VolumeSet

BS = DEFAULT_BLOCK_SIZE
POLICIES = ["SINGLE", "REPLICA-2", "REPLICA-3", "EC-2+1", "EC-2+2", "EC-3+2", "EC-4+2"]
SIZES = [0, 1, BS - 1, BS, BS + 1, 3 * BS + 12345]


@pytest.fixture
def vset(tmp_path: Path) -> VolumeSet:
    return VolumeSet.open([tmp_path / f"v{i}" for i in range(6)], create=True, fsync=False)


def payload(n: int) -> bytes:
    # Random bytes, so a stripe or fragment served from the wrong place cannot match by accident.
    return secrets.token_bytes(n)


@pytest.mark.parametrize("name", POLICIES)
@pytest.mark.parametrize("size", SIZES)
def test_round_trip(vset: VolumeSet, name: str, size: int) -> None:
    policy = Policy.parse(name)
    data = payload(size)
    res = write_object(vset, policy, data)
    assert res.size == size and res.missing == []
    assert sorted(f.index for f in res.fragments) == list(range(policy.width))
    assert len({f.volume_id for f in res.fragments}) == policy.width  # distinct volumes
    got, damage = read_object(vset, res.ref)
    assert got == data
    assert damage == []
    # Stored bytes: the header plus about size * width / k (pyeclib adds 80 bytes per EC payload).
    stored = sum(os.path.getsize(f.path) for f in res.fragments)
    stripes = -(-size // BS)
    assert stored <= policy.width * (HEADER_SIZE + stripes * 84) + size * policy.overhead + policy.width * policy.k


def test_fragments_follow_placement(vset: VolumeSet) -> None:
    res = write_object(vset, Policy.ec(4, 2), payload(1000))
    ranked = [v.uuid for v in vset.ranked(res.ref)]
    assert [f.volume_id for f in sorted(res.fragments, key=lambda f: f.index)] == ranked[:6]
    for f in res.fragments:
        fd = os.open(f.path, os.O_RDONLY)
        try:
            h = read_header(fd)
        finally:
            os.close(fd)
        assert (h.ref, h.index, h.policy, h.block_size, h.total_length) == (res.ref, f.index, Policy.ec(4, 2), BS, 1000)


def test_written_in_odd_pieces(vset: VolumeSet) -> None:
    data = payload(2 * BS + 777)
    w = StripeWriter(vset, Policy.ec(3, 2), block_size=65536)
    pos = 0
    for piece in [0, 1, 65535, 1, 100_000, 7, 2 * BS]:
        w.write(memoryview(data)[pos:pos + piece])
        pos += piece
    assert pos >= len(data)
    res = w.commit()
    assert read_object(vset, res.ref)[0] == data


def test_given_ref_and_fsync(tmp_path: Path) -> None:
    vset = VolumeSet.open([tmp_path / f"v{i}" for i in range(4)], create=True, fsync=True)
    ref = secrets.token_hex(16)
    data = payload(BS + 3)
    res = write_object(vset, Policy.ec(2, 2), data, ref=ref)
    assert res.ref == ref
    assert read_object(vset, ref)[0] == data
    assert not any(os.listdir(v.tmp_dir) for v in vset)  # nothing left behind


def test_abort_leaves_nothing(vset: VolumeSet) -> None:
    w = StripeWriter(vset, Policy.ec(4, 2), block_size=4096)
    w.write(payload(10_000))
    w.abort()
    assert not any(os.listdir(v.tmp_dir) for v in vset)
    with pytest.raises(ObjectNotFound):
        read_object(vset, w.ref)


def test_bad_arguments(vset: VolumeSet) -> None:
    with pytest.raises(ValueError):
        StripeWriter(vset, Policy.single(), ref="../etc/passwd")
    with pytest.raises(ValueError):
        StripeWriter(vset, Policy.single(), block_size=0)


@pytest.mark.parametrize("name", ["SINGLE", "REPLICA-2", "EC-4+2"])
def test_range_reads(vset: VolumeSet, name: str) -> None:
    data = payload(3 * BS + 5)
    res = write_object(vset, Policy.parse(name), data)
    with ObjectReader(vset, res.ref) as r:
        assert r.size == len(data)
        cases = [(0, 1), (len(data) - 1, 1), (BS - 1, 2), (BS, BS), (BS - 10, 2 * BS + 20), (0, len(data)),
                 (5, 0), (len(data), 10), (len(data) - 3, 100), (2 * BS + 1, None)]
        for start, length in cases:
            end = len(data) if length is None else start + length
            assert r.read(start, length) == data[start:end], (start, length)
        with pytest.raises(ValueError):
            r.read(-1, 3)


def test_range_read_touches_only_needed_stripes(vset: VolumeSet) -> None:
    """Damage a stripe the range does not cover: the read neither needs nor notices it."""
    data = payload(3 * BS)
    res = write_object(vset, Policy.single(), data)
    path = res.fragments[0].path
    with open(path, "r+b") as fh:  # flip a byte in stripe 0's record
        fh.seek(HEADER_SIZE + 100)
        b = fh.read(1)
        fh.seek(HEADER_SIZE + 100)
        fh.write(bytes([b[0] ^ 1]))
    got, damage = read_object(vset, res.ref, 2 * BS + 10, 1000)
    assert got == data[2 * BS + 10: 2 * BS + 1010]
    assert damage == []
    with ObjectReader(vset, res.ref) as r:
        chunks = r.iter_range(BS - 1, 2)
        with pytest.raises(Exception, match="stripe 0"):
            next(chunks)


def test_degraded_write_then_new_volume_restores_redundancy(tmp_path: Path) -> None:
    """EC-4+2 over 5 volumes meets the write quorum (5) with one fragment missing; once a sixth
    volume is added, repair puts the missing fragment there and nothing else moves."""
    vset = VolumeSet.open([tmp_path / f"v{i}" for i in range(5)], create=True, fsync=False)
    data = payload(2 * BS + 1)
    res = write_object(vset, Policy.ec(4, 2), data)
    assert res.missing == [5]
    assert read_object(vset, res.ref)[0] == data
    before = {f.path for f in res.fragments}
    grown = VolumeSet([*vset, *VolumeSet.open([tmp_path / "v5"], create=True, fsync=False)])
    fixed = repair(grown, res.ref)
    assert [f.index for f in fixed.rebuilt] == [5]
    assert Path(fixed.rebuilt[0].path).is_relative_to(tmp_path / "v5")
    assert all(Path(p).exists() for p in before)
    assert read_object(grown, res.ref) == (data, [])
