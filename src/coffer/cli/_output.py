"""How the CLI talks back: plain lines or ``--json`` lines on stdout, errors on stderr, exit codes,
and rich progress bars for long transfers (only on a terminal, never in --json or --quiet mode).

Exit codes: 0 success, 1 the operation failed, 2 usage error (bad arguments, unknown alias),
3 not found (bucket, object or local file), 4 access denied, 130 interrupted.

Conventions every command follows (one place, so they hold everywhere):

- sizes in binary units (B, KiB, MiB, GiB, TiB; speeds in the same units per second), bars included;
- an error is printed exactly once: a JSON record on stdout in ``--json`` mode, else one line on stderr;
- ``--json``, ``--quiet`` and ``--no-color`` are accepted before the subcommand (``coffer --json ls``)
  and after it (``coffer ls --json``); ``NO_COLOR`` in the environment turns colour off;
- while a progress bar is live, result lines are printed through the bar's console, above the bar,
  so the two never overwrite each other.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from coffer import AccessDenied, CofferError, NotFound

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_DENIED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
GLOBAL_KEY = "coffer.global"  # ctx.meta entry where the root group leaves --json/--quiet/--no-color

# Styles of the few coloured things (never data a script would parse: those are plain or JSON).
STYLE_ERROR, STYLE_DIR, STYLE_DATE, STYLE_WARN = "red", "bold blue", "green", "yellow"


class UsageError(Exception):
    """A mistake in how the command was called (exit code 2)."""


def human_size(n: int | float) -> str:
    """Binary units, the only ones the CLI prints: 1023B, 1.0KiB, 5.5MiB, 1.0GiB."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "PiB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}PiB"


def parse_size(text: str) -> int:
    """``10``, ``10B``, ``4KiB``, ``4K``, ``1.5MiB``, ``2G`` -> bytes (binary multiples, as printed)."""
    s = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = 1
    for i, unit in enumerate("KMGTP", start=1):
        if s.endswith(unit):
            mult, s = 1024 ** i, s[:-1]
            break
    try:
        value = float(s)
    except ValueError:
        raise UsageError(f"not a size: {text!r} (e.g. 512, 4KiB, 1.5MiB, 2GiB)") from None
    return int(value * mult)


def when(dt: datetime | None) -> str:
    """Local time with its zone (set TZ=UTC for UTC): ``2026-12-07 03:31:10 UTC``."""
    if dt is None:
        return " " * 23
    local = dt.astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or local.strftime("%z"))


class BinaryDownloadColumn(ProgressColumn):
    """``12.0MiB/1.0GiB``: done and total in the CLI's units."""

    def render(self, task: Task) -> Text:
        total = "?" if task.total is None else human_size(task.total)
        return Text(f"{human_size(task.completed)}/{total}", style="progress.download")


class BinarySpeedColumn(ProgressColumn):
    """``85.3MiB/s``."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("?" if speed is None else f"{human_size(speed)}/s", style="progress.data.speed")


def _jsonable(value: Any) -> Any:
    """Datetimes as ISO 8601 (``2026-12-07T03:31:10+00:00``), bytes as text, anything else as str."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _global_flags() -> dict[str, bool]:
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(GLOBAL_KEY, {}) if ctx is not None else {}


def color_off(no_color: bool = False) -> bool:
    return no_color or bool(os.environ.get("NO_COLOR"))


class Output:
    def __init__(self, json_mode: bool = False, quiet: bool = False, progress: bool | None = None,
                 no_color: bool = False) -> None:
        self.json = json_mode
        self.quiet = quiet
        plain = color_off(no_color)
        self.out = Console(highlight=False, soft_wrap=True, no_color=plain)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True, no_color=plain)
        self.show_progress = progress if progress is not None else (
            self.err.is_terminal and not json_mode and not quiet)
        self._live: Progress | None = None
        self.failures = 0

    def emit(self, record: dict[str, Any], text: str | None = None, style: str | None = None) -> None:
        """One result: a JSON line in --json mode, else ``text`` (skipped when --quiet)."""
        if self.json:
            sys.stdout.write(json.dumps(record, default=_jsonable) + "\n")
            sys.stdout.flush()
        elif not self.quiet and text is not None:
            self._print(self.out, text, style)

    def fail(self, record: dict[str, Any], text: str) -> None:
        """One item of a many-item command failed: said once (JSON on stdout, or a line on stderr)."""
        self.failures += 1
        if self.json:
            sys.stdout.write(json.dumps(record, default=_jsonable) + "\n")
            sys.stdout.flush()
        else:
            self._print(self.err, text, STYLE_ERROR)

    def note(self, text: str) -> None:
        """Human-only chatter on stderr (never mixes into stdout data)."""
        if not self.quiet and not self.json:
            self._print(self.err, text, None)

    def _print(self, console: Console, text: str, style: str | None) -> None:
        live = self._live
        if live is not None and (console is self.err or console.is_terminal):
            # Through the live console: rich moves the bar down and prints the line above it.
            live.console.print(text, markup=False, style=style)
        else:
            console.print(text, markup=False, style=style)

    @contextmanager
    def bars(self) -> Iterator[Bars]:
        if not self.show_progress:
            yield Bars(None)
            return
        progress = Progress(
            TextColumn("{task.description}", markup=False), BarColumn(), BinaryDownloadColumn(),
            BinarySpeedColumn(), TimeRemainingColumn(), console=self.err, transient=True,
            redirect_stdout=False, redirect_stderr=False,
        )
        with progress:
            self._live = progress
            try:
                yield Bars(progress)
            finally:
                self._live = None


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


def describe(exc: BaseException) -> tuple[dict[str, Any], str]:
    """An error as (JSON record, one human line without the ``coffer:`` prefix)."""
    if isinstance(exc, CofferError):
        record = exc.to_dict()
        text = f"{exc.code}: {exc.message}" + (f" ({exc.resource})" if exc.resource else "")
    elif isinstance(exc, OSError):
        record = {"error": type(exc).__name__, "message": exc.strerror or str(exc), "path": exc.filename}
        text = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    else:
        record = {"error": type(exc).__name__, "message": str(exc)}
        text = str(exc)
    return record, text


def report(out: Output, exc: BaseException) -> int:
    """The command's final error: exactly once, as JSON on stdout (--json) or as a line on stderr."""
    code = exit_code_for(exc)
    record, text = describe(exc)
    record["exit_code"] = code
    if out.json:
        sys.stdout.write(json.dumps(record, default=_jsonable) + "\n")
        sys.stdout.flush()
    else:
        out._print(out.err, f"coffer: {text}", STYLE_ERROR)
    return code


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command body with the shared options turned into an Output, mapping errors to exit codes.

    ``--json``, ``--quiet`` and ``--no-color`` given before the subcommand (on the root group) count too.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, json_mode: bool = False, quiet: bool = False, no_color: bool = False,
                **kwargs: Any) -> None:
        flags = _global_flags()
        out = Output(json_mode or flags.get("json", False), quiet or flags.get("quiet", False),
                     no_color=no_color or flags.get("no_color", False))
        try:
            fn(out, *args, **kwargs)
        except KeyboardInterrupt:
            if out.json:
                sys.stdout.write(json.dumps({"error": "Interrupted",
                                             "exit_code": EXIT_INTERRUPTED}) + "\n")
            else:
                out.err.print("coffer: interrupted", markup=False)
            sys.exit(EXIT_INTERRUPTED)
        except (CofferError, OSError, UsageError, ValueError) as exc:
            sys.exit(report(out, UsageError(str(exc)) if type(exc) is ValueError else exc))

    return global_options(wrapper)


def global_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--no-color", is_flag=True, help="No colours (also: NO_COLOR=1).")(fn)
    fn = click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")(fn)
    fn = click.option("--json", "json_mode", is_flag=True, help="JSON lines on stdout, for scripts.")(fn)
    return fn


def remember_global_flags(ctx: click.Context, json_mode: bool, quiet: bool, no_color: bool) -> None:
    """Called by the root group: flags given before the subcommand reach every command."""
    ctx.meta[GLOBAL_KEY] = {"json": json_mode, "quiet": quiet, "no_color": no_color}
