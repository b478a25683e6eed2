"""The data-administration resources of the admin API (/_coffer/admin/v1/) and data health endpoints.

Owns the wire form of service/storage/admin.py. The admin API's front (http/admin/front.py, AdminFront: SigV4 or V2
signatures, admin users only, JSON answers, S3 XML errors) routes these resource names here through
``admin_route``; their parameters are in the query string:

    GET  volumes                        state, capacity, usage, error counts of every volume
    GET  locate?bucket=B&key=K          fragments of an object: volume, path, size, checksum, status
    GET  check?bucket=B[&key=K]&trust=N metadata only (0) / fragments present (1) / read and verified (2)
    POST repair?bucket=B&key=K          verify and rebuild an object's fragments now
    POST rebuild?volume=V               recreate everything that lived on a lost volume
    POST drain?volume=V                 move every fragment off a volume, then forget it
    POST vacuum[?grace=SECONDS]         remove temporary files and unreferenced data
    POST scrub                          run (or resume) a scrub pass to its end, unthrottled
    POST heal                           repair everything in the repair queue now
    PUT  storage-policy?bucket=B&policy=P  a bucket's default storage policy (DELETE: clear it)
    PUT  bucket-policy?bucket=B&policy=P   the former name of storage-policy, still answered
    GET  backup                         a consistent snapshot of the metadata database (SQLite file)
    GET  nodes                          storage nodes of the cluster map: state, age, suspect, volumes
    POST rebalance                      move fragments to where placement wants them now (a node joined)
    POST node-drain?node=N              stop writing to a node and move its fragments to the others
    POST node-out?node=N                declare a node gone: queue the rebuild of what it held
    POST node-active?node=N             back to normal (after a drain that was cancelled)

Health (no signature, nothing secret: volumes by uuid, never by path; each worker probes its volumes
every few seconds in the background, runner.probe_volumes): ``/health/data`` is JSON {status: ok | degraded | failed,
volumes: [...]} with 200 unless writes are impossible (503); ``/health/metrics`` is the Prometheus
text format (volume states, errors, capacity, repair queue, scrub progress).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.data.volumes.volume import VolumeState
from coffer.server.http.admin.front import AdminRequest, admin_route
from coffer.server.metrics import render as render_metrics
from coffer.server.service import Service
from coffer.server.service.storage.admin import DataAdmin

_GET = {"volumes", "locate", "check", "nodes"}
_POST = {"repair", "rebuild", "drain", "vacuum", "scrub", "heal", "check", "rebalance", "node-drain", "node-out",
         "node-active"}


def _json(value: object, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(value, indent=1, default=str) + "\n",
                        content_type="application/json")


def _method() -> S3Error:
    return S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.")


def _arg(query: dict[str, str], name: str) -> str:
    value = query.get(name)
    if not value:
        raise S3Error("InvalidArgument", f"missing query parameter {name!r}", ArgumentName=name)
    return value


def _resource(name: str):
    async def handle(r: AdminRequest) -> Any:
        DataAdmin.require(r.who)
        if r.parts or not ((r.method == "GET" and name in _GET) or (r.method == "POST" and name in _POST)):
            raise _method()
        return await _call(r.svc.data_admin, name, r)

    return handle


for _name in sorted(_GET | _POST):
    admin_route(_name)(_resource(_name))


@admin_route("bucket-policy")  # the former name (not an access policy: see service/access/bucket_policy.py)
@admin_route("storage-policy")
async def bucket_storage_policy(r: AdminRequest) -> Any:
    DataAdmin.require(r.who)
    if r.parts or r.method not in ("PUT", "DELETE"):
        raise _method()
    policy = _arg(r.query, "policy") if r.method == "PUT" else None
    return await r.svc.data_admin.bucket_storage_policy(_arg(r.query, "bucket"), policy)


@admin_route("backup")
async def backup(r: AdminRequest) -> web.StreamResponse:
    """The metadata database as of one commit, streamed as an SQLite file (`coffer admin backup`)."""
    DataAdmin.require(r.who)
    if r.parts or r.method != "GET":
        raise _method()
    folder = Path(getattr(r.svc.core.meta, "path", Path(tempfile.gettempdir()))).parent
    fd, name = tempfile.mkstemp(prefix=".backup-", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        await DataAdmin(r.svc.core).backup(tmp)
        f = open(tmp, "rb")  # noqa: SIM115 - closed below, after the last chunk went out
    finally:
        tmp.unlink(missing_ok=True)  # the open file stays readable; nothing is left behind
    loop = asyncio.get_running_loop()
    try:
        size = os.fstat(f.fileno()).st_size
        resp = web.StreamResponse(headers={"Content-Type": "application/vnd.sqlite3"})
        resp.content_length = size
        await resp.prepare(r.request)
        while chunk := await loop.run_in_executor(None, f.read, 1 << 20):
            await resp.write(chunk)
        await resp.write_eof()
        return resp
    finally:
        f.close()


async def _call(admin: DataAdmin, name: str, r: AdminRequest) -> dict:
    q = r.query
    if name == "volumes":
        return await admin.volumes()
    if name == "locate":
        return await admin.locate(_arg(q, "bucket"), _arg(q, "key"))
    if name == "check":
        return await admin.check(_arg(q, "bucket"), q.get("key") or None, r.int_arg("trust", 1, lo=None))
    if name == "repair":
        return await admin.repair(_arg(q, "bucket"), _arg(q, "key"))
    if name == "rebuild":
        return await admin.rebuild(_arg(q, "volume"))
    if name == "drain":
        return await admin.drain(_arg(q, "volume"))
    if name == "vacuum":
        return await admin.vacuum(float(r.int_arg("grace", 3600, lo=None)))
    if name == "scrub":
        return await admin.scrub()
    if name == "rebalance":
        return await admin.rebalance()
    if name == "nodes":
        return await admin.nodes()
    if name == "node-drain":
        return await admin.node_drain(_arg(q, "node"))
    if name == "node-out":
        return await admin.node_out(_arg(q, "node"))
    if name == "node-active":
        return await admin.node_active(_arg(q, "node"))
    return await admin.heal()


# -- health and metrics ------------------------------------------------------------------------------
def health(service: Service, path: str) -> web.Response | None:
    """``/health/data`` and ``/health/metrics``; None for any other path."""
    if path not in ("/health/data", "/health/metrics"):
        return None
    admin = service.core.data.volume_admin()
    h = admin.health() if admin is not None else {"status": "ok", "volumes": [], "repair_queue": 0, "scrub": {}}
    status, vols, queue, scrub = h["status"], h["volumes"], h["repair_queue"], h["scrub"]
    # no paths: these endpoints answer anyone (paths are for admins: `coffer admin volumes`)
    vols = [{k: v for k, v in vol.items() if k != "path"} for vol in vols]
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
            lines.append(f'coffer_volume_state{{volume="{v["uuid"]}",state="{st.value}"}} '
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


# -- /metrics (Prometheus, every worker's counters: server/metrics.py) ---------------------------------
async def scrape_state(service) -> dict[str, Any]:
    """What /metrics reads at scrape time: queue depths, volume health, free space."""
    core = service.core
    state: dict[str, Any] = {}
    depth = getattr(core.meta, "event_queue_depth", None)
    if depth is not None:
        state["events"] = await depth()
    admin = core.data.volume_admin()
    if admin is not None:
        h = await core.run(admin.health)
        state.update(repairs=h["repair_queue"], status=h["status"], volumes=h["volumes"])
    try:  # the position of an unfinished pass, in the metadata (shared by the cluster's gateways)
        state["lifecycle"] = int(await service.lifecycle.pass_pending())
    except Exception:
        pass
    try:
        st = os.statvfs(Path(getattr(core.data, "root", ".")))
        state["disk_free"] = st.f_bavail * st.f_frsize
    except OSError:
        pass
    return state


async def metrics_response(service, cfg, request: web.BaseRequest) -> web.Response:
    """GET /metrics: the Prometheus text format; with --metrics-token, only for `Bearer <token>`."""
    if cfg.metrics_token and not hmac.compare_digest(request.headers.get("Authorization", "").encode(),
                                                     f"Bearer {cfg.metrics_token}".encode()):
        return web.Response(status=401, text="GET /metrics needs Authorization: Bearer <metrics token>\n",
                            headers={"WWW-Authenticate": 'Bearer realm="coffer-metrics"'})
    body, content_type = render_metrics(await scrape_state(service))
    resp = web.Response(body=body)
    resp.headers["Content-Type"] = content_type
    return resp
