"""The data-administration HTTP API under /_coffer/admin/v1/ and the data health endpoints.

Owns the wire form of service/admin.py: every admin request is SigV4 (or V2) signed like any S3
request and must come from an admin user; parameters are in the query string; answers are JSON
(errors are S3 XML error documents, as everywhere else, so every S3 client library parses them).

    GET  volumes                        state, capacity, usage, error counts of every volume
    GET  locate?bucket=B&key=K          fragments of an object: volume, path, size, checksum, status
    GET  check?bucket=B[&key=K]&trust=N metadata only (0) / fragments present (1) / read and verified (2)
    POST repair?bucket=B&key=K          verify and rebuild an object's fragments now
    POST rebuild?volume=V               recreate everything that lived on a lost volume
    POST drain?volume=V                 move every fragment off a volume, then forget it
    POST vacuum[?grace=SECONDS]         remove temporary files and unreferenced data
    POST scrub                          run (or resume) a scrub pass to its end, unthrottled
    POST heal                           repair everything in the repair queue now
    PUT  bucket-policy?bucket=B&policy=P  a bucket's default storage policy (DELETE: clear it)

Other admin resources (users, keys, quotas) are someone else's: ``handles`` claims only these names,
so another dispatcher for the same prefix can sit next to this one.

Health (no signature, nothing secret): ``/health/data`` is JSON {status: ok | degraded | failed,
volumes: [...]} with 200 unless writes are impossible (503); ``/health/metrics`` is the Prometheus
text format (volume states, errors, capacity, repair queue, scrub progress).
"""

from __future__ import annotations

import json

from aiohttp import web

from coffer.protocol.errors import S3Error

from ..data.volstore import VolumeDataStore
from ..data.volumes import VolumeState
from ..service.admin import Admin
from .auth import parse_query
from .ids import HOST_ID
from .respond import error_response

PREFIX = "/_coffer/admin/v1/"
_GET = {"volumes", "locate", "check"}
_POST = {"repair", "rebuild", "drain", "vacuum", "scrub", "heal", "check"}
NAMES = _GET | _POST | {"bucket-policy"}


def handles(raw_path: str) -> bool:
    return raw_path.startswith(PREFIX) and raw_path[len(PREFIX):].split("?", 1)[0] in NAMES


def _json(value: object, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(value, indent=1, default=str) + "\n",
                        content_type="application/json")


async def dispatch(front, request: web.BaseRequest, rid: str) -> web.StreamResponse:
    raw_path, _, raw_query = request.raw_path.partition("?")
    query: dict[str, str] = {}
    for k, v in parse_query(raw_query):
        query.setdefault(k, v)
    try:
        who, _plan = await front.auth.authenticate(request.method, raw_path, raw_query, request.headers, query, None)
        Admin.require(who)
        admin = Admin(front.service.core)
        name = raw_path[len(PREFIX):]
        method = request.method
        if (method == "GET" and name in _GET) or (method == "POST" and name in _POST):
            return _json(await _call(admin, name, query))
        if name == "bucket-policy" and method in ("PUT", "DELETE"):
            policy = _arg(query, "policy") if method == "PUT" else None
            return _json(await admin.bucket_policy(_arg(query, "bucket"), policy))
        raise S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.",
                      Method=method, ResourceType=name)
    except S3Error as e:
        return error_response(e, rid, HOST_ID, raw_path, request.method == "HEAD")


def _arg(query: dict[str, str], name: str) -> str:
    value = query.get(name)
    if not value:
        raise S3Error("InvalidArgument", f"missing query parameter {name!r}", ArgumentName=name)
    return value


def _int(query: dict[str, str], name: str, default: int) -> int:
    try:
        return int(query.get(name, default))
    except ValueError:
        raise S3Error("InvalidArgument", f"{name} must be an integer", ArgumentName=name) from None


async def _call(admin: Admin, name: str, q: dict[str, str]) -> dict:
    if name == "volumes":
        return await admin.volumes()
    if name == "locate":
        return await admin.locate(_arg(q, "bucket"), _arg(q, "key"))
    if name == "check":
        return await admin.check(_arg(q, "bucket"), q.get("key") or None, _int(q, "trust", 1))
    if name == "repair":
        return await admin.repair(_arg(q, "bucket"), _arg(q, "key"))
    if name == "rebuild":
        return await admin.rebuild(_arg(q, "volume"))
    if name == "drain":
        return await admin.drain(_arg(q, "volume"))
    if name == "vacuum":
        return await admin.vacuum(float(_int(q, "grace", 3600)))
    if name == "scrub":
        return await admin.scrub()
    return await admin.heal()


# -- health and metrics ------------------------------------------------------------------------------
def health(front, path: str) -> web.Response | None:
    """``/health/data`` and ``/health/metrics``; None for any other path."""
    if path not in ("/health/data", "/health/metrics"):
        return None
    data = front.service.core.data
    vols: list[dict] = []
    queue = 0
    scrub: dict = {}
    if isinstance(data, VolumeDataStore):
        data.refresh()
        queue = len(data.queued())
        try:
            scrub = json.loads((data.heal_dir / "scrub.json").read_text())
        except (OSError, ValueError):
            scrub = {}
        for v in data.volumes:
            cap = v.capacity() if v.state is not VolumeState.OFFLINE else None
            vols.append({"uuid": v.uuid, "path": str(v.path), "state": v.state.value, "errors": dict(v.errors),
                         "capacity": cap.total if cap else 0, "free": cap.free if cap else 0})
        writable = sum(1 for v in data.volumes if v.writable)
        quorum = data.default_policy().write_quorum
        status = "ok" if writable == len(vols) and not queue else ("degraded" if writable >= quorum else "failed")
    else:
        status = "ok"
    if path == "/health/data":
        body = {"status": status, "volumes": vols, "repair_queue": queue}
        return _json(body, 503 if status == "failed" else 200)
    return web.Response(text=_metrics(status, vols, queue, scrub), content_type="text/plain")


def _metrics(status: str, vols: list[dict], queue: int, scrub: dict) -> str:
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    lines = [
        "# HELP coffer_data_degraded 1 when a volume is not online or repairs are pending.",
        "# TYPE coffer_data_degraded gauge",
        f"coffer_data_degraded {0 if status == 'ok' else 1}",
        "# HELP coffer_repair_queue_length Segments waiting for repair.",
        "# TYPE coffer_repair_queue_length gauge",
        f"coffer_repair_queue_length {queue}",
        "# HELP coffer_volume_state 1 for the volume's current state.",
        "# TYPE coffer_volume_state gauge",
    ]
    for v in vols:
        for st in VolumeState:
            lines.append(f'coffer_volume_state{{volume="{v["uuid"]}",path="{esc(v["path"])}",state="{st.value}"}} '
                         f'{1 if v["state"] == st.value else 0}')
    lines += ["# HELP coffer_volume_errors_total I/O errors seen on the volume by this process.",
              "# TYPE coffer_volume_errors_total counter"]
    for v in vols:
        for err, n in sorted(v["errors"].items()):
            lines.append(f'coffer_volume_errors_total{{volume="{v["uuid"]}",error="{esc(err)}"}} {n}')
    lines += ["# TYPE coffer_volume_capacity_bytes gauge", "# TYPE coffer_volume_free_bytes gauge"]
    for v in vols:
        lines.append(f'coffer_volume_capacity_bytes{{volume="{v["uuid"]}"}} {v["capacity"]}')
        lines.append(f'coffer_volume_free_bytes{{volume="{v["uuid"]}"}} {v["free"]}')
    last = scrub.get("last_stats") or {}
    lines += ["# TYPE coffer_scrub_passes_total counter", f"coffer_scrub_passes_total {scrub.get('passes', 0)}",
              "# TYPE coffer_scrub_last_finished_seconds gauge",
              f"coffer_scrub_last_finished_seconds {scrub.get('finished', 0)}",
              "# TYPE coffer_scrub_last_repaired gauge", f"coffer_scrub_last_repaired {last.get('repaired', 0)}",
              "# TYPE coffer_scrub_last_lost gauge", f"coffer_scrub_last_lost {last.get('lost', 0)}"]
    return "\n".join(lines) + "\n"
