"""The ``coffer`` client CLI: one click group, ``cli``, with the client commands attached.

``coffer.entry`` adds the server commands (serve, user) to this same group; run the client part alone
with ``python -m coffer.cli.main``. Paths are ``ALIAS/bucket/key`` (see ``coffer alias``) or local.
"""

from __future__ import annotations

import click

from coffer import __version__
from coffer.cli._cmd_basic import alias_group, append, cat, ls, mb, presign, rb, rm, stat
from coffer.cli._cmd_sync import sync
from coffer.cli._cmd_transfer import cp, mv


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="coffer")
def cli() -> None:
    """Coffer: an S3-compatible object store, and a client for any S3 service.

    \b
    Set up a name for a server, then use ALIAS/bucket/key paths:
      coffer alias set local http://127.0.0.1:9000 ACCESS SECRET
      coffer mb local/photos
      coffer cp -r ./pictures local/photos/2024
      coffer ls -r local/photos
      coffer sync local/photos/2024 ./restore --delete

    Every command takes --json (JSON lines for scripts) and --quiet. Exit codes: 0 ok, 1 failed,
    2 usage, 3 not found, 4 access denied, 130 interrupted.
    """


for _command in (alias_group, ls, mb, rb, cp, mv, rm, cat, stat, sync, presign, append):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="coffer")


if __name__ == "__main__":
    main()
