"""AIStore bucket endpoints: `/v1/buckets[/{bucket}]` with JSON action messages.

- POST  {"action": "create-bck"}                      create the bucket (409 when it exists)
- POST  {"action": "copy-listrange", "value": {...}}  copy a list/template of objects to "tobck"
- DELETE {"action": "destroy-bck"}                    remove the bucket and everything in it
- DELETE {"action": "delete-listrange", "value": {...}} delete a list ("objnames") or a "template"
- GET   {"action": "list", "value": {prefix, pagesize, continuation_token, props, start_after}}
  a page of the listing, as MessagePack when the client accepts it (the SDK does), else JSON;
  on `/v1/buckets` the bucket list.
- HEAD  the bucket's properties (404 when it does not exist).

Multi-object operations finish before the answer; the answer is a job id, as AIStore's is.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from coffer.protocol.msgpack import packb
from coffer.server.http.ais.front import AisCtx, AisError, ais_handles
from coffer.server.meta.model import ObjectEntry
from coffer.server.service.compat import ais_job_ids as ais_jobs
from coffer.server.service.objects.multiobj import Selection

MAX_PAGE = 10_000  # AIStore's default (and largest) page for its own buckets

_PROPS_HEADER = "Ais-Bucket-Props"


def job_id(ctx: AisCtx) -> str:
    """A signed job id carrying its end time: Coffer's multi-object jobs are finished when their id
    is answered, so a job's status needs no stored state (`service/compat/ais_job_ids.py`)."""
    return ais_jobs.new_job_id(_job_key(ctx), ctx.who.user_id)


def _job_key(ctx: AisCtx) -> bytes:
    return ais_jobs.derive_key(ctx.svc.tokens.key)


def _selection(value: object) -> Selection:
    if not isinstance(value, dict):
        raise AisError(400, "the action needs a value with 'objnames' or 'template'")
    names, template = value.get("objnames"), value.get("template")
    if names is not None and template:
        raise AisError(400, "give either 'objnames' or 'template', not both")
    if template:
        if not isinstance(template, str):
            raise AisError(400, "'template' must be a string")
        sel = Selection(template=template)
    elif isinstance(names, list) and names and all(isinstance(n, str) and n for n in names):
        sel = Selection(names=names)
    else:
        raise AisError(400, "'objnames' must be a non-empty list of object names, or give a 'template'")
    sel.validate()
    return sel


def _need_bucket(ctx: AisCtx) -> None:
    if not ctx.bucket:
        raise AisError(400, "expecting /v1/buckets/BUCKET")


async def _bucket_action(ctx: AisCtx) -> tuple[dict, Any]:
    """A bucket request's ActionMsg and its action (POST and DELETE on /v1/buckets/BUCKET)."""
    _need_bucket(ctx)
    msg = await ctx.action()
    return msg, msg.get("action")


def _counted(ctx: AisCtx, done_header: str, done: int, skipped: int) -> web.Response:
    """A finished list/range job: its id (AIStore clients wait on it) and what it did, in headers."""
    return web.Response(status=200, text=job_id(ctx), headers={done_header: str(done), "Ais-Skipped": str(skipped)})


@ais_handles("POST", "buckets")
async def post_bucket(ctx: AisCtx) -> web.StreamResponse:
    msg, action = await _bucket_action(ctx)
    if action == "create-bck":
        await ctx.svc.buckets.create(ctx.who, ctx.bucket, None)
        return web.Response(status=200)
    if action == "copy-listrange":
        value = msg.get("value") or {}
        sel = _selection(value)
        to = value.get("tobck") or {}
        if not isinstance(to, dict) or not to.get("name"):
            raise AisError(400, "copy-listrange needs the destination bucket ('tobck')")
        if to.get("provider", "ais") not in ("ais", ""):
            raise AisError(400, f"provider {to.get('provider')!r} is not supported: Coffer's buckets are ais://")
        prepend = value.get("prepend") or ""
        out = await ctx.svc.multi.copy(ctx.who, ctx.bucket, sel, str(to["name"]), str(prepend),
                                       continue_on_error=bool(value.get("coer")), dry_run=bool(value.get("dry_run")),
                                       request_id=ctx.rid)
        return _counted(ctx, "Ais-Copied", out.done, out.skipped)
    raise AisError(501, f"bucket action {action!r} is not supported by Coffer")


@ais_handles("DELETE", "buckets")
async def delete_bucket(ctx: AisCtx) -> web.StreamResponse:
    msg, action = await _bucket_action(ctx)
    if action == "destroy-bck":
        await ctx.svc.ais.destroy_bucket(ctx.who, ctx.bucket)
        return web.Response(status=200)
    if action == "delete-listrange":
        value = msg.get("value") or {}
        sel = _selection(value)
        out = await ctx.svc.multi.delete(ctx.who, ctx.bucket, sel, continue_on_error=True, request_id=ctx.rid)
        return _counted(ctx, "Ais-Deleted", out.done, out.skipped)
    raise AisError(501, f"bucket action {action!r} is not supported by Coffer")


@ais_handles("GET", "cluster")
async def job_status(ctx: AisCtx) -> web.StreamResponse:
    """`client.job(id).status()` (and `.wait()` for terminal kinds such as delete-listrange)."""
    if ctx.query.get("what") != "status":
        raise AisError(501, f"cluster query {ctx.query.get('what')!r} is not supported by Coffer")
    args = await ctx.action()
    jid = str(args.get("ID") or "")
    end = ais_jobs.job_end_ns(_job_key(ctx), jid, ctx.who.user_id)
    if end is None:  # never issued (or to someone else): unknown, never "finished"
        raise AisError(404, f"job {jid!r} not found")
    return web.Response(text=json.dumps({"uuid": jid, "err": "", "end_time": end, "aborted": False}),
                        content_type="application/json")


@ais_handles("HEAD", "buckets")
async def head_bucket(ctx: AisCtx) -> web.StreamResponse:
    _need_bucket(ctx)
    b = await ctx.svc.buckets.head(ctx.who, ctx.bucket)
    props = {"provider": "ais", "name": b.name, "created": int(b.created * 1e9), "owner": b.owner}
    return web.Response(status=200, headers={_PROPS_HEADER: json.dumps(props, separators=(",", ":"))})


def _encode(ctx: AisCtx, doc: object) -> web.Response:
    if "msgpack" in ctx.request.headers.get("Accept", ""):
        return web.Response(body=packb(doc), content_type="application/msgpack")
    return web.Response(text=json.dumps(doc), content_type="application/json")


@ais_handles("GET", "buckets")
async def get_bucket(ctx: AisCtx) -> web.StreamResponse:
    msg = await ctx.action()
    if msg and msg.get("action") not in ("list", None):
        raise AisError(501, f"bucket action {msg.get('action')!r} is not supported by Coffer")
    if not ctx.bucket:
        buckets = await ctx.svc.buckets.list(ctx.who)
        return web.Response(text=json.dumps([{"name": b.name, "provider": "ais"} for b in buckets]),
                            content_type="application/json")
    value = msg.get("value") or {}
    if not isinstance(value, dict):
        raise AisError(400, "the list action's value must be an object")
    prefix = str(value.get("prefix") or "")
    try:
        page_size = int(value.get("pagesize") or 0)
    except (TypeError, ValueError):
        raise AisError(400, "pagesize must be an integer") from None
    page_size = MAX_PAGE if page_size <= 0 else min(page_size, MAX_PAGE)
    after = value.get("continuation_token") or value.get("start_after") or None
    props = {p.strip() for p in str(value.get("props") or "name,size").split(",")}
    page = await ctx.svc.objects.list(ctx.who, ctx.bucket, prefix, None, after, page_size)
    entries = []
    for e in page.entries:
        if not isinstance(e, ObjectEntry):
            continue
        d: dict = {"n": e.key, "s": e.size}
        if "checksum" in props:
            d["cs"] = e.etag
        if "atime" in props:
            d["a"] = time.strftime("%d %b %y %H:%M %Z", time.gmtime(e.last_modified))
        if "version" in props:
            d["v"] = e.etag
        if "copies" in props:
            d["c"] = 1
        entries.append(d)
    token = page.next_marker if page.truncated and page.next_marker else ""
    # A listing "job" id: AIStore's iterators stop only after they have seen a non-empty one.
    uuid = str(value.get("uuid") or "") or job_id(ctx)
    return _encode(ctx, {"UUID": uuid, "ContinuationToken": token, "Flags": 0, "Entries": entries})
