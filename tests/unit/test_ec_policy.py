"""Storage policy parsing/defaults and rendezvous placement (pure functions, untrusted input)."""

from __future__ import annotations

import itertools
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.server.data.volumes import placement
from coffer.server.data.volumes.storage_policy import Policy, PolicyError, PolicyKind, codec_for, default_policy


@pytest.mark.parametrize(
    ("text", "kind", "k", "m"),
    [("SINGLE", PolicyKind.SINGLE, 1, 0), ("single", PolicyKind.SINGLE, 1, 0),
     ("REPLICA-2", PolicyKind.REPLICA, 1, 1), ("replica-3", PolicyKind.REPLICA, 1, 2),
     ("EC-4+2", PolicyKind.EC, 4, 2), ("ec-2+2", PolicyKind.EC, 2, 2), ("EC-16+16", PolicyKind.EC, 16, 16)],
)
def test_parse_valid(text: str, kind: PolicyKind, k: int, m: int) -> None:
    p = Policy.parse(text)
    assert (p.kind, p.k, p.m) == (kind, k, m)
    assert Policy.parse(p.name) == p


@pytest.mark.parametrize(
    "text",
    ["", "SINGLE ", " EC-4+2", "EC-4+0", "EC-1+2", "EC-04+2", "EC-4+2+1", "EC-20+13", "REPLICA-1",
     "REPLICA-0", "REPLICA-33", "REPLICA-02", "EC4+2", "EC-4-2", "RAID5", "EC-٣+2", "SINGLE\n", "ſingle"],
)
def test_parse_invalid(text: str) -> None:
    with pytest.raises(PolicyError):
        Policy.parse(text)


@given(st.text(max_size=20))
@settings(max_examples=300, deadline=None)
def test_parse_untrusted_text(text: str) -> None:
    """Any string is either a policy whose name parses back to itself, or a PolicyError."""
    try:
        p = Policy.parse(text)
    except PolicyError:
        return
    assert p.name == text.upper()
    assert p.k >= 1 and p.width <= 32


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
def test_policy_codes_from_headers(kind: int, k: int, m: int) -> None:
    try:
        p = Policy.from_code(kind, k, m)
    except PolicyError:
        return
    assert Policy.parse(p.name) == p


@pytest.mark.parametrize(
    ("volumes", "name"),
    [(1, "SINGLE"), (2, "REPLICA-2"), (3, "REPLICA-2"), (4, "EC-2+2"), (5, "EC-3+2"), (6, "EC-4+2"),
     (8, "EC-5+3"), (9, "EC-6+3"), (12, "EC-8+4"), (16, "EC-11+5"), (40, "EC-11+5")],
)
def test_default_policy(volumes: int, name: str) -> None:
    p = default_policy(volumes)
    assert p.name == name
    assert p.width <= volumes
    assert p.write_quorum <= volumes


def test_default_policy_needs_a_volume() -> None:
    with pytest.raises(PolicyError):
        default_policy(0)


def test_write_quorum() -> None:
    assert Policy.single().write_quorum == 1
    assert Policy.replica(2).write_quorum == 2
    assert Policy.replica(3).write_quorum == 2
    assert Policy.ec(4, 2).write_quorum == 5
    assert Policy.ec(2, 2).write_quorum == 3


@pytest.mark.parametrize("size", [1, 3, 255, 256, 1000, 10_001])
@pytest.mark.parametrize("name", ["EC-2+1", "EC-3+2", "EC-4+2"])
def test_ec_codec_decodes_from_any_k(name: str, size: int) -> None:
    """Both paths: joining the data payloads (all present) and the pyeclib decoder (some lost)."""
    policy = Policy.parse(name)
    block = secrets.token_bytes(size)
    codec = codec_for(policy)
    payloads = codec.encode(bytearray(block))
    assert len(payloads) == policy.width
    for lost in itertools.combinations(range(policy.width), policy.m):
        have = {i: bytearray(p) for i, p in enumerate(payloads) if i not in lost}
        assert codec.decode(have, size) == block, lost


def test_replica_codec_copies() -> None:
    block = secrets.token_bytes(1000)
    codec = codec_for(Policy.replica(3))
    assert codec.encode(block) == [block] * 3
    assert codec.decode({2: bytearray(block)}, 1000) == block


# -- placement ------------------------------------------------------------------------------------

VOLS = [f"vol-{i}" for i in range(8)]


def test_rank_is_a_deterministic_permutation() -> None:
    ref = secrets.token_hex(16)
    r = placement.rank(ref, VOLS)
    assert sorted(r) == sorted(VOLS)
    assert placement.rank(ref, list(reversed(VOLS))) == r
    assert placement.choose(ref, VOLS, 3) == r[:3]


def test_rank_spreads_first_choices_evenly() -> None:
    counts = dict.fromkeys(VOLS, 0)
    for i in range(4000):
        counts[placement.rank(f"{i:032x}", VOLS)[0]] += 1
    # 500 expected per volume; 6 sigma is about +-130.
    assert all(370 < c < 630 for c in counts.values()), counts


def test_adding_a_volume_moves_little() -> None:
    refs = [f"{i:032x}" for i in range(2000)]
    moved = placement.moved_fraction(refs, VOLS[:6], VOLS, 4)
    # The two new volumes enter about 4/8 of the objects' top-4 sets; each such entry moves one of 4
    # fragments (sometimes two): well under a third of all fragments, never a reshuffle.
    assert 0.1 < moved < 0.35
    assert placement.moved_fraction(refs, VOLS, VOLS, 4) == 0


def test_weights_bias_choices() -> None:
    weights = {v: 1.0 for v in VOLS}
    weights["vol-0"] = 4.0
    weights["vol-1"] = 0.0
    firsts = [placement.rank(f"{i:032x}", VOLS, weights)[0] for i in range(2000)]
    assert firsts.count("vol-0") > 2.5 * firsts.count("vol-2")
    assert "vol-1" not in firsts


@given(st.text(min_size=1, max_size=40), st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=12,
                                                  unique=True))
@settings(max_examples=100)
def test_rank_is_a_permutation_for_any_names(ref: str, vols: list[str]) -> None:
    r = placement.rank(ref, vols)
    assert sorted(r) == sorted(vols)
    assert placement.rank(ref, list(reversed(vols))) == r
