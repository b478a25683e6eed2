"""`coffer serve`: run the server (options, environment variables, defaults).

The server's commands live with the server (the client CLI in coffer.cli never imports the server); the
composition root, coffer.entry, adds them to the one `coffer` command.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from coffer.server.config import Config, Limits, parse_address
from coffer.server.service.events.webhook_security import networks


@click.command("serve")
@click.option("--data", "data", envvar="COFFER_DATA", default="./coffer-data", show_default=True,
              help="Data folder (metadata and object data).")
@click.option("--meta", "meta_url", envvar="COFFER_META", default=None, metavar="URL",
              help="Metadata database: postgresql://USER@HOST:PORT/DB (shared by gateways). Default: SQLite in DATA.")
@click.option("--address", envvar="COFFER_ADDRESS", default="127.0.0.1:9000", show_default=True,
              help="HOST:PORT to listen on.")
@click.option("--access-key", envvar="COFFER_ACCESS_KEY", default=None, help="Root access key.")
@click.option("--secret-key", envvar="COFFER_SECRET_KEY", default=None, help="Root secret key.")
@click.option("--workers", type=int, default=None, help="Worker processes (default: number of cores).")
@click.option("--region", default="us-east-1", show_default=True)
@click.option("--domain", "domains", multiple=True,
              help="Domain for virtual-host-style requests (bucket.DOMAIN); repeatable. Default: localhost.")
@click.option("--loop", type=click.Choice(["asyncio", "uvloop"]), default="asyncio", show_default=True,
              help="Event loop; asyncio keeps sendfile for GET (see bench/RESULTS.md).")
@click.option("--inline-max", type=click.IntRange(0, 1024 * 1024), default=Limits().inline_threshold,
              show_default=True, help="Objects up to this many bytes are kept inline in the metadata.")
@click.option("--shutdown-grace", type=click.FloatRange(0, 3600), default=Limits().shutdown_grace_seconds,
              show_default=True, help="Seconds in-flight requests may take to finish after SIGTERM.")
@click.option("--lifecycle-day-seconds", type=click.FloatRange(0.1, 86400 * 366), default=86400.0,
              show_default=True, help="Length of a lifecycle day in seconds (shorter for tests and demos).")
@click.option("--website-address", default=None, help="HOST:PORT of a listener serving static websites only.")
@click.option("--console-address", default=None, help="HOST:PORT of a listener serving only the web console.")
@click.option("--website-domain", "website_domains", multiple=True,
              help="Host suffix of website requests (bucket.SUFFIX); repeatable. Default: s3-website.localhost.")
@click.option("--webhook-retry-max", envvar="COFFER_WEBHOOK_RETRY_MAX", type=click.FloatRange(0.01, 86400),
              default=Limits().webhook_retry_max, show_default=True,
              help="Longest wait, in seconds, between retries of a failed notification webhook delivery.")
@click.option("--webhook-allow", "webhook_allow", multiple=True, metavar="CIDR",
              help="Network webhooks may be delivered to; repeatable. Default: loopback and private ranges.")
@click.option("--volume", "volumes", multiple=True, type=click.Path(file_okay=False),
              help="A data volume directory (normally one per disk); repeatable. None: the data folder.")
@click.option("--scrub-rate", type=click.FloatRange(0), default=64.0, show_default=True,
              help="MiB/s the background scrubber may read (0: unlimited).")
@click.option("--scrub-interval", type=click.FloatRange(1), default=7 * 24 * 3600.0, show_default=True,
              help="Seconds between the starts of two scrub passes.")
@click.option("--heal-interval", type=click.FloatRange(0), default=2.0, show_default=True,
              help="Seconds between two looks at the repair queue; 0 turns background healing and scrubbing off.")
@click.option("--cluster-secret", envvar="COFFER_CLUSTER_SECRET", default=None,
              help="Shared secret of the storage nodes; without --volume, data goes to the cluster map's nodes.")
@click.option("--cluster-map", envvar="COFFER_CLUSTER_MAP", default=None,
              help="Cluster map: postgresql://... or a SQLite path (default: DATA/meta/cluster.sqlite3).")
@click.option("--cluster-ca", envvar="COFFER_CLUSTER_CA", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Reach the storage nodes over TLS, verifying their certificates with this CA bundle (PEM).")
def serve_cmd(data, address, access_key, secret_key, workers, region, domains, loop, inline_max,
              shutdown_grace, lifecycle_day_seconds, website_address, website_domains, webhook_retry_max,
              webhook_allow, console_address, volumes, scrub_rate, scrub_interval, heal_interval, cluster_secret=None,
              cluster_map=None, meta_url=None, cluster_ca=None) -> None:
    """Run the Coffer S3 server."""
    from coffer.server.runner import serve

    if bool(access_key) != bool(secret_key):
        raise click.UsageError("give both --access-key and --secret-key, or neither")
    host, port = parse_address(address)
    if meta_url and not meta_url.startswith(("postgresql://", "postgres://")):
        raise click.BadParameter("a postgresql://USER@HOST:PORT/DB URL", param_hint="--meta")
    try:
        networks(webhook_allow)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--webhook-allow") from None
    web_host, web_port = parse_address(website_address) if website_address else (None, None)
    con_host, con_port = parse_address(console_address) if console_address else (None, None)
    cfg = Config(website_host=web_host, website_port=web_port, console_host=con_host, console_port=con_port,
                 website_domains=tuple(website_domains) or ("s3-website.localhost",),
                 data_dir=Path(data), host=host, port=port, region=region,
                 workers=workers or os.cpu_count() or 1, access_key=access_key, secret_key=secret_key,
                 domains=tuple(domains) or ("localhost",), loop=loop, lifecycle_day_seconds=lifecycle_day_seconds,
                 limits=Limits(inline_threshold=inline_max, shutdown_grace_seconds=shutdown_grace,
                               webhook_retry_max=webhook_retry_max, webhook_allow=tuple(webhook_allow),
                               webhook_retry_min=min(Limits().webhook_retry_min, webhook_retry_max)),
                 volumes=tuple(Path(v) for v in volumes), scrub_rate=scrub_rate * 1024 * 1024,
                 scrub_interval=scrub_interval, heal_interval=heal_interval, cluster_secret=cluster_secret,
                 cluster_map=cluster_map, meta_url=meta_url or None, cluster_ca=cluster_ca)
    raise SystemExit(serve(cfg))
