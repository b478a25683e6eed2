"""Storage policies: how many fragments an object is cut into and how many losses it survives.

Owns the policy names users and operators type (``SINGLE``, ``REPLICA-N``, ``EC-K+M``), their strict
parsing (the text can come from a request header, so anything unexpected is refused, never guessed),
the compact code stored in every fragment file's header, the default policy for a number of
volumes, and the ``Codec`` that turns a block into the policy's ``k + m`` payloads and back.

Every policy is described by the same pair (k, m): an object is cut into stripes, each stripe into
``k`` data fragments plus ``m`` redundant ones, ``k + m`` fragments on distinct volumes, and any ``k``
of them rebuild the stripe. SINGLE is (1, 0), REPLICA-N is (1, N-1) (every "fragment" is a full
copy), EC-K+M is Reed-Solomon (K, M). One reader, one writer and one repair path serve all three.

Default from the number of volumes (the MinIO idea: use the disks you have), and why:

* 1 volume -> SINGLE: nothing else is possible.
* 2-3 volumes -> REPLICA-2: erasure coding needs at least 2+1 fragments to be worth it, and with
  3 volumes EC-2+1 would save only a quarter of the space of REPLICA-2 while tolerating the same
  single loss, for the cost of decoding; a mirror is simpler and reads are never decoded.
* 4+ volumes -> EC with about a third parity: ``m = max(2, round(width / 3))``, ``k = width - m``
  over ``width = min(volumes, 16)``. 4 -> EC-2+2 (EC-3+1 would tolerate a single loss, no better
  than a mirror: with 4 disks we prefer surviving two, as MinIO does), 5 -> EC-3+2,
  6 -> EC-4+2, 9 -> EC-6+3, 12 -> EC-8+4, 16+ -> EC-11+5. The width is capped at 16 because a
  wider stripe multiplies the number of files and seeks per object while the space gain flattens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

MAX_WIDTH = 32  # ISA-L's Reed-Solomon tables support up to 32 fragments; more would be unreadable
DEFAULT_MAX_WIDTH = 16

_SINGLE = re.compile(r"SINGLE")
_REPLICA = re.compile(r"REPLICA-([1-9][0-9]?)")
_EC = re.compile(r"EC-([1-9][0-9]?)\+([1-9][0-9]?)")


class PolicyError(ValueError):
    """A policy name or code that does not describe a valid policy."""


class PolicyKind(IntEnum):
    """Stored as one byte in fragment headers: never renumber."""

    SINGLE = 0
    REPLICA = 1
    EC = 2


@dataclass(frozen=True, slots=True)
class Policy:
    kind: PolicyKind
    k: int
    m: int

    def __post_init__(self) -> None:
        if self.kind is PolicyKind.SINGLE and (self.k, self.m) != (1, 0):
            raise PolicyError("SINGLE is one fragment")
        if self.kind is PolicyKind.REPLICA and (self.k != 1 or not 1 <= self.m < MAX_WIDTH):
            raise PolicyError(f"REPLICA-N needs 2 <= N <= {MAX_WIDTH}")
        if self.kind is PolicyKind.EC and (self.k < 2 or self.m < 1 or self.k + self.m > MAX_WIDTH):
            # EC-1+M is a replica in disguise (and ISA-L rejects k=1); say REPLICA-(1+M) instead.
            raise PolicyError(f"EC-K+M needs K >= 2, M >= 1, K+M <= {MAX_WIDTH}")

    # -- constructors -------------------------------------------------------------------------------
    @classmethod
    def single(cls) -> Policy:
        return cls(PolicyKind.SINGLE, 1, 0)

    @classmethod
    def replica(cls, n: int) -> Policy:
        return cls(PolicyKind.REPLICA, 1, n - 1)

    @classmethod
    def ec(cls, k: int, m: int) -> Policy:
        return cls(PolicyKind.EC, k, m)

    @classmethod
    def parse(cls, text: str) -> Policy:
        """``SINGLE``, ``REPLICA-N`` or ``EC-K+M`` (case-insensitive, no spaces, no leading zeros)."""
        if not isinstance(text, str) or len(text) > 16 or not text.isascii():
            raise PolicyError(f"not a storage policy: {text!r}")
        up = text.upper()
        if _SINGLE.fullmatch(up):
            return cls.single()
        if match := _REPLICA.fullmatch(up):
            n = int(match.group(1))
            if n == 1:
                raise PolicyError("REPLICA-1 is SINGLE")
            return cls.replica(n)
        if match := _EC.fullmatch(up):
            return cls.ec(int(match.group(1)), int(match.group(2)))
        raise PolicyError(f"not a storage policy: {text!r} (expected SINGLE, REPLICA-N or EC-K+M)")

    @classmethod
    def from_code(cls, kind: int, k: int, m: int) -> Policy:
        """The policy stored in a fragment header (untrusted bytes: validated like a name)."""
        try:
            return cls(PolicyKind(kind), k, m)
        except ValueError as exc:
            raise PolicyError(f"bad policy code ({kind}, {k}, {m})") from exc

    # -- properties ---------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        if self.kind is PolicyKind.SINGLE:
            return "SINGLE"
        if self.kind is PolicyKind.REPLICA:
            return f"REPLICA-{self.width}"
        return f"EC-{self.k}+{self.m}"

    def __str__(self) -> str:
        return self.name

    @property
    def width(self) -> int:
        """Fragments per stripe, each on its own volume."""
        return self.k + self.m

    @property
    def tolerates(self) -> int:
        """Fragments of a stripe that may be lost with the data still readable."""
        return self.m

    @property
    def write_quorum(self) -> int:
        """Fragments a write must make durable before it may be acknowledged.

        ``k + 1`` when there is redundancy: an acknowledged object always survives one more loss
        while the missing fragments are rebuilt (the caller queues a repair). Asking for all
        ``k + m`` would stop every write as soon as one disk fails, which is what redundancy is
        meant to avoid; asking for only ``k`` would acknowledge data that one failure destroys.
        """
        return self.width if self.m == 0 else self.k + 1

    @property
    def overhead(self) -> float:
        """Bytes stored per byte of object."""
        return self.width / self.k


def default_policy(volumes: int) -> Policy:
    """The policy used when neither the object nor its bucket asks for one (see module docstring)."""
    if volumes < 1:
        raise PolicyError("no volumes")
    if volumes == 1:
        return Policy.single()
    if volumes <= 3:
        return Policy.replica(2)
    width = min(volumes, DEFAULT_MAX_WIDTH)
    m = max(2, round(width / 3))
    return Policy.ec(width - m, m)


def cluster_default_policy(domains: int, volumes: int) -> Policy:
    """The default over storage nodes: a policy that survives the loss of a whole failure domain
    (node, or zone) with at most M fragments per domain. 1 domain: as on one host; 2 -> REPLICA-2;
    3 -> EC-2+1; 4+ -> EC-2+2 below 8 volumes, EC-4+2 from 8 volumes on 4 domains, EC-6+3 from 9
    volumes on 6 domains, EC-8+4 from 12 volumes on 8 domains (2 fragments per domain at most)."""
    if domains <= 1:
        return default_policy(volumes)
    if domains == 2:
        return Policy.replica(2)
    if domains == 3:
        return Policy.ec(2, 1)
    if domains >= 8 and volumes >= 12:
        return Policy.ec(8, 4)
    if domains >= 6 and volumes >= 9:
        return Policy.ec(6, 3)
    if volumes >= 8:
        return Policy.ec(4, 2)
    return Policy.ec(2, 2)


def usable(policy: Policy, volumes: int) -> bool:
    """Whether a set of this many writable volumes can take new objects under the policy."""
    return volumes >= policy.write_quorum


class Codec:
    """Block <-> ``k + m`` payloads for one policy.

    pyeclib is handed ``bytes`` only: it aborts the whole process (a C assertion) on a memoryview or
    a bytearray, and on some malformed fragments — one more reason every payload's CRC is checked
    before it gets here.
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._driver = None
        self._skip = -1  # bytes of pyeclib's header before a data payload's share of the block
        if policy.kind is PolicyKind.EC:
            from pyeclib.ec_iface import ECDriver  # optional dependency (extra "ec"): import on use

            self._driver = ECDriver(k=policy.k, m=policy.m, ec_type="isa_l_rs_cauchy")
            # Cauchy Reed-Solomon is systematic: data payloads hold the block verbatim after a fixed
            # header. Learn the header size here and check the layout, so a healthy read can join
            # the data payloads (one copy) instead of calling the decoder; a pyeclib whose layout
            # differs simply never takes that path.
            probe = bytes(range(256)) * policy.k
            payloads = self._driver.encode(probe)
            skip = len(payloads[0]) - 256
            if skip >= 0 and b"".join(p[skip:] for p in payloads[: policy.k]) == probe:
                self._skip = skip

    def encode(self, block: bytes | bytearray) -> list[bytes]:
        block = bytes(block) if not isinstance(block, bytes) else block
        if self._driver is None:
            return [block] * self.policy.width
        return self._driver.encode(block)

    def pieces(self, payloads: dict[int, bytearray | bytes], length: int) -> list[memoryview]:
        """The ``length`` bytes of a block from at least ``k`` verified payloads, as views in order.

        When the data payloads are all there the views point into them: no copy at all, which is
        what keeps a healthy EC read close to a SINGLE one. Otherwise the decoder runs (one piece).
        """
        if self._driver is None:
            return [memoryview(next(iter(payloads.values())))]
        k = self.policy.k
        if self._skip >= 0 and all(i in payloads for i in range(k)):
            views, need = [], length
            for i in range(k):
                view = memoryview(payloads[i])[self._skip:][:need]
                views.append(view)
                need -= len(view)
            return views
        return [memoryview(self._driver.decode([bytes(payloads[i]) for i in sorted(payloads)][:k]))]

    def decode(self, payloads: dict[int, bytearray | bytes], length: int) -> bytes:
        """The block as one ``bytes`` (re-encoding during repair, tests)."""
        return b"".join(self.pieces(payloads, length))


@lru_cache(maxsize=32)
def codec_for(policy: Policy) -> Codec:
    return Codec(policy)
