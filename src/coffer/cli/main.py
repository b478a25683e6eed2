"""The ``coffer`` client CLI: the click group ``cli``, the alias commands, and the other commands attached.

``coffer.entry`` adds the server commands (serve, user) to this same group; run the client part alone
with ``python -m coffer.cli.main``. Paths are ``ALIAS/bucket/key`` (see ``coffer alias``) or local.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from coffer import __version__
from coffer.cli import _aliases
from coffer.cli._aliases import Alias
from coffer.cli._cmd_admin import admin_group
from coffer.cli._cmd_backup import backup, restore
from coffer.cli._cmd_basic import append, cat, ls, mb, presign, rb, rm, stat
from coffer.cli._cmd_browse import diff, du, find, head, tree
from coffer.cli._cmd_bulk import bulk
from coffer.cli._cmd_quota import quota_group
from coffer.cli._cmd_settings import cors_group, encrypt_group, event_group, ilm_group, policy_group, website_group
from coffer.cli._cmd_sync import mirror, sync
from coffer.cli._cmd_transfer import cp, mv, pipe
from coffer.cli._cmd_versions import undo, version_group
from coffer.cli._cmd_watch import watch
from coffer.cli._cmd_worm import legalhold_group, retention_group, tag_group
from coffer.cli._complete import attach_completion
from coffer.cli._output import Output, UsageError, command, global_options, remember_global_flags
from coffer.sdk._config import resolve


def _tls_option(ctx: click.Context, param: click.Parameter, value: object) -> object:
    """--ca-bundle / --insecure: handed to every client through the environment (_aliases.tls_config)."""
    if value:
        os.environ["COFFER_CA_BUNDLE" if param.name == "ca_bundle" else "COFFER_INSECURE"] = str(value)
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="coffer")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False), callback=_tls_option,
              expose_value=False, help="PEM file of the CA(s) that signed the server's certificate.")
@click.option("--insecure", is_flag=True, callback=_tls_option, expose_value=False,
              help="Do not verify the server's HTTPS certificate (test set-ups only).")
@global_options
@click.pass_context
def cli(ctx: click.Context, json_mode: bool, quiet: bool, no_color: bool) -> None:
    """Coffer: an S3-compatible object store, and a client for any S3 service.

    \b
    Set up a name for a server, then use ALIAS/bucket/key paths:
      coffer alias set local http://127.0.0.1:9000 ACCESS SECRET
      coffer mb local/photos
      coffer cp -r ./pictures local/photos/2024
      coffer ls -r local/photos
      coffer sync local/photos/2024 ./restore --delete

    Every command takes --json (JSON lines for scripts), --quiet and --no-color, before or after
    the subcommand. Exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 access denied, 130 interrupted.
    """
    remember_global_flags(ctx, json_mode, quiet, no_color)


# --- alias ------------------------------------------------------------------------------------------


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


@cli.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script: eval "$(coffer completion bash)" (aliases, buckets, keys)."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "coffer", "_COFFER_COMPLETE").source())


admin_group.add_command(backup)
admin_group.add_command(restore)
for _command in (alias_group, admin_group, ls, mb, rb, cp, mv, rm, cat, stat, sync, presign, append, bulk,
                 du, find, tree, diff, head, pipe, version_group, undo, tag_group, retention_group,
                 legalhold_group, policy_group, ilm_group, event_group, encrypt_group, cors_group, website_group,
                 quota_group, mirror, watch):
    cli.add_command(_command)


attach_completion(cli)


def main() -> None:
    cli(prog_name="coffer")


if __name__ == "__main__":
    main()
