"""``coffer user create|ls|delete|key|quota|buckets|chown``: users, keys, quotas and bucket ownership
on a running server, through its admin API, with an alias holding an admin's keys.

These are client commands (the SDK's :class:`~coffer.sdk._admin.Admin`, never the server package);
``coffer.entry`` attaches them to the server's ``coffer user`` group, whose add/list/remove work on a
data folder directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from coffer.cli import _aliases
from coffer.cli._output import Output, UsageError, command, human_size
from coffer.sdk._admin import Admin


def _admin(alias: str) -> Admin:
    found = _aliases.load().get(alias)
    if found is None:
        raise UsageError(f"no alias {alias!r}: coffer alias set {alias} URL ACCESS SECRET")
    return found.client().admin


def _key_line(k: dict) -> str:
    secret = f"  secret {k['secret_key']}" if "secret_key" in k else ""
    return f"{k['access_key']}  {k['user']}  {k['status']}{secret}"


@click.group("key")
def key_group() -> None:
    """Access keys on a running server: ALIAS must hold an admin's keys."""


@key_group.command("list")
@click.argument("alias")
@click.argument("user_id", required=False)
@command
def key_list(out: Output, alias: str, user_id: str | None) -> None:
    """List access keys (of USER_ID, or all); secrets are never shown."""
    for k in _admin(alias).list_keys(user_id):
        out.emit(k, _key_line(k))


@key_group.command("create")
@click.argument("alias")
@click.argument("user_id")
@click.option("--type", "key_type", type=click.Choice(["s3", "apikey"]), default="s3", show_default=True,
              help="s3: an access key and secret; apikey: an IBM API key for ibm_boto3 (ibm_api_key_id).")
@command
def key_create(out: Output, alias: str, user_id: str, key_type: str) -> None:
    """Create a new key for USER_ID; prints the secret (or API key) once."""
    k = _admin(alias).create_key(user_id, key_type)
    if key_type == "apikey":
        out.emit(k, f"api key {k['api_key']}  user {k['user']}  service instance {k['service_instance_id']}"
                    f"  (id {k['access_key']}; shown once)")
    else:
        out.emit(k, _key_line(k))


def _key_change(name: str, help_text: str) -> None:
    """`coffer key rotate|disable|enable ALIAS ACCESS_KEY`: one admin call, the key's new state shown."""

    @key_group.command(name, help=help_text)
    @click.argument("alias")
    @click.argument("access_key")
    @command
    def run(out: Output, alias: str, access_key: str) -> None:
        k = getattr(_admin(alias), f"{name}_key")(access_key)
        out.emit(k, _key_line(k))


_key_change("rotate", "Give ACCESS_KEY a new secret (printed once); the old secret stops working.")
_key_change("disable", "Refuse requests signed with ACCESS_KEY until it is enabled again.")
_key_change("enable", "Accept ACCESS_KEY again.")


@key_group.command("delete")
@click.argument("alias")
@click.argument("access_key")
@command
def key_delete(out: Output, alias: str, access_key: str) -> None:
    """Delete ACCESS_KEY for good."""
    _admin(alias).delete_key(access_key)
    out.emit({"access_key": access_key, "deleted": True}, f"deleted {access_key}")


@click.group("quota")
def quota_group() -> None:
    """Per-user quotas on a running server: ALIAS must hold an admin's keys."""


def quota_line(q: dict) -> str:
    limits = q["quota"]
    use = q["usage"]

    def lim(name: str, fmt: Callable[[Any], str] = str) -> str:
        return fmt(limits[name]) if name in limits else "unlimited"

    return (f"{q['user']}: {human_size(use['bytes'])} of {lim('max_bytes', human_size)}, "
            f"{use['objects']} objects of {lim('max_objects')}, {use['buckets']} buckets of {lim('max_buckets')}")


@quota_group.command("get")
@click.argument("alias")
@click.argument("user_id")
@command
def quota_get(out: Output, alias: str, user_id: str) -> None:
    """Show USER_ID's quota and usage."""
    q = _admin(alias).get_quota(user_id)
    out.emit(q, quota_line(q))


@quota_group.command("set")
@click.argument("alias")
@click.argument("user_id")
@click.option("--max-bytes", type=click.IntRange(0), default=None, help="Bytes all the user's buckets may hold.")
@click.option("--max-objects", type=click.IntRange(0), default=None, help="Objects all their buckets may hold.")
@click.option("--max-buckets", type=click.IntRange(0), default=None, help="Buckets the user may own.")
@command
def quota_set(out: Output, alias: str, user_id: str, max_bytes: int | None, max_objects: int | None,
              max_buckets: int | None) -> None:
    """Set USER_ID's quota (the limits given replace the previous quota)."""
    if max_bytes is None and max_objects is None and max_buckets is None:
        raise UsageError("give at least one of --max-bytes, --max-objects, --max-buckets (or use quota clear)")
    q = _admin(alias).set_quota(user_id, max_bytes=max_bytes, max_objects=max_objects, max_buckets=max_buckets)
    out.emit(q, quota_line(q))


@quota_group.command("clear")
@click.argument("alias")
@click.argument("user_id")
@command
def quota_clear(out: Output, alias: str, user_id: str) -> None:
    """Remove USER_ID's quota."""
    q = _admin(alias).clear_quota(user_id)
    out.emit(q, quota_line(q))


@click.command("create")
@click.argument("alias")
@click.argument("user_id")
@click.option("--display-name", default=None)
@click.option("--email", default=None, help="For emailAddress= ACL grants.")
@click.option("--admin", is_flag=True, help="May use the admin API; acts as owner of every bucket.")
@command
def user_create(out: Output, alias: str, user_id: str, display_name: str | None, email: str | None,
                admin: bool) -> None:
    """Create USER_ID on a running server, with a new access key (its secret is printed once)."""
    u = _admin(alias).add_user(user_id, display_name=display_name, email=email, admin=admin)
    k = u["access_keys"][0]
    out.emit(u, f"{u['id']}  access key {k['access_key']}  secret {k['secret_key']}")


@click.command("ls")
@click.argument("alias")
@command
def user_ls(out: Output, alias: str) -> None:
    """List the users of a running server with their keys (never secrets)."""
    for u in _admin(alias).list_users():
        keys = ",".join(f"{k['access_key']}({k['status']})" for k in u["access_keys"])
        out.emit(u, f"{u['id']}  {u['display_name']}  {u['email'] or '-'}  {'admin ' if u['admin'] else ''}{keys}")


@click.command("delete")
@click.argument("alias")
@click.argument("user_id")
@command
def user_delete(out: Output, alias: str, user_id: str) -> None:
    """Remove USER_ID and their keys from a running server (refused while they own buckets)."""
    _admin(alias).remove_user(user_id)
    out.emit({"user": user_id, "deleted": True}, f"deleted {user_id}")


@click.command("buckets")
@click.argument("alias")
@click.argument("user_id", required=False)
@command
def user_buckets(out: Output, alias: str, user_id: str | None) -> None:
    """List buckets with their owners (USER_ID's only, if given)."""
    for b in _admin(alias).list_buckets(user_id):
        out.emit(b, f"{b['name']}  {b['owner']}")


@click.command("chown")
@click.argument("alias")
@click.argument("bucket")
@click.argument("user_id")
@command
def user_chown(out: Output, alias: str, bucket: str, user_id: str) -> None:
    """Give BUCKET to USER_ID (its ACL is reset to private)."""
    b = _admin(alias).set_bucket_owner(bucket, user_id)
    out.emit(b, f"{b['name']} now belongs to {b['owner']}")


def attach(user_group: click.Group) -> None:
    for c in (key_group, quota_group, user_buckets, user_chown, user_create, user_ls, user_delete):
        user_group.add_command(c)
