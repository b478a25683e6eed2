"""Volume weights in placement: shares in proportion to the weights (checked against the exact
probabilities of the weighted rendezvous draw with a statistical bound), all-1.0 weights placing
exactly as no weights, a changed weight moving only the share it must, `--volume DIR:WEIGHT`, and
the cluster map bumping its layout generation when a volume's weight changes (SQLite, PostgreSQL)."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

import pg_server
from coffer.server.data.volumes import placement
from coffer.server.data.volumes.volume import Volume, VolumeSet, VolumeState
from coffer.server.node.serve import parse_volume

REFS = [f"bucket/object-{i}" for i in range(20_000)]  # fixed refs: the outcome is deterministic


def _inclusion(weights: dict[str, float], width: int) -> dict[str, float]:
    """Exact probability that each volume is among the first `width` (1 or 2) of the ranking: the
    score -w/ln(u) ranks like successive weighted draws without replacement (an exponential race)."""
    total = sum(weights.values())
    first = {v: w / total for v, w in weights.items()}
    if width == 1:
        return first
    return {v: first[v] + sum(first[o] * w / (total - weights[o]) for o in weights if o != v)
            for v, w in weights.items()}


def _assert_matches(counts: Counter, expected: dict[str, float], n: int) -> None:
    """Every volume's count within 4.5 binomial standard deviations of n * p (a chance failure
    of a correct placement: under 1e-5 per volume)."""
    for v, p in expected.items():
        sd = math.sqrt(n * p * (1 - p))
        assert abs(counts[v] - n * p) < 4.5 * sd, (v, counts[v], n * p)


def test_first_choice_in_proportion_to_weight() -> None:
    weights = {"a": 1.0, "b": 1.0, "c": 2.0, "d": 4.0}
    counts = Counter(placement.choose(ref, list(weights), 1, weights)[0] for ref in REFS)
    expected = _inclusion(weights, 1)
    _assert_matches(counts, expected, len(REFS))
    # chi-square with 3 degrees of freedom: 16.27 is its 99.9th percentile
    chi2 = sum((counts[v] - len(REFS) * p) ** 2 / (len(REFS) * p) for v, p in expected.items())
    assert chi2 < 16.27
    assert 1.8 < counts["c"] / counts["a"] < 2.2 and 1.8 < counts["d"] / counts["c"] < 2.2


def test_two_fragments_per_object_follow_the_draw_without_replacement() -> None:
    weights = {f"v{i}": (2.0 if i < 4 else 1.0) for i in range(8)}
    counts = Counter(v for ref in REFS for v in placement.choose(ref, list(weights), 2, weights))
    expected = _inclusion(weights, 2)
    _assert_matches(counts, expected, len(REFS))
    heavy, light = expected["v0"], expected["v7"]
    assert 1.7 < heavy / light < 2.0  # close to the weights' 2:1, a little flatter (no volume twice)


def test_weight_2_gets_about_twice_the_fragments_through_the_volume_set() -> None:
    vols = [Volume(Path(f"/nowhere/{i}"), f"uuid-{i}", VolumeState.ONLINE, weight=2.0 if i == 0 else 1.0)
            for i in range(6)]
    vset = VolumeSet(vols)
    counts = Counter(vset.ranked(ref)[0].uuid for ref in REFS)
    _assert_matches(counts, _inclusion({v.uuid: v.weight for v in vols}, 1), len(REFS))
    assert 1.8 < counts["uuid-0"] / counts["uuid-1"] < 2.2


def test_all_weights_one_place_as_without_weights() -> None:
    domains = {f"n{n}-v{v}": f"n{n}" for n in range(4) for v in range(3)}
    ones = dict.fromkeys(domains, 1.0)
    for ref in REFS[:500]:
        assert placement.rank_hierarchical(ref, domains, ones) == placement.rank_hierarchical(ref, domains)
        assert placement.rank(ref, list(domains), ones) == placement.rank(ref, list(domains))


def test_weights_within_failure_domains_keep_the_domain_cap() -> None:
    domains = {f"n{n}-v{v}": f"n{n}" for n in range(3) for v in range(2)}
    weights = {v: (3.0 if v.endswith("v0") else 1.0) for v in domains}
    counts = Counter()
    for ref in REFS[:6000]:
        order = placement.rank_hierarchical(ref, domains, weights)
        assert max(Counter(domains[v] for v in order[:3]).values()) == 1  # width 3 over 3 domains
        counts.update(order[:3])
    # each domain holds one fragment of every object; inside it, weight 3 against 1 wins 3 times in 4
    for n in range(3):
        assert 0.72 < counts[f"n{n}-v0"] / 6000 < 0.78


def test_raising_one_weight_moves_only_objects_onto_that_volume() -> None:
    before = dict.fromkeys((f"v{i}" for i in range(8)), 1.0)
    after = {**before, "v3": 2.0}
    moved = 0
    for ref in REFS[:10_000]:
        old, new = placement.choose(ref, list(before), 1, before), placement.choose(ref, list(after), 1, after)
        if old != new:
            assert new == ["v3"]
            moved += 1
    # v3's share goes from 1/8 to 2/9: about 9.7 % of the objects move, all onto v3
    assert 0.085 < moved / 10_000 < 0.11


def test_volume_argument_with_weight() -> None:
    assert parse_volume("/srv/disk1") == (Path("/srv/disk1"), 1.0)
    assert parse_volume("/srv/disk1:2.5") == (Path("/srv/disk1"), 2.5)
    assert parse_volume("/srv/a:b") == (Path("/srv/a:b"), 1.0)  # a colon in the path
    assert parse_volume("/srv/d:7:1") == (Path("/srv/d:7"), 1.0)
    for bad in ("/srv/d:0", "/srv/d:-1", "/srv/d:inf", "/srv/d:nan"):
        with pytest.raises(ValueError, match="positive"):
            parse_volume(bad)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_changing_a_weight_bumps_the_layout_generation(tmp_path: Path, engine: str) -> None:
    from coffer.server.meta.backends import open_cluster_map

    if engine == "postgresql":
        if not pg_server.configured():
            pytest.skip(pg_server.SKIP_REASON)
        cm = open_cluster_map(pg_server.new_database("weights"))
    else:
        cm = open_cluster_map(str(tmp_path / "cluster.sqlite3"))
    try:
        g1 = cm.register_node("a", zone="", host="h", address="127.0.0.1:1", volumes=[("u1", 1.0), ("u2", 1.0)])
        assert cm.register_node("a", zone="", host="h", address="127.0.0.1:1", volumes=[("u1", 1.0), ("u2", 1.0)]) == g1
        g2 = cm.register_node("a", zone="", host="h", address="127.0.0.1:1", volumes=[("u1", 1.0), ("u2", 2.0)])
        assert g2 == g1 + 1
        assert {v.uuid: v.weight for v in cm.volumes()} == {"u1": 1.0, "u2": 2.0}
    finally:
        cm.close()
