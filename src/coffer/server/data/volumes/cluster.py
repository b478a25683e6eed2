"""The gateway's data store over storage nodes: the cluster map's volumes as remote volumes.

Owns how `coffer serve --cluster-secret S` (no --volume) sees the cluster: ``ClusterDataStore`` is
the multi-volume store (store.py: writer, reader, delete, repair queue, sweeps) whose volume set
comes from the cluster map instead of ``DATA/volumes.json``. A background thread per process
re-reads the map every ``refresh_every`` seconds (a few rows: nodes with their age by the database
clock, volumes, the layout generation) and probes the nodes whose volumes are not online:

* node ``active`` and seen within ``suspect_after`` seconds: its volumes as the node reports them;
* node silent for longer (suspect): offline for this gateway (no write goes there, reads decode
  around it, without waiting for a timeout on every request);
* node ``draining``: read-only (read, never written; `coffer admin node drain` moves its data off);
* node ``out``: offline for good (its fragments are rebuilt elsewhere by `coffer admin node out`).

The cluster map is passed in (any object with ``nodes()``, ``volumes()``, ``generation()``): the
data layer never imports the metadata layer; the runner wires them.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from coffer.server.data.interface import Upkeep
from coffer.server.data.volumes.remote import NodeClient, RemoteVolume
from coffer.server.data.volumes.storage_policy import Policy, PolicyError, cluster_default_policy, codec_for
from coffer.server.data.volumes.store import VolumeDataStore
from coffer.server.data.volumes.stripes import DEFAULT_BLOCK_SIZE
from coffer.server.data.volumes.volume import VolumeSet, VolumeState

log = logging.getLogger("coffer.cluster")


class ClusterDataStore(VolumeDataStore):
    """Object data on the storage nodes of the cluster map (see module docstring)."""

    def __init__(self, root: Path, cluster: Any, secret: str, *, suspect_after: float = 10.0,
                 refresh_every: float = 2.0, block_size: int = DEFAULT_BLOCK_SIZE, ca: str | None = None,
                 upkeep: Upkeep | None = None) -> None:
        super().__init__(root, [], block_size=block_size, upkeep=upkeep)
        self.cluster = cluster
        self.secret = secret
        self.ca = ca  # with a CA bundle, every node is reached over verified TLS
        self.suspect_after = suspect_after
        self.refresh_every = refresh_every
        self.generation = -1
        self.nodes: dict[str, Any] = {}
        self._clients: dict[str, NodeClient] = {}
        self._remote: dict[str, RemoteVolume] = {}
        self._sync_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self, *, register: bool = True) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.adopt_folder_upkeep()
        self.sync(probe=True)
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, daemon=True, name="cluster-map")
            self._thread.start()

    def close(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_every):
            try:
                self.sync(probe=True)
            except Exception:  # the database may be down for a moment: keep the last view
                log.warning("cluster map refresh failed", exc_info=True)

    def sync(self, *, probe: bool = False) -> None:
        """Re-read the cluster map; with ``probe``, ask every node whose volumes are not online."""
        with self._sync_lock:
            nodes = {n.id: n for n in self.cluster.nodes()}
            records = self.cluster.volumes()
            self.generation = self.cluster.generation()
            vols = []
            infos: dict[str, dict | str] = {}  # a node's info, or why it gave none
            for rec in records:
                node = nodes.get(rec.node)
                if node is None:
                    continue
                client = self._clients.get(node.address)
                if client is None:
                    client = self._clients[node.address] = NodeClient(node.address, self.secret, ca=self.ca)
                vol = self._remote.get(rec.uuid)
                if vol is None or vol.client is not client:
                    vol = self._remote[rec.uuid] = RemoteVolume(client, rec.uuid, node=node.id,
                                                                zone=node.zone or node.host,
                                                                state=VolumeState.OFFLINE)
                    vol.last_error = "not probed yet"
                vol.node, vol.zone = node.id, node.zone or node.host
                vol.weight = float(rec.weight)
                vol.admin_state = "out" if "out" in (node.state, rec.state) else (
                    "draining" if "draining" in (node.state, rec.state) else "active")
                if vol.admin_state == "out":
                    vol.state, vol.last_error = VolumeState.OFFLINE, "node is out of the cluster"
                elif node.age > self.suspect_after:
                    vol.state = VolumeState.OFFLINE
                    vol.last_error = f"node {node.id} suspect: not seen for {node.age:.0f} s"
                elif probe and (vol.state is not VolumeState.ONLINE or vol.admin_state != "active"):
                    if node.address not in infos:
                        try:
                            infos[node.address] = client.info()
                        except OSError as exc:
                            infos[node.address] = str(exc)
                    info = infos[node.address]
                    if isinstance(info, str):
                        vol.state, vol.last_error = VolumeState.OFFLINE, info
                    else:
                        vol.probe(info)
                vols.append(vol)
            self.nodes = nodes
            self.volumes = VolumeSet(vols)

    def refresh(self, *, force: bool = False) -> None:
        if force:
            self.sync(probe=True)

    def draining(self) -> set[str]:
        return {v.uuid for v in self._remote.values() if v.admin_state == "draining"}

    def sweep_tmp(self, older_than: float = 0.0) -> int:
        """Only old temporary files: the nodes are shared, a young one may be another gateway's write
        (each node removes its own leftovers when it starts)."""
        return super().sweep_tmp(max(older_than, 3600.0))

    def read_registry(self) -> dict[str, str]:
        return {v.uuid: str(v.path) for v in self.volumes}

    # -- policies ----------------------------------------------------------------------------------
    def _usable(self) -> list[RemoteVolume]:
        return [v for v in self._remote.values() if v.admin_state != "out"]

    def default_policy(self) -> Policy:
        vols = self._usable()
        if not vols:
            raise PolicyError("the cluster map lists no storage node volume")
        return cluster_default_policy(len({v.domain for v in vols}), len(vols))

    def check_policy(self, policy: Policy) -> None:
        vols = self._usable()
        domains: dict[str, int] = {}
        for v in vols:
            domains[v.domain] = domains.get(v.domain, 0) + 1
        cap = max(1, policy.m) if len(domains) > 1 else len(vols)
        room = sum(min(cap, n) for n in domains.values())
        if policy.write_quorum > room:
            raise PolicyError(f"{policy} needs {policy.write_quorum} volumes with at most {cap} per failure "
                              f"domain; this cluster has {len(vols)} volumes in {len(domains)} domains")
        try:
            codec_for(policy)
        except ImportError as exc:
            raise PolicyError(f"{policy} needs pyeclib, which this server lacks") from exc

    def wait_ready(self, timeout: float = 10.0) -> int:
        """Block until at least one volume is online (start-up); returns how many are."""
        deadline = time.monotonic() + timeout
        while True:
            n = sum(1 for v in self.volumes if v.writable)
            if n or time.monotonic() >= deadline:
                return n
            time.sleep(0.2)
            self.sync(probe=True)

    def node_admin(self) -> ClusterNodeAdmin:
        return ClusterNodeAdmin(self)


class ClusterNodeAdmin:
    """`coffer admin node list|drain|out` over this store and its cluster map (data/interface.py NodeAdmin)."""

    def __init__(self, store: ClusterDataStore) -> None:
        self.store = store

    def nodes(self) -> dict:
        store = self.store
        out = []
        for n in store.cluster.nodes():
            mine = sorted((v for v in store.volumes if getattr(v, "node", None) == n.id), key=lambda v: v.uuid)
            out.append({**n.as_dict(), "suspect": n.age > store.suspect_after,
                        "volumes": [{"uuid": v.uuid, "state": v.state.value, "weight": v.weight,
                                     "last_error": v.last_error}
                                    for v in mine]})
        return {"nodes": out, "generation": store.cluster.generation(),
                "default_policy": store.default_policy().name}

    def set_state(self, node: str, state: str) -> int:
        gen = self.store.cluster.set_node_state(node, state)  # KeyError (UnknownNode) for a node not in the map
        self.store.refresh(force=True)
        return gen

    def queue_rebuild(self) -> dict:
        from coffer.server.data.volumes.heal import queue_rebuild

        return queue_rebuild(self.store)

    def drain(self, node: str) -> dict:
        from coffer.server.data.volumes.heal import drain_volumes

        return drain_volumes(self.store, {v.uuid for v in self.store.volumes if getattr(v, "node", None) == node})
