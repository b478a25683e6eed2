"""Running a storage node: volumes, registration in the cluster map, heartbeat, the HTTP API.

`serve_node` opens every --volume (a directory given for the first time, empty or absent, is
formatted; a non-empty directory without identity is refused: it may be an unmounted disk's mount
point), removes the temporary files an earlier run left, registers the node and its volumes in the
cluster map (when --meta is given) and then heartbeats ``last_seen`` every ``heartbeat`` seconds from a
thread, re-probing its volumes at the same pace (a repaired disk comes back without a restart).

A volume's placement weight is given as ``--volume DIR:WEIGHT`` (default 1.0; `parse_volume`) and
registered with it: a changed weight bumps the layout generation, so the rebalancer moves data.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from coffer.server.config import parse_address
from coffer.server.data.volumes.volume import IDENTITY_FILE, Volume, VolumeError, VolumeIdentityError
from coffer.server.node.app import Node, build_app

log = logging.getLogger("coffer.node")


@dataclass(frozen=True, slots=True)
class NodeConfig:
    volumes: tuple[Path, ...]
    address: str
    secret: str
    zone: str = ""
    meta: str | None = None
    node_id: str | None = None
    host: str | None = None
    heartbeat: float = 2.0
    fsync: bool = True
    tls_cert: str | None = None  # PEM certificate: serve HTTPS (gateways verify it with --cluster-ca)
    tls_key: str | None = None
    weights: tuple[float, ...] = ()  # placement weight of each of `volumes` (default: 1.0 each)


def parse_volume(text: str) -> tuple[Path, float]:
    """``DIR`` or ``DIR:WEIGHT`` (a positive number; a directory whose name ends in ``:NUMBER``
    is given as ``DIR:NUMBER:1``). Raises ValueError with the reason."""
    head, sep, tail = text.rpartition(":")
    if not sep or not head:
        return Path(text), 1.0
    try:
        weight = float(tail)
    except ValueError:
        return Path(text), 1.0  # a colon in the path, no weight
    if not (weight > 0 and weight < float("inf")):
        raise ValueError(f"{text}: the volume weight must be a positive number")
    return Path(head), weight


def open_volumes(paths: tuple[Path, ...], *, fsync: bool = True, weights: tuple[float, ...] = ()) -> list[Volume]:
    vols = []
    for i, path in enumerate(paths):
        path = path.absolute()
        if not (path / IDENTITY_FILE).exists() and path.is_dir() and any(path.iterdir()):
            raise VolumeIdentityError(f"{path}: not empty and not a Coffer volume; refusing to format it")
        vol = Volume.open(path, create=not (path / IDENTITY_FILE).exists(), fsync=fsync)
        vol.weight = weights[i] if i < len(weights) else 1.0
        vols.append(vol)
    if len({v.uuid for v in vols}) != len(vols):
        raise VolumeIdentityError("the same volume is given twice")
    return vols


def _heartbeat(cfg: NodeConfig, node: Node, stop: threading.Event) -> None:
    from coffer.server.meta.backends import open_cluster_map
    from coffer.server.meta.cluster import UnknownNode

    cluster = None
    registered = False
    while True:
        for vol in node.volumes.values():
            vol.probe()
        if cfg.meta:
            try:
                if cluster is None:
                    cluster = open_cluster_map(cfg.meta)
                if registered:
                    cluster.heartbeat(node.node_id)
                else:
                    gen = cluster.register_node(node.node_id, zone=cfg.zone, host=cfg.host or socket.gethostname(),
                                                address=cfg.address,
                                                volumes=[(u, v.weight) for u, v in node.volumes.items()])
                    registered = True
                    log.info("node %s registered (layout generation %d)", node.node_id, gen)
            except UnknownNode:
                registered = False  # removed from the map meanwhile: register again
            except Exception as exc:  # database down: keep serving, retry at the next beat
                log.warning("cluster map unreachable: %s", exc)
                cluster = None
        if stop.wait(cfg.heartbeat):
            return


def serve_node(cfg: NodeConfig) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    try:
        vols = open_volumes(cfg.volumes, fsync=cfg.fsync, weights=cfg.weights)
    except (OSError, VolumeError) as exc:
        log.error("cannot open the volumes: %s", exc)
        return 2
    removed = sum(v.sweep_tmp(time.time()) for v in vols if v.readable)  # this node's in-flight writes died with it
    if removed:
        log.info("removed %d temporary fragment files left by an earlier run", removed)
    ssl_context = None
    if cfg.tls_cert:
        import ssl

        try:
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(cfg.tls_cert, cfg.tls_key)
        except (OSError, ssl.SSLError) as exc:
            log.error("cannot load the TLS certificate: %s", exc)
            return 2
    node = Node(cfg.node_id or cfg.address, cfg.secret, vols)
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(cfg, node, stop), daemon=True, name="heartbeat").start()
    host, port = parse_address(cfg.address)
    print(f"Coffer storage node {node.node_id} serving {len(vols)} volumes on "
          f"{'https' if ssl_context else 'http'}://{host}:{port}"
          + (f" (zone {cfg.zone})" if cfg.zone else ""), flush=True)
    try:
        web.run_app(build_app(node), host=host, port=port, print=None, access_log=None, shutdown_timeout=5.0,
                    ssl_context=ssl_context)
    finally:
        stop.set()
    return 0
