"""The storage node's internal HTTP API (see the package docstring; wire details in docs/cluster.md).

    GET    /_node/v1/info                               node id and every volume: state, capacity, free
    GET    /_node/v1/volumes/{uuid}/refs                ?after=REF&limit=N: [[ref, newest mtime], ...] sorted
    GET    /_node/v1/volumes/{uuid}/refs/{ref}          the ref's fragments here: [{index, size, head}]
                                                        (head: the 64-byte fragment header, hex: saves a read)
    GET    /_node/v1/volumes/{uuid}/fragments/{ref}.{i} the fragment file (Range honoured, sendfile)
    HEAD   /_node/v1/volumes/{uuid}/fragments/{ref}.{i} its size
    PUT    /_node/v1/volumes/{uuid}/fragments/{ref}.{i} streamed body: the records, then the 64-byte header
    DELETE /_node/v1/volumes/{uuid}/fragments/{ref}.{i}
    POST   /_node/v1/volumes/{uuid}/sweep               ?older_than=S: remove temporary files

A PUT's body is the fragment file without its header, followed by the header: the gateway learns the
header only when the segment ends, and the node writes exactly like a local fragment write (records
to ``tmp/`` past the header's place, header last), then checks the header (CRC, ref, index), the file
size and every record's CRC32C, and only then fdatasyncs, renames into ``fragments/`` and fsyncs the
directory. A body that ends early (gateway died, link cut) leaves nothing but a removed temp file.

Errors are JSON ``{"error": text, "errno": NAME}`` so the gateway can demote the volume exactly as a
local I/O error would: 404 ENOENT, 409 EROFS (read-only volume), 507 ENOSPC, 503 EIO (offline
volume), 403 (signature), 400 (malformed).
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from coffer.protocol import node_auth
from coffer.server.data.volumes.bitrot import (
    HEADER_SIZE,
    FragmentFormatError,
    FragmentHeader,
    FragmentSink,
    verify_file,
    write_header,
)
from coffer.server.data.volumes.volume import Volume, VolumeState

PREFIX = "/_node/v1"
_REF = re.compile(r"[0-9a-f]{32}")
_NAME = re.compile(r"([0-9a-f]{32})\.([0-9]{1,2})")
_STATUS = {errno.ENOENT: 404, errno.EROFS: 409, errno.EACCES: 409, errno.EPERM: 409, errno.ENOSPC: 507,
           errno.EDQUOT: 507, errno.EFBIG: 507, errno.EIO: 503}
WRITE_BATCH = 4 << 20

NODE_KEY = web.AppKey("node", "Node")


class Node:
    """What the handlers share: identity, secret, volumes by uuid."""

    def __init__(self, node_id: str, secret: str, volumes: list[Volume]) -> None:
        self.node_id = node_id
        self.secret = secret
        self.volumes = {v.uuid: v for v in volumes}

    def info(self) -> dict:
        out = []
        for vol in self.volumes.values():
            cap = vol.capacity() if vol.readable else None
            out.append({"uuid": vol.uuid, "path": str(vol.path), "state": vol.state.value,
                        "capacity": cap.total if cap else None, "free": cap.free if cap else None,
                        "last_error": vol.last_error})
        return {"node": self.node_id, "volumes": out, "time": time.time()}


def _error(status: int, text: str, code: str = "") -> web.Response:
    return web.json_response({"error": text, "errno": code}, status=status)


def _os_error(exc: OSError) -> web.Response:
    code = exc.errno if isinstance(exc.errno, int) else errno.EIO
    return _error(_STATUS.get(code, 500), str(exc), errno.errorcode.get(code, "EIO"))


@web.middleware
async def authenticate(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    node: Node = request.app[NODE_KEY]
    reason = node_auth.check(node.secret, request.method, request.path, list(request.query.items()),
                             request.headers, time.time())
    if reason is not None:
        return _error(403, f"cluster authentication refused: {reason}", "EACCES")
    try:
        return await handler(request)
    except OSError as exc:
        return _os_error(exc)


def _volume(request: web.Request, *, write: bool = False) -> Volume:
    node: Node = request.app[NODE_KEY]
    vol = node.volumes.get(request.match_info["uuid"])
    if vol is None:
        raise web.HTTPNotFound(text='{"error": "no such volume on this node", "errno": "ENODEV"}',
                               content_type="application/json")
    if not vol.readable:
        raise OSError(errno.EIO, f"volume {vol.uuid} is offline: {vol.last_error}")
    if write and not vol.writable:
        raise OSError(errno.EROFS, f"volume {vol.uuid} is read-only: {vol.last_error}")
    return vol


def _fragment(request: web.Request) -> tuple[str, int]:
    m = _NAME.fullmatch(request.match_info["name"])
    if m is None:
        raise web.HTTPBadRequest(text='{"error": "bad fragment name", "errno": "EINVAL"}',
                                 content_type="application/json")
    return m.group(1), int(m.group(2))


async def info(request: web.Request) -> web.Response:
    node: Node = request.app[NODE_KEY]
    return web.json_response(await asyncio.to_thread(node.info))


async def list_refs(request: web.Request) -> web.Response:
    vol = _volume(request)
    after = request.query.get("after", "")
    try:
        limit = max(1, min(10000, int(request.query.get("limit", "1000"))))
    except ValueError:
        return _error(400, "bad limit", "EINVAL")

    def scan() -> list[list]:
        out = []
        for ref, mtime in vol.iter_refs(after):
            out.append([ref, mtime])
            if len(out) >= limit:
                break
        return out

    return web.json_response(await asyncio.to_thread(scan))


async def ref_fragments(request: web.Request) -> web.Response:
    vol = _volume(request)
    ref = request.match_info["ref"]
    if not _REF.fullmatch(ref):
        return _error(400, "bad ref", "EINVAL")

    def scan() -> list[dict]:
        out = []
        for index, path in vol.fragments_of(ref):
            try:
                with open(path, "rb") as fh:
                    head = fh.read(HEADER_SIZE)
                    size = os.fstat(fh.fileno()).st_size
            except FileNotFoundError:
                continue
            except OSError as exc:
                vol.fail(exc)
                raise
            out.append({"index": index, "size": size, "head": head.hex()})
        return out

    return web.json_response(await asyncio.to_thread(scan))


async def get_fragment(request: web.Request) -> web.StreamResponse:
    vol = _volume(request)
    ref, index = _fragment(request)
    path = vol.fragment_path(ref, index)
    if not await asyncio.to_thread(path.is_file):
        return _error(404, "no such fragment", "ENOENT")
    if request.method == "HEAD":
        size = (await asyncio.to_thread(path.stat)).st_size
        return web.Response(headers={"X-Coffer-Size": str(size), "Content-Length": str(size)})
    return web.FileResponse(path, chunk_size=1 << 20)


async def delete_fragment(request: web.Request) -> web.Response:
    vol = _volume(request)
    ref, index = _fragment(request)
    try:
        gone = await asyncio.to_thread(vol.unlink_fragment, vol.fragment_path(ref, index))
    except OSError as exc:
        vol.fail(exc)
        raise
    return web.json_response({"deleted": gone})


async def put_fragment(request: web.Request) -> web.Response:
    vol = _volume(request, write=True)
    ref, index = _fragment(request)
    try:
        sink = await asyncio.to_thread(FragmentSink, vol, ref, index)
    except OSError as exc:
        vol.fail(exc)
        raise
    committed = False
    try:
        buf = bytearray()
        async for chunk in request.content.iter_chunked(1 << 20):
            buf += chunk
            if len(buf) >= WRITE_BATCH + HEADER_SIZE:
                body = bytes(buf[:-HEADER_SIZE])  # the last 64 bytes may be the header: hold them back
                del buf[:-HEADER_SIZE]
                await asyncio.to_thread(sink.append_raw, [body])
        if len(buf) < HEADER_SIZE:
            return _error(400, "body shorter than a fragment header", "EINVAL")
        try:
            header = FragmentHeader.unpack(bytes(buf[-HEADER_SIZE:]))
        except FragmentFormatError as exc:
            return _error(400, f"bad fragment header: {exc}", "EINVAL")
        if header.ref != ref or header.index != index:
            return _error(400, f"header names {header.ref}.{header.index}", "EINVAL")
        await asyncio.to_thread(sink.append_raw, [bytes(buf[:-HEADER_SIZE])])
        bad = await asyncio.to_thread(_check, sink, header)
        if bad:
            return _error(400, f"fragment failed verification: {bad}", "EINVAL")
        await asyncio.to_thread(sink.finish, header)
        committed = True
        return web.json_response({"path": str(sink.final)}, status=201)
    except ConnectionError:
        raise  # the gateway went away mid-body (killed, link cut): its write is dropped, the disk is fine
    except OSError as exc:
        vol.fail(exc)
        raise
    finally:
        if not committed:
            await asyncio.to_thread(sink.discard)


def _check(sink: FragmentSink, header: FragmentHeader) -> str:
    """Header in place, then every record's CRC and the exact size, read back (page cache, ~GB/s)."""
    assert sink.fd is not None
    write_header(sink.fd, header)
    fd = os.open(sink.tmp, os.O_RDONLY)
    try:
        _, bad = verify_file(fd)
    except FragmentFormatError as exc:
        return str(exc)
    finally:
        os.close(fd)
    return f"bad stripes {bad}" if bad else ""


async def sweep(request: web.Request) -> web.Response:
    vol = _volume(request)
    try:
        older = float(request.query.get("older_than", "0"))
    except ValueError:
        return _error(400, "bad older_than", "EINVAL")
    n = await asyncio.to_thread(vol.sweep_tmp, time.time() - older)
    return web.json_response({"removed": n})


def build_app(node: Node) -> web.Application:
    app = web.Application(middlewares=[authenticate], client_max_size=1 << 20)
    app[NODE_KEY] = node
    v = PREFIX + "/volumes/{uuid}"
    app.router.add_get(PREFIX + "/info", info)
    app.router.add_get(v + "/refs", list_refs)
    app.router.add_get(v + "/refs/{ref}", ref_fragments)
    app.router.add_get(v + "/fragments/{name}", get_fragment)  # also answers HEAD
    app.router.add_put(v + "/fragments/{name}", put_fragment)
    app.router.add_delete(v + "/fragments/{name}", delete_fragment)
    app.router.add_post(v + "/sweep", sweep)
    return app


def volume_states(node: Node) -> dict[str, VolumeState]:
    return {uid: vol.state for uid, vol in node.volumes.items()}
