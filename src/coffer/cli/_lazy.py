"""Commands imported when they are run: the ``coffer`` group knows every command by name and loads
one only when it is invoked, completed or listed in ``--help``.

Importing every command module (and through them the SDK's transfer machinery, the server's
service layer for ``serve``, cryptography for ``kms``) cost ~0.7 s of CPU before ``coffer cp`` could
start moving bytes; a command now pays for its own imports only. Each loader is a callable returning
the click command, so a loader can also attach sub-commands or shell completion to what it loads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import click

Loader = Callable[[], click.Command]


def attr(module: str, name: str) -> Loader:
    """A loader for ``module.name``, imported on first use."""
    return lambda: getattr(importlib.import_module(module), name)


class LazyGroup(click.Group):
    """A click group whose commands may be registered as loaders (`add_lazy`) instead of objects."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy: dict[str, Loader] = {}
        self.on_load: list[Callable[[click.Command], None]] = []

    def add_lazy(self, name: str, loader: Loader) -> None:
        self.lazy[name] = loader

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        loader = self.lazy.pop(cmd_name, None)
        if loader is not None:
            cmd = loader()
            for hook in self.on_load:
                hook(cmd)
            self.add_command(cmd, cmd_name)
        return self.commands.get(cmd_name)

    def load_all(self) -> None:
        """Load every command (for code that walks ``commands``)."""
        ctx = click.Context(self)
        for name in list(self.lazy):
            self.get_command(ctx, name)
