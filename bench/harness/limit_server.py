"""The machine's limit for durable small PUTs: an HTTP server that appends and fdatasyncs, nothing more.

Every PUT body is appended to one log file per worker process; a writer thread takes everything queued
while the previous fdatasync ran, writes it with one `writev`, fdatasyncs once and only then answers every
request of the batch — the same group-commit batching Coffer's metadata writer does, without SQLite, access
control, listing indexes or S3 semantics. No PUT is answered before its bytes are on disk, so this is what
"acknowledged = fsync'ed" costs on this machine and this client, and the ceiling a durable small PUT can
approach. It answers `PUT /bucket` and `GET /health/ready` so the bench client can drive it like the others,
and ignores the Authorization header.

GET of a key answers from memory: the body this process stored for the key, or else the last body it
stored (a worker cannot see another's memory; every body of a benchmark phase has the same size). That is
the floor of a small GET on this machine and client: aiohttp answering bytes it holds, no lookup.

    python bench/harness/limit_server.py --address 127.0.0.1:PORT --data DIR --workers N
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import queue
import threading
from pathlib import Path

from aiohttp import web


class GroupAppender:
    """One thread appends queued bodies and fdatasyncs once per batch, then resolves each waiter."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.q: queue.SimpleQueue[tuple[bytes, asyncio.AbstractEventLoop, asyncio.Future]] = queue.SimpleQueue()
        self.batches = 0
        threading.Thread(target=self._run, name="limit-writer", daemon=True).start()

    async def append(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.q.put((data, loop, fut))
        await fut

    def _run(self) -> None:
        while True:
            batch = [self.q.get()]
            while len(batch) < 512:
                try:
                    batch.append(self.q.get_nowait())
                except queue.Empty:
                    break
            # a record header (length) per body, as any log needs to be read back
            bufs: list[bytes] = []
            for data, _, _ in batch:
                bufs.append(len(data).to_bytes(4, "little"))
                bufs.append(data)
            os.writev(self.fd, bufs)
            os.fdatasync(self.fd)
            self.batches += 1
            for _, loop, fut in batch:
                loop.call_soon_threadsafe(_settle, fut)


def _settle(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


KEPT_BYTES = 256 << 20  # bodies kept in memory for GET, per process


def make_app(appender: GroupAppender) -> web.Application:
    kept: dict[str, bytes] = {}
    last: list[bytes] = [b""]
    kept_bytes = [0]

    async def put(request: web.Request) -> web.Response:
        body = await request.read()
        if "/" not in request.path.strip("/"):  # PUT /bucket: create it (nothing to do)
            return web.Response(status=200)
        await appender.append(body)
        last[0] = body
        if kept_bytes[0] + len(body) <= KEPT_BYTES:
            kept[request.path] = body
            kept_bytes[0] += len(body)
        return web.Response(status=200, headers={"ETag": f'"{hashlib.md5(body).hexdigest()}"'})

    async def get(request: web.Request) -> web.Response:
        return web.Response(body=kept.get(request.path, last[0]), content_type="binary/octet-stream")

    async def ready(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def missing(_request: web.Request) -> web.Response:
        return web.Response(status=404)

    app = web.Application(client_max_size=1 << 30)
    app.router.add_get("/health/ready", ready)
    app.router.add_put("/{tail:.*}", put)
    app.router.add_get("/{tail:.*}", get)
    app.router.add_route("*", "/{tail:.*}", missing)
    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args()
    host, port = a.address.rsplit(":", 1)
    a.data.mkdir(parents=True, exist_ok=True)
    index = 0
    for i in range(1, max(1, a.workers)):  # one process per worker, all on one port (SO_REUSEPORT)
        if os.fork() == 0:
            index = i
            break
    appender = GroupAppender(a.data / f"log-{index}.bin")
    web.run_app(make_app(appender), host=host, port=int(port), reuse_port=True, print=None,
                access_log=None)


if __name__ == "__main__":
    main()
