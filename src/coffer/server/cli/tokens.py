"""`coffer token create|list|revoke`: bearer tokens for the AIStore API (see service/access/tokens.py).

Like `coffer user`, these work on a data folder whether or not a server runs on it: the token
records live in the metadata database and the signing key in DATA/keys/token.key.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import click

from coffer.server.cli import emit, json_option, wants_json
from coffer.server.cli.store import on_meta

_DURATION = re.compile(r"^(\d+)([smhdw]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> int:
    """'90', '90s', '15m', '12h', '30d', '2w' -> seconds."""
    m = _DURATION.match(text.strip().lower())
    if m is None or int(m.group(1)) <= 0:
        raise click.BadParameter(f"{text!r} is not a duration such as 3600, 15m, 12h or 30d")
    return int(m.group(1)) * _UNITS[m.group(2)]


def _tokens(data: str, fn):
    from coffer.server.service.access.tokens import Tokens

    async def go(meta):
        return await fn(Tokens(meta, Path(data)))

    return on_meta(data, go)


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else "never"


@click.group("token")
def token_group() -> None:
    """Issue and revoke bearer tokens (AIStore API clients authenticate with them)."""


@token_group.command("create")
@click.option("--user", "user_id", required=True, help="The user the token acts as.")
@click.option("--expires", default=None, help="Lifetime: seconds or 15m, 12h, 30d, 2w (default: no expiry).")
@click.option("--data", envvar="COFFER_DATA", default="./coffer-data", show_default=True)
@json_option
def token_create(user_id, expires, data, as_json) -> None:
    """Issue a signed token for USER; prints the token (it is not stored anywhere readable)."""
    from coffer.server.service.access.tokens import TokenError

    seconds = parse_duration(expires) if expires else None
    try:
        token, info = _tokens(data, lambda t: t.issue(user_id, seconds))
    except TokenError as e:
        raise click.ClickException(str(e)) from None
    emit(as_json, {"token": token, "id": info.token_id, "user": info.user_id, "expires": info.expires}, token)


@token_group.command("list")
@click.option("--user", "user_id", default=None)
@click.option("--data", envvar="COFFER_DATA", default="./coffer-data", show_default=True)
@json_option
def token_list(user_id, data, as_json) -> None:
    """List issued tokens (ids, never the tokens themselves)."""
    rows = []
    for t in _tokens(data, lambda tk: tk.list(user_id)):
        state = "revoked" if t.revoked else ("expired" if t.expires and t.expires < time.time() else "active")
        rows.append({"id": t.token_id, "user": t.user_id, "created": t.created, "expires": t.expires, "state": state})
    if wants_json(as_json):
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']}\t{r['user']}\t{_when(r['created'])}\texpires {_when(r['expires'])}\t{r['state']}")


@token_group.command("revoke")
@click.argument("token_or_id")
@click.option("--data", envvar="COFFER_DATA", default="./coffer-data", show_default=True)
@json_option
def token_revoke(token_or_id, data, as_json) -> None:
    """Revoke a token (by its id or the token itself); servers refuse it within seconds."""
    from coffer.server.service.access.tokens import TokenError

    try:
        info = _tokens(data, lambda t: t.revoke(token_or_id))
    except TokenError as e:
        raise click.ClickException(str(e)) from None
    emit(as_json, {"id": info.token_id, "user": info.user_id, "revoked": True},
         f"token {info.token_id} of {info.user_id} revoked")
