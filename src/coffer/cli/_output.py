"""How the CLI talks back: plain lines or ``--json`` lines on stdout, errors on stderr, exit codes,
and rich progress bars for long transfers (only on a terminal, never in --json or --quiet mode).

Exit codes: 0 success, 1 the operation failed, 2 usage error (bad arguments, unknown alias),
3 not found (bucket, object or local file), 4 access denied, 130 interrupted.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from coffer import AccessDenied, CofferError, NotFound

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_DENIED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


class UsageError(Exception):
    """A mistake in how the command was called (exit code 2)."""


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{n}B"


def when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S") if dt else " " * 19


class Output:
    def __init__(self, json_mode: bool = False, quiet: bool = False, progress: bool | None = None) -> None:
        self.json = json_mode
        self.quiet = quiet
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.show_progress = progress if progress is not None else (
            self.err.is_terminal and not json_mode and not quiet)

    def emit(self, record: dict[str, Any], text: str | None = None) -> None:
        """One result: a JSON line in --json mode, else ``text`` (skipped when --quiet)."""
        if self.json:
            sys.stdout.write(json.dumps(record, default=str) + "\n")
            sys.stdout.flush()
        elif not self.quiet and text is not None:
            self.out.print(text, markup=False)

    def note(self, text: str) -> None:
        """Human-only chatter on stderr (never mixes into stdout data)."""
        if not self.quiet and not self.json:
            self.err.print(text, markup=False)

    @contextmanager
    def bars(self) -> Iterator[Bars]:
        if not self.show_progress:
            yield Bars(None)
            return
        progress = Progress(
            TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), TimeRemainingColumn(), console=self.err, transient=False,
        )
        with progress:
            yield Bars(progress)


class Bars:
    """Makes a transfer subscriber per bar; a no-op when progress display is off."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress

    def subscriber(self, label: str, total: int | None = None) -> list[Any]:
        """Subscribers for one bar; with ``total`` the bar is shared by many transfers (sync, -r)."""
        if self.progress is None:
            return []
        return [_BarSubscriber(self.progress, self.progress.add_task(label, total=total), total is None)]


class _BarSubscriber:
    def __init__(self, progress: Progress, task: Any, own_total: bool) -> None:
        self.progress, self.task, self.own_total = progress, task, own_total

    def on_progress(self, future: Any, n: int) -> None:
        if self.own_total:
            self.progress.update(self.task, advance=n, total=future.total)
        else:
            self.progress.update(self.task, advance=n)


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, NotFound | FileNotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, AccessDenied | PermissionError):
        return EXIT_DENIED
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    return EXIT_FAIL


def report(out: Output, exc: BaseException) -> int:
    code = exit_code_for(exc)
    if isinstance(exc, CofferError):
        record = exc.to_dict()
        text = f"coffer: {exc.code}: {exc.message}" + (f" ({exc.resource})" if exc.resource else "")
    elif isinstance(exc, OSError):
        record = {"error": type(exc).__name__, "message": exc.strerror or str(exc), "path": exc.filename}
        text = f"coffer: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    else:
        record = {"error": type(exc).__name__, "message": str(exc)}
        text = f"coffer: {exc}"
    record["exit_code"] = code
    if out.json:
        sys.stdout.write(json.dumps(record, default=str) + "\n")
    out.err.print(text, markup=False)
    return code


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command body with the shared options turned into an Output, mapping errors to exit codes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, json_mode: bool = False, quiet: bool = False, **kwargs: Any) -> None:
        out = Output(json_mode, quiet)
        try:
            fn(out, *args, **kwargs)
        except KeyboardInterrupt:
            out.err.print("coffer: interrupted", markup=False)
            sys.exit(EXIT_INTERRUPTED)
        except (CofferError, OSError, UsageError, ValueError) as exc:
            sys.exit(report(out, UsageError(str(exc)) if type(exc) is ValueError else exc))

    wrapper = click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")(wrapper)
    wrapper = click.option("--json", "json_mode", is_flag=True, help="JSON lines on stdout, for scripts.")(wrapper)
    return wrapper
