"""OpenIO's storage policy names and Coffer's, both ways (pure: no I/O).

OpenIO names its policies in its conscience configuration: SINGLE, TWOCOPIES, THREECOPIES, ...
FIVECOPIES (replication), EC (6+3) and families such as ECISAL42D1, ECLIBEC63D1, ECISALC75D1
(erasure coding: the digits before `D` are k then m, m being the last digit). Coffer's are SINGLE,
REPLICA-N and EC-K+M. Names OpenIO code passes are mapped onto Coffer's; Coffer's own names pass
through unchanged (the server validates them). A policy read back is reported by its OpenIO name
when OpenIO has one (REPLICA-3 -> THREECOPIES, EC-6+3 -> EC), else by Coffer's.
"""

from __future__ import annotations

import re

_COPIES = {"SINGLE": 1, "TWOCOPIES": 2, "THREECOPIES": 3, "FOURCOPIES": 4, "FIVECOPIES": 5}
_EC_FAMILY = re.compile(r"EC[A-Z]*?(\d+)(\d)D\d+")
EC_DEFAULT = "EC-6+3"  # OpenIO's "EC": ec/k=6,m=3


def to_coffer(name: str) -> str:
    """The Coffer policy for an OpenIO (or Coffer) policy name."""
    up = name.strip().upper()
    if up in _COPIES:
        n = _COPIES[up]
        return "SINGLE" if n == 1 else f"REPLICA-{n}"
    if up == "EC":
        return EC_DEFAULT
    if m := _EC_FAMILY.fullmatch(up):
        return f"EC-{int(m.group(1))}+{int(m.group(2))}"
    return up


def to_openio(name: str | None) -> str | None:
    """The OpenIO name of a Coffer policy when OpenIO has one, else the Coffer name."""
    if name is None:
        return None
    for oio, n in _COPIES.items():
        if name == ("SINGLE" if n == 1 else f"REPLICA-{n}"):
            return oio
    return "EC" if name == EC_DEFAULT else name
