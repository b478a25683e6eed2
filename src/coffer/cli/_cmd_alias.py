"""``coffer alias set|ls|rm|import``: names for an endpoint and its keys, so paths read ``NAME/bucket/key``."""

from __future__ import annotations

from pathlib import Path

import click

from coffer.cli import _aliases
from coffer.cli._aliases import Alias
from coffer.cli._output import Output, UsageError, command
from coffer.sdk._config import resolve


@click.group("alias")
def alias_group() -> None:
    """Manage aliases: names for an endpoint and its keys (or set COFFER_HOST_<NAME>=URL)."""


@alias_group.command("set")
@click.argument("name")
@click.argument("url")
@click.argument("access_key", required=False)
@click.argument("secret_key", required=False)
@click.option("--region", default=None, help="Signing region (default us-east-1).")
@click.option("--no-check", is_flag=True, help="Save without contacting the server.")
@command
def alias_set(out: Output, name: str, url: str, access_key: str | None, secret_key: str | None,
              region: str | None, no_check: bool) -> None:
    """Save alias NAME for URL; keys default to the environment (COFFER_*, AWS_*, DS3_*)."""
    if bool(access_key) != bool(secret_key):
        raise UsageError("give both ACCESS_KEY and SECRET_KEY, or neither (to take them from the environment)")
    found = resolve(url, access_key, secret_key, region)
    creds = found.credentials
    entry = Alias(name, found.endpoint, creds.access_key if creds else None,
                  creds.secret_key if creds else None, found.region)
    if not no_check:
        entry.client().list_buckets()  # fail now, with the server's reason, rather than on first use
    path = _aliases.save(entry)
    out.emit({"alias": name, **entry.public(), "file": str(path)},
             f"Added alias {name} -> {entry.url} ({'keys ' + str(entry.access_key) if creds else 'anonymous'})")


@alias_group.command("ls")
@command
def alias_ls(out: Output) -> None:
    """List aliases (secret keys are never shown)."""
    for entry in sorted(_aliases.load().values(), key=lambda a: a.name):
        out.emit(entry.public(), f"{entry.name:<16} {entry.url:<40} {entry.access_key or '-':<24} {entry.source}")


@alias_group.command("rm")
@click.argument("name")
@command
def alias_rm(out: Output, name: str) -> None:
    """Remove alias NAME from the alias file."""
    if not _aliases.remove(name):
        raise UsageError(f"no alias {name!r} in {_aliases.config_dir() / 'aliases.json'}")
    out.emit({"alias": name, "removed": True}, f"Removed alias {name}")


@alias_group.command("import")
@click.argument("source", type=click.Choice(["mc", "rclone"]))
@click.option("--file", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="mc's config.json or rclone.conf (default: where the tool keeps it).")
@click.option("--overwrite", is_flag=True, help="Replace aliases that already exist.")
@command
def alias_import(out: Output, source: str, config_file: Path | None, overwrite: bool) -> None:
    """Copy mc's aliases (~/.mc/config.json and MC_HOST_*) or rclone's s3 remotes into Coffer's file."""
    found = _aliases.mc_aliases(config_file) if source == "mc" else _aliases.rclone_aliases(config_file)
    have = _aliases.load()
    if not found:
        out.note(f"no {source} aliases found")
    for entry in found:
        if entry.name in have and have[entry.name].source == "file" and not overwrite:
            out.emit({"alias": entry.name, "imported": False, "reason": "exists"},
                     f"Skipped {entry.name}: exists (use --overwrite)")
            continue
        _aliases.save(entry)
        out.emit({"alias": entry.name, "imported": True, "from": entry.source, "url": entry.url},
                 f"Imported {entry.name} -> {entry.url} (from {entry.source})")
