"""Read-only views of a bucket: du, find, tree, diff, head.

All of them walk one listing (ListObjectsV2, one page in memory), so they work on any S3 service and on
buckets of any size; ``find --tags`` adds one GetObjectTagging per candidate, after the cheaper tests.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from coffer import ObjectInfo
from coffer.cli import _aliases
from coffer.cli._aliases import Remote, remote
from coffer.cli._filters import Selector, selector, selector_options
from coffer.cli._output import STYLE_DIR, Output, UsageError, command, human_size
from coffer.sdk._transfer._directory import walk_files


def _objects(t: Remote, prefix: str | None = None) -> Iterator[ObjectInfo]:
    bucket = t.alias.client().bucket(t.bucket or "")
    for e in bucket.list_objects(prefix=t.key if prefix is None else prefix):
        if isinstance(e, ObjectInfo):
            yield e


# --- du ---------------------------------------------------------------------------------------------


@click.command("du")
@click.argument("target")
@click.option("-d", "--depth", default=0, show_default=True, help="Also total each folder this many levels down.")
@command
def du(out: Output, target: str, depth: int) -> None:
    """Total size and object count under ALIAS/bucket[/prefix] (per folder with --depth)."""
    t = remote(target)
    base = t.key if (not t.key or t.key.endswith("/")) else t.key + "/"
    totals: dict[str, list[int]] = {}
    whole = [0, 0]
    for e in _objects(t):
        whole[0] += e.size
        whole[1] += 1
        rel = e.key[len(base):] if e.key.startswith(base) else e.key[len(t.key):]
        parts = rel.split("/")[:-1]
        for level in range(1, min(depth, len(parts)) + 1):
            acc = totals.setdefault("/".join(parts[:level]) + "/", [0, 0])
            acc[0] += e.size
            acc[1] += 1
    for name in sorted(totals):
        size, count = totals[name]
        out.emit({"prefix": base + name, "size": size, "objects": count},
                 f"{human_size(size):>9} {count:>8} objects  {t.alias.name}/{t.bucket}/{base}{name}")
    out.emit({"prefix": t.key, "size": whole[0], "objects": whole[1]},
             f"{human_size(whole[0]):>9} {whole[1]:>8} objects  {t}")


# --- find -------------------------------------------------------------------------------------------


def _tags_match(t: Remote, key: str, wanted: list[tuple[str, str]]) -> bool:
    have = t.alias.client().bucket(t.bucket or "").object(key).get_tags()
    return all(have.get(k) == v or (v == "*" and k in have) for k, v in wanted)


@click.command("find")
@click.argument("target")
@click.option("--name", "names", multiple=True, metavar="GLOB", help="Base name matches GLOB (repeatable: any).")
@click.option("--path", "paths", multiple=True, metavar="GLOB", help="Key matches GLOB.")
@click.option("--larger", default=None, metavar="SIZE", help="Bigger than SIZE (e.g. 10MiB).")
@click.option("--smaller", default=None, metavar="SIZE", help="Smaller than SIZE.")
@click.option("--tags", "tags", multiple=True, metavar="K=V", help="Has tag K with value V (V='*': any value).")
@click.option("--maxdepth", type=int, default=None, help="At most this many folders below TARGET.")
@click.option("--exec", "exec_cmd", default=None, metavar="CMD",
              help="Run CMD for each match; {} becomes ALIAS/bucket/key (quoted for you).")
@selector_options
@command
def find(out: Output, target: str, names: tuple[str, ...], paths: tuple[str, ...], tags: tuple[str, ...],
         maxdepth: int | None, exec_cmd: str | None, **kw: object) -> None:
    """Objects under ALIAS/bucket[/prefix] that pass every test given (like find(1) and mc find)."""
    import fnmatch

    sel: Selector = selector(kw)
    wanted = []
    for tag in tags:
        k, sep, v = tag.partition("=")
        if not sep or not k:
            raise UsageError(f"--tags wants KEY=VALUE, got {tag!r}")
        wanted.append((k, v))
    t = remote(target)
    base = t.key
    failed = 0
    for e in _objects(t):
        rel = e.key[len(base):]
        if maxdepth is not None and rel.count("/") > maxdepth:
            continue
        leaf = e.key.rsplit("/", 1)[-1]
        if names and not any(fnmatch.fnmatchcase(leaf, g) for g in names):
            continue
        if paths and not any(fnmatch.fnmatchcase(e.key, g) for g in paths):
            continue
        if not sel.ok(rel, e.size, e.last_modified):
            continue
        if wanted and not _tags_match(t, e.key, wanted):
            continue
        full = f"{t.alias.name}/{t.bucket}/{e.key}"
        if exec_cmd:
            argv = [a.replace("{}", full) for a in shlex.split(exec_cmd)]
            if not any("{}" in a for a in shlex.split(exec_cmd)):
                argv.append(full)
            sys.stdout.flush()
            rc = subprocess.run(argv, check=False).returncode
            out.emit({"key": e.key, "exec": argv, "exit_code": rc}, None)
            failed += rc != 0
            continue
        out.emit({"bucket": t.bucket, **e.to_dict(), "path": full}, full)
    if failed:
        out.fail({"error": "ExecFailed", "failed": failed}, f"coffer: --exec failed for {failed} objects")
        raise click.exceptions.Exit(1)


# --- tree -------------------------------------------------------------------------------------------


@click.command("tree")
@click.argument("target")
@click.option("-f", "--files", is_flag=True, help="Show objects too, not only folders.")
@click.option("-d", "--depth", type=int, default=None, help="At most this many levels.")
@command
def tree(out: Output, target: str, files: bool, depth: int | None) -> None:
    """The folders (and with -f the objects) under ALIAS/bucket[/prefix], drawn as a tree."""
    t = remote(target)
    base = t.key if (not t.key or t.key.endswith("/")) else t.key + "/"
    root: dict = {}
    for e in _objects(t, base):
        parts = e.key[len(base):].split("/")
        node = root
        for p in parts[:-1]:
            node = node.setdefault(p + "/", {})
        if files and parts[-1]:
            node[parts[-1]] = e
    out.emit({"path": str(t)}, f"{t.alias.name}/{t.bucket}/{base}", STYLE_DIR)

    def draw(node: dict, indent: str, level: int, path: str) -> None:
        names = sorted(node)
        for i, name in enumerate(names):
            last = i == len(names) - 1
            child = node[name]
            branch = "└─ " if last else "├─ "
            if isinstance(child, dict):
                out.emit({"path": path + name, "type": "folder"}, f"{indent}{branch}{name}", STYLE_DIR)
                if depth is None or level < depth:
                    draw(child, indent + ("   " if last else "│  "), level + 1, path + name)
            else:
                out.emit({"path": path + name, "type": "object", "size": child.size},
                         f"{indent}{branch}{name} ({human_size(child.size)})")

    draw(root, "", 1, base)


# --- diff -------------------------------------------------------------------------------------------


def _index(arg: str) -> dict[str, tuple[int, float | None]]:
    """rel name -> (size, mtime) of a local folder or remote prefix (``x`` and ``x/`` alike)."""
    target = _aliases.parse_target(arg, _aliases.load())
    if isinstance(target, Path):
        if not target.is_dir():
            raise UsageError(f"{target} is not a directory")
        return {"/".join(rel): (size, path.stat().st_mtime) for path, rel, size in walk_files(target)}
    if not target.bucket:
        raise UsageError(f"{arg!r} names no bucket")
    prefix = target.key if (not target.key or target.key.endswith("/")) else target.key + "/"
    return {e.key[len(prefix):]: (e.size, e.last_modified.timestamp() if e.last_modified else None)
            for e in _objects(target, prefix)}


@click.command("diff")
@click.argument("first")
@click.argument("second")
@command
def diff(out: Output, first: str, second: str) -> None:
    """Compare two folders or prefixes (local or remote) by name and size.

    \b
    <  only in FIRST      >  only in SECOND      !  in both, sizes differ
    Exit code 1 when they differ (as diff(1)), 0 when they are the same.
    """
    a, b = _index(first), _index(second)
    differs = 0
    for name in sorted(set(a) | set(b)):
        if name not in b:
            kind, mark = "only-in-first", "<"
        elif name not in a:
            kind, mark = "only-in-second", ">"
        elif a[name][0] != b[name][0]:
            kind, mark = "size-differs", "!"
        else:
            continue
        differs += 1
        out.emit({"name": name, "diff": kind, "first_size": a.get(name, (None,))[0],
                  "second_size": b.get(name, (None,))[0]}, f"{mark} {name}")
    if differs:
        raise click.exceptions.Exit(1)


# --- head -------------------------------------------------------------------------------------------


@click.command("head")
@click.argument("target")
@click.option("-n", "--lines", "count", default=10, show_default=True, help="How many lines.")
@click.option("--version-id", default=None, help="This version rather than the current one.")
@command
def head(out: Output, target: str, count: int, version_id: str | None) -> None:
    """The first lines of an object (only what they need is read from the server)."""
    t = remote(target, need_key=True)
    obj = t.alias.client().bucket(t.bucket or "").object(t.key)
    sink = sys.stdout.buffer
    seen = 0
    step = 64 * 1024
    first = 0
    while seen < count:
        try:
            chunk = obj.get_reader((first, first + step - 1), version_id=version_id).read_all()
        except Exception as exc:  # InvalidRange past the end: the object is shorter
            if getattr(exc, "code", "") == "InvalidRange":
                break
            raise
        for i, byte in enumerate(chunk):
            if byte == 10:
                seen += 1
                if seen == count:
                    chunk = chunk[:i + 1]
                    break
        sink.write(chunk)
        if len(chunk) < step or seen >= count:
            break
        first += step
        step = min(step * 4, 8 << 20)
    sink.flush()
