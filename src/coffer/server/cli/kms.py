"""`coffer kms key create|list|enable|disable`: the KMS key store of SSE-KMS (DATA/keys/kms.json, or with
PostgreSQL metadata, `--data` bound to it or COFFER_META, the cluster's store in the shared metadata).

Works on the data folder directly (like `coffer user`), whether or not a server runs on it: the key
store is locked and replaced atomically by crypto_keys, so a running server sees new keys at once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from coffer.server.cli import emit, json_option, wants_json
from coffer.server.config import Config
from coffer.server.crypto.keys import KmsStore, load_master_key


def _store(data: str, region: str) -> KmsStore:
    from coffer.server.runner import open_meta

    # COFFER_META, or a folder bound to PostgreSQL: the cluster's key store, in the shared metadata
    vault = open_meta(Config(data_dir=Path(data), meta_url=os.environ.get("COFFER_META") or None)).key_vault()
    try:
        return KmsStore(Path(data), load_master_key(Path(data), vault=vault), region, vault=vault)
    except (ValueError, PermissionError) as e:
        raise click.ClickException(str(e)) from None


@click.group("kms")
def kms_group() -> None:
    """The local key management service (keys for SSE-KMS and Key Protect-style buckets)."""


@kms_group.group("key")
def key_group() -> None:
    """Create and list KMS keys."""


_DATA = click.option("--data", envvar="COFFER_DATA", default="./coffer-data", show_default=True)
_REGION = click.option("--region", default="us-east-1", show_default=True)


@key_group.command("create")
@click.option("--description", default="", help="Free text shown by list.")
@click.option("--alias", default="", help="A unique name; requests may use alias/NAME (the root key name).")
@click.option("--id", "key_id", default="", help="The key's id (default: a new UUID), e.g. the name it had in "
              "another KMS; requests may use it or its ARN.")
@_DATA
@_REGION
@json_option
def key_create(description, alias, key_id, data, region, as_json) -> None:
    """Create a KMS key (32 random bytes, stored wrapped by the master key) and print its id."""
    try:
        k = _store(data, region).create(description, alias, key_id)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    emit(as_json, {"id": k.id, "arn": k.arn, "alias": k.alias}, f"{k.id}\t{k.arn}\t{k.alias or '-'}")


@key_group.command("list")
@_DATA
@_REGION
@json_option
def key_list(data, region, as_json) -> None:
    """List KMS keys (never their material)."""
    rows = [{"id": k.id, "arn": k.arn, "alias": k.alias, "state": k.state, "created": k.created,
             "description": k.description} for k in _store(data, region).list()]
    if wants_json(as_json):
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']}\t{r['state']}\t{r['alias'] or '-'}\t{r['created']}\t{r['description']}")


def _set_state(data: str, key_id: str, state: str, as_json: bool) -> None:
    try:
        k = _store(data, "us-east-1").set_state(key_id, state)
    except Exception as e:  # S3Error for an unknown key
        raise click.ClickException(str(e)) from None
    emit(as_json, {"id": k.id, "state": k.state}, f"{k.id}\t{k.state}")


@key_group.command("disable")
@click.argument("key_id")
@_DATA
@json_option
def key_disable(key_id, data, as_json) -> None:
    """Disable a key: objects under it cannot be read or written until it is enabled again."""
    _set_state(data, key_id, "Disabled", as_json)


@key_group.command("enable")
@click.argument("key_id")
@_DATA
@json_option
def key_enable(key_id, data, as_json) -> None:
    """Enable a disabled key."""
    _set_state(data, key_id, "Enabled", as_json)
