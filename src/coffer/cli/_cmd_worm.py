"""Tags and WORM from the command line: ``tag``, ``retention``, ``legalhold``.

``retention`` and ``legalhold`` speak both dialects Coffer serves: S3 Object Lock (modes GOVERNANCE /
COMPLIANCE with a retain-until date, an on/off legal hold per version) and IBM COS immutable storage
(a bucket ``protection`` with min/default/max days, named legal holds given with ``--id``, retention
that can only be extended). Every command takes ALIAS/bucket/key, or with ``-r`` a prefix.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import click

from coffer import Object, ObjectInfo
from coffer.cli._aliases import Remote, remote
from coffer.cli._filters import parse_age
from coffer.cli._output import Output, UsageError, command, when


def _objects(t: Remote, recursive: bool) -> Iterator[Object]:
    b = t.alias.client().bucket(t.bucket or "")
    if not recursive:
        yield b.object(t.key)
        return
    for e in b.list_objects(prefix=t.key):
        if isinstance(e, ObjectInfo):
            yield b.object(e.key)


def _path(t: Remote, key: str) -> str:
    return f"{t.alias.name}/{t.bucket}/{key}"


# --- tag -------------------------------------------------------------------------------------------


def _parse_tags(args: tuple[str, ...]) -> dict[str, str]:
    """``"a=1&b=2"`` (mc, aws) or ``a=1 b=2``."""
    tags: dict[str, str] = {}
    for arg in args:
        pairs = parse_qsl(arg, keep_blank_values=True) if "&" in arg else [tuple(arg.split("=", 1))]
        for pair in pairs:
            if len(pair) != 2 or not pair[0]:
                raise UsageError(f"tags are KEY=VALUE (or \"k1=v1&k2=v2\"), got {arg!r}")
            tags[pair[0]] = pair[1]
    return tags


@click.group("tag")
def tag_group() -> None:
    """Tags of objects (ALIAS/bucket/key) and buckets (ALIAS/bucket)."""


@tag_group.command("set")
@click.argument("target")
@click.argument("tags", nargs=-1, required=True)
@click.option("--version-id", "--vid", "version_id", default=None, help="Tag this version.")
@click.option("-r", "--recursive", is_flag=True, help="Every object under the prefix.")
@command
def tag_set(out: Output, target: str, tags: tuple[str, ...], version_id: str | None, recursive: bool) -> None:
    """Replace the tags: `tag set ALIAS/b/key "k1=v1&k2=v2"` (or k1=v1 k2=v2)."""
    t = remote(target)
    wanted = _parse_tags(tags)
    if not t.key and not recursive:
        t.alias.client().bucket(t.bucket or "").set_tags(wanted)
        out.emit({"bucket": t.bucket, "tags": wanted}, f"Tags set on {t}")
        return
    for obj in _objects(t, recursive):
        obj.set_tags(wanted, version_id)
        out.emit({"bucket": t.bucket, "key": obj.key, "version_id": version_id, "tags": wanted},
                 f"Tags set on {_path(t, obj.key)}")


@tag_group.command("list")
@click.argument("target")
@click.option("--version-id", "--vid", "version_id", default=None, help="Tags of this version.")
@click.option("-r", "--recursive", is_flag=True, help="Every object under the prefix.")
@command
def tag_list(out: Output, target: str, version_id: str | None, recursive: bool) -> None:
    """Show the tags of an object or a bucket."""
    t = remote(target)
    if not t.key and not recursive:
        tags = t.alias.client().bucket(t.bucket or "").get_tags()
        out.emit({"bucket": t.bucket, "tags": tags},
                 f"{t}: " + (", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "no tags"))
        return
    for obj in _objects(t, recursive):
        tags = obj.get_tags(version_id)
        out.emit({"bucket": t.bucket, "key": obj.key, "version_id": version_id, "tags": tags},
                 f"{_path(t, obj.key)}: " + (", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "no tags"))


@tag_group.command("remove")
@click.argument("target")
@click.option("--version-id", "--vid", "version_id", default=None, help="Untag this version.")
@click.option("-r", "--recursive", is_flag=True, help="Every object under the prefix.")
@command
def tag_remove(out: Output, target: str, version_id: str | None, recursive: bool) -> None:
    """Remove every tag of an object or a bucket."""
    t = remote(target)
    if not t.key and not recursive:
        t.alias.client().bucket(t.bucket or "").delete_tags()
        out.emit({"bucket": t.bucket, "tags": {}}, f"Tags removed from {t}")
        return
    for obj in _objects(t, recursive):
        obj.delete_tags(version_id)
        out.emit({"bucket": t.bucket, "key": obj.key, "tags": {}}, f"Tags removed from {_path(t, obj.key)}")


# --- retention -------------------------------------------------------------------------------------


def _validity(text: str) -> timedelta:
    """``30d``, ``12h``, ``1y`` (365 days), ``2w``..."""
    s = text.strip().lower()
    if s.endswith("y") and s[:-1].isdigit():
        return timedelta(days=365 * int(s[:-1]))
    return timedelta(seconds=parse_age(s))


@click.group("retention")
def retention_group() -> None:
    """Object retention: S3 Object Lock (GOVERNANCE / COMPLIANCE) and IBM COS protection."""


@retention_group.command("set")
@click.argument("mode", type=click.Choice(["GOVERNANCE", "COMPLIANCE"], case_sensitive=False))
@click.argument("validity")
@click.argument("target")
@click.option("--default", "as_default", is_flag=True, help="Bucket default for new versions (ALIAS/bucket).")
@click.option("--version-id", "--vid", "version_id", default=None, help="This version.")
@click.option("-r", "--recursive", is_flag=True, help="Every object under the prefix.")
@click.option("--bypass", is_flag=True, help="Allow shortening GOVERNANCE retention.")
@command
def retention_set(out: Output, mode: str, validity: str, target: str, as_default: bool, version_id: str | None,
                  recursive: bool, bypass: bool) -> None:
    """Retain objects for VALIDITY (30d, 1y, 12h): `retention set GOVERNANCE 30d ALIAS/b/key`."""
    mode = mode.upper()
    t = remote(target)
    if as_default:
        s = validity.strip().lower()
        if s.endswith("y") and s[:-1].isdigit():
            days, years = None, int(s[:-1])
        else:
            days, years = max(1, round(_validity(s).total_seconds() / 86400)), None
        t.alias.client().bucket(t.bucket or "").set_object_lock(mode, days=days, years=years)
        out.emit({"bucket": t.bucket, "mode": mode, "days": days, "years": years},
                 f"Default retention of {t}: {mode} {days or years} {'days' if days else 'years'}")
        return
    if not t.key and not recursive:
        raise UsageError("name an object (ALIAS/bucket/key), use -r for a prefix, or --default for the bucket")
    until = (datetime.now(UTC) + _validity(validity)).replace(microsecond=0)
    for obj in _objects(t, recursive):
        obj.set_retention(mode, until, version_id, bypass_governance=bypass)
        out.emit({"bucket": t.bucket, "key": obj.key, "version_id": version_id, "mode": mode,
                  "retain_until": until}, f"{_path(t, obj.key)}: {mode} until {when(until)}")


@retention_group.command("clear")
@click.argument("target")
@click.option("--default", "as_default", is_flag=True, help="Clear the bucket's default retention.")
@click.option("--version-id", "--vid", "version_id", default=None, help="This version.")
@click.option("-r", "--recursive", is_flag=True, help="Every object under the prefix.")
@command
def retention_clear(out: Output, target: str, as_default: bool, version_id: str | None, recursive: bool) -> None:
    """Clear GOVERNANCE retention (needs the bypass permission; COMPLIANCE cannot be cleared)."""
    t = remote(target)
    if as_default:
        t.alias.client().bucket(t.bucket or "").set_object_lock(None)
        out.emit({"bucket": t.bucket, "mode": None}, f"Default retention of {t} cleared")
        return
    past = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    for obj in _objects(t, recursive):
        obj.set_retention("GOVERNANCE", past, version_id, bypass_governance=True)
        out.emit({"bucket": t.bucket, "key": obj.key, "mode": None}, f"{_path(t, obj.key)}: retention cleared")


@retention_group.command("info")
@click.argument("target")
@click.option("--version-id", "--vid", "version_id", default=None, help="This version.")
@click.option("-r", "--recursive", is_flag=True, help="Every object under the prefix.")
@command
def retention_info(out: Output, target: str, version_id: str | None, recursive: bool) -> None:
    """Retention of objects (S3 mode and date; IBM period, expiry and holds), or a bucket's defaults."""
    t = remote(target)
    b = t.alias.client().bucket(t.bucket or "")
    protection = b.get_protection()
    ibm = protection.status != "Disabled"
    if not t.key and not recursive:
        lock = b.get_object_lock()
        record = {"bucket": t.bucket, "object_lock": bool(lock and lock.enabled),
                  "mode": lock.mode if lock else None, "days": lock.days if lock else None,
                  "years": lock.years if lock else None, "ibm_protection": protection.status,
                  "min_days": protection.min_days, "default_days": protection.default_days,
                  "max_days": protection.max_days}
        text = (f"{t}: Object Lock {'enabled' if record['object_lock'] else 'disabled'}"
                + (f", default {lock.mode} {lock.days or lock.years} {'days' if lock.days else 'years'}"
                   if lock and lock.mode else "")
                + (f"; IBM protection {protection.status} (min {protection.min_days}, default "
                   f"{protection.default_days}, max {protection.max_days} days)" if ibm else ""))
        out.emit(record, text)
        return
    for obj in _objects(t, recursive):
        if ibm:
            st = obj.list_legal_holds()
            out.emit({"bucket": t.bucket, "key": obj.key, "retention_period": st.retention_period,
                      "retain_until": st.retention_expiration, "legal_holds": [h.id for h in st.legal_holds]},
                     f"{_path(t, obj.key)}: IBM retention {st.retention_period}s until "
                     f"{when(st.retention_expiration).strip() or '-'}, {len(st.legal_holds)} legal holds")
            continue
        r = obj.get_retention(version_id)
        out.emit({"bucket": t.bucket, "key": obj.key, "version_id": version_id,
                  "mode": r.mode if r else None, "retain_until": r.retain_until if r else None},
                 f"{_path(t, obj.key)}: " + (f"{r.mode} until {when(r.retain_until)}" if r else "no retention"))


@retention_group.command("protect")
@click.argument("target")
@click.option("--min-days", type=int, required=True)
@click.option("--default-days", type=int, required=True)
@click.option("--max-days", type=int, required=True)
@click.option("--permanent", is_flag=True, help="Allow permanent retention of objects.")
@command
def retention_protect(out: Output, target: str, min_days: int, default_days: int, max_days: int,
                      permanent: bool) -> None:
    """IBM COS immutable storage: retention bounds for every object of ALIAS/bucket."""
    t = remote(target)
    t.alias.client().bucket(t.bucket or "").set_protection(min_days, default_days, max_days, permanent=permanent)
    out.emit({"bucket": t.bucket, "min_days": min_days, "default_days": default_days, "max_days": max_days,
              "permanent": permanent},
             f"{t}: protected, retention {min_days}..{max_days} days (default {default_days})")


@retention_group.command("extend")
@click.argument("target")
@click.option("--by", "by", default=None, help="Add this much (e.g. 30d) to the current retention.")
@click.option("--until-from-now", "from_now", default=None, help="Retain until this long from now.")
@command
def retention_extend(out: Output, target: str, by: str | None, from_now: str | None) -> None:
    """IBM COS: extend an object's retention (it can only grow)."""
    t = remote(target, need_key=True)
    if bool(by) == bool(from_now):
        raise UsageError("give exactly one of --by or --until-from-now")
    obj = t.alias.client().bucket(t.bucket or "").object(t.key)
    if by:
        obj.extend_retention(additional_seconds=int(_validity(by).total_seconds()))
    else:
        obj.extend_retention(from_now_seconds=int(_validity(from_now or "").total_seconds()))
    st = obj.list_legal_holds()
    out.emit({"bucket": t.bucket, "key": t.key, "retain_until": st.retention_expiration},
             f"{t}: retained until {when(st.retention_expiration)}")


# --- legalhold -------------------------------------------------------------------------------------


@click.group("legalhold")
def legalhold_group() -> None:
    """Legal holds: S3's on/off per version, or IBM's named holds (--id)."""


def _hold(out: Output, target: str, on: bool, hold_id: str | None, version_id: str | None, recursive: bool) -> None:
    t = remote(target, need_key=not recursive)
    for obj in _objects(t, recursive):
        if hold_id:
            (obj.add_legal_hold if on else obj.remove_legal_hold)(hold_id)
        else:
            obj.set_legal_hold(on, version_id)
        out.emit({"bucket": t.bucket, "key": obj.key, "version_id": version_id, "legal_hold": on, "id": hold_id},
                 f"{_path(t, obj.key)}: legal hold {'on' if on else 'off'}" + (f" ({hold_id})" if hold_id else ""))


@legalhold_group.command("set")
@click.argument("target")
@click.option("--id", "hold_id", default=None, help="IBM COS: a named hold (protected buckets).")
@click.option("--version-id", "--vid", "version_id", default=None, help="This version (S3).")
@click.option("-r", "--recursive", is_flag=True, help="Every object under the prefix.")
@command
def legalhold_set(out: Output, target: str, hold_id: str | None, version_id: str | None, recursive: bool) -> None:
    """Put a legal hold on objects: they cannot be deleted or overwritten while it is on."""
    _hold(out, target, True, hold_id, version_id, recursive)


@legalhold_group.command("clear")
@click.argument("target")
@click.option("--id", "hold_id", default=None, help="IBM COS: the named hold to remove.")
@click.option("--version-id", "--vid", "version_id", default=None, help="This version (S3).")
@click.option("-r", "--recursive", is_flag=True, help="Every object under the prefix.")
@command
def legalhold_clear(out: Output, target: str, hold_id: str | None, version_id: str | None,
                    recursive: bool) -> None:
    """Lift a legal hold."""
    _hold(out, target, False, hold_id, version_id, recursive)


@legalhold_group.command("info")
@click.argument("target")
@click.option("--version-id", "--vid", "version_id", default=None, help="This version (S3).")
@click.option("-r", "--recursive", is_flag=True, help="Every object under the prefix.")
@command
def legalhold_info(out: Output, target: str, version_id: str | None, recursive: bool) -> None:
    """Show legal holds (IBM named holds in protected buckets, else S3's on/off)."""
    t = remote(target, need_key=not recursive)
    ibm = t.alias.client().bucket(t.bucket or "").get_protection().status != "Disabled"
    for obj in _objects(t, recursive):
        if ibm:
            holds = obj.list_legal_holds().legal_holds
            out.emit({"bucket": t.bucket, "key": obj.key, "legal_holds": [{"id": h.id, "date": h.date}
                                                                          for h in holds]},
                     f"{_path(t, obj.key)}: " + (", ".join(h.id for h in holds) or "no legal holds"))
        else:
            on = obj.get_legal_hold(version_id)
            out.emit({"bucket": t.bucket, "key": obj.key, "version_id": version_id, "legal_hold": on},
                     f"{_path(t, obj.key)}: legal hold {'on' if on else 'off'}")
