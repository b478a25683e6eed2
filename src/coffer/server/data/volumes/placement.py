"""Placement: which volume holds which fragment of an object, by rendezvous hashing.

Owns one pure function family: given an object ref and the volumes' uuids, a ranking of the volumes
for that ref. Fragment ``i`` of an object goes to the ``i``-th volume of the ranking that can take
it, so an object's fragments always land on distinct volumes.

Why rendezvous (highest random weight) hashing rather than a ring or a table:

* no shared state: every process computes the same ranking from the ref and the uuids alone;
* adding a volume only changes an object's chosen set where the new volume scores in its top
  ``width`` (about ``width / volumes`` of the objects, one fragment each), so growing a pool never
  forces a rewrite of everything, and removing one only touches the objects that had a fragment on
  it. Readers find fragments wherever they are (the fragment header names its index), so even those
  objects stay readable without moving; moving them is a rebalance, not a requirement;
* weights (capacity) fit in without virtual nodes, with the logarithm method of Schindelhauer and
  Schomaker: ``score = -weight / ln(u)``, ``u`` a uniform hash in (0, 1). The first choice is then a
  volume with probability exactly ``weight / sum(weights)``; later choices are draws without
  replacement (an object never has two fragments on one volume), so for a stripe of width ``w`` the
  shares are close to proportional while ``w`` is small against the volume count and flatten
  towards equal as ``w`` nears it (at ``w`` = volumes every volume holds one fragment of everything).
  Changing a weight only moves the objects whose top ``w`` changes, as for adding a volume.

Uuids rather than paths are hashed so that moving a disk to another mount point keeps its data where
placement expects it. BLAKE2b is used for the hash because it is in the standard library, well
mixed (no clustering for similar refs) and fast enough: one 8-byte digest per (ref, volume) pair.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence

_SCALE = float(1 << 64)


def _unit(ref: str, volume_id: str) -> float:
    """A uniform pseudo-random number in the open interval (0, 1) for the pair."""
    digest = hashlib.blake2b(f"{volume_id}\x00{ref}".encode(), digest_size=8).digest()
    # +0.5 keeps the value away from both 0 (ln would be -inf) and 1 (ln would be 0).
    return (int.from_bytes(digest, "big") + 0.5) / _SCALE


def score(ref: str, volume_id: str, weight: float = 1.0) -> float:
    """The pair's weight in the draw; the highest scores win."""
    if weight <= 0:
        return -math.inf
    return -weight / math.log(_unit(ref, volume_id))


def rank(ref: str, volume_ids: Iterable[str], weights: Mapping[str, float] | None = None) -> list[str]:
    """All volumes, best first, for this ref. Ties (practically impossible) break on the uuid."""
    ids = list(dict.fromkeys(volume_ids))
    if weights is None:
        # Without weights the order of the raw hash is the order of the score: skip the logarithm.
        return sorted(ids, key=lambda v: (_unit(ref, v), v), reverse=True)
    return sorted(ids, key=lambda v: (score(ref, v, weights.get(v, 1.0)), v), reverse=True)


def rank_hierarchical(ref: str, domains: Mapping[str, str],
                      weights: Mapping[str, float] | None = None) -> list[str]:
    """All volumes for this ref, spread over failure domains: domains are ranked by their own
    rendezvous score, each domain's volumes by theirs, and the result takes the best remaining
    volume of each domain in domain order, round after round. So the first ``n`` volumes hold
    ``ceil(n / domains)`` at most per domain, and losing a domain touches only its share.
    With every volume its own domain this is exactly ``rank``. With weights, a volume's weight
    ranks it within its domain and a domain weighs the mean of its volumes' (so a set whose
    weights are all 1.0 places exactly as without weights); the per-domain cap still holds."""
    by_domain: dict[str, list[str]] = {}
    for vol in rank(ref, domains, weights):
        by_domain.setdefault(domains[vol], []).append(vol)
    if len(by_domain) == len(domains):
        return [v for vols in by_domain.values() for v in vols]  # flat: rank's order
    domain_weights = None
    if weights is not None:  # a domain weighs its volumes' mean weight (all 1.0: the unweighted order)
        domain_weights = {d: sum(weights.get(v, 1.0) for v in vols) / len(vols) for d, vols in by_domain.items()}
    order = rank(ref, by_domain, domain_weights)
    out: list[str] = []
    depth = 0
    while len(out) < len(domains):
        for dom in order:
            vols = by_domain[dom]
            if depth < len(vols):
                out.append(vols[depth])
        depth += 1
    return out


def choose(ref: str, volume_ids: Sequence[str], n: int, weights: Mapping[str, float] | None = None) -> list[str]:
    """The ``n`` volumes fragments ``0..n-1`` of the ref go to (fewer if there are fewer volumes)."""
    return rank(ref, volume_ids, weights)[:n]


def moved_fraction(refs: Sequence[str], before: Sequence[str], after: Sequence[str], n: int) -> float:
    """Share of (ref, fragment) placements that differ between two volume sets (for tests and tools)."""
    if not refs or n <= 0:
        return 0.0
    moved = 0
    for ref in refs:
        old = choose(ref, before, n)
        new = choose(ref, after, n)
        # A set difference, not a positional one: the reader finds fragment i wherever it is, so a
        # rebalance only has to move the fragments whose volume left the object's chosen set.
        moved += len(set(old) - set(new))
    return moved / (len(refs) * n)
