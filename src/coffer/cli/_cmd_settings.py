"""Bucket settings from the command line, named as mc names them: ``policy`` (with ``anonymous``
presets), ``ilm`` (lifecycle), ``event`` (notifications), ``encrypt`` (default encryption), ``cors``,
``website``; and ``stat BUCKET``'s summary of all of them.

Documents can be read from files in the aws CLI's JSON shapes (``put-bucket-policy``,
``put-bucket-cors``), so a setting exported by one tool can be applied by the other.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from coffer import (
    Bucket,
    CofferError,
    CorsRule,
    EncryptionConfig,
    LifecycleRule,
    NotificationTarget,
    WebsiteConfig,
)
from coffer.cli._aliases import Remote, remote
from coffer.cli._filters import parse_age
from coffer.cli._output import Output, UsageError, command, human_size


def _bucket(t: Remote) -> Bucket:
    return t.alias.client().bucket(t.bucket or "")


def _read_doc(source: str) -> str:
    """A document from a file, ``-`` (stdin) or given inline (starts with ``{`` or ``[``)."""
    if source == "-":
        return sys.stdin.read()
    if source.lstrip().startswith(("{", "[")):
        return source
    return Path(source).read_text(encoding="utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# --- stat BUCKET -----------------------------------------------------------------------------------


def _try(fn: Any, default: Any = "?") -> Any:
    try:
        return fn()
    except CofferError as exc:
        return default if exc.code not in ("NotImplemented", "NotImplementedByServer") else "not supported"


def bucket_summary(t: Remote) -> tuple[dict[str, Any], list[str]]:
    """What `stat ALIAS/bucket` shows: versioning, lock, policy, encryption, usage and the rest."""
    b = _bucket(t)
    if not b.exists():
        from coffer import NoSuchBucket

        raise NoSuchBucket("The specified bucket does not exist", status=404, resource=t.bucket)
    versioning = _try(b.get_versioning, None) or "Unversioned"
    lock = _try(b.get_object_lock, None)
    protection = _try(b.get_protection, None)
    policy = _try(b.get_policy, None)
    public = _try(b.is_public, False) if policy not in (None, "?") else False
    enc = _try(b.get_encryption, None)
    rules = _try(b.get_lifecycle, [])
    cors = _try(b.get_cors, [])
    website = _try(b.get_website, None)
    events = _try(b.get_notifications, [])
    tags = _try(b.get_tags, {})
    objects = size = 0
    try:
        system = b.ext.stats().get("system", {}) if b.client.is_coffer() else {}
        objects, size = int(system["sys.m2.objects"]), int(system["sys.m2.usage"])
    except (CofferError, KeyError, ValueError, TypeError):
        for e in b.list_objects():
            objects += 1
            size += getattr(e, "size", 0)
    if lock not in (None, "?") and getattr(lock, "enabled", False):
        lock_text = "Enabled" + (f", default {lock.mode} {lock.days or lock.years}"
                                 f"{' days' if lock.days else ' years'}" if lock.mode else ", no default retention")
    else:
        lock_text = "Disabled"
    if protection not in (None, "?") and getattr(protection, "status", "Disabled") != "Disabled":
        lock_text += (f"; IBM protection {protection.status} (min {protection.min_days}, default "
                      f"{protection.default_days}, max {protection.max_days} days"
                      f"{', permanent allowed' if protection.permanent else ''})")
    policy_text = "none" if policy is None else ("public" if public is True else "set (not public)")
    enc_text = "none" if enc in (None, "?") else enc.algorithm + (f" key {enc.kms_key_id}" if enc.kms_key_id else "")
    record = {
        "bucket": t.bucket, "versioning": versioning, "object_lock": _plain(asdict(lock)) if lock not in (None, "?")
        else None, "ibm_protection": _plain(asdict(protection)) if protection not in (None, "?") else None,
        "policy": policy is not None, "public": public is True,
        "encryption": _plain(asdict(enc)) if enc not in (None, "?") else None, "lifecycle_rules": len(rules),
        "cors_rules": len(cors), "website": website not in (None, "?"), "notifications": len(events),
        "tags": tags if isinstance(tags, dict) else {}, "objects": objects, "size": size,
    }
    lines = [f"Bucket     : {t}", f"Versioning : {versioning}", f"Lock       : {lock_text}",
             f"Policy     : {policy_text}", f"Encryption : {enc_text}",
             f"Usage      : {human_size(size)} in {objects} objects",
             f"Lifecycle  : {len(rules)} rules", f"CORS       : {len(cors)} rules",
             f"Website    : {'on' if record['website'] else 'off'}", f"Events     : {len(events)} targets"]
    if isinstance(tags, dict) and tags:
        lines.append("Tags       : " + ", ".join(f"{k}={v}" for k, v in sorted(tags.items())))
    return record, lines


# --- policy ----------------------------------------------------------------------------------------


@click.group("policy")
def policy_group() -> None:
    """Bucket policy: get, set (JSON), remove, and anonymous-access presets."""


@policy_group.command("get")
@click.argument("target")
@command
def policy_get(out: Output, target: str) -> None:
    """Print the bucket policy (JSON), or nothing when there is none."""
    t = remote(target)
    doc = _bucket(t).get_policy()
    if doc is None:
        out.emit({"bucket": t.bucket, "policy": None}, None)
        out.note(f"{t} has no policy")
        return
    out.emit({"bucket": t.bucket, "policy": doc}, json.dumps(doc, indent=2))


@policy_group.command("set")
@click.argument("target")
@click.argument("source")
@command
def policy_set(out: Output, target: str, source: str) -> None:
    """Set the policy of ALIAS/bucket from SOURCE: a JSON file, "-" for stdin, or inline JSON."""
    t = remote(target)
    text = _read_doc(source)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"the policy is not JSON: {exc}") from None
    _bucket(t).set_policy(doc)
    out.emit({"bucket": t.bucket, "policy": "set"}, f"Policy set on {t}")


@policy_group.command("remove")
@click.argument("target")
@command
def policy_remove(out: Output, target: str) -> None:
    """Remove the bucket policy."""
    t = remote(target)
    _bucket(t).delete_policy()
    out.emit({"bucket": t.bucket, "policy": None}, f"Policy removed from {t}")


PRESETS = {
    "download": (["s3:GetObject"], ["s3:ListBucket"]),
    "upload": (["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
               ["s3:ListBucketMultipartUploads"]),
    "public": (["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts"], ["s3:ListBucket", "s3:ListBucketMultipartUploads"]),
}


def anonymous_policy(bucket: str, prefix: str, preset: str) -> dict[str, Any]:
    """mc's anonymous presets as a policy: object actions on ``prefix*``, bucket actions on the bucket
    (listing limited to ``prefix`` when one is given)."""
    obj_actions, bucket_actions = PRESETS[preset]
    bucket_stmt: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": ["*"]},
                                   "Action": ["s3:GetBucketLocation", *bucket_actions],
                                   "Resource": [f"arn:aws:s3:::{bucket}"]}
    if prefix and "s3:ListBucket" in bucket_actions:
        bucket_stmt["Condition"] = {"StringLike": {"s3:prefix": [prefix + "*"]}}
    return {"Version": "2012-10-17", "Statement": [
        bucket_stmt,
        {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": obj_actions,
         "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*"]},
    ]}


@policy_group.command("anonymous")
@click.argument("preset", type=click.Choice(["none", "download", "upload", "public"]))
@click.argument("target")
@command
def policy_anonymous(out: Output, preset: str, target: str) -> None:
    """Let anyone download, upload, or both (public) under ALIAS/bucket[/prefix]; none removes it.

    The preset replaces the bucket's whole policy (as mc's anonymous set does)."""
    t = remote(target)
    b = _bucket(t)
    if preset == "none":
        b.delete_policy()
    else:
        b.set_policy(anonymous_policy(t.bucket or "", t.key, preset))
    out.emit({"bucket": t.bucket, "prefix": t.key, "anonymous": preset},
             f"Anonymous access to {t}: {preset}")


# --- ilm (lifecycle) -------------------------------------------------------------------------------


@click.group("ilm")
def ilm_group() -> None:
    """Lifecycle rules: expire objects, old versions, delete markers and stale uploads."""


def _rule_text(r: LifecycleRule) -> str:
    acts = []
    if r.expiration_days is not None:
        acts.append(f"expire after {r.expiration_days}d")
    if r.expiration_date is not None:
        acts.append(f"expire on {r.expiration_date.date()}")
    if r.noncurrent_days is not None:
        acts.append(f"noncurrent versions after {r.noncurrent_days}d")
    if r.newer_noncurrent_versions is not None:
        acts.append(f"keep {r.newer_noncurrent_versions} noncurrent")
    if r.expired_object_delete_marker:
        acts.append("remove expired delete markers")
    if r.abort_incomplete_upload_days is not None:
        acts.append(f"abort uploads after {r.abort_incomplete_upload_days}d")
    flt = [f"prefix={r.prefix!r}"] if r.prefix else []
    flt += [f"tag {k}={v}" for k, v in sorted(r.tags.items())]
    return (f"{r.id or '-':<20} {'Enabled' if r.enabled else 'Disabled':<8} "
            f"{' '.join(flt) or 'all objects':<30} {', '.join(acts)}")


@ilm_group.command("ls")
@click.argument("target")
@command
def ilm_ls(out: Output, target: str) -> None:
    """List the lifecycle rules of ALIAS/bucket."""
    t = remote(target)
    for r in _bucket(t).get_lifecycle():
        out.emit(_plain(asdict(r)), _rule_text(r))


def _days(text: str | None) -> int | None:
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    return max(1, round(parse_age(text) / 86400))


@ilm_group.command("add")
@click.argument("target")
@click.option("--id", "rule_id", default=None, help="Rule name (default: generated).")
@click.option("--prefix", default=None, help="Only keys under this prefix (default: TARGET's prefix).")
@click.option("--tags", multiple=True, metavar="K=V", help="Only objects with this tag (repeatable).")
@click.option("--expire-days", default=None, help="Expire current versions after N days (or 2w...).")
@click.option("--noncurrent-expire-days", default=None, help="Delete noncurrent versions after N days.")
@click.option("--noncurrent-keep", type=int, default=None, help="...but keep the newest N of them.")
@click.option("--expire-delete-marker", is_flag=True, help="Remove delete markers with no versions left.")
@click.option("--abort-uploads-days", default=None, help="Abort multipart uploads older than N days.")
@click.option("--disabled", is_flag=True, help="Add the rule switched off.")
@command
def ilm_add(out: Output, target: str, rule_id: str | None, prefix: str | None, tags: tuple[str, ...],
            expire_days: str | None, noncurrent_expire_days: str | None, noncurrent_keep: int | None,
            expire_delete_marker: bool, abort_uploads_days: str | None, disabled: bool) -> None:
    """Add a lifecycle rule to ALIAS/bucket[/prefix] (the other rules stay)."""
    import uuid

    t = remote(target)
    tag_map = {}
    for tag in tags:
        k, sep, v = tag.partition("=")
        if not sep or not k:
            raise UsageError(f"--tags wants KEY=VALUE, got {tag!r}")
        tag_map[k] = v
    rule = LifecycleRule(
        id=rule_id or f"rule-{uuid.uuid4().hex[:8]}", enabled=not disabled,
        prefix=t.key if prefix is None else prefix, tags=tag_map, expiration_days=_days(expire_days),
        expired_object_delete_marker=True if expire_delete_marker else None,
        noncurrent_days=_days(noncurrent_expire_days), newer_noncurrent_versions=noncurrent_keep,
        abort_incomplete_upload_days=_days(abort_uploads_days))
    if not any(x is not None for x in (rule.expiration_days, rule.noncurrent_days,
                                        rule.expired_object_delete_marker, rule.abort_incomplete_upload_days)):
        raise UsageError("give an action: --expire-days, --noncurrent-expire-days, --expire-delete-marker "
                         "or --abort-uploads-days")
    b = _bucket(t)
    rules = [r for r in b.get_lifecycle() if r.id != rule.id]
    b.set_lifecycle([*rules, rule])
    out.emit(_plain(asdict(rule)), f"Added rule {rule.id} to {t}: {_rule_text(rule).split(None, 2)[-1]}")


@ilm_group.command("rm")
@click.argument("target")
@click.option("--id", "rule_id", default=None, help="The rule to remove.")
@click.option("--all", "remove_all", is_flag=True, help="Remove every rule.")
@command
def ilm_rm(out: Output, target: str, rule_id: str | None, remove_all: bool) -> None:
    """Remove one lifecycle rule (--id) or all of them (--all)."""
    t = remote(target)
    b = _bucket(t)
    if remove_all:
        b.delete_lifecycle()
        out.emit({"bucket": t.bucket, "removed": "all"}, f"Removed every lifecycle rule of {t}")
        return
    if not rule_id:
        raise UsageError("give --id RULE or --all")
    rules = b.get_lifecycle()
    keep = [r for r in rules if r.id != rule_id]
    if len(keep) == len(rules):
        raise UsageError(f"{t} has no lifecycle rule {rule_id!r}")
    if keep:
        b.set_lifecycle(keep)
    else:
        b.delete_lifecycle()
    out.emit({"bucket": t.bucket, "removed": rule_id}, f"Removed rule {rule_id} from {t}")


@ilm_group.command("export")
@click.argument("target")
@command
def ilm_export(out: Output, target: str) -> None:
    """Print the rules as JSON (a list of rule objects), for `ilm import`."""
    t = remote(target)
    doc = [_plain(asdict(r)) for r in _bucket(t).get_lifecycle()]
    out.emit({"bucket": t.bucket, "rules": doc}, json.dumps(doc, indent=2))


@ilm_group.command("import")
@click.argument("target")
@click.argument("source", default="-")
@command
def ilm_import(out: Output, target: str, source: str) -> None:
    """Replace the rules with those of SOURCE (JSON from `ilm export`; "-" is stdin)."""
    t = remote(target)
    try:
        rows = json.loads(_read_doc(source))
        rules = [LifecycleRule(**{**row, "expiration_date": datetime.fromisoformat(row["expiration_date"])
                                  if row.get("expiration_date") else None}) for row in rows]
    except (ValueError, TypeError, KeyError) as exc:
        raise UsageError(f"not an ilm export: {exc}") from None
    _bucket(t).set_lifecycle(rules)
    out.emit({"bucket": t.bucket, "rules": len(rules)}, f"Imported {len(rules)} rules into {t}")


# --- event (notifications) -------------------------------------------------------------------------

EVENT_NAMES = {"put": "s3:ObjectCreated:*", "delete": "s3:ObjectRemoved:*", "get": "s3:ObjectAccessed:*",
               "restore": "s3:ObjectRestore:*", "replica": "s3:Replication:*"}


@click.group("event")
def event_group() -> None:
    """Bucket notifications: webhooks called when objects are created or removed."""


def _event_text(n: NotificationTarget) -> str:
    flt = " ".join(x for x in (f"prefix={n.prefix}" if n.prefix else "", f"suffix={n.suffix}" if n.suffix else "")
                   if x)
    return f"{n.id or '-':<20} {n.url:<40} {','.join(n.events)} {flt}".rstrip()


@event_group.command("add")
@click.argument("target")
@click.argument("url")
@click.option("--event", "events", default="put,delete", show_default=True,
              help="Comma list of put, delete, get (or full S3 names like s3:ObjectCreated:Put).")
@click.option("--prefix", default=None, help="Only keys under this prefix.")
@click.option("--suffix", default=None, help="Only keys ending so (e.g. .jpg).")
@click.option("--id", "target_id", default=None, help="Name of this notification.")
@click.option("--secret", default=None, help="HMAC secret the webhook calls are signed with.")
@click.option("--kind", type=click.Choice(["Webhook", "Queue", "Topic", "CloudFunction"]), default="Webhook",
              show_default=True, help="Webhook URL, or an ARN for the other kinds.")
@command
def event_add(out: Output, target: str, url: str, events: str, prefix: str | None, suffix: str | None,
              target_id: str | None, secret: str | None, kind: str) -> None:
    """Call URL when the events happen in ALIAS/bucket (the other notifications stay)."""
    import uuid

    t = remote(target)
    names = [EVENT_NAMES.get(e.strip(), e.strip()) for e in events.split(",") if e.strip()]
    bad = [n for n in names if not n.startswith("s3:")]
    if bad:
        raise UsageError(f"unknown events {bad}: use put, delete, get or S3 event names")
    n = NotificationTarget(url=url, events=names, id=target_id or f"event-{uuid.uuid4().hex[:8]}",
                           prefix=prefix or (t.key or None), suffix=suffix, secret=secret, kind=kind)
    b = _bucket(t)
    current = [x for x in b.get_notifications() if x.id != n.id]
    b.set_notifications([*current, n])
    rec = _plain(asdict(n))
    rec.pop("secret", None)
    out.emit(rec, f"Added notification {n.id} on {t}: {','.join(names)} -> {url}")


@event_group.command("ls")
@click.argument("target")
@command
def event_ls(out: Output, target: str) -> None:
    """List the notifications of ALIAS/bucket (secrets are not shown)."""
    t = remote(target)
    for n in _bucket(t).get_notifications():
        rec = _plain(asdict(n))
        rec.pop("secret", None)
        out.emit(rec, _event_text(n))


@event_group.command("rm")
@click.argument("target")
@click.option("--id", "target_id", default=None, help="The notification to remove.")
@click.option("--all", "remove_all", is_flag=True, help="Remove every notification.")
@command
def event_rm(out: Output, target: str, target_id: str | None, remove_all: bool) -> None:
    """Remove one notification (--id) or all (--all)."""
    t = remote(target)
    b = _bucket(t)
    if not remove_all and not target_id:
        raise UsageError("give --id ID or --all")
    current = b.get_notifications()
    keep = [] if remove_all else [x for x in current if x.id != target_id]
    if not remove_all and len(keep) == len(current):
        raise UsageError(f"{t} has no notification {target_id!r}")
    b.set_notifications(keep)
    out.emit({"bucket": t.bucket, "removed": "all" if remove_all else target_id},
             f"Removed {'every notification' if remove_all else 'notification ' + str(target_id)} of {t}")


# --- encrypt ---------------------------------------------------------------------------------------


@click.group("encrypt")
def encrypt_group() -> None:
    """Default encryption of new objects in a bucket (SSE-S3 or SSE-KMS)."""


@encrypt_group.command("set")
@click.argument("kind", type=click.Choice(["sse-s3", "sse-kms"], case_sensitive=False))
@click.argument("args", nargs=-1, required=True)
@click.option("--bucket-key", is_flag=True, help="SSE-KMS: one data key per bucket (fewer KMS calls).")
@command
def encrypt_set(out: Output, kind: str, args: tuple[str, ...], bucket_key: bool) -> None:
    """`encrypt set sse-s3 ALIAS/bucket` or `encrypt set sse-kms KEY_ID ALIAS/bucket`."""
    kind = kind.lower()
    if kind == "sse-kms":
        if len(args) != 2:
            raise UsageError("encrypt set sse-kms KEY_ID ALIAS/bucket")
        key_id, target = args
        cfg = EncryptionConfig("aws:kms", key_id, bucket_key)
    else:
        if len(args) != 1:
            raise UsageError("encrypt set sse-s3 ALIAS/bucket")
        target, cfg = args[0], EncryptionConfig("AES256")
    t = remote(target)
    _bucket(t).set_encryption(cfg)
    out.emit({"bucket": t.bucket, **_plain(asdict(cfg))},
             f"Default encryption of {t}: {cfg.algorithm}{' key ' + cfg.kms_key_id if cfg.kms_key_id else ''}")


@encrypt_group.command("info")
@click.argument("target")
@command
def encrypt_info(out: Output, target: str) -> None:
    """Show the default encryption of ALIAS/bucket."""
    t = remote(target)
    cfg = _bucket(t).get_encryption()
    if cfg is None:
        out.emit({"bucket": t.bucket, "algorithm": None}, f"{t}: no default encryption")
        return
    out.emit({"bucket": t.bucket, **_plain(asdict(cfg))},
             f"{t}: {cfg.algorithm}{' key ' + cfg.kms_key_id if cfg.kms_key_id else ''}"
             f"{' (bucket key)' if cfg.bucket_key_enabled else ''}")


@encrypt_group.command("clear")
@click.argument("target")
@command
def encrypt_clear(out: Output, target: str) -> None:
    """Remove the default encryption (objects already stored stay as they are)."""
    t = remote(target)
    _bucket(t).delete_encryption()
    out.emit({"bucket": t.bucket, "algorithm": None}, f"Default encryption removed from {t}")


# --- cors ------------------------------------------------------------------------------------------


@click.group("cors")
def cors_group() -> None:
    """CORS rules: which web origins may call the bucket from a browser."""


def _cors_from_json(text: str) -> list[CorsRule]:
    """aws's shape ({"CORSRules": [{"AllowedOrigins": [...], ...}]}) or a bare list of such rules."""
    doc = json.loads(text)
    rows = doc.get("CORSRules", []) if isinstance(doc, dict) else doc
    return [CorsRule(allowed_origins=r["AllowedOrigins"], allowed_methods=r["AllowedMethods"],
                     allowed_headers=r.get("AllowedHeaders", []), expose_headers=r.get("ExposeHeaders", []),
                     max_age_seconds=r.get("MaxAgeSeconds"), id=r.get("ID")) for r in rows]


def _cors_to_json(rules: list[CorsRule]) -> dict[str, Any]:
    out = []
    for r in rules:
        row: dict[str, Any] = {"AllowedOrigins": list(r.allowed_origins), "AllowedMethods": list(r.allowed_methods)}
        if r.allowed_headers:
            row["AllowedHeaders"] = list(r.allowed_headers)
        if r.expose_headers:
            row["ExposeHeaders"] = list(r.expose_headers)
        if r.max_age_seconds is not None:
            row["MaxAgeSeconds"] = r.max_age_seconds
        if r.id:
            row["ID"] = r.id
        out.append(row)
    return {"CORSRules": out}


@cors_group.command("set")
@click.argument("target")
@click.argument("source", required=False)
@click.option("--origin", "origins", multiple=True, help="Allowed origin (repeatable; * for any).")
@click.option("--method", "methods", multiple=True, help="Allowed method (repeatable), e.g. GET, PUT.")
@click.option("--header", "headers", multiple=True, help="Allowed request header (repeatable).")
@click.option("--expose", multiple=True, help="Response header exposed to scripts (repeatable).")
@click.option("--max-age", type=int, default=None, help="Seconds browsers may cache the preflight.")
@command
def cors_set(out: Output, target: str, source: str | None, origins: tuple[str, ...], methods: tuple[str, ...],
             headers: tuple[str, ...], expose: tuple[str, ...], max_age: int | None) -> None:
    """Replace the CORS rules: from SOURCE (aws JSON: {"CORSRules": [...]}, "-" for stdin) or one rule
    from --origin/--method/... flags."""
    t = remote(target)
    if source:
        try:
            rules = _cors_from_json(_read_doc(source))
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"not a CORS document: {exc}") from None
    elif origins and methods:
        rules = [CorsRule(list(origins), [m.upper() for m in methods], list(headers), list(expose), max_age)]
    else:
        raise UsageError("give SOURCE (a JSON file) or --origin and --method")
    _bucket(t).set_cors(rules)
    out.emit({"bucket": t.bucket, **_cors_to_json(rules)}, f"CORS of {t}: {len(rules)} rules")


@cors_group.command("get")
@click.argument("target")
@command
def cors_get(out: Output, target: str) -> None:
    """Print the CORS rules (aws JSON shape)."""
    t = remote(target)
    doc = _cors_to_json(_bucket(t).get_cors())
    out.emit({"bucket": t.bucket, **doc}, json.dumps(doc, indent=2))


@cors_group.command("remove")
@click.argument("target")
@command
def cors_remove(out: Output, target: str) -> None:
    """Remove every CORS rule."""
    t = remote(target)
    _bucket(t).delete_cors()
    out.emit({"bucket": t.bucket, "CORSRules": []}, f"CORS removed from {t}")


# --- website ---------------------------------------------------------------------------------------


@click.group("website")
def website_group() -> None:
    """Static website hosting of a bucket (index and error documents, or a redirect)."""


@website_group.command("set")
@click.argument("target")
@click.option("--index", "index_document", default=None, help="Index document, e.g. index.html.")
@click.option("--error", "error_document", default=None, help="Error document, e.g. 404.html.")
@click.option("--redirect-all", default=None, help="Redirect every request to this host name.")
@click.option("--protocol", default=None, type=click.Choice(["http", "https"]), help="With --redirect-all.")
@command
def website_set(out: Output, target: str, index_document: str | None, error_document: str | None,
                redirect_all: str | None, protocol: str | None) -> None:
    """Serve ALIAS/bucket as a website."""
    t = remote(target)
    if not index_document and not redirect_all:
        raise UsageError("give --index DOCUMENT or --redirect-all HOST")
    cfg = WebsiteConfig(index_document, error_document, redirect_all, protocol)
    _bucket(t).set_website(cfg)
    out.emit({"bucket": t.bucket, **_plain(asdict(cfg))},
             f"Website of {t}: " + (f"index {index_document}" + (f", error {error_document}" if error_document
                                                                   else "") if index_document
                                    else f"redirect to {redirect_all}"))


@website_group.command("get")
@click.argument("target")
@command
def website_get(out: Output, target: str) -> None:
    """Show the website configuration of ALIAS/bucket."""
    t = remote(target)
    cfg = _bucket(t).get_website()
    if cfg is None:
        out.emit({"bucket": t.bucket, "website": None}, f"{t}: not a website")
        return
    out.emit({"bucket": t.bucket, **_plain(asdict(cfg))},
             f"{t}: index {cfg.index_document or '-'}, error {cfg.error_document or '-'}"
             + (f", redirect all to {cfg.redirect_all_to}" if cfg.redirect_all_to else "")
             + (f", {len(cfg.routing_rules)} routing rules" if cfg.routing_rules else ""))


@website_group.command("remove")
@click.argument("target")
@command
def website_remove(out: Output, target: str) -> None:
    """Stop serving ALIAS/bucket as a website."""
    t = remote(target)
    _bucket(t).delete_website()
    out.emit({"bucket": t.bucket, "website": None}, f"Website removed from {t}")
