"""AIStore's GetBatch (`GET /v1/ml/moss[/{bucket}]`, "MOSS"): many objects in one tar stream, for the
AIStore SDK's `client.batch(...).get()`.

The request body is AIStore's MossReq: `{"in": [{"objname", "bucket"?}, ...], "mime": ".tar", "coer": bool,
"onob": bool, "strm": true}`. Coffer answers the streaming form (`strm`, the SDK's default) as a plain tar:
one member per entry, in order, named `<bucket>/<objname>` (`onob`: `<objname>`); with `coer` (continue on
error) an entry that cannot be read is an empty member under `__404__/` (AIStore's convention), without it
the answer stops there (the connection is cut, the SDK's tar reader fails). Not supported (answered
501 before any byte): the multipart form (`strm` false), other formats than tar, archive members
(`archpath`), byte ranges (`start`/`length`), other providers. The objects are read by the same service
as Coffer's own batch GET (`service.objects.batch_reads`: each key authorized on its own).
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

from aiohttp import web

from coffer.protocol import batch_tar as bt
from coffer.protocol.errors import S3Error
from coffer.server.http.ais.front import AisCtx, AisError, ais_handles
from coffer.server.http.common.gate import context_of
from coffer.server.http.common.tar_members import cut, open_tar, send_member
from coffer.server.service.objects.batch_reads import BatchEntry, BatchItem

MISSING_DIR = "__404__"
_UNSUPPORTED = ("archpath", "start", "length", "uname")


def _plan(doc: dict[str, Any], default_bucket: str) -> tuple[list[tuple[str, list[BatchItem]]], bool, bool]:
    """Runs of consecutive entries of one bucket; continue-on-error; only-object-name."""
    if doc.get("strm") is False:
        raise AisError(501, "GetBatch: only the streaming form (strm) is supported by Coffer")
    if doc.get("mime") not in (None, "", ".tar", "tar"):
        raise AisError(501, f"GetBatch: output format {doc['mime']!r} is not supported by Coffer (tar only)")
    entries = doc.get("in")
    if not isinstance(entries, list) or not entries:
        raise AisError(400, "GetBatch: 'in' must be a non-empty list")
    runs: list[tuple[str, list[BatchItem]]] = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("objname"), str) or not e["objname"]:
            raise AisError(400, f"GetBatch: in[{i}] needs an 'objname'")
        if any(e.get(k) for k in _UNSUPPORTED):
            raise AisError(501, f"GetBatch: in[{i}]: archpath, byte ranges and uname are not supported by Coffer")
        if e.get("provider") not in (None, "", "ais"):
            raise AisError(400, f"GetBatch: provider {e['provider']!r} is not supported: Coffer's buckets are ais://")
        bucket = e.get("bucket") or default_bucket
        if not isinstance(bucket, str) or not bucket:
            raise AisError(400, f"GetBatch: in[{i}] names no bucket")
        if runs and runs[-1][0] == bucket:
            runs[-1][1].append(BatchItem(e["objname"]))
        else:
            runs.append((bucket, [BatchItem(e["objname"])]))
    return runs, bool(doc.get("coer")), bool(doc.get("onob"))


@ais_handles("GET", "ml")
async def get_batch(ctx: AisCtx) -> web.StreamResponse:
    runs, coer, onob = _plan(await ctx.action(), ctx.bucket)
    buckets = {b: await ctx.svc.batch.open(b, items) for b, items in runs}  # NoSuchBucket before any byte
    resp = await open_tar(ctx.request)
    try:
        for name, items in runs:
            entries = ctx.svc.batch.entries(ctx.who, buckets[name], items, lambda: context_of(ctx.request, {}))
            async with aclosing(entries) as it:
                async for entry in it:
                    member = entry.item.key if onob else f"{name}/{entry.item.key}"
                    if not await _send(resp, entry, member):
                        if not coer:
                            raise S3Error(entry.error.code if entry.error else "InternalError", "batch entry failed")
                        await resp.write(bt.member_header(f"{MISSING_DIR}/{member}", 0, 0, {}))
        await resp.write(bt.end_of_archive())
    except S3Error as e:
        raise cut(ctx.request, e, "GetBatch answer") from e
    await resp.write_eof()
    return resp


async def _send(resp: web.StreamResponse, entry: BatchEntry, member: str) -> bool:
    """Write one object's member; False (nothing written) when it cannot be read."""
    rec = entry.record
    if entry.error is not None or rec is None:
        return False
    return await send_member(resp, entry, bt.member_header(member, rec.size, rec.last_modified, {})) is None
