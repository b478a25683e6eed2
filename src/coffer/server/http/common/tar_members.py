"""Tar stream answers (the batch GET and AIStore's GetBatch): the 200 opened, each object a member (header,
bytes, padding), the connection cut on a failure after the status line.

An inline object goes out in one write; a larger one is streamed piece by piece. Its first piece is
read before the member header goes out, so an object that cannot be read at all becomes the caller's
to report (nothing of it was written); a failure further on raises, and the caller cuts the answer:
a client then sees a tar without its end blocks, never wrong bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from contextlib import aclosing

from aiohttp import web

from coffer.protocol import batch_tar as bt
from coffer.protocol.errors import S3Error
from coffer.server.http.common.ids import stamp
from coffer.server.service.objects.batch_reads import BatchEntry


async def open_tar(request: web.Request) -> web.StreamResponse:
    """The 200 answer a tar stream is written to, its headers sent."""
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/x-tar"})
    stamp(request, resp)
    await resp.prepare(request)
    return resp


def cut(request: web.Request, err: S3Error, what: str) -> ConnectionResetError:
    """A failure after the status line went out: the connection is aborted, so the client sees a tar
    without its end blocks (the honest signal), and the serve loop gets the error to raise."""
    if request.transport is not None:
        request.transport.abort()
    return ConnectionResetError(f"{what} aborted: {err.code}: {err.message}")


async def send_member(resp: web.StreamResponse, entry: BatchEntry, header: bytes) -> S3Error | None:
    """Write ``entry`` (a readable record) after ``header``; the read error, with nothing written, if
    its bytes cannot be had."""
    rec = entry.record
    assert rec is not None and entry.error is None
    if entry.data is not None:
        await resp.write(header + entry.data + bt.padding(len(entry.data)))
        return None
    assert entry.stream is not None
    stream: AsyncIterable[bytes] = entry.stream
    async with aclosing(aiter(stream)) as it:  # type: ignore[type-var]
        try:
            first = await anext(it, b"")
        except S3Error as e:
            return e
        await resp.write(header)
        sent = len(first)
        if first:
            await resp.write(first)
        async for piece in it:
            sent += len(piece)
            await resp.write(piece)
    if sent != rec.size:
        raise S3Error("InternalError", "Object data is shorter than its metadata says.")
    await resp.write(bt.padding(rec.size))
    return None
