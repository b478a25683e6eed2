"""The server's commands: `coffer serve`, `coffer user add|list|remove` (and `coffer kms`, cli_kms.py).

They live with the server (the client CLI in coffer.cli never imports the server); the
composition root, coffer.entry, adds them to the one `coffer` command.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import click

from .config import Config, Limits, parse_address


@click.command("serve")
@click.option("--data", "data", envvar="COFFER_DATA", default="./coffer-data", show_default=True,
              help="Data folder (metadata and object data).")
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
@click.option("--website-domain", "website_domains", multiple=True,
              help="Host suffix of website requests (bucket.SUFFIX); repeatable. Default: s3-website.localhost.")
@click.option("--webhook-retry-max", envvar="COFFER_WEBHOOK_RETRY_MAX", type=click.FloatRange(0.01, 86400),
              default=Limits().webhook_retry_max, show_default=True,
              help="Longest wait, in seconds, between retries of a failed notification webhook delivery.")
@click.option("--volume", "volumes", multiple=True, type=click.Path(file_okay=False),
              help="A data volume directory (normally one per disk); repeatable. None: the data folder.")
@click.option("--scrub-rate", type=click.FloatRange(0), default=64.0, show_default=True,
              help="MiB/s the background scrubber may read (0: unlimited).")
@click.option("--scrub-interval", type=click.FloatRange(1), default=7 * 24 * 3600.0, show_default=True,
              help="Seconds between the starts of two scrub passes.")
@click.option("--heal-interval", type=click.FloatRange(0), default=2.0, show_default=True,
              help="Seconds between two looks at the repair queue; 0 turns background healing and scrubbing off.")
def serve_cmd(data, address, access_key, secret_key, workers, region, domains, loop, inline_max,
              shutdown_grace, lifecycle_day_seconds, website_address, website_domains, webhook_retry_max, volumes,
              scrub_rate, scrub_interval, heal_interval) -> None:
    """Run the Coffer S3 server."""
    from .runner import serve

    if bool(access_key) != bool(secret_key):
        raise click.UsageError("give both --access-key and --secret-key, or neither")
    host, port = parse_address(address)
    web_host, web_port = parse_address(website_address) if website_address else (None, None)
    cfg = Config(website_host=web_host, website_port=web_port,
                 website_domains=tuple(website_domains) or ("s3-website.localhost",),
                 data_dir=Path(data), host=host, port=port, region=region,
                 workers=workers or os.cpu_count() or 1, access_key=access_key, secret_key=secret_key,
                 domains=tuple(domains) or ("localhost",), loop=loop, lifecycle_day_seconds=lifecycle_day_seconds,
                 limits=Limits(inline_threshold=inline_max, shutdown_grace_seconds=shutdown_grace,
                               webhook_retry_max=webhook_retry_max,
                               webhook_retry_min=min(Limits().webhook_retry_min, webhook_retry_max)),
                 volumes=tuple(Path(v) for v in volumes), scrub_rate=scrub_rate * 1024 * 1024,
                 scrub_interval=scrub_interval, heal_interval=heal_interval)
    raise SystemExit(serve(cfg))


def _run(coro):
    return asyncio.run(coro)


async def _with_meta(data: str, fn):
    from .runner import open_meta

    meta = open_meta(Config(data_dir=Path(data)))
    await meta.open()
    try:
        return await fn(meta)
    finally:
        await meta.close()


@click.group("user")
def user_group() -> None:
    """Manage users in a data folder (works whether or not a server runs on it)."""


@user_group.command("add")
@click.argument("user_id")
@click.option("--access-key", required=True)
@click.option("--secret-key", required=True)
@click.option("--display-name", default=None)
@click.option("--email", default=None)
@click.option("--admin", is_flag=True, help="May use the admin API and acts as owner of every bucket.")
@click.option("--data", envvar="COFFER_DATA", default="./coffer-data", show_default=True)
def user_add(user_id, access_key, secret_key, display_name, email, admin, data) -> None:
    """Add a user (canonical id USER_ID) with one access key."""
    from .service.users import add_user

    try:
        _run(_with_meta(data, lambda m: add_user(m, user_id, access_key, secret_key, display_name=display_name,
                                                 email=email, admin=admin)))
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"user {user_id} added")


@user_group.command("list")
@click.option("--data", envvar="COFFER_DATA", default="./coffer-data", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def user_list(data, as_json) -> None:
    """List users and their access keys (secrets are never shown)."""

    async def go(meta):
        users = await meta.list_users()
        keys = await meta.list_access_keys()
        return [{"id": u.id, "display_name": u.display_name, "email": u.email,
                 "access_keys": [k.access_key for k in keys if k.user_id == u.id]} for u in users]

    rows = _run(_with_meta(data, go))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']}\t{r['display_name']}\t{r['email'] or '-'}\t{','.join(r['access_keys'])}")


@user_group.command("remove")
@click.argument("user_id")
@click.option("--data", envvar="COFFER_DATA", default="./coffer-data", show_default=True)
def user_remove(user_id, data) -> None:
    """Remove a user and all their access keys."""
    if not _run(_with_meta(data, lambda m: m.delete_user(user_id))):
        raise click.ClickException(f"no user {user_id}")
    click.echo(f"user {user_id} removed")


def register(group: click.Group) -> None:
    group.add_command(serve_cmd)
    group.add_command(user_group)
    from .cli_kms import kms_group
    from .cli_tokens import token_group

    group.add_command(token_group)
    group.add_command(kms_group)
