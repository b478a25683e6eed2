"""coffer.protocol.checksums against botocore's own checksum classes, zlib and published CRC vectors."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
from botocore import httpchecksum
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.protocol import checksums
from coffer.protocol.checksums import (
    ALGORITHMS,
    Hasher,
    algo_from_header,
    combine_full,
    composite,
    content_md5_ok,
    decode_b64_checksum,
    header_name,
    parse_content_md5,
)

# botocore resolves these to its CRT-backed implementations when awscrt is installed (it is).
BOTO = {
    "CRC32": httpchecksum.Crc32Checksum,  # zlib-based: independent of awscrt
    "CRC32C": httpchecksum.CrtCrc32cChecksum,
    "CRC64NVME": httpchecksum.CrtCrc64NvmeChecksum,
    "SHA1": httpchecksum.Sha1Checksum,
    "SHA256": httpchecksum.Sha256Checksum,
}


def boto_b64(algo: str, data: bytes) -> str:
    c = BOTO[algo]()
    c.update(data)
    return c.b64digest()


def ours(algo: str, *pieces: bytes) -> Hasher:
    h = Hasher(algo)
    for p in pieces:
        h.update(p)
    return h


def test_check_values_from_the_crc_catalogue() -> None:
    # The standard "123456789" check values (CRC RevEng catalogue): CRC-32/ISO-HDLC, CRC-32/ISCSI,
    # CRC-64/NVME.
    data = b"123456789"
    assert ours("CRC32", data).digest() == (0xCBF43926).to_bytes(4, "big")
    assert ours("CRC32C", data).digest() == (0xE3069283).to_bytes(4, "big")
    assert ours("CRC64NVME", data).digest() == (0xAE8B14860A799888).to_bytes(8, "big")


def test_empty_input_digests() -> None:
    assert ours("CRC32").b64() == "AAAAAA=="
    assert ours("CRC64NVME").b64() == "AAAAAAAAAAA="
    assert ours("SHA256").digest() == hashlib.sha256().digest()
    assert ours("MD5").digest() == hashlib.md5().digest()


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5000), cut=st.integers(min_value=0, max_value=5000))
def test_matches_botocore_for_every_algorithm(data: bytes, cut: int) -> None:
    cut = min(cut, len(data))
    for algo in ALGORITHMS:
        # Incremental updates (including a memoryview) must equal botocore's one-shot value.
        h = ours(algo, data[:cut], memoryview(data)[cut:])
        assert h.b64() == boto_b64(algo, data), algo
    assert ours("CRC32", data).digest() == zlib.crc32(data).to_bytes(4, "big")


def test_algorithm_names_are_case_insensitive_and_checked() -> None:
    assert Hasher("crc32c").algo == "CRC32C"
    with pytest.raises(ValueError):
        Hasher("CRC16")


def test_copy_is_independent() -> None:
    h = ours("SHA256", b"abc")
    c = h.copy()
    c.update(b"def")
    assert h.digest() == hashlib.sha256(b"abc").digest()
    assert c.digest() == hashlib.sha256(b"abcdef").digest()
    k = ours("CRC32", b"abc").copy()
    k.update(b"def")
    assert k.digest() == zlib.crc32(b"abcdef").to_bytes(4, "big")


def test_header_names_round_trip() -> None:
    for algo in ALGORITHMS:
        name = header_name(algo)
        assert name == "x-amz-checksum-" + algo.lower()
        assert algo_from_header(name) == algo
        assert algo_from_header(name.upper()) == algo
    assert algo_from_header("x-amz-checksum-algorithm") is None
    assert algo_from_header("x-amz-checksum-type") is None
    assert algo_from_header("content-md5") is None
    with pytest.raises(ValueError):
        header_name("MD5")


def test_decode_b64_checksum_validates_base64_and_size() -> None:
    good = ours("CRC32", b"x").b64()
    assert decode_b64_checksum("CRC32", good) == ours("CRC32", b"x").digest()
    with pytest.raises(ValueError):
        decode_b64_checksum("CRC32", "not base64!")
    with pytest.raises(ValueError):
        decode_b64_checksum("CRC64NVME", good)  # 4 bytes where 8 are needed
    with pytest.raises(ValueError):
        decode_b64_checksum("SHA256", "")
    with pytest.raises(ValueError):
        decode_b64_checksum("CRC32", "AAAAAA=\u00e9")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_decode_b64_checksum_only_raises_value_error(value: str) -> None:
    for algo in ALGORITHMS:
        try:
            digest = decode_b64_checksum(algo, value)
        except ValueError:
            continue
        assert len(digest) == checksums.DIGEST_SIZES[algo]


@settings(max_examples=30, deadline=None)
@given(parts=st.lists(st.binary(max_size=3000), min_size=1, max_size=6))
def test_combine_full_equals_crc_of_the_whole_object(parts: list[bytes]) -> None:
    whole = b"".join(parts)
    for algo in checksums.CRC_ALGORITHMS:
        per_part = [(ours(algo, p).digest(), len(p)) for p in parts]
        assert combine_full(algo, per_part) == boto_b64(algo, whole), algo


def test_combine_full_rejects_non_crc_and_bad_digests() -> None:
    with pytest.raises(ValueError):
        combine_full("SHA256", [(b"\0" * 32, 1)])
    with pytest.raises(ValueError):
        combine_full("CRC32", [(b"\0" * 8, 1)])
    assert combine_full("CRC32", []) == "AAAAAA=="


def test_composite_is_hash_of_concatenated_part_digests() -> None:
    parts = [b"a" * 10, b"b" * 20, b"c"]
    for algo in ALGORITHMS:
        digests = [ours(algo, p).digest() for p in parts]
        expected = base64.b64encode(ours(algo, b"".join(digests)).digest()).decode()
        assert composite(algo, digests) == f"{expected}-3"


def test_composite_known_value_for_sha256() -> None:
    d1, d2 = hashlib.sha256(b"part1").digest(), hashlib.sha256(b"part2").digest()
    expected = base64.b64encode(hashlib.sha256(d1 + d2).digest()).decode() + "-2"
    assert composite("SHA256", [d1, d2]) == expected


def test_content_md5() -> None:
    digest = hashlib.md5(b"hello").digest()
    header = base64.b64encode(digest).decode()
    assert parse_content_md5(header) == digest
    assert content_md5_ok(header, digest)
    assert not content_md5_ok(header, hashlib.md5(b"other").digest())
    assert not content_md5_ok("garbage", digest)
    # A hex MD5 (a common client mistake) is not a valid Content-MD5.
    with pytest.raises(ValueError):
        parse_content_md5(digest.hex())
    with pytest.raises(ValueError):
        parse_content_md5(base64.b64encode(b"short").decode())


@pytest.mark.parametrize("algo", ["MD5", "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
@pytest.mark.parametrize("size", [0, 1, 2046, 2047, 2048, 4096, 70_000])
def test_hashing_in_gil_holding_pieces_gives_the_same_digest(algo, size):
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    whole, pieces = Hasher(algo), Hasher(algo)
    whole.update(data)
    pieces.update_holding_gil(data)
    assert pieces.b64() == whole.b64()
