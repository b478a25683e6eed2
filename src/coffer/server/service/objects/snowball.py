"""Snowball: a tar (plain or gzip) PUT whose members become objects (MinIO's auto-extract).

The body is read as a stream, member by member (no temporary copy of the archive): a member up to
the inline size is read into memory and becomes an inline record; a larger one streams through
`Core.receive` to the data store like any PUT body. Each member is a PutObject of its own: the
caller's `authorize` decides s3:PutObject for its key, it gets its version id, the request's
settings (metadata, tags, Object Lock, SSE, storage class) and, from its pax records
(`coffer.protocol.snowball`), a checksum that is verified and a Content-Type.

Commits overlap: each member's metadata commit is started without waiting for it, so the
group-commit writer puts every row queued while it flushes into one transaction (up to 512). When
the request promises something about the whole body (x-amz-content-sha256, Content-MD5, a
checksum), no row is committed before the whole body was verified; otherwise (aws-chunked with
per-chunk signatures, UNSIGNED-PAYLOAD) rows are committed as their members arrive. Either way the
answer waits for every commit. The request is not atomic: an error leaves the objects committed
before it (each whole).
Docs: docs/s3-compatibility.md, "Snowball".
"""

from __future__ import annotations

import asyncio
import tarfile
import time
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from coffer.protocol import checksums as ck
from coffer.protocol import snowball as sb
from coffer.protocol.errors import S3Error
from coffer.server.meta.model import ObjectRecord
from coffer.server.service.core import Integrity, Principal
from coffer.server.service.objects import versioning as ver
from coffer.server.service.objects.naming import check_key
from coffer.server.service.objects.operations import Objects, PutParams, check_put_params
from coffer.server.service.storage.policies import resolve as resolve_policy
from coffer.server.service.worm.retention import initial_props

_BLOCK = 512
_GROUP = 64  # members whose commits start together (the writer joins whatever is queued)
_IN_FLIGHT = 1024  # member commits started and not yet answered, at most
_OTHER_COMPRESSIONS = ((b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"))
_GZIP_OUT = 1 << 20  # decompressed bytes per step (bounds what a small, hostile gzip can make us hold)


@dataclass(slots=True)
class Options:
    prefix: str = ""
    ignore_dirs: bool = False
    ignore_errors: bool = False


@dataclass(slots=True)
class Extracted:
    count: int = 0
    md5: bytes = b""  # of the request body as received (the response's ETag, as MinIO answers)
    failed: list[tuple[str, S3Error]] = field(default_factory=list)  # with ignore_errors
    records: list[ObjectRecord] = field(default_factory=list)


def malformed(detail: str) -> S3Error:
    return S3Error("MalformedArchive", f"The snowball body is not a valid tar archive (plain or gzip): {detail}",
                   status=400)


def _compressed(name: str) -> S3Error:
    return malformed(f"{name} compression is not supported (send a plain or gzip tar)")


class _TarStream:
    """Exact reads over the request body, gunzipped when it starts with the gzip magic."""

    def __init__(self, body: AsyncIterable[bytes], hs: dict[str, ck.Hasher]) -> None:
        self._raw = body.__aiter__()
        self._hs = hs
        self.size = 0
        self._buf = bytearray()
        self._gz: zlib._Decompress | None = None
        self._started = False
        self._eof = False
        self.taken = 0  # plain (tar) bytes handed out
        self.other_compression: str | None = None  # the body starts like bzip2 / xz / zstd data

    async def _raw_next(self) -> bytes | None:
        try:
            chunk = await self._raw.__anext__()
        except StopAsyncIteration:
            return None
        self.size += len(chunk)
        for h in self._hs.values():
            h.update(chunk)
        return chunk

    async def _fill(self) -> bool:
        """Append more plain bytes to the buffer; False at the end of the body."""
        while True:
            if self._gz is not None and self._gz.unconsumed_tail:
                self._buf += self._gz.decompress(self._gz.unconsumed_tail, _GZIP_OUT)
                return True
            if self._eof:
                return False
            chunk = await self._raw_next()
            if chunk is None:
                self._eof = True
                if self._gz is not None and not self._gz.eof:
                    raise malformed("the gzip stream is truncated")
                return False
            if not chunk:
                continue
            if not self._started:
                self._started = True
                if chunk[:2] == b"\x1f\x8b":
                    self._gz = zlib.decompressobj(wbits=31)
                # named only if the first header does not parse (a tar member may be called "BZh...")
                self.other_compression = next((n for m, n in _OTHER_COMPRESSIONS if chunk.startswith(m)), None)
            if self._gz is None:
                self._buf += chunk
                return True
            try:
                if self._gz.eof:  # concatenated gzip members
                    data = chunk if not self._gz.unused_data else self._gz.unused_data + chunk
                    self._gz = zlib.decompressobj(wbits=31)
                    chunk = data
                self._buf += self._gz.decompress(chunk, _GZIP_OUT)
            except zlib.error as e:
                raise malformed(f"bad gzip data ({e})") from None
            return True

    async def read(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not await self._fill():
                raise malformed("the archive ends inside a member")
        out = bytes(self._buf[:n])
        del self._buf[:n]
        self.taken += n
        return out

    async def skip(self, n: int) -> None:
        async for _ in self.pieces(n, 1 << 20):
            pass

    async def pieces(self, n: int, piece: int) -> AsyncIterator[bytes]:
        left = n
        while left:
            if not self._buf and not await self._fill():
                raise malformed("the archive ends inside a member")
            take = min(left, len(self._buf), piece)
            out = bytes(self._buf[:take])
            del self._buf[:take]
            left -= take
            self.taken += take
            yield out

    async def drain(self) -> None:
        """Read (and hash) what follows the end-of-archive blocks."""
        self._buf.clear()
        while await self._fill():
            self._buf.clear()


@dataclass(slots=True)
class _Header:
    name: str
    kind: str  # "file", "dir", "other"
    size: int
    pax: dict[str, str]


async def _next_header(s: _TarStream) -> _Header | None:
    """The next member's header (pax and GNU long-name records folded in); None at the end."""
    pax: dict[str, str] = {}
    long_name: str | None = None
    while True:
        try:
            block = await s.read(_BLOCK)
        except S3Error:
            if not s._buf and s._eof:  # a body that simply ends (no end-of-archive blocks)
                return None
            if s.other_compression and s.taken == 0:
                raise _compressed(s.other_compression) from None
            raise
        if block == bytes(_BLOCK):
            return None
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as e:
            if s.other_compression and s.taken == _BLOCK:
                raise _compressed(s.other_compression) from None
            raise malformed(str(e) or "bad header block") from None
        size = info.size
        padded = (size + _BLOCK - 1) // _BLOCK * _BLOCK
        if info.type in (tarfile.XHDTYPE, tarfile.SOLARIS_XHDTYPE):
            try:
                pax.update(sb.parse_pax(await s.read(padded)))
            except ValueError as e:
                raise malformed(f"bad pax header ({e})") from None
            continue
        if info.type == tarfile.XGLTYPE:
            await s.read(padded)
            continue
        if info.type == tarfile.GNUTYPE_LONGNAME:
            long_name = (await s.read(padded))[:size].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            continue
        if info.type == tarfile.GNUTYPE_LONGLINK:
            await s.read(padded)
            continue
        name = pax.get("path") or long_name or info.name
        if "size" in pax:
            try:
                size = int(pax["size"])
            except ValueError:
                raise malformed("bad pax size") from None
        if info.type in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE) and not name.endswith("/"):
            kind = "file"
        elif info.type == tarfile.DIRTYPE or (info.type == tarfile.AREGTYPE and name.endswith("/")):
            kind = "dir"
        else:
            kind = "other"
        return _Header(name, kind, size, pax)


def _member_integrity(h: _Header) -> Integrity:
    integ = Integrity(content_length=h.size)
    for k, v in h.pax.items():
        if k.startswith(sb.PAX_CHECKSUM):
            algo = k[len(sb.PAX_CHECKSUM):].upper()
            if algo not in ck.ALGORITHMS:
                raise S3Error("InvalidArgument", f"Unknown checksum algorithm in pax record {k!r}",
                              ArgumentName=k, ArgumentValue=v)
            try:
                ck.decode_b64_checksum(algo, v)
            except ValueError:
                raise S3Error("InvalidArgument", f"Bad {algo} value in pax record {k!r}",
                              ArgumentName=k, ArgumentValue=v) from None
            integ.expected[algo] = v
    return integ


def _named(err: S3Error, member: str, key: str) -> S3Error:
    out = S3Error(err.code, f"{err.message} (tar member {member!r})", status=err.status, **err.extra)
    out.extra.setdefault("Key", key)
    return out


async def extract(
    objects: Objects, who: Principal, bucket: str, body: AsyncIterable[bytes], params: PutParams,
    integrity: Integrity, opts: Options, authorize: Callable[[str], Awaitable[None]],
    before_commit: Callable[[list[str]], Awaitable[object]] | None = None,
    after_commit: Callable[[object, list[ObjectRecord]], Awaitable[None]] | None = None,
) -> Extracted:
    """Extract the tar `body` into `bucket` (see the module docstring). `authorize(key)` raises for a
    key the caller may not write; `before_commit(keys)` / `after_commit(token, records)` bracket each
    group of commits (bucket notifications: an intent, then the events)."""
    core = objects.core
    lim = core.limits
    check_put_params(params, lim.max_user_meta_bytes)
    b = await core.bucket_for(who, bucket)
    mode = ver.mode(b)
    hs = integrity.hashers(default_checksum=False)
    stream = _TarStream(body, hs)
    whole_body_promise = bool(integrity.sha256_hex or integrity.content_md5 or integrity.expected
                              or integrity.algorithms)
    out = Extracted()
    ready: dict[str, tuple[ObjectRecord, list[str]]] = {}  # received, not yet committed, by key
    held = 0  # inline bytes in `ready` while a whole-body promise is unchecked
    superseded: list[str] = []  # data refs of members a later one of the same name replaced
    running: set[asyncio.Task] = set()
    running_keys: set[str] = set()
    refused: list[tuple[str, BaseException]] = []  # commits that failed: (key, error)

    async def commit_group(group: list[tuple[ObjectRecord, list[str]]]) -> None:
        try:
            token = await before_commit([r.key for r, _ in group]) if before_commit else None
            results = await asyncio.gather(
                *(objects._commit(r, None, refs, versioning=mode) for r, refs in group), return_exceptions=True)
            done: list[ObjectRecord] = []
            for (r, _refs), res in zip(group, results, strict=True):
                if isinstance(res, BaseException):
                    refused.append((r.key, res))
                    continue
                if mode == "Suspended":
                    r.version_id = "null"  # stored as the null version; answered as "null"
                done.append(r)
            out.count += len(done)
            out.records.extend(done)
            if after_commit:
                await after_commit(token, done)
        except BaseException as e:  # reported after every commit settled
            refused.append(("", e))

    def flush() -> None:
        if not ready:
            return
        group = list(ready.values())
        ready.clear()
        keys = [r.key for r, _ in group]
        running_keys.update(keys)
        task = asyncio.ensure_future(commit_group(group))
        running.add(task)

        def finished(t: asyncio.Task) -> None:
            running.discard(t)
            running_keys.difference_update(keys)
        task.add_done_callback(finished)

    async def settle() -> None:
        while running:
            await asyncio.gather(*list(running), return_exceptions=True)

    def fail(member: str, key: str, err: S3Error) -> None:
        if not opts.ignore_errors:
            raise _named(err, member, key)
        out.failed.append((key, err))

    try:
        while True:
            h = await _next_header(stream)
            if h is None:
                break
            padded = (h.size + _BLOCK - 1) // _BLOCK * _BLOCK
            if h.kind == "other" or h.kind == "dir":  # a directory's data, if any, is not kept
                await stream.skip(padded)
                if h.kind == "other" or opts.ignore_dirs:
                    continue
                h.size = padded = 0
            key = opts.prefix + h.name + ("/" if h.kind == "dir" and not h.name.endswith("/") else "")
            try:
                check_key(key, lim.max_key_bytes)
                integ = _member_integrity(h)
                await authorize(key)
            except S3Error as e:
                await stream.skip(padded)
                fail(h.name, key, e)
                continue
            taken = stream.taken
            record, refs, err = await _receive_member(objects, who, b, stream, h, key, params, integ)
            await stream.skip(padded - (stream.taken - taken))  # the rest of a refused member, the padding
            if err is not None:
                fail(h.name, key, err)
                continue
            assert record is not None
            if whole_body_promise:
                held += len(record.inline or b"")
                if held > lim.snowball_held_bytes:  # Limits: no row may commit before the body's check
                    raise S3Error("EntityTooLarge", f"A snowball whose whole body is signed or hashed may hold at "
                                  f"most {lim.snowball_held_bytes} bytes of small objects (they wait for the body's "
                                  "check): send smaller archives, or sign it chunk by chunk (aws-chunked).")
            if key in ready and whole_body_promise:  # a later member of the same name wins
                superseded.extend(ready.pop(key)[1])
            elif key in running_keys or key in ready:
                flush()
                await settle()  # a later member of the same name must win
            ready[key] = (record, refs)
            if not whole_body_promise and (len(ready) >= _GROUP or refs):
                flush()
            while len(running) * _GROUP > _IN_FLIGHT:
                await asyncio.wait(list(running), return_when=asyncio.FIRST_COMPLETED)
        await stream.drain()
        integrity.verify(stream.size, hs)
        flush()
        await settle()
    except BaseException:
        await settle()
        await core.free([ref for _r, refs in ready.values() for ref in refs] + superseded)
        raise
    await core.free(superseded)
    for key, exc in refused:
        if not isinstance(exc, S3Error):
            raise exc
        fail(key, key, exc)
    out.md5 = hs["MD5"].digest()
    return out


async def _receive_member(
    objects: Objects, who: Principal, b, stream: _TarStream, h: _Header, key: str, params: PutParams,
    integ: Integrity,
) -> tuple[ObjectRecord | None, list[str], S3Error | None]:
    core = objects.core
    lim = core.limits
    now = time.time()
    base = {**params.props, **({"tags": params.tags} if params.tags else {})}
    props = initial_props(b, params.lock, now, base or None)
    want = core.sse.wanted(params.sse, b.props)
    sealing = core.sse.seal(want) if want else None
    if sealing:
        props["sse"] = sealing.doc
    if h.size <= lim.inline_threshold:
        data = await stream.read(h.size)
        body: AsyncIterable[bytes] = _one(data)
    else:
        body = stream.pieces(h.size, lim.io_chunk)
    policy = resolve_policy(core.data, b, params.storage_class, params.storage_policy)
    try:
        got = await core.receive(body, integ, allow_inline=True, max_size=lim.max_put_size,
                                 cipher=sealing.cipher() if sealing else None, policy=policy)
    except S3Error as e:
        if e.code == "MalformedArchive":
            raise
        return None, [], e
    record = ObjectRecord(
        bucket=b.name, key=key, size=got.size, etag=sealing.etag(got.md5) if sealing else got.md5.hex(),
        last_modified=time.time(), owner=params.owner or who.user_id,
        content_type=h.pax.get(sb.PAX_CONTENT_TYPE) or params.content_type, headers=dict(params.headers),
        user_meta=dict(params.user_meta), checksums=got.checksums,
        checksum_type="FULL_OBJECT" if got.checksums else None, storage_class=params.storage_class,
        inline=got.inline, segments=[got.segment] if got.segment else [], version_id=ver.new_version_id(b),
        props=props,
    )
    return record, [got.segment.ref] if got.segment else [], None


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
