"""The CLI's single-shot commands: ls, mb, rb, rm, cat, stat, presign, append.

Transfers that move many bytes or many files (cp, mv, sync) live in ``_cmd_transfer``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from coffer import CofferError, NoSuchBucket, NoSuchKey, ObjectInfo
from coffer.cli import _aliases
from coffer.cli._aliases import Remote, remote
from coffer.cli._output import STYLE_DIR, Output, command, human_size, when

# --- buckets ----------------------------------------------------------------------------------------


@click.command("ls")
@click.argument("target", required=False)
@click.option("-r", "--recursive", is_flag=True, help="List every key under the prefix, not one level.")
@click.option("-I", "--incomplete", is_flag=True, help="List unfinished multipart uploads instead.")
@click.option("--versions", is_flag=True, help="Every version and delete marker, with version ids.")
@command
def ls(out: Output, target: str | None, recursive: bool, incomplete: bool, versions: bool) -> None:
    """List aliases, buckets (ALIAS), or objects (ALIAS/bucket[/prefix])."""
    if versions:
        from coffer.cli._cmd_versions import ls_versions

        ls_versions(out, remote(target or ""), recursive)
        return
    if incomplete:
        _ls_incomplete(out, remote(target or "", need_bucket=True))
        return
    if target is None:
        for alias in sorted(_aliases.load().values(), key=lambda a: a.name):
            out.emit(alias.public(), f"{alias.name}/  {alias.url}")
        return
    t = remote(target, need_bucket=False)
    client = t.alias.client()
    if not t.bucket:
        for b in client.list_buckets():
            out.emit({"bucket": b.name, "created": b.creation_date},
                     f"[{when(b.creation_date)}] {'':>9} {'':<8} {b.name}/", STYLE_DIR)
        return
    bucket = client.bucket(t.bucket)
    base = t.key.rsplit("/", 1)[0] + "/" if "/" in t.key else ""
    count = 0
    for entry in bucket.list_objects(prefix=t.key, delimiter=None if recursive else "/"):
        count += 1
        name = entry.key[len(base):]
        if isinstance(entry, ObjectInfo):
            out.emit({"bucket": t.bucket, **entry.to_dict()},
                     f"[{when(entry.last_modified)}] {human_size(entry.size):>9} "
                     f"{entry.storage_class or 'STANDARD':<8} {name}")
        else:
            out.emit({"bucket": t.bucket, **entry.to_dict()}, f"{'':25} {'PRE':>9} {'':<8} {name}", STYLE_DIR)
    if count == 0 and not bucket.exists():
        raise NoSuchBucket("The specified bucket does not exist", status=404, resource=t.bucket)


def _ls_incomplete(out: Output, t: Remote) -> None:
    bucket = t.alias.client().bucket(t.bucket or "")
    for up in bucket.list_uploads(prefix=t.key):
        out.emit({"bucket": t.bucket, "key": up.key, "upload_id": up.upload_id, "initiated": up.initiated},
                 f"[{when(up.initiated)}] {'':>9} {'UPLOAD':<8} {up.key}  ({up.upload_id})")


@click.command("mb")
@click.argument("targets", nargs=-1, required=True)
@click.option("-p", "--ignore-existing", is_flag=True, help="No error if the bucket is already yours.")
@click.option("--region", default=None, help="Location constraint for the new bucket.")
@command
def mb(out: Output, targets: tuple[str, ...], ignore_existing: bool, region: str | None) -> None:
    """Make buckets."""
    for arg in targets:
        t = remote(arg)
        t.alias.client().bucket(t.bucket or "").create(exist_ok=ignore_existing, region=region)
        out.emit({"bucket": t.bucket, "created": True}, f"Bucket created: {t}")


@click.command("rb")
@click.argument("targets", nargs=-1, required=True)
@click.option("--force", is_flag=True,
              help="Delete every object, version, delete marker and pending upload first.")
@click.option("--bypass", is_flag=True, help="With --force: also delete versions under GOVERNANCE retention.")
@command
def rb(out: Output, targets: tuple[str, ...], force: bool, bypass: bool) -> None:
    """Remove buckets (they must be empty unless --force)."""
    from coffer.cli._cmd_versions import empty_bucket

    for arg in targets:
        t = remote(arg)
        if force:
            empty_bucket(out, t, bypass)
        t.alias.client().bucket(t.bucket or "").delete()
        out.emit({"bucket": t.bucket, "removed": True}, f"Bucket removed: {t}")


# --- objects ----------------------------------------------------------------------------------------


@click.command("rm")
@click.argument("targets", nargs=-1, required=True)
@click.option("-r", "--recursive", is_flag=True, help="Remove every object under the prefix.")
@click.option("--force", is_flag=True, help="No error for objects that do not exist.")
@click.option("-I", "--incomplete", is_flag=True, help="Abort unfinished multipart uploads instead.")
@click.option("--version-id", "--vid", "version_id", default=None, help="Remove this version for good.")
@click.option("--versions", is_flag=True, help="Remove every version and delete marker (for good).")
@click.option("--bypass", is_flag=True, help="Also what is under GOVERNANCE retention (needs the permission).")
@command
def rm(out: Output, targets: tuple[str, ...], recursive: bool, force: bool, incomplete: bool,
       version_id: str | None, versions: bool, bypass: bool) -> None:
    """Remove objects (ALIAS/bucket/key), or whole prefixes with -r.

    In a versioned bucket a plain rm leaves a delete marker (older versions stay: see coffer undo);
    --version-id V removes one version, --versions all of them.
    """
    if incomplete:
        for arg in targets:
            _rm_incomplete(out, remote(arg, need_key=not recursive), recursive)
        return
    if version_id or versions:
        for arg in targets:
            _rm_versions(out, remote(arg, need_key=not recursive), version_id, recursive, bypass)
        return
    for arg in targets:
        t = remote(arg, need_key=not recursive)
        bucket = t.alias.client().bucket(t.bucket or "")
        if recursive:
            keys = (e.key for e in bucket.list_objects(prefix=t.key))
            failed = 0
            for res in bucket.delete_objects(keys):
                if res.deleted:
                    out.emit({"key": res.key, "removed": True}, f"Removed {t.alias.name}/{t.bucket}/{res.key}")
                else:
                    failed += 1
                    out.emit({"key": res.key, "removed": False, "error": res.error_code},
                             f"Failed {res.key}: {res.error_code} {res.error_message}")
            if failed:
                raise CofferError(f"{failed} objects could not be removed", code="DeleteFailed")
            continue
        obj = bucket.object(t.key)
        if not force and not obj.exists():
            raise NoSuchKey("The specified key does not exist.", code="NoSuchKey", status=404, resource=str(t))
        res = obj.delete(bypass_governance=bypass)
        marker = f" (delete marker {res.version_id})" if res.delete_marker and res.version_id else ""
        out.emit({"key": t.key, "removed": True, "delete_marker": res.delete_marker, "version_id": res.version_id},
                 f"Removed {t}{marker}")


def _rm_versions(out: Output, t: Remote, version_id: str | None, recursive: bool, bypass: bool) -> None:
    from coffer import ObjectVersion

    bucket = t.alias.client().bucket(t.bucket or "")
    if version_id:
        res = bucket.object(t.key).delete(version_id, bypass_governance=bypass)
        out.emit({"key": t.key, "version_id": version_id, "removed": True, "delete_marker": res.delete_marker},
                 f"Removed {t} version {version_id}")
        return
    items = [(v.key, v.version_id) for v in bucket.list_versions(prefix=t.key)
             if isinstance(v, ObjectVersion) and (recursive or v.key == t.key)]
    failed = 0
    for res in bucket.delete_objects(items, bypass_governance=bypass):
        path = f"{t.alias.name}/{t.bucket}/{res.key}"
        if res.deleted:
            out.emit({"key": res.key, "version_id": res.version_id, "removed": True},
                     f"Removed {path} version {res.version_id}")
        else:
            failed += 1
            out.fail({"key": res.key, "version_id": res.version_id, "error": res.error_code,
                      "message": res.error_message},
                     f"coffer: {path} version {res.version_id}: {res.error_code}: {res.error_message}")
    if failed:
        raise CofferError(f"{failed} versions could not be removed (retention or legal hold?)", code="DeleteFailed")


def _rm_incomplete(out: Output, t: Remote, recursive: bool) -> None:
    """Abort the pending uploads of key t.key (or of every key under it with -r)."""
    from coffer.sdk import _multipart as mp

    bucket = t.alias.client().bucket(t.bucket or "")
    aborted = 0
    for up in list(bucket.list_uploads(prefix=t.key)):
        if not recursive and up.key != t.key:
            continue
        mp.abort(bucket.client._transport, bucket.name, up.key, up.upload_id)
        aborted += 1
        out.emit({"bucket": t.bucket, "key": up.key, "upload_id": up.upload_id, "aborted": True},
                 f"Removed incomplete upload {t.alias.name}/{t.bucket}/{up.key} ({up.upload_id})")
    if not aborted:
        out.note(f"No incomplete uploads under {t}")


@click.command("cat")
@click.argument("targets", nargs=-1, required=True)
@click.option("--range", "byte_range", default=None, help="Only these bytes, e.g. 0-99 or -100.")
@click.option("--version-id", "--vid", "version_id", default=None, help="This version, not the current one.")
@command
def cat(out: Output, targets: tuple[str, ...], byte_range: str | None, version_id: str | None) -> None:
    """Write objects to stdout."""
    sink = sys.stdout.buffer
    for arg in targets:
        t = remote(arg, need_key=True)
        reader = t.alias.client().bucket(t.bucket or "").object(t.key).get_reader(byte_range, version_id=version_id)
        for chunk in reader.iter_content():
            sink.write(chunk)
    sink.flush()


@click.command("stat")
@click.argument("targets", nargs=-1, required=True)
@click.option("--version-id", "--vid", "version_id", default=None, help="This version, not the current one.")
@command
def stat(out: Output, targets: tuple[str, ...], version_id: str | None) -> None:
    """Show an object's properties (size, ETag, type, dates, metadata, checksums, version, lock), or
    a bucket's settings (versioning, Object Lock, policy, encryption, usage)."""
    from coffer.cli._cmd_settings import bucket_summary

    for arg in targets:
        t = remote(arg)
        bucket = t.alias.client().bucket(t.bucket or "")
        if not t.key:
            record, lines = bucket_summary(t)
            out.emit(record, "\n".join(lines))
            continue
        obj = bucket.object(t.key)
        props = obj.head(version_id)
        lines = [f"Name      : {t}", f"Size      : {human_size(props.size)} ({props.size} bytes)",
                 f"ETag      : {props.etag}", f"Type      : {props.content_type or '-'}",
                 f"Modified  : {when(props.last_modified)}", f"Class     : {props.storage_class or 'STANDARD'}"]
        if props.version_id:
            lines.append(f"VersionID : {props.version_id}")
        lock = {k: props.headers.get(h) for k, h in (("mode", "x-amz-object-lock-mode"),
                                                     ("retain_until", "x-amz-object-lock-retain-until-date"),
                                                     ("legal_hold", "x-amz-object-lock-legal-hold"))
                if props.headers.get(h)}
        if lock.get("mode"):
            lines.append(f"Retention : {lock['mode']} until {lock.get('retain_until', '-')}")
        if lock.get("legal_hold"):
            lines.append(f"LegalHold : {lock['legal_hold']}")
        if props.headers.get("x-amz-server-side-encryption"):
            lines.append(f"Encrypted : {props.headers['x-amz-server-side-encryption']}")
        if props.headers.get("x-amz-tagging-count"):
            lines.append(f"Tags      : {props.headers['x-amz-tagging-count']}")
        lines += [f"Meta      : {k}={v}" for k, v in sorted(props.custom.items())]
        lines += [f"Checksum  : {a} {v}" for a, v in sorted(props.checksums.items())]
        out.emit({"key": t.key, "bucket": t.bucket, **props.to_dict(), "lock": lock}, "\n".join(lines))


@click.command("presign")
@click.argument("target")
@click.option("--expires", default=3600, show_default=True, help="Seconds the URL stays valid (max 604800).")
@click.option("--method", default="GET", type=click.Choice(["GET", "PUT", "HEAD", "DELETE"]), show_default=True)
@command
def presign(out: Output, target: str, expires: int, method: str) -> None:
    """Print a presigned URL for an object."""
    t = remote(target, need_key=True)
    url = t.alias.client().bucket(t.bucket or "").object(t.key).presign(method, expires=expires)
    out.emit({"url": url, "method": method, "expires": expires}, url)


@click.command("append")
@click.argument("target")
@click.argument("source", default="-")
@click.option("--content-type", default=None, help="Only used when the object is new.")
@command
def append(out: Output, target: str, source: str, content_type: str | None) -> None:
    """Append a file (or stdin, "-") to an object without downloading it."""
    t = remote(target, need_key=True)
    obj = t.alias.client().bucket(t.bucket or "").object(t.key)
    stream = sys.stdin.buffer if source == "-" else open(Path(source), "rb")  # noqa: SIM115
    added = 0
    try:
        with obj.get_writer().as_file("a", content_type=content_type) as f:
            while chunk := stream.read(1 << 20):
                f.write(chunk)
                added += len(chunk)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    props = obj.head()
    out.emit({"key": t.key, "appended": added, "size": props.size, "etag": props.etag},
             f"Appended {human_size(added)} to {t} (now {human_size(props.size)})")
