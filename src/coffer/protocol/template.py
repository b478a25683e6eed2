"""Object-name templates: bash-style brace expansion, as AIStore's multi-object operations take them.

`"shard-{000..999}.tar"` names shard-000.tar ... shard-999.tar; `{0..10..2}` steps; `{a,b,c}` lists
alternatives; several groups multiply (`"{a,b}-{1..3}"` is six names). A range keeps the zero
padding of its wider bound, as bash does. Shared by the server (AIStore API) and the SDK, so both
expand a template to exactly the same names. Expansion is lazy and bounded: a template naming more
than `limit` objects is refused before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

DEFAULT_LIMIT = 1_000_000
_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?$")


class TemplateError(ValueError):
    """The template is malformed or names too many objects."""


def _group_end(template: str, start: int) -> int:
    depth = 0
    for i in range(start, len(template)):
        c = template[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
    raise TemplateError(f"unbalanced braces in template {template!r}")


def _range(body: str) -> list[str] | None:
    m = _RANGE.match(body)
    if m is None:
        return None
    lo_s, hi_s, step_s = m.group(1), m.group(2), m.group(3)
    lo, hi = int(lo_s), int(hi_s)
    step = abs(int(step_s)) if step_s else 1
    if step == 0:
        raise TemplateError("a template range step must not be 0")
    digits = (lo_s.lstrip("-"), hi_s.lstrip("-"))
    # bash pads every name to the wider bound when either bound is written with a leading zero
    padded = any(len(d) > 1 and d.startswith("0") for d in digits)
    width = max(len(d) for d in digits) if padded else 0
    direction = 1 if hi >= lo else -1
    count = abs(hi - lo) // step + 1
    if count > DEFAULT_LIMIT:
        raise TemplateError(f"template range {{{body}}} names more than {DEFAULT_LIMIT} objects")
    return [_pad(lo + direction * step * i, width) for i in range(count)]


def _pad(n: int, width: int) -> str:
    return f"-{abs(n):0{width}d}" if n < 0 else f"{n:0{width}d}"


def _alternatives(body: str) -> list[str] | None:
    """Top-level comma-separated alternatives, or None when the group has no top-level comma."""
    parts, depth, cur = [], 0, []
    for c in body:
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    if not parts:
        return None
    parts.append("".join(cur))
    return parts


def _parse(template: str) -> list[list[str] | str]:
    """The template as literal strings and option lists (each option itself a template)."""
    out: list[list[str] | str] = []
    i = 0
    lit: list[str] = []
    while i < len(template):
        c = template[i]
        if c == "{":
            end = _group_end(template, i)
            body = template[i + 1 : end]
            opts = _range(body)
            if opts is None:
                opts = _alternatives(body)
            if opts is None:  # "{x}" with no range and no comma is literal, as in bash
                lit.append(template[i : end + 1])
            else:
                if lit:
                    out.append("".join(lit))
                    lit = []
                out.append(opts)
            i = end + 1
            continue
        if c == "}":
            raise TemplateError(f"unbalanced braces in template {template!r}")
        lit.append(c)
        i += 1
    if lit:
        out.append("".join(lit))
    return out


def count(template: str) -> int:
    """How many names the template expands to (duplicates included)."""
    n = 1
    for piece in _parse(template):
        if isinstance(piece, list):
            n *= sum(count(o) for o in piece)
    return n


def expand(template: str, limit: int = DEFAULT_LIMIT) -> Iterator[str]:
    """The names a template names, in expansion order; raises TemplateError for a bad template
    or one naming more than `limit` objects (checked before the first name is produced)."""
    if not template:
        raise TemplateError("empty template")
    if count(template) > limit:
        raise TemplateError(f"the template names more than {limit} objects")
    return _expand(_parse(template))


def _expand(pieces: list[list[str] | str]) -> Iterator[str]:
    if not pieces:
        yield ""
        return
    head, rest = pieces[0], pieces[1:]
    if isinstance(head, str):
        for tail in _expand(rest):
            yield head + tail
        return
    for option in head:
        for mid in _expand(_parse(option)):
            for tail in _expand(rest):
                yield mid + tail


def is_template(text: str) -> bool:
    """True when the text has a brace group that expands to more than itself."""
    try:
        return any(isinstance(p, list) for p in _parse(text))
    except TemplateError:
        return False


def batches(names: Iterable[str], n: int) -> Iterator[list[str]]:
    """`names` in lists of at most `n`, drawn lazily: bounded look-ahead, so a template of a million
    names never becomes a million pending operations (the server's and the SDK's group operations)."""
    batch: list[str] = []
    for name in names:
        batch.append(name)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch
