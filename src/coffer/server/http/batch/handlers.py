"""The batch GET, `POST /_coffer/batch/v1/get`: many objects of one bucket in one answer.

Request: a JSON object `{"bucket": "b", "objects": [{"key": "k", "version_id": "v"}, ...],
"continue_on_error": true}` (`objects` items may also be plain key strings; `version_id` is optional;
`continue_on_error` defaults to false). Answer: 200 and a pax tar stream (`coffer.protocol.batch_tar`,
docs/batch-get.md): one member per item, in order. A key that cannot be read is a member carrying the
error; without `continue_on_error` the archive ends after the first one. Problems with the request
itself (malformed JSON, unknown bucket, too many keys) are ordinary S3 XML errors before any byte.

The tar is written as it goes (records a chunk at a time, large objects streamed piece by piece), so
memory stays bounded whatever the batch holds. A large object's first piece is read before its
member header goes out: a read failing there becomes an error member; a failure further on (or a
client gone) aborts the connection: a client sees a tar without its end blocks, never wrong bytes.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

from aiohttp import web

from coffer.protocol import batch_tar as bt
from coffer.protocol.errors import S3Error
from coffer.server.http.common.body import read_json_object
from coffer.server.http.common.context import Ctx, handles
from coffer.server.http.common.gate import request_context
from coffer.server.http.common.tar_members import cut, open_tar, send_member
from coffer.server.meta.model import ObjectRecord
from coffer.server.service.objects.batch_reads import BatchEntry, BatchItem

MAX_BODY = 8 * 1024 * 1024  # 10,000 keys of up to 1 KiB, quoted


def parse_request(doc: dict[str, Any]) -> tuple[str, list[BatchItem], bool]:
    bucket = doc.get("bucket")
    if not isinstance(bucket, str) or not bucket:
        raise S3Error("InvalidArgument", "'bucket' must be a non-empty string.", ArgumentName="bucket")
    objects = doc.get("objects")
    if not isinstance(objects, list):
        raise S3Error("InvalidArgument", "'objects' must be a list.", ArgumentName="objects")
    items: list[BatchItem] = []
    for i, o in enumerate(objects):
        if isinstance(o, str):
            o = {"key": o}
        if not isinstance(o, dict):
            raise S3Error("InvalidArgument", f"objects[{i}] must be an object or a key.", ArgumentName="objects")
        key, version = o.get("key"), o.get("version_id")
        if not isinstance(key, str) or not key:
            raise S3Error("InvalidArgument", f"objects[{i}].key must be a non-empty string.", ArgumentName="key")
        if version is not None and (not isinstance(version, str) or not version):
            raise S3Error("InvalidArgument", f"objects[{i}].version_id must be a non-empty string.",
                          ArgumentName="version_id")
        unknown = set(o) - {"key", "version_id"}
        if unknown:
            raise S3Error("InvalidArgument", f"objects[{i}] has unknown field {sorted(unknown)[0]!r}.",
                          ArgumentName="objects")
        items.append(BatchItem(key, version))
    cont = doc.get("continue_on_error", False)
    if not isinstance(cont, bool):
        raise S3Error("InvalidArgument", "'continue_on_error' must be true or false.",
                      ArgumentName="continue_on_error")
    return bucket, items, cont


def records_of(rec: ObjectRecord) -> dict[str, str]:
    """The COFFER.* pax records of an object member."""
    out = {bt.ETAG: rec.etag, bt.CONTENT_TYPE: rec.content_type or "binary/octet-stream"}
    if rec.version_id is not None:
        out[bt.VERSION_ID] = rec.version_id
    if rec.checksums:
        out[bt.CHECKSUM_TYPE] = rec.checksum_type or "FULL_OBJECT"
        for algo, value in rec.checksums.items():
            out[bt.CHECKSUM + algo.lower()] = value
    for name, value in rec.user_meta.items():
        out["meta-" + name] = value
    return out


def error_member(entry: BatchEntry, err: S3Error) -> bytes:
    records = {bt.ERROR_CODE: err.code, bt.ERROR_MESSAGE: err.message, bt.ERROR_STATUS: str(err.status)}
    if entry.item.version_id is not None:
        records[bt.VERSION_ID] = entry.item.version_id
    return bt.member_header(entry.item.key, 0, 0, records)


@handles("BatchGet")
async def batch_get(ctx: Ctx) -> web.StreamResponse:
    bucket_name, items, cont = parse_request(await read_json_object(ctx.request, ctx.plan, MAX_BODY))
    ctx.request["bucket"] = bucket_name  # the access log's bucket
    bucket = await ctx.svc.batch.open(bucket_name, items)
    resp = await open_tar(ctx.request)
    try:
        async with aclosing(ctx.svc.batch.entries(ctx.who, bucket, items, lambda: request_context(ctx))) as entries:
            async for entry in entries:
                if not await _send(resp, entry) and not cont:
                    break
        await resp.write(bt.end_of_archive())
    except S3Error as e:
        raise cut(ctx.request, e, "batch answer") from e
    await resp.write_eof()
    return resp


async def _send(resp: web.StreamResponse, entry: BatchEntry) -> bool:
    """Write one member; False when it carried an error."""
    rec = entry.record
    if entry.error is not None or rec is None:
        await resp.write(error_member(entry, entry.error or S3Error("InternalError", "No record.")))
        return False
    header = bt.member_header(entry.item.key, rec.size, rec.last_modified, records_of(rec))
    err = await send_member(resp, entry, header)
    if err is not None:  # nothing of this member sent yet: it becomes an error member
        await resp.write(error_member(entry, err))
        return False
    return True
