"""What every service shares: the principal, access checks, and the streaming receive path.

`receive` is the heart of every write: it pulls request bytes from an async iterator, keeps small
bodies in memory (they become inline objects) and hands larger ones, in `io_chunk` pieces, to a
worker thread that hashes and writes them while the event loop reads the next piece. Memory per
request stays bounded by two pieces. Nothing here knows about HTTP.

Garbage collection (docs/cluster.md, "Garbage collection"): a new segment's ref is marked pending
in the metadata while its body streams (`new_writer`; the mark is awaited before the data is
committed, so it costs a small PUT nothing and a large one no round trip of wall time), and `free`
deletes data a commit orphaned, then the GC queue rows that commit wrote.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import hashlib
import logging
import os
import signal
import socket
import time
from collections.abc import AsyncIterable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from coffer.protocol.checksums import Hasher
from coffer.protocol.errors import S3Error
from coffer.server.config import Limits
from coffer.server.crypto.envelope import Encryptor
from coffer.server.data import DataStore, DataUnavailable, SegmentWriter
from coffer.server.meta.interface import MetaStore, StorageFull
from coffer.server.meta.model import Bucket, Segment
from coffer.server.meta.space import is_disk_full, make_reserve
from coffer.server.service.crypto.sse import Sse

T = TypeVar("T")

log = logging.getLogger("coffer.server")


def writer_name() -> str:
    """host:pid of this process: the `owner` of its pending_refs rows (for the operator, never
    compared), read per call since workers fork."""
    return f"{socket.gethostname()}:{os.getpid()}"


# Fault injection for the garbage-collection tests (tests/integration/s3/test_garbage_crash.py,
# tests/integration/cluster/test_cluster_gc.py); never set in production. COFFER_TEST_FAULT is one of:
#   kill-before-free         kill -9 this process between a commit that orphans data and its deletion
#   kill-after-segment       kill -9 once a body's data is durable, before its metadata commit
#   pause-after-segment=S    wait S seconds there, refreshing the pending mark (a live upload in flight
#                            whose data is durable)
FAULT_ENV = "COFFER_TEST_FAULT"


def _fault() -> tuple[str, float]:
    name, _, arg = os.environ.get(FAULT_ENV, "").partition("=")
    return name, float(arg or 0)

DEFAULT_CHECKSUM = "CRC64NVME"  # what S3 itself computes when a client sends none
ROOMY_BYTES = 4 << 30  # check_space: free space beyond the margin that no write fills within ROOMY_SECONDS
ROOMY_SECONDS = 0.25
# Per-request access state, reset by begin_request() when the HTTP front takes a request:
# BUCKET_HINT is the bucket row the gate just read and authorized (bucket_for reuses it instead of a
# second lookup); GRANTED names the buckets service.access allowed this request to act on. A request
# that did not go through service.access (another front, a background job) gets the ownership check.
BUCKET_HINT: contextvars.ContextVar[Bucket | None] = contextvars.ContextVar("bucket_hint", default=None)
GRANTED: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("granted", default=frozenset())


def begin_request() -> None:
    """Forget the previous request's access state (requests on one connection share a task context)."""
    BUCKET_HINT.set(None)
    GRANTED.set(frozenset())


def grant(bucket: str) -> None:
    GRANTED.set(GRANTED.get() | {bucket})


@dataclass(slots=True)
class Principal:
    """Who is asking: a user, or anonymous (empty user_id; see service.access.ANONYMOUS)."""

    user_id: str
    display_name: str
    admin: bool = False


@dataclass(slots=True)
class Integrity:
    """What the request promises about its body, checked once the body has been received.

    `expected` maps ALGO -> base64 value; a trailer's value is added by the protocol layer while the
    body streams, so it is complete by the time `verify` runs. `algorithms` lists the checksums to
    compute even when no value is known up front (a declared trailer, x-amz-sdk-checksum-algorithm).
    """

    content_length: int | None = None
    content_md5: bytes | None = None
    sha256_hex: str | None = None
    expected: dict[str, str] = field(default_factory=dict)
    algorithms: set[str] = field(default_factory=set)

    def hashers(self, default_checksum: bool = True) -> dict[str, Hasher]:
        algos = set(self.algorithms) | set(self.expected)
        if not algos and default_checksum:
            algos.add(DEFAULT_CHECKSUM)
        hs = {a: Hasher(a) for a in algos}
        hs["MD5"] = Hasher("MD5")
        if self.sha256_hex is not None and "SHA256" not in hs:
            hs["_SHA256_PAYLOAD"] = Hasher("SHA256")
        return hs

    def verify(self, size: int, hs: dict[str, Hasher]) -> dict[str, str]:
        """Raise the precise S3 error for a body that is not what was promised; return checksums."""
        if self.content_length is not None and size != self.content_length:
            raise S3Error(
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header",
            )
        if self.sha256_hex is not None:
            got = (hs.get("_SHA256_PAYLOAD") or hs["SHA256"]).digest().hex()
            if got != self.sha256_hex.lower():
                raise S3Error(
                    "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                    ClientComputedContentSHA256=self.sha256_hex,
                    S3ComputedContentSHA256=got,
                )
        md5 = hs["MD5"].digest()
        if self.content_md5 is not None and md5 != self.content_md5:
            raise S3Error(
                "BadDigest",
                "The Content-MD5 you specified did not match what we received.",
                ExpectedDigest=base64.b64encode(self.content_md5).decode(),
                CalculatedDigest=base64.b64encode(md5).decode(),
            )
        out: dict[str, str] = {}
        for algo, h in hs.items():
            if algo in ("MD5", "_SHA256_PAYLOAD"):
                continue
            value = h.b64()
            want = self.expected.get(algo)
            if want is not None and want != value:
                raise S3Error("BadDigest", f"The {algo} you specified did not match the calculated checksum.")
            out[algo] = value
        return out


@dataclass(slots=True)
class Received:
    size: int
    md5: bytes
    checksums: dict[str, str]
    inline: bytes | None
    segment: Segment | None


class Core:
    """Shared machinery handed to every service by the composition root."""

    def __init__(self, meta: MetaStore, data: DataStore, limits: Limits, region: str) -> None:
        self.meta = meta
        self.data = data
        self.limits = limits
        self.region = region
        # keys in the data folder, or (PostgreSQL) in the shared metadata: one set for every gateway
        self.sse = Sse(Path(getattr(data, "root", ".")), region, meta.key_vault() if meta is not None else None)
        self._reserve_ok = False  # check_space: the metadata reserve is known to be in place
        self._roomy_until = 0.0  # check_space: until then the disk is known to have room to spare
        # Hashing and file writes run here, off the event loop; hashlib and os.write release the GIL.
        self.pool = ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 1)), thread_name_prefix="io")
        # ref -> (its latest pending mark, when it was sent): see new_writer.
        self._pending: dict[str, tuple[asyncio.Future, float]] = {}
        self._fault = _fault()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    # -- access --------------------------------------------------------------------------------------
    async def bucket_row(self, name: str) -> Bucket | None:
        """The bucket's row, without an access check: the one the gate already read for this request
        when it names the same bucket (no second lookup on the write path), else from the store."""
        hint = BUCKET_HINT.get()
        if hint is not None and hint.name == name:
            return hint
        return await self.meta.get_bucket(name)

    async def bucket_for(self, who: Principal, name: str) -> Bucket:
        hint = BUCKET_HINT.get()
        if hint is not None and hint.name == name:
            return hint  # read and authorized by the gate for this very request
        bucket = await self.meta.get_bucket(name)
        if bucket is None:
            raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=name)
        if name in GRANTED.get() or who.admin or (who.user_id and bucket.owner == who.user_id):
            return bucket
        raise S3Error("AccessDenied", "Access Denied")

    # -- receiving bodies ----------------------------------------------------------------------------
    async def receive(
        self, body: AsyncIterable[bytes], integrity: Integrity, *, allow_inline: bool, max_size: int,
        cipher: Callable[[str | None], Encryptor] | None = None, policy: object = None,
    ) -> Received:
        """Stream a request body to the data store (or memory, if small); verify; return the result.

        On any failure the partial file is removed: nothing half-written is ever referenced.
        With `cipher` (encryption at rest, service/crypto/sse.py) the plaintext is hashed, then sealed, and only
        ciphertext reaches the writer (or the inline bytes); `cipher` gets the segment's ref (None inline).
        """
        await self.check_space()
        hs = integrity.hashers()
        inline_max = self.limits.inline_threshold if allow_inline else -1
        piece = self.limits.io_chunk
        pending: list[bytes] = []
        pending_len = 0
        size = 0
        writer: SegmentWriter | None = None
        in_flight: asyncio.Future | None = None
        enc: Encryptor | None = None
        try:
            async for chunk in body:
                if not chunk:
                    continue
                size += len(chunk)
                if size > max_size:
                    raise S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                                  MaxSizeAllowed=str(max_size))
                pending.append(chunk)
                pending_len += len(chunk)
                if writer is None and size > inline_max:
                    writer = await self.new_writer(hs if cipher is None else {}, policy)
                    if cipher is not None:
                        enc = cipher(writer.ref)
                if writer is not None and pending_len >= piece:
                    self._refresh_pending(writer.ref)
                    if in_flight is not None:
                        await in_flight
                    in_flight = asyncio.ensure_future(self.run(_write_all, writer, pending, hs, enc))
                    pending, pending_len = [], 0
            if in_flight is not None:
                await in_flight
                in_flight = None
            if writer is None:
                data = b"".join(pending)
                if len(data) > 65536:
                    await self.run(_hash_all, hs, data)
                else:
                    _hash_small(hs, data)
                checksums = integrity.verify(size, hs)
                if cipher is not None:
                    sealer = cipher(None)
                    data = sealer.feed(data) + sealer.finish()
                return Received(size, hs["MD5"].digest(), checksums, data, None)
            if pending:
                await self.run(_write_all, writer, pending, hs, enc)
            if enc is not None:
                await self.run(writer.write, enc.finish())
            checksums = integrity.verify(size, hs)
            segment = Segment(await self.commit_segment(writer), writer.size)
            writer = None  # committed: from here on the file belongs to whoever references it
            if self._fault[0] == "kill-after-segment":
                os.kill(os.getpid(), signal.SIGKILL)
            elif self._fault[0] == "pause-after-segment":
                await self._hold_pending(segment.ref, self._fault[1])
            return Received(size, hs["MD5"].digest(), checksums, None, segment)
        except DataUnavailable as exc:  # too few volumes for the policy (data/volumes/store.py)
            raise S3Error("ServiceUnavailable", f"Cannot store the object now: {exc}") from None
        except OSError as exc:
            if is_disk_full(exc):
                raise StorageFull(str(exc)) from None
            raise
        finally:
            if in_flight is not None:
                try:
                    await in_flight
                except Exception:
                    pass
            if writer is not None:
                await self.abort_segment(writer)

    # -- new segments: pending marks -----------------------------------------------------------------
    async def new_writer(self, hashers: dict[str, Hasher], policy: object = None) -> SegmentWriter:
        """A writer for a new segment. Its ref is marked pending in the metadata meanwhile (the write is
        not awaited here: `commit_segment` awaits it before any of the data becomes durable, so a
        sweep anywhere in the cluster that finds the data also finds the mark or the reference)."""
        writer = await self.run(self.data.writer, hashers, policy)
        self._mark_pending(writer.ref)
        return writer

    def _mark_pending(self, ref: str) -> None:
        fut = asyncio.ensure_future(self.meta.add_pending(ref, writer_name()))
        self._pending[ref] = (fut, time.monotonic())

    def _refresh_pending(self, ref: str) -> None:
        """A long write renews its mark every quarter of the pending age, so only a dead writer's
        mark grows old enough for the collector."""
        mark = self._pending.get(ref)
        if mark is None or not mark[0].done() or mark[0].exception() is not None:
            return  # a failed mark stays: commit_segment raises it
        if time.monotonic() - mark[1] > self.limits.pending_ref_age / 4:
            self._mark_pending(ref)

    async def commit_segment(self, writer: SegmentWriter) -> str:
        """Make the segment durable (after its pending mark is committed); returns its ref."""
        mark = self._pending.pop(writer.ref, None)
        if mark is not None:
            try:
                await mark[0]
            except BaseException:
                self._pending[writer.ref] = mark  # abort_segment clears it
                raise
        return await self.run(writer.commit)

    async def abort_segment(self, writer: SegmentWriter) -> None:
        """Drop a segment that will never be referenced, and its pending mark."""
        mark = self._pending.pop(writer.ref, None)
        await self.run(writer.abort)
        if mark is None:  # committed (or half-committed) data: its mark is in the metadata
            with contextlib.suppress(Exception):
                await self.meta.forget_refs([writer.ref])
            return
        with contextlib.suppress(Exception):
            await mark[0]
            await self.meta.forget_refs([writer.ref])

    async def _hold_pending(self, ref: str, seconds: float) -> None:
        """The pause-after-segment fault: a live upload with durable data, refreshing its mark as a
        body still streaming would."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(left, self.limits.pending_ref_age / 4))
            await self.meta.add_pending(ref, writer_name())

    async def check_space(self) -> None:
        """Refuse new data (507) while the data folder's disk is below the free-space margin, so that
        deletes always find room to commit; remake the metadata reserve once space is back.

        A disk with gigabytes to spare beyond the margin is asked again only every `ROOMY_SECONDS`
        (no write fills `ROOMY_BYTES` that fast); near the margin, every write asks."""
        now = time.monotonic()
        if now < self._roomy_until:
            return
        root = Path(getattr(self.data, "root", "."))
        try:
            st = os.statvfs(root)
        except OSError:
            return
        free = st.f_bavail * st.f_frsize
        if self._reserve_ok and free > self.limits.min_free_bytes + ROOMY_BYTES:
            self._roomy_until = now + ROOMY_SECONDS
        if free < self.limits.min_free_bytes:
            self._reserve_ok = False
            raise StorageFull(f"{free} bytes free, below the margin of {self.limits.min_free_bytes}")
        if not self._reserve_ok and free > self.limits.min_free_bytes + self.limits.meta_reserve_bytes:
            self._reserve_ok = await self.run(make_reserve, root / "meta", self.limits.meta_reserve_bytes)

    async def free(self, refs: list[str]) -> None:
        """Delete data no metadata refers to any more (after the commit that dropped it, which queued
        it for GC), then its GC queue rows. A failure or a crash leaves the rows: the GC worker
        (server/workers/garbage.py) deletes the data later."""
        if not refs:
            return
        if self._fault[0] == "kill-before-free":
            os.kill(os.getpid(), signal.SIGKILL)
        try:
            await self.run(self.data.delete, refs)
            await self.meta.forget_refs(refs)
        except Exception as exc:
            log.warning("deleting %d freed segments failed (left to the garbage collector): %s", len(refs), exc)


def _write_all(writer: SegmentWriter, pieces: list[bytes], hs: dict[str, Hasher], enc: Encryptor | None) -> None:
    if enc is None:  # the writer hashes what it writes
        for p in pieces:
            writer.write(p)
        return
    for p in pieces:  # encrypted: hash the plaintext here, the writer sees only ciphertext
        for h in hs.values():
            h.update(p)
        writer.write(enc.feed(p))


def _hash_all(hs: dict[str, Hasher], data: bytes) -> None:
    for h in hs.values():
        h.update(data)


def _hash_small(hs: dict[str, Hasher], data: bytes) -> None:
    """On the event loop: in pieces that keep the GIL (Hasher.update_holding_gil)."""
    for h in hs.values():
        h.update_holding_gil(data)


def md5_of_md5s(digests: list[bytes]) -> str:
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"
