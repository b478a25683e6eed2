"""The `coffer` command: the composition root that joins the client CLI and the server commands.

The client CLI (coffer.cli) must not import the server; this module is the one place allowed to
see both, and it imports the server only when a server command is registered.
"""

from __future__ import annotations

import click


def build() -> click.Group:
    try:
        from coffer.cli.main import cli as group
    except ImportError:  # the client CLI is optional for running a server

        @click.group()
        def group() -> None:
            """Coffer: an S3-compatible object store."""

    from coffer.server.cli import register

    register(group)
    try:  # key and quota commands (admin API clients) under the server's `coffer user` group
        from coffer.cli._cmd_user import attach
    except ImportError:
        pass
    else:
        user = group.commands.get("user")
        if isinstance(user, click.Group):
            attach(user)
    return group


def main() -> None:
    build()(prog_name="coffer")
