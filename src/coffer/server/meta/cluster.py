"""The cluster map: which storage nodes and volumes exist, where, and in what state.

Owns the records and the small interface both engines implement (``sqlite/cluster.py`` for one host
and tests, ``postgres/cluster.py`` for a real cluster). Tables:

    nodes(id, zone, host, address, state, last_seen)   state: active | draining | out
    volumes(uuid, node, weight, state)                 state: active | draining | out
    cluster_layout(generation)                         bumped in the same transaction as any change

Liveness is the database's clock: a node writes ``last_seen = now()`` every few seconds and readers
get each node's ``age`` computed by the database, so no two machines' clocks are ever compared. The
database is the only coordinator: no election, no gossip; gateways poll ``generation`` and ages.

Synchronous by design: nodes heartbeat from a thread and gateways refresh their view from a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Protocol


class NodeState(StrEnum):
    ACTIVE = "active"  # reads and writes
    DRAINING = "draining"  # read; no new fragments; its data is being moved off
    OUT = "out"  # gone for good: nothing is read from it, its fragments are rebuilt elsewhere


class UnknownNode(KeyError):
    """No node of that id in the cluster map."""


@dataclass(frozen=True, slots=True)
class NodeRecord:
    id: str
    zone: str
    host: str
    address: str
    state: str
    last_seen: float  # epoch seconds (database clock)
    age: float  # seconds since last_seen, by the database clock

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class VolumeRecord:
    uuid: str
    node: str
    weight: float
    state: str

    def as_dict(self) -> dict:
        return asdict(self)


class ClusterMap(Protocol):
    def register_node(self, node_id: str, *, zone: str, host: str, address: str,
                      volumes: Sequence[tuple[str, float]]) -> int:
        """Insert or update a node and its volumes (a volume moved between nodes follows its uuid);
        heartbeat it. Returns the layout generation (bumped only when something changed)."""
        ...

    def heartbeat(self, node_id: str) -> None: ...

    def nodes(self) -> list[NodeRecord]: ...

    def volumes(self) -> list[VolumeRecord]: ...

    def generation(self) -> int: ...

    def set_node_state(self, node_id: str, state: NodeState) -> int:
        """Change a node's state (and its volumes'); returns the new generation. ``UnknownNode``."""
        ...

    def close(self) -> None: ...
