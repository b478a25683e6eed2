"""Versioning from the command line: ``version enable|suspend|info``, ``undo``, ``ls --versions``,
``rb --force`` of versioned buckets, and the version listing helpers ``cp``/``cat``/``rm``/``stat`` use.

``undo KEY`` follows mc: it removes the newest version (or delete marker) of KEY, so the one before
becomes current again; ``--last N`` repeats that N times. ``undo KEY --version-id V`` is the gentle
form: it copies version V over KEY as a new current version and deletes nothing. Versions held by
Object Lock retention or a legal hold are never removed: the command says which and until when.
"""

from __future__ import annotations

from datetime import datetime

import click

from coffer import AccessDenied, Bucket, CofferError, ObjectVersion, Prefix
from coffer.cli._aliases import Remote, remote
from coffer.cli._output import STYLE_DIR, STYLE_WARN, Output, UsageError, command, human_size, when


def _bucket(t: Remote) -> Bucket:
    return t.alias.client().bucket(t.bucket or "")


# --- version enable|suspend|info -------------------------------------------------------------------


@click.group("version")
def version_group() -> None:
    """Bucket versioning: enable, suspend, info."""


def _set_versioning(out: Output, targets: tuple[str, ...], enable: bool) -> None:
    for arg in targets:
        t = remote(arg)
        b = _bucket(t)
        if enable:
            b.enable_versioning()
        else:
            b.suspend_versioning()
        state = "Enabled" if enable else "Suspended"
        out.emit({"bucket": t.bucket, "versioning": state}, f"Versioning {state.lower()} on {t}")


@version_group.command("enable")
@click.argument("targets", nargs=-1, required=True)
@command
def version_enable(out: Output, targets: tuple[str, ...]) -> None:
    """Keep every version of every object of ALIAS/bucket from now on."""
    _set_versioning(out, targets, True)


@version_group.command("suspend")
@click.argument("targets", nargs=-1, required=True)
@command
def version_suspend(out: Output, targets: tuple[str, ...]) -> None:
    """Stop making new versions (existing versions stay)."""
    _set_versioning(out, targets, False)


@version_group.command("info")
@click.argument("targets", nargs=-1, required=True)
@command
def version_info(out: Output, targets: tuple[str, ...]) -> None:
    """Versioning state of ALIAS/bucket: Enabled, Suspended or Unversioned."""
    for arg in targets:
        t = remote(arg)
        state = _bucket(t).get_versioning() or "Unversioned"
        out.emit({"bucket": t.bucket, "versioning": state}, f"{t}: versioning {state}")


# --- ls --versions ---------------------------------------------------------------------------------


def ls_versions(out: Output, t: Remote, recursive: bool) -> None:
    b = _bucket(t)
    base = t.key.rsplit("/", 1)[0] + "/" if "/" in t.key else ""
    for v in b.list_versions(prefix=t.key, delimiter=None if recursive else "/"):
        if isinstance(v, Prefix):
            out.emit({"bucket": t.bucket, **v.to_dict()}, f"{'':25} {'PRE':>9} {'':<8} {v.prefix[len(base):]}",
                     STYLE_DIR)
            continue
        assert isinstance(v, ObjectVersion)
        kind = "DEL" if v.delete_marker else "PUT"
        latest = " (latest)" if v.is_latest else ""
        size = "" if v.delete_marker else human_size(v.size)
        out.emit({"bucket": t.bucket, **v.to_dict()},
                 f"[{when(v.last_modified)}] {size:>9} {v.storage_class or 'STANDARD':<8} {v.version_id} "
                 f"{kind} {v.key[len(base):]}{latest}", STYLE_WARN if v.delete_marker else None)


# --- undo ------------------------------------------------------------------------------------------


def _versions_of(b: Bucket, key: str) -> list[ObjectVersion]:
    """Every version and delete marker of exactly ``key``, newest first."""
    return [v for v in b.list_versions(prefix=key) if isinstance(v, ObjectVersion) and v.key == key]


def _locked_reason(b: Bucket, key: str, version_id: str) -> str:
    """Why a version cannot go: its retention date and/or legal hold, as far as the server says."""
    obj = b.object(key)
    why = []
    try:
        r = obj.get_retention(version_id)
        if r and r.retain_until and r.retain_until > datetime.now(r.retain_until.tzinfo):
            why.append(f"{r.mode} retention until {when(r.retain_until)}")
    except CofferError:
        pass
    try:
        if obj.get_legal_hold(version_id):
            why.append("legal hold")
    except CofferError:
        pass
    return " and ".join(why) or "Object Lock / immutable storage"


@click.command("undo")
@click.argument("target")
@click.option("--last", default=1, show_default=True, help="Undo this many changes (newest first).")
@click.option("--version-id", default=None, help="Make this version current again (copied; nothing deleted).")
@click.option("--dry-run", is_flag=True, help="Say what would happen, change nothing.")
@command
def undo(out: Output, target: str, last: int, version_id: str | None, dry_run: bool) -> None:
    """Restore an older version of ALIAS/bucket/key (the bucket must be versioned)."""
    t = remote(target, need_key=True)
    b = _bucket(t)
    if version_id:
        if dry_run:
            out.emit({"key": t.key, "restore": version_id, "dry_run": True}, f"would restore {t} to {version_id}")
            return
        res = b.object(t.key).copy_to(b.name, t.key, version_id=version_id)
        out.emit({"key": t.key, "restored_from": version_id, "version_id": res.version_id},
                 f"Restored {t} from version {version_id} (new version {res.version_id})")
        return
    versions = _versions_of(b, t.key)
    if len(versions) < 2 and not (versions and versions[0].delete_marker):
        raise UsageError(f"{t} has no older version to go back to")
    for v in versions[:last]:
        what = "delete marker" if v.delete_marker else "version"
        if dry_run:
            out.emit({"key": v.key, "remove": v.version_id, "dry_run": True}, f"would remove {what} {v.version_id}")
            continue
        try:
            b.object(v.key).delete(v.version_id)
        except AccessDenied as exc:
            raise AccessDenied(f"version {v.version_id} of {t} is protected ({_locked_reason(b, v.key, v.version_id)})"
                               f"; nothing more was undone", code=exc.code, status=exc.status,
                               resource=str(t)) from exc
        out.emit({"key": v.key, "removed": v.version_id, "delete_marker": v.delete_marker},
                 f"Removed {what} {v.version_id} of {t}")
    rest = _versions_of(b, t.key)
    if rest and not dry_run:
        cur = rest[0]
        state = "deleted (delete marker)" if cur.delete_marker else f"version {cur.version_id}"
        out.note(f"{t} is now {state}")


# --- rb --force of versioned buckets ---------------------------------------------------------------


def empty_bucket(out: Output, t: Remote, bypass: bool = False) -> None:
    """Delete every object, version, delete marker and pending upload; protected versions are listed."""
    b = _bucket(t)
    b.abort_uploads()
    batch: list[str | tuple[str, str]] = []
    blocked: list[tuple[str, str]] = []

    def flush() -> None:
        for r in b.delete_objects(list(batch), bypass_governance=bypass):
            if not r.deleted:
                blocked.append((r.key, r.version_id or ""))
        batch.clear()

    versioned = b.get_versioning() is not None
    source = (
        ((v.key, v.version_id) for v in b.list_versions() if isinstance(v, ObjectVersion))
        if versioned else (e.key for e in b.list_objects())
    )
    for item in source:
        batch.append(item)
        if len(batch) == 1000:
            flush()
    if batch:
        flush()
    if blocked:
        shown = []
        for key, vid in blocked[:5]:
            shown.append(f"{key} (version {vid}: {_locked_reason(b, key, vid)})" if vid else key)
        more = f" and {len(blocked) - 5} more" if len(blocked) > 5 else ""
        raise AccessDenied(f"{t} keeps {len(blocked)} protected object versions that cannot be deleted yet: "
                           + "; ".join(shown) + more, code="ObjectLocked", status=403, resource=str(t))
