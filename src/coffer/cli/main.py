"""The ``coffer`` client CLI: the click group ``cli`` and the table of its commands, each loaded when run.

``coffer.entry`` adds the server commands (serve, user, ...) to this same group, lazily as well.
Paths are ``ALIAS/bucket/key`` (see ``coffer alias``) or local.
"""

from __future__ import annotations

import os

import click

from coffer import __version__
from coffer.cli._complete import attach_completion
from coffer.cli._lazy import LazyGroup, attr
from coffer.cli._output import global_options, remember_global_flags


def _tls_option(ctx: click.Context, param: click.Parameter, value: object) -> object:
    """--ca-bundle / --insecure: handed to every client through the environment (_aliases.tls_config)."""
    if value:
        os.environ["COFFER_CA_BUNDLE" if param.name == "ca_bundle" else "COFFER_INSECURE"] = str(value)
    return value


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


@cli.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script: eval "$(coffer completion bash)" (aliases, buckets, keys)."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "coffer", "_COFFER_COMPLETE").source())


def _admin() -> click.Command:
    from coffer.cli._cmd_admin import admin_group
    from coffer.cli._cmd_backup import backup, restore

    admin_group.add_command(backup)
    admin_group.add_command(restore)
    return admin_group


# Each command's module is imported when the command runs (see _lazy): `coffer cp` pays for cp's imports only.
_COMMANDS = {
    "coffer.cli._cmd_alias": {"alias": "alias_group"},
    "coffer.cli._cmd_basic": {n: n for n in ("append", "cat", "ls", "mb", "presign", "rb", "rm", "stat")},
    "coffer.cli._cmd_browse": {n: n for n in ("diff", "du", "find", "head", "tree")},
    "coffer.cli._cmd_bulk": {"bulk": "bulk"},
    "coffer.cli._cmd_quota": {"quota": "quota_group"},
    "coffer.cli._cmd_settings": {n: n + "_group" for n in ("cors", "encrypt", "event", "ilm", "policy", "website")},
    "coffer.cli._cmd_sync": {"mirror": "mirror", "sync": "sync"},
    "coffer.cli._cmd_transfer": {"cp": "cp", "mv": "mv", "pipe": "pipe"},
    "coffer.cli._cmd_versions": {"undo": "undo", "version": "version_group"},
    "coffer.cli._cmd_watch": {"watch": "watch"},
    "coffer.cli._cmd_worm": {"legalhold": "legalhold_group", "retention": "retention_group", "tag": "tag_group"},
}
assert isinstance(cli, LazyGroup)
cli.add_lazy("admin", _admin)
for _module, _names in _COMMANDS.items():
    for _name, _attr in _names.items():
        cli.add_lazy(_name, attr(_module, _attr))
cli.on_load.append(attach_completion)


def main() -> None:
    cli(prog_name="coffer")


if __name__ == "__main__":
    main()
