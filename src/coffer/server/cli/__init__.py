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
import click


def register(group: click.Group) -> None:
    """Attach the server's commands to the `coffer` command group (called by coffer.entry)."""
    from coffer.server.cli.kms import kms_group
    from coffer.server.cli.meta import meta_group
    from coffer.server.cli.node import node_group
    from coffer.server.cli.serve import serve_cmd
    from coffer.server.cli.tokens import token_group
    from coffer.server.cli.users import user_group

    for cmd in (serve_cmd, user_group, token_group, kms_group, meta_group, node_group):
        group.add_command(cmd)
