"""Property tests: any size, range, policy and loss pattern within tolerance reads back exactly;
beyond tolerance the read fails with NotEnoughFragments, never with wrong bytes; repair always
brings the object back to full redundancy when there are volumes for it.

Small blocks (a few hundred bytes) keep every example fast while exercising many stripes; the
examples are bounded (the machine is shared).
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coffer.server.data.volumes.bitrot import HEADER_SIZE
from coffer.server.data.volumes.storage_policy import Policy
from coffer.server.data.volumes.stripes import NotEnoughFragments, ObjectReader, StripeWriter, read_object, repair
from coffer.server.data.volumes.volume import VolumeSet

POLICIES = [Policy.single(), Policy.replica(2), Policy.replica(3), Policy.ec(2, 1), Policy.ec(2, 2),
            Policy.ec(3, 2), Policy.ec(4, 2)]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def cases(draw: st.DrawFn) -> tuple[Policy, int, bytes, list[int]]:
    policy = draw(st.sampled_from(POLICIES))
    block = draw(st.sampled_from([16, 100, 512]))
    size = draw(st.integers(0, 6 * block + 3))
    data = random.Random(draw(st.integers(0, 2**32))).randbytes(size)
    pieces = draw(st.lists(st.integers(1, 3 * block), max_size=8))
    return policy, block, data, pieces


def write(vset: VolumeSet, policy: Policy, block: int, data: bytes, pieces: list[int]) -> str:
    w = StripeWriter(vset, policy, block_size=block)
    pos = 0
    for n in pieces:
        w.write(data[pos:pos + n])
        pos += n
    w.write(data[pos:])
    return w.commit().ref


@given(cases(), st.integers(0, 10_000), st.one_of(st.none(), st.integers(0, 10_000)))
@SETTINGS
def test_any_range_reads_back(case: tuple[Policy, int, bytes, list[int]], start: int, length: int | None) -> None:
    policy, block, data, pieces = case
    with tempfile.TemporaryDirectory() as tmp:
        vset = VolumeSet.open([Path(tmp) / f"v{i}" for i in range(6)], create=True, fsync=False)
        ref = write(vset, policy, block, data, pieces)
        start = start % (len(data) + 1)
        got, damage = read_object(vset, ref, start, length)
        assert got == data[start:] if length is None else got == data[start:start + length]
        assert damage == []


@given(cases(), st.data())
@SETTINGS
def test_losses_within_tolerance_are_served_and_repaired(case: tuple[Policy, int, bytes, list[int]],
                                                         draw: st.DataObject) -> None:
    policy, block, data, pieces = case
    with tempfile.TemporaryDirectory() as tmp:
        vset = VolumeSet.open([Path(tmp) / f"v{i}" for i in range(7)], create=True, fsync=False)
        ref = write(vset, policy, block, data, pieces)
        with ObjectReader(vset, ref) as r:
            paths = {i: src[0].path for i, src in r.sources.items()}
            header = r.header
        # Per stripe, up to m fragments lost or corrupted; whole-fragment deletions count everywhere.
        deleted = draw.draw(st.sets(st.sampled_from(sorted(paths)), max_size=policy.m), label="deleted")
        for i in deleted:
            os.unlink(paths[i])
        for stripe in range(header.block_count):
            room = policy.m - len(deleted)
            alive = [i for i in sorted(paths) if i not in deleted]
            bad = draw.draw(st.sets(st.sampled_from(alive), max_size=room) if room and alive else st.just(set()))
            for i in bad:
                offset = header.record_offset(stripe) + draw.draw(st.integers(0, 3 + header.payload_size(stripe)))
                with open(paths[i], "r+b") as fh:
                    fh.seek(offset)
                    byte = fh.read(1)
                    fh.seek(offset)
                    fh.write(bytes([byte[0] ^ 0x5A]))
        got, damage = read_object(vset, ref)
        assert got == data
        assert {d.index for d in damage if d.stripe is None} == set(deleted)
        repair(vset, ref)
        assert read_object(vset, ref) == (data, [])


@given(cases(), st.data())
@SETTINGS
def test_beyond_tolerance_never_returns_wrong_bytes(case: tuple[Policy, int, bytes, list[int]],
                                                    draw: st.DataObject) -> None:
    policy, block, data, pieces = case
    with tempfile.TemporaryDirectory() as tmp:
        vset = VolumeSet.open([Path(tmp) / f"v{i}" for i in range(6)], create=True, fsync=False)
        ref = write(vset, policy, block, data, pieces)
        with ObjectReader(vset, ref) as r:
            paths = {i: src[0].path for i, src in r.sources.items()}
        # Damage the same stripe (or the header) of m+1 fragments.
        victims = draw.draw(st.sets(st.sampled_from(sorted(paths)), min_size=policy.m + 1, max_size=policy.m + 1))
        offset = draw.draw(st.integers(0, HEADER_SIZE + len(data)))
        for i in victims:
            with open(paths[i], "r+b") as fh:
                raw = fh.read()
                if offset < len(raw):
                    fh.seek(offset)
                    fh.write(bytes([raw[offset] ^ 0x01]))
        try:
            got, _ = read_object(vset, ref)
        except NotEnoughFragments:
            return
        assert got == data  # only when the flips landed past the end of every victim (tiny objects)
