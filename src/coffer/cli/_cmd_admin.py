"""``coffer admin``: data administration of a running Coffer server, over its admin HTTP API.

Owns the client side of /_coffer/admin/v1/ (server side: server/http/admin/data.py): every
command is one signed request through the SDK's transport (the client CLI never imports the server),
made with the keys of an alias (``--alias NAME``, or ``COFFER_ALIAS``) or of the environment
(COFFER_ENDPOINT + keys, as for the SDK). The keys must be an admin user's (the root user).
Each command says what it does and what it found; ``--json`` prints the server's answer as is.
"""

from __future__ import annotations

import json
from typing import Any

import click

from coffer import CofferError
from coffer.cli import _aliases
from coffer.cli._aliases import tls_config
from coffer.cli._output import Output, UsageError, command, human_size
from coffer.sdk._client import Client
from coffer.sdk._config import ClientConfig

PREFIX = "admin/v1/"


# A check, scrub, rebuild or drain answers when it is done: on a large server that can take hours.
_SLOW = ClientConfig(read_timeout=24 * 3600.0, max_attempts=1)


def admin_client(alias: str | None) -> Client:
    if alias:
        found = _aliases.load().get(alias)
        if found is None:
            raise UsageError(f"no alias {alias!r} (see coffer alias ls)")
        return Client(found.url, found.access_key, found.secret_key, found.region, config=tls_config(_SLOW))
    return Client.from_env(config=tls_config(_SLOW))


def call(alias: str | None, method: str, name: str, **query: Any) -> dict:
    """One admin request; the JSON answer as a dict (errors raise the SDK's typed errors)."""
    client = admin_client(alias)
    try:
        q = {k: str(v) for k, v in query.items() if v is not None}
        resp = client._transport.request(method, "_coffer", PREFIX + name, query=q or None, retries=False)
        return json.loads(resp.data or b"{}")
    finally:
        client.close()


@click.group("admin")
@click.option("--alias", "-a", envvar="COFFER_ALIAS", default=None,
              help="Alias of the server (default: COFFER_ENDPOINT and keys from the environment).")
@click.pass_context
def admin_group(ctx: click.Context, alias: str | None) -> None:
    """Administer a running server's data: volumes, fragments, checks, repairs (admin keys needed)."""
    ctx.obj = alias


def admin_alias_name() -> str | None:
    return click.get_current_context().obj


@admin_group.command("volumes")
@command
def volumes(out: Output) -> None:
    """Show every volume: state, capacity, usage, error counts."""
    r = call(admin_alias_name(), "GET", "volumes")
    if out.json:
        out.emit(r)
        return
    out.emit({}, f"default policy {r['default_policy']}, repair queue {r['repair_queue']}, "
                 f"scrub passes {r['scrub'].get('passes', 0)}")
    for v in r["volumes"]:
        used = f"{human_size(v['used'])}/{human_size(v['capacity'])}" if v["capacity"] else "-"
        errs = ",".join(f"{k}={n}" for k, n in v["errors"].items()) or "no errors"
        state = v["state"] + (" (draining)" if v["draining"] else "")
        out.emit({}, f"{v['uuid']}  {state:<10} {used:>20}  {errs}  {v['path']}"
                     + (f"  last error: {v['last_error']}" if v["last_error"] else ""))


@admin_group.command("locate")
@click.argument("bucket")
@click.argument("key")
@command
def locate(out: Output, bucket: str, key: str) -> None:
    """Where an object's fragments are: volume, path, size, checksum, status (every block verified)."""
    r = call(admin_alias_name(), "GET", "locate", bucket=bucket, key=key)
    if out.json or r["inline"]:
        out.emit(r, f"{bucket}/{key}: {r['size']} bytes, inline in the metadata (no fragments)")
        return
    for seg in r["segments"]:
        out.emit({}, f"segment {seg['ref']} ({seg['size']} bytes) {seg['policy']}: {seg['state']}, "
                     f"{seg['good']}/{seg.get('width', '?')} good fragments")
        for f in sorted(seg["fragments"], key=lambda f: f["index"]):
            out.emit({}, f"  #{f['index']:<2} {f['status']:<9} {f['size']:>10}  {f['volume']}  {f['path']}")


@admin_group.command("check")
@click.argument("bucket")
@click.argument("key", required=False)
@click.option("--trust", type=click.IntRange(0, 2), default=1, show_default=True,
              help="0: metadata only; 1: fragments present; 2: fragments read and verified.")
@command
def check(out: Output, bucket: str, key: str | None, trust: int) -> None:
    """Check a bucket (or one object) at a trust level; degraded objects are queued for repair."""
    what = ("metadata only", "fragments present, headers valid", "every fragment read and its blocks verified")
    out.note(f"checking {bucket}/{key or '*'}: {what[trust]}...")
    r = call(admin_alias_name(), "POST", "check", bucket=bucket, key=key, trust=trust)
    out.emit(r, f"checked {r['objects']} object(s) in {bucket} at trust {trust}: {r['healthy']} healthy, "
                f"{r['degraded']} degraded (queued for repair), {r['lost']} lost")
    if not out.json:
        for p in r["problems"]:
            out.emit({}, f"  {p['state']:<9} {p['key']}  {json.dumps(p['detail'])}")
    if r["lost"]:
        raise click.exceptions.Exit(1)


@admin_group.command("repair")
@click.argument("bucket")
@click.argument("key")
@command
def repair(out: Output, bucket: str, key: str) -> None:
    """Verify every fragment of an object and rebuild the missing or damaged ones now."""
    out.note(f"repairing {bucket}/{key}: verifying every fragment, rebuilding what is missing or damaged...")
    r = call(admin_alias_name(), "POST", "repair", bucket=bucket, key=key)
    for seg in r["segments"]:
        out.emit({"bucket": bucket, "key": key, **seg},
                 f"{seg['ref']}: {seg['status']}; rebuilt {len(seg.get('rebuilt', []))} fragment(s)"
                 + (f", could not place {seg['unrepaired']}" if seg.get("unrepaired") else ""))


@admin_group.command("rebuild")
@click.option("--volume", "volume", required=True, help="The lost volume: its path or uuid.")
@command
def rebuild(out: Output, volume: str) -> None:
    """Recreate everything that lived on a lost volume (an empty directory at its path becomes its
    replacement)."""
    out.note(f"rebuilding what lived on {volume} (this reads every segment's fragment headers)...")
    r = call(admin_alias_name(), "POST", "rebuild", volume=volume)
    out.emit(r, f"rebuild {r['path']}: checked {r['checked']} segment(s), rebuilt {r['rebuilt']} fragment(s)"
                + (f"; new volume {r['volume']} replaces {r['replaced']}" if r["replaced"] else "")
                + (f"; {len(r['unrepaired'])} not fully repaired" if r["unrepaired"] else "")
                + (f"; {len(r['lost'])} LOST" if r["lost"] else ""))


@admin_group.command("drain")
@click.option("--volume", "volume", required=True, help="The volume to empty: its path or uuid.")
@command
def drain(out: Output, volume: str) -> None:
    """Move every fragment off a volume, then remove it from the server."""
    out.note(f"draining {volume}: no new data goes there; moving its fragments to the other volumes...")
    r = call(admin_alias_name(), "POST", "drain", volume=volume)
    out.emit(r, f"drain {r['path']}: moved {r['moved']}, rebuilt elsewhere {r['repaired']}, stuck {len(r['stuck'])}"
                + ("; the volume is no longer used (remove its --volume)" if r["forgotten"] else ""))


@admin_group.command("vacuum")
@click.option("--grace", type=click.IntRange(0), default=3600, show_default=True,
              help="Leave files younger than this many seconds (writes in progress).")
@command
def vacuum(out: Output, grace: int) -> None:
    """Remove temporary files and data no object refers to (orphans of crashes)."""
    r = call(admin_alias_name(), "POST", "vacuum", grace=grace)
    out.emit(r, f"removed {r['temporary_files']} temporary file(s), {r['orphans']} orphaned segment(s), "
                f"{r['stale_queue_entries']} stale repair-queue entries")


@admin_group.command("scrub")
@command
def scrub(out: Output) -> None:
    """Run (or resume) a scrub pass now: verify every fragment, repair what is damaged."""
    out.note("scrubbing: reading and verifying every fragment on every volume, repairing damage...")
    r = call(admin_alias_name(), "POST", "scrub")
    stats = r.get("last_stats", {})
    out.emit(r, "another scrub is running" if r.get("busy") else
             f"scrub pass {r['passes']} done: {stats.get('checked', 0)} segment(s) checked, "
             f"{stats.get('repaired', 0)} repaired, {stats.get('lost', 0)} lost")


@admin_group.command("heal")
@command
def heal(out: Output) -> None:
    """Repair everything in the repair queue now."""
    r = call(admin_alias_name(), "POST", "heal")
    out.emit(r, f"healed {len(r['healed'])} queued segment(s)")


@admin_group.command("storage-policy")
@click.argument("bucket")
@click.argument("policy", required=False)
@command
def storage_policy(out: Output, bucket: str, policy: str | None) -> None:
    """Set a bucket's default storage policy (SINGLE, REPLICA-N, EC-K+M); no POLICY clears it."""
    r = call(admin_alias_name(), "PUT" if policy else "DELETE", "storage-policy", bucket=bucket, policy=policy)
    out.emit(r, f"{bucket}: default storage policy {r['storage_policy'] or 'cleared (server default)'}")


# the former name of storage-policy (it sets a storage policy, not an access policy), kept for scripts
admin_group.add_command(click.Command("bucket-policy", params=storage_policy.params, callback=storage_policy.callback,
                                      help=storage_policy.help, hidden=True))


@admin_group.command("info")
@command
def info(out: Output) -> None:
    """The server at a glance: product and version, users, buckets, objects and bytes, volumes."""
    client = admin_client(admin_alias_name())
    try:
        resp = client._transport.request("GET", None, retries=False)  # ListBuckets: answers with Server
        server = resp.headers.get("Server") or resp.headers.get("server") or "?"
        admin = client.admin
        users = admin.list_users()
        buckets = admin.list_buckets()
        used_bytes = used_objects = 0
        for u in users:
            usage = admin.get_quota(u["id"]).get("usage", {})
            used_bytes += int(usage.get("bytes", 0))
            used_objects += int(usage.get("objects", 0))
    finally:
        client.close()
    try:
        vols = call(admin_alias_name(), "GET", "volumes")
    except CofferError:
        vols = {}
    volumes = vols.get("volumes", [])
    online = sum(1 for v in volumes if v.get("state") == "online")
    record = {"endpoint": client.endpoint, "server": server, "users": len(users), "buckets": len(buckets),
              "objects": used_objects, "bytes": used_bytes, "volumes": len(volumes), "volumes_online": online,
              "default_policy": vols.get("default_policy"), "repair_queue": vols.get("repair_queue")}
    lines = [f"Endpoint : {client.endpoint}", f"Server   : {server}", f"Users    : {len(users)}",
             f"Buckets  : {len(buckets)}", f"Stored   : {human_size(used_bytes)} in {used_objects} objects"]
    if volumes:
        lines.append(f"Volumes  : {online}/{len(volumes)} online, policy {vols.get('default_policy')}, "
                     f"repair queue {vols.get('repair_queue')}")
    else:
        lines.append("Volumes  : one data folder (no --volume)")
    out.emit(record, "\n".join(lines))


@admin_group.group("node")
def node_group() -> None:
    """Storage nodes of a cluster: list them, drain one, declare one out."""


@node_group.command("list")
@command
def node_list(out: Output) -> None:
    """Every storage node: state, zone, address, seconds since its last heartbeat, volumes."""
    r = call(admin_alias_name(), "GET", "nodes")
    if out.json:
        out.emit(r)
        return
    out.emit({}, f"layout generation {r['generation']}, default policy {r['default_policy']}")
    for n in r["nodes"]:
        online = sum(1 for v in n["volumes"] if v["state"] == "online")
        state = n["state"] + (" SUSPECT" if n["suspect"] else "")
        out.emit({}, f"{n['id']:<20} {state:<16} zone {n['zone'] or '-':<8} {n['address']:<22} "
                     f"seen {n['age']:.1f} s ago  volumes {online}/{len(n['volumes'])} online")
        for v in n["volumes"]:
            if v.get("weight", 1.0) != 1.0:
                out.emit({}, f"  volume {v['uuid']} weight {v['weight']:g}")


@node_group.command("drain")
@click.argument("node")
@command
def node_drain(out: Output, node: str) -> None:
    """Stop writing to NODE and move its fragments to the other nodes (it keeps serving reads)."""
    out.note(f"draining {node}: no new data goes there; moving its fragments to the other nodes...")
    r = call(admin_alias_name(), "POST", "node-drain", node=node)
    out.emit(r, f"drain {node}: moved {r['moved']}, rebuilt elsewhere {r['repaired']}, stuck {len(r['stuck'])}"
                + ("; it holds nothing now and can be stopped" if not r["stuck"] else ""))


@node_group.command("out")
@click.argument("node")
@command
def node_out(out: Output, node: str) -> None:
    """Declare NODE gone for good: nothing is read from it and what it held is rebuilt on the others."""
    r = call(admin_alias_name(), "POST", "node-out", node=node)
    out.emit(r, f"{node} is out: {r['queued']} of {r['checked']} segment(s) queued for rebuild"
                + (f", {r['lost']} LOST" if r["lost"] else ""))
