"""The `coffer` command: the composition root that joins the client CLI and the server commands.

The client CLI (coffer.cli) must not import the server; this module is the one place allowed to
see both. The server's commands are registered by name and imported only when one runs (or is
listed by ``--help``), so a client command never pays for importing the server.
"""

from __future__ import annotations

import functools

import click

from coffer.server import cli as server_cli


def _server_command(name: str) -> click.Command:
    cmd = server_cli.load(name)
    if name == "user" and isinstance(cmd, click.Group):
        try:  # key and quota commands (admin API clients) under the server's `coffer user` group
            from coffer.cli._cmd_user import attach
        except ImportError:
            pass
        else:
            attach(cmd)
    return cmd


def build() -> click.Group:
    try:
        from coffer.cli._lazy import LazyGroup
        from coffer.cli.main import cli as group
    except ImportError:  # the client CLI is optional for running a server

        @click.group()
        def plain() -> None:
            """Coffer: an S3-compatible object store."""

        for name in server_cli.COMMANDS:
            plain.add_command(_server_command(name), name)
        return plain
    assert isinstance(group, LazyGroup)
    for name in server_cli.COMMANDS:
        if name not in group.commands and name not in group.lazy:
            group.add_lazy(name, functools.partial(_server_command, name))
    return group


def main() -> None:
    build()(prog_name="coffer")
