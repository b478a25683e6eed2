"""`coffer user add|list|remove`: users and their access keys in a data folder (no server needed)."""

from __future__ import annotations

import json

import click

from coffer.server.cli import emit, json_option, wants_json
from coffer.server.cli.store import on_meta


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
@json_option
def user_add(user_id, access_key, secret_key, display_name, email, admin, data, as_json) -> None:
    """Add a user (canonical id USER_ID) with one access key."""
    from coffer.server.service.access.users import add_user

    try:
        on_meta(data, lambda m: add_user(m, user_id, access_key, secret_key, display_name=display_name,
                                                 email=email, admin=admin))
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    emit(as_json, {"user": user_id, "access_key": access_key, "admin": admin, "added": True},
         f"user {user_id} added")


@user_group.command("list")
@click.option("--data", envvar="COFFER_DATA", default="./coffer-data", show_default=True)
@json_option
def user_list(data, as_json) -> None:
    """List users and their access keys (secrets are never shown)."""

    async def go(meta):
        users = await meta.list_users()
        keys = await meta.list_access_keys()
        return [{"id": u.id, "display_name": u.display_name, "email": u.email,
                 "access_keys": [k.access_key for k in keys if k.user_id == u.id]} for u in users]

    rows = on_meta(data, go)
    if wants_json(as_json):
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']}\t{r['display_name']}\t{r['email'] or '-'}\t{','.join(r['access_keys'])}")


@user_group.command("remove")
@click.argument("user_id")
@click.option("--data", envvar="COFFER_DATA", default="./coffer-data", show_default=True)
@json_option
def user_remove(user_id, data, as_json) -> None:
    """Remove a user and all their access keys."""
    if not on_meta(data, lambda m: m.delete_user(user_id)):
        raise click.ClickException(f"no user {user_id}")
    emit(as_json, {"user": user_id, "removed": True}, f"user {user_id} removed")
