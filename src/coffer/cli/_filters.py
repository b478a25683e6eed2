"""Which names a command acts on: glob include/exclude, ages and sizes (cp, sync, mirror, find, rm).

Rules (one convention for every command):

- patterns are shell globs (``fnmatch``: ``*`` also crosses ``/``) matched against the name *relative
  to the source* (``cp -r dir alias/b/p`` matches ``sub/a.jpg``, not ``dir/sub/a.jpg``), and also
  against the base name, so ``--exclude '*.tmp'`` and ``--exclude 'cache/*'`` both do what they say;
- a name matching an ``--exclude`` is skipped unless it also matches an ``--include`` (as in the aws
  CLI's usual ``--exclude '*' --include '*.jpg'``);
- ages are ``30s``, ``15m``, ``12h``, ``7d``, ``2w`` or combinations (``1d12h``): ``--newer-than 7d``
  keeps what changed during the last 7 days, ``--older-than 7d`` what did not;
- sizes are bytes or binary units (``4KiB``, ``10M``; see ``_output.parse_size``).
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import click

from coffer.cli._output import UsageError, parse_size

_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """``1d12h`` -> seconds."""
    s = text.strip().lower()
    pos, total = 0, 0.0
    for m in _AGE.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise UsageError(f"not an age: {text!r} (e.g. 30s, 15m, 12h, 7d, 2w, 1d12h)")
    return total


def _stamp(when: datetime | float | None) -> float | None:
    if when is None:
        return None
    return when.timestamp() if isinstance(when, datetime) else float(when)


@dataclass
class Selector:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    newer_than: float | None = None  # seconds
    older_than: float | None = None
    larger: int | None = None  # bytes, strict
    smaller: int | None = None
    now: float = field(default_factory=time.time)

    @property
    def active(self) -> bool:
        return bool(self.include or self.exclude or self.newer_than is not None or self.older_than is not None
                    or self.larger is not None or self.smaller is not None)

    def name_ok(self, rel: str) -> bool:
        base = rel.rstrip("/").rsplit("/", 1)[-1]

        def hit(patterns: tuple[str, ...]) -> bool:
            return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(base, p) for p in patterns)

        if self.exclude and hit(self.exclude):
            return bool(self.include) and hit(self.include)
        if self.include and not self.exclude:
            return hit(self.include)
        return True

    def ok(self, rel: str, size: int | None = None, modified: datetime | float | None = None) -> bool:
        if not self.name_ok(rel):
            return False
        if size is not None:
            if self.larger is not None and size <= self.larger:
                return False
            if self.smaller is not None and size >= self.smaller:
                return False
        ts = _stamp(modified)
        if ts is not None:
            age = self.now - ts
            if self.newer_than is not None and age > self.newer_than:
                return False
            if self.older_than is not None and age < self.older_than:
                return False
        return True


def selector_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--include/--exclude/--newer-than/--older-than, read back with :func:`selector`."""
    fn = click.option("--older-than", default=None, metavar="AGE", help="Only what changed longer ago (7d, 12h).")(fn)
    fn = click.option("--newer-than", default=None, metavar="AGE", help="Only what changed within AGE (7d, 12h).")(fn)
    fn = click.option("--include", multiple=True, metavar="GLOB",
                      help="Keep names matching GLOB (wins over --exclude).")(fn)
    fn = click.option("--exclude", multiple=True, metavar="GLOB", help="Skip names matching GLOB (repeatable).")(fn)
    return fn


def selector(kwargs: dict[str, Any]) -> Selector:
    """Pops the selector options out of a command's kwargs."""
    newer, older = kwargs.pop("newer_than", None), kwargs.pop("older_than", None)
    larger, smaller = kwargs.pop("larger", None), kwargs.pop("smaller", None)
    return Selector(tuple(kwargs.pop("include", ()) or ()), tuple(kwargs.pop("exclude", ()) or ()),
                    parse_age(newer) if newer else None, parse_age(older) if older else None,
                    parse_size(larger) if larger else None, parse_size(smaller) if smaller else None)
