"""`coffer node serve`: run a storage node (server/node/; docs/cluster.md)."""

from __future__ import annotations

import click


@click.group("node")
def node_group() -> None:
    """Storage nodes: lend this machine's volumes to a Coffer cluster."""


@node_group.command("serve")
@click.option("--volume", "volumes", envvar="COFFER_VOLUME", multiple=True, required=True, metavar="DIR[:WEIGHT]",
              help="A data volume directory (one per disk), optionally with its placement weight (default 1.0: "
                   "a volume of weight 2 gets about twice the data of one of weight 1); repeatable.")
@click.option("--address", envvar="COFFER_ADDRESS", required=True, help="HOST:PORT the gateways reach this node at.")
@click.option("--cluster-secret", envvar="COFFER_CLUSTER_SECRET", required=True,
              help="The cluster's shared secret (every request is signed with it).")
@click.option("--zone", envvar="COFFER_ZONE", default="", help="Failure domain (default: the host).")
@click.option("--meta", envvar="COFFER_META", default=None,
              help="The cluster map: postgresql://... or the SQLite file of a single-host cluster.")
@click.option("--node-id", envvar="COFFER_NODE_ID", default=None,
              help="Node name in the cluster map (default: --address).")
@click.option("--host", "host_name", envvar="COFFER_NODE_HOST", default=None,
              help="Host name recorded in the cluster map (default: this machine's).")
@click.option("--heartbeat", envvar="COFFER_HEARTBEAT", type=click.FloatRange(0.1, 60), default=2.0, show_default=True,
              help="Seconds between two heartbeats.")
@click.option("--tls-cert", envvar="COFFER_NODE_TLS_CERT", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Serve the internal API over TLS with this certificate (PEM; its SAN must name --address's host).")
@click.option("--tls-key", envvar="COFFER_NODE_TLS_KEY", default=None, type=click.Path(dir_okay=False, exists=True),
              help="The certificate's private key (PEM; default: in the --tls-cert file).")
def node_serve_cmd(volumes, address, cluster_secret, zone, meta, node_id, host_name, heartbeat, tls_cert=None,
                   tls_key=None) -> None:
    """Serve this node's volumes to the cluster's gateways."""
    from coffer.server.node.serve import NodeConfig, parse_volume, serve_node

    try:
        parsed = [parse_volume(v) for v in volumes]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--volume") from None
    raise SystemExit(serve_node(NodeConfig(volumes=tuple(p for p, _ in parsed), weights=tuple(w for _, w in parsed),
                                           address=address,
                                           secret=cluster_secret, zone=zone, meta=meta, node_id=node_id,
                                           host=host_name, heartbeat=heartbeat, tls_cert=tls_cert,
                                           tls_key=tls_key)))
