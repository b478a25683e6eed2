"""Shell completion of ALIAS/bucket/key arguments (click's completion machinery).

``eval "$(coffer completion bash)"`` (or zsh, fish) installs it. Completing ``de`` offers the aliases
(``dev/``); ``dev/ph`` the buckets (``dev/photos/``); ``dev/photos/2024/`` one level of keys and
folders under that prefix (at most 200, one listing request). Anything that is not an alias falls
back to file names. A completion never raises: a server that does not answer just offers nothing.
"""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem

# Arguments that take an ALIAS/bucket/key path (or a local one).
PATH_ARGS = {"target", "targets", "source", "sources", "first", "second", "dest", "alias"}
LIMIT = 200


def complete_target(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from coffer.cli import _aliases

    try:
        aliases = _aliases.load()
        head, sep, rest = incomplete.partition("/")
        if not sep:
            hits = [CompletionItem(name + "/", type="plain") for name in sorted(aliases) if name.startswith(head)]
            return hits or [CompletionItem(incomplete, type="file")]
        alias = aliases.get(head)
        if alias is None:
            return [CompletionItem(incomplete, type="file")]
        bucket, sep2, prefix = rest.partition("/")
        from coffer import ClientConfig
        from coffer.sdk._client import Client

        client = Client(alias.url, alias.access_key, alias.secret_key, alias.region,
                        config=ClientConfig(max_attempts=1, connect_timeout=2, read_timeout=5))
        if not sep2:
            return [CompletionItem(f"{head}/{b.name}/", type="plain") for b in client.list_buckets()
                    if b.name.startswith(bucket)][:LIMIT]
        out = []
        for entry in client.bucket(bucket).list_objects(prefix=prefix, delimiter="/", page_size=LIMIT):
            out.append(CompletionItem(f"{head}/{bucket}/{entry.key}", type="plain"))
            if len(out) >= LIMIT:
                break
        return out
    except Exception:  # completion must never print a traceback into the user's shell
        return []


def attach_completion(cmd: click.Command) -> None:
    """Give every path-like argument of ``cmd`` (and of its sub-commands) the completer above."""
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            attach_completion(sub)
        return
    for param in cmd.params:
        if isinstance(param, click.Argument) and param.name in PATH_ARGS:
            # click keeps the callback given as shell_complete= here; set it after the fact.
            param._custom_shell_complete = complete_target
