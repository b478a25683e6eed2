"""``coffer quota info|set|clear``: mc's quota verb over Coffer's per-user quotas (admin API).

Coffer's quotas bound what a *user's* buckets may hold (docs/users-and-quotas.md), so the subject is
``ALIAS USER``, or ``ALIAS/bucket`` meaning the bucket's owner. Sizes take binary units (``10GiB``).
The same API is also ``coffer user quota get|set|clear`` with byte counts.
"""

from __future__ import annotations

import click

from coffer.cli._aliases import remote
from coffer.cli._cmd_user import quota_line
from coffer.cli._output import Output, UsageError, command, parse_size
from coffer.sdk._admin import Admin


def _subject(target: str, user: str | None) -> tuple[Admin, str]:
    t = remote(target, need_bucket=False)
    admin = t.alias.client().admin
    if user:
        return admin, user
    if not t.bucket:
        raise UsageError("give ALIAS USER, or ALIAS/bucket for the bucket owner's quota")
    rows = [b for b in admin.list_buckets() if b.get("name") == t.bucket]
    if not rows:
        raise UsageError(f"no bucket {t.bucket!r} on {t.alias.name}")
    return admin, rows[0]["owner"]


@click.group("quota")
def quota_group() -> None:
    """Quotas of users (ALIAS USER) or of a bucket's owner (ALIAS/bucket); admin keys needed."""


@quota_group.command("info")
@click.argument("target")
@click.argument("user", required=False)
@command
def quota_info(out: Output, target: str, user: str | None) -> None:
    """Quota and usage."""
    admin, uid = _subject(target, user)
    q = admin.get_quota(uid)
    out.emit(q, quota_line(q))


@quota_group.command("set")
@click.argument("target")
@click.argument("user", required=False)
@click.option("--size", default=None, help="Most bytes (e.g. 500GiB).")
@click.option("--objects", type=int, default=None, help="Most objects.")
@click.option("--buckets", type=int, default=None, help="Most buckets.")
@command
def quota_set(out: Output, target: str, user: str | None, size: str | None, objects: int | None,
              buckets: int | None) -> None:
    """Set the quota (the limits given replace the previous ones)."""
    if size is None and objects is None and buckets is None:
        raise UsageError("give at least one of --size, --objects, --buckets (or use quota clear)")
    admin, uid = _subject(target, user)
    q = admin.set_quota(uid, max_bytes=parse_size(size) if size else None, max_objects=objects, max_buckets=buckets)
    out.emit(q, quota_line(q))


@quota_group.command("clear")
@click.argument("target")
@click.argument("user", required=False)
@command
def quota_clear(out: Output, target: str, user: str | None) -> None:
    """Remove the quota."""
    admin, uid = _subject(target, user)
    q = admin.clear_quota(uid)
    out.emit(q, quota_line(q))
