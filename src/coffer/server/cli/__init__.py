"""The server's commands: `coffer serve`, `coffer user add|list|remove`, `coffer kms`, `coffer token`.

Modules:
  meta    `coffer meta migrate|copy`: schema migrations, moving a single-node store's metadata to PostgreSQL.
  kms     `coffer kms key create|list|enable|disable`: the local KMS key store of SSE-KMS (DATA/keys/kms.json).
  node    `coffer node serve`: run a storage node (server/node/).
  serve   `coffer serve`: run the server (options, environment variables, defaults).
  store   Running a command against a data folder's metadata store (whether or not a server runs on it).
  tokens  `coffer token create|list|revoke`: bearer tokens for the AIStore API (see service/access/tokens.py).
  users   `coffer user add|list|remove`: users and their access keys in a data folder (no server needed).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
# Where the client CLI's root group leaves the flags given before a subcommand (cli/_output.py
# GLOBAL_KEY; tests/unit/test_cli_json_flags.py pins the two names together): `coffer --json user add`.
GLOBAL_KEY = "coffer.global"

# The server's commands by name: (module, attribute). coffer.entry registers them by name and imports
# one only when it runs, so a client command never loads the server.
COMMANDS = {
    "serve": ("coffer.server.cli.serve", "serve_cmd"),
    "user": ("coffer.server.cli.users", "user_group"),
    "token": ("coffer.server.cli.tokens", "token_group"),
    "kms": ("coffer.server.cli.kms", "kms_group"),
    "meta": ("coffer.server.cli.meta", "meta_group"),
    "node": ("coffer.server.cli.node", "node_group"),
}


def load(name: str) -> click.Command:
    """The server command ``name`` (a key of COMMANDS), its module imported now."""
    module, attribute = COMMANDS[name]
    cmd: click.Command = getattr(importlib.import_module(module), attribute)
    return cmd


def json_option(fn: F) -> F:
    """``--json``: the command's result as JSON on stdout (lists as one array, others one object)."""
    return click.option("--json", "as_json", is_flag=True, help="JSON on stdout, for scripts.")(fn)


def wants_json(as_json: bool) -> bool:
    """``--json`` given to the command, or to ``coffer`` before it."""
    ctx = click.get_current_context(silent=True)
    return as_json or bool(ctx is not None and ctx.meta.get(GLOBAL_KEY, {}).get("json"))


def emit(as_json: bool, record: Any, text: str) -> None:
    """Print ``record`` as JSON when JSON is wanted, else ``text``."""
    click.echo(json.dumps(record) if wants_json(as_json) else text)
