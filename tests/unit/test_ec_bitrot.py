"""Fragment file format: header round trip and validation, per-record CRC32C catches every flip."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.server.data.volumes.bitrot import (
    HEADER_SIZE,
    MAGIC,
    FragmentFormatError,
    FragmentHeader,
    block_checksum,
    read_header,
    read_record,
    verify_file,
)
from coffer.server.data.volumes.storage_policy import Policy
from coffer.server.data.volumes.stripes import write_object
from coffer.server.data.volumes.volume import VolumeSet

REF = "0123456789abcdef0123456789abcdef"


def header(**kw: object) -> FragmentHeader:
    base = {"ref": REF, "policy": Policy.ec(4, 2), "index": 5, "block_size": 1 << 20,
            "total_length": 3 * (1 << 20) + 7, "record_size": 262224, "last_record_size": 82}
    base.update(kw)
    return FragmentHeader(**base)  # type: ignore[arg-type]


def test_header_round_trip_and_layout() -> None:
    h = header()
    raw = h.pack()
    assert len(raw) == HEADER_SIZE and raw.startswith(MAGIC)
    assert FragmentHeader.unpack(raw) == h
    assert h.block_count == 4
    assert h.record_offset(0) == HEADER_SIZE
    assert h.record_offset(2) == HEADER_SIZE + 2 * (4 + 262224)
    assert h.payload_size(3) == 82 and h.payload_size(2) == 262224
    assert h.file_size == HEADER_SIZE + 3 * (4 + 262224) + 4 + 82
    assert header(total_length=0).block_count == 0
    assert header(total_length=0).file_size == HEADER_SIZE


def test_every_header_byte_is_protected() -> None:
    raw = header().pack()
    for pos in range(HEADER_SIZE):
        bad = bytearray(raw)
        bad[pos] ^= 0x40
        with pytest.raises(FragmentFormatError):
            FragmentHeader.unpack(bytes(bad))


@pytest.mark.parametrize(
    "kw", [{"index": 6}, {"block_size": 0}, {"last_record_size": 262225}, {"policy": Policy.single(), "index": 1}],
)
def test_impossible_headers_are_refused(kw: dict[str, object]) -> None:
    with pytest.raises(FragmentFormatError):
        FragmentHeader.unpack(header(**kw).pack())


@given(st.binary(min_size=0, max_size=80))
@settings(max_examples=300)
def test_unpack_untrusted_bytes(raw: bytes) -> None:
    try:
        h = FragmentHeader.unpack(raw)
    except FragmentFormatError:
        return
    assert FragmentHeader.unpack(h.pack()) == h


@given(st.binary(min_size=HEADER_SIZE, max_size=HEADER_SIZE), st.integers(0, HEADER_SIZE - 1))
@settings(max_examples=200)
def test_unpack_valid_magic_random_body(body: bytes, cut: int) -> None:
    raw = MAGIC + body[len(MAGIC):]
    with pytest.raises(FragmentFormatError):
        FragmentHeader.unpack(raw[:cut] if cut < len(MAGIC) else raw)


def test_checksum_is_seeded_by_stripe() -> None:
    payload = secrets.token_bytes(1000)
    assert block_checksum(0, payload) != block_checksum(1, payload)
    assert block_checksum(7, payload) == block_checksum(7, bytearray(payload))


def test_every_flipped_byte_of_a_fragment_is_detected(tmp_path: Path) -> None:
    """Exhaustive over a small file: each single-byte flip is caught by the header or a record CRC."""
    vset = VolumeSet.open([tmp_path / f"v{i}" for i in range(3)], create=True, fsync=False)
    res = write_object(vset, Policy.ec(2, 1), secrets.token_bytes(300), block_size=128)
    path = Path(res.fragments[0].path)
    original = path.read_bytes()
    fd = os.open(path, os.O_RDONLY)
    try:
        h, bad = verify_file(fd)
    finally:
        os.close(fd)
    assert bad == [] and h.block_count == 3 and len(original) == h.file_size
    for pos in range(len(original)):
        damaged = bytearray(original)
        damaged[pos] ^= 0x01
        path.write_bytes(damaged)
        fd = os.open(path, os.O_RDONLY)
        try:
            try:
                _, bad = verify_file(fd)
            except FragmentFormatError:
                assert pos < HEADER_SIZE
                continue
            stripe = (pos - HEADER_SIZE) // (4 + h.record_size)
            assert bad == [stripe], pos
            assert read_record(fd, read_header(fd), stripe) is None
        finally:
            os.close(fd)
    path.write_bytes(original)


def test_truncated_and_extended_files_are_detected(tmp_path: Path) -> None:
    vset = VolumeSet.open([tmp_path / "v"], create=True, fsync=False)
    res = write_object(vset, Policy.single(), secrets.token_bytes(1000), block_size=256)
    path = Path(res.fragments[0].path)
    original = path.read_bytes()
    for content in (original[:-1], original + b"\0"):
        path.write_bytes(content)
        fd = os.open(path, os.O_RDONLY)
        try:
            assert verify_file(fd)[1] == [3]
        finally:
            os.close(fd)
