"""Encryption at rest in the request path: which key seals an object, and the sealing/opening streams.

Owns the object record's ``props["sse"]`` document (docs/encryption.md, "Object records") and the
decisions around it: a request's SSE headers or the bucket's default encryption pick the mode; a fresh
data key is wrapped by the master key (SSE-S3), a local KMS key (SSE-KMS) or the customer's key
(SSE-C, never stored); reads unwrap it again and decrypt only the blocks a range needs.

Encryption is a stream layer ABOVE the data store: the store (local files, or the erasure-coded
engine) only ever sees ciphertext, so no plaintext byte of an encrypted object reaches the disk.

Streams: an object written by one PUT (or a copy that rewrote it) is one stream, id 0, sealed with the
data key itself. A multipart upload has one data key; each part's segment is its own stream (id = the
part number) sealed with a key derived from the data key and the segment's random ref, so uploading
the same part number twice never reuses a (key, nonce) pair.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coffer.protocol.errors import S3Error
from coffer.server.crypto import envelope as crypto
from coffer.server.crypto.envelope import CustomerKey, Encryptor, SseRequest
from coffer.server.crypto.keys import KeyVault, KmsKey, KmsStore, load_master_key, sse_s3_key_id
from coffer.server.data import DataShort, DataStore, DataUnavailable
from coffer.server.meta.model import ObjectRecord, Segment

if TYPE_CHECKING:
    from coffer.server.service.core import Core

SEAL_VERSION = 1


def stream_key(data_key: bytes, ref: str) -> bytes:
    """The key of one part's segment: HMAC(data key, ref); refs are 128-bit random and never reused."""
    return hmac.new(data_key, b"coffer-sse-part|" + ref.encode(), hashlib.sha256).digest()


@dataclass(slots=True)
class Sealing:
    """An object (or upload) being encrypted: its record document and the unwrapped data key."""

    doc: dict[str, Any]  # what goes to props["sse"]
    data_key: bytes

    def cipher(self, stream_id: int = 0, per_segment: bool = False) -> Callable[[str | None], Encryptor]:
        def make(ref: str | None) -> Encryptor:
            key = stream_key(self.data_key, ref) if per_segment and ref else self.data_key
            return Encryptor(key, stream_id)

        return make

    def etag(self, md5: bytes) -> str:
        # S3: only SSE-S3 ETags are the plaintext's MD5; for SSE-C and SSE-KMS an MD5 would let anyone
        # confirm a guess of the content, so the ETag is keyed by the data key instead.
        if self.doc["mode"] == "AES256":
            return md5.hex()
        return hmac.new(self.data_key, b"coffer-etag|" + md5, hashlib.md5).hexdigest()


class Sse:
    """Key lookups and the seal/open decisions (one per service; keys are loaded on first use)."""

    def __init__(self, data_dir: Path, region: str, vault: KeyVault | None = None) -> None:
        self.data_dir = data_dir
        self.region = region
        self.vault = vault  # with PostgreSQL metadata: the cluster's keys (crypto/keys.py)
        self._master: bytes | None = None

    @property
    def master(self) -> bytes:
        if self._master is None:
            self._master = load_master_key(self.data_dir, vault=self.vault)
        return self._master

    @property
    def kms(self) -> KmsStore:
        return KmsStore(self.data_dir, self.master, self.region, vault=self.vault)

    # -- choosing and sealing --------------------------------------------------------------------
    def wanted(self, req: SseRequest | None, bucket_props: dict[str, Any]) -> SseRequest | None:
        """The request's SSE headers, else the bucket's default encryption, else None (plaintext)."""
        default = bucket_props.get("encryption")
        if req is not None and req.mode is not None:
            if req.bucket_key is None and default and default.get("bucket_key"):
                # S3: an SSE-KMS write that does not say follows the bucket's BucketKeyEnabled
                return SseRequest(req.mode, req.kms_key_id, req.customer, bucket_key=True)
            return req
        if default:
            bucket_key = req.bucket_key if req is not None and req.bucket_key is not None \
                else bool(default.get("bucket_key"))
            return SseRequest(default["algorithm"], kms_key_id=default.get("kms_key_id"), bucket_key=bucket_key)
        return None

    def resolve_kms(self, key_id: str | None) -> tuple[str, str]:
        """(key uuid, key ARN) of a usable KMS key; without an id, the default key (created once)."""
        k, _material = self._usable_kms(key_id)
        return k.id, k.arn

    def _usable_kms(self, key_id: str | None) -> tuple[KmsKey, bytes]:
        store = self.kms
        if key_id is None:
            keys = [k for k in store.list() if k.alias == "coffer/default"]
            k = keys[0] if keys else None
            if k is None:
                try:
                    k = store.create("default key of SSE-KMS requests naming none", "coffer/default")
                except ValueError:  # another worker created it meanwhile
                    k = store.get("alias/coffer/default")
            key_id = k.id
        return store.usable(key_id)

    def seal(self, req: SseRequest) -> Sealing:
        data_key = crypto.new_data_key()
        return Sealing(self._sealed_doc(req, data_key), data_key)

    def rewrap(self, data_key: bytes, req: SseRequest) -> dict[str, Any]:
        """The same data key under another mode/key: a copy that changes encryption moves no data."""
        return self._sealed_doc(req, data_key)

    def _sealed_doc(self, req: SseRequest, data_key: bytes) -> dict[str, Any]:
        """The props["sse"] document of `data_key` wrapped as `req` asks."""
        doc: dict[str, Any] = {"v": SEAL_VERSION, "mode": req.mode, "block": crypto.BLOCK_SIZE}
        if req.mode == "SSE-C":
            assert req.customer is not None
            wrap_id, wrapping = req.customer.key_id, req.customer.key
            doc["customer_md5"] = req.customer.key_md5
        elif req.mode == "aws:kms":
            k, wrapping = self._usable_kms(req.kms_key_id)  # one read of the key store, one unwrap
            wrap_id = k.data_key_id
            doc["kms_key_id"], doc["kms_arn"] = k.id, k.arn
            if req.bucket_key:  # recorded so every response about the object says so, as S3's do
                doc["bucket_key"] = True
        else:
            wrapping, wrap_id = self.master, sse_s3_key_id(self.master)
        doc["wrap_id"] = wrap_id
        doc["data_key"] = base64.b64encode(crypto.wrap_key(data_key, wrapping, wrap_id)).decode()
        return doc

    # -- opening ---------------------------------------------------------------------------------
    def _wrapping_key(self, doc: dict[str, Any], customer: CustomerKey | None) -> bytes:
        mode = doc["mode"]
        if mode == "SSE-C":
            return crypto.require_customer_key(doc["wrap_id"], customer).key
        if mode == "aws:kms":
            return self.kms.usable(doc["kms_key_id"])[1]
        if doc["wrap_id"] != sse_s3_key_id(self.master):
            raise S3Error("InternalError", "The object was encrypted under another master key.")
        return self.master

    def check_access(self, doc: dict[str, Any] | None, customer: CustomerKey | None) -> None:
        """S3's answers for reads of SSE-C objects without the key or with another key (cheap: no unwrap)."""
        if doc and doc["mode"] == "SSE-C":
            crypto.require_customer_key(doc["wrap_id"], customer)
        elif customer is not None:
            raise S3Error("InvalidRequest", "The encryption parameters are not applicable to this object.")

    def data_key(self, doc: dict[str, Any], customer: CustomerKey | None) -> bytes:
        wrapping = self._wrapping_key(doc, customer)
        try:
            return crypto.unwrap_key(base64.b64decode(doc["data_key"]), wrapping, doc["wrap_id"])
        except crypto.DecryptionError:
            raise S3Error("InternalError", "The object's data key failed authentication.") from None


def response_headers(doc: dict[str, Any] | None) -> dict[str, str]:
    """x-amz-server-side-encryption* headers describing an encrypted object or upload."""
    if not doc:
        return {}
    if doc["mode"] == "SSE-C":
        return {"x-amz-server-side-encryption-customer-algorithm": "AES256",
                "x-amz-server-side-encryption-customer-key-MD5": doc["customer_md5"]}
    out = {"x-amz-server-side-encryption": doc["mode"]}
    if doc["mode"] == "aws:kms":
        out["x-amz-server-side-encryption-aws-kms-key-id"] = doc["kms_arn"]
        if doc.get("bucket_key"):
            out["x-amz-server-side-encryption-bucket-key-enabled"] = "true"
    return out


# -- reading --------------------------------------------------------------------------------------
def _streams(rec: ObjectRecord, data_key: bytes) -> list[tuple[Segment, int, int, bytes]]:
    """(segment, plaintext size, stream id, stream key) of every stored stream, in object order."""
    if rec.parts:
        return [(seg, p.size, p.number, stream_key(data_key, seg.ref))
                for seg, p in zip(rec.segments, rec.parts, strict=True)]
    return [(seg, rec.size, 0, data_key) for seg in rec.segments]


async def read_plain(core: Core, rec: ObjectRecord, data_key: bytes, start: int, length: int) -> AsyncIterator[bytes]:
    """Plaintext bytes [start, start+length) of an encrypted object, decrypting only the blocks needed.

    Ciphertext is read in runs of whole blocks (about `io_chunk` bytes); each run is read, authenticated
    and decrypted on a worker thread while the previous one is being sent (one run ahead, so memory
    stays at two runs). A block that fails authentication ends the stream with an error, never with
    unauthenticated bytes."""
    if length <= 0:
        return
    end = start + length - 1
    if rec.inline is not None:
        plan = crypto.plan_range(start, end, rec.size)
        stored = rec.inline[plan.cipher_offset : plan.cipher_offset + plan.cipher_length]
        yield _open(stored, plan, rec.size, data_key, 0)
        return
    ahead: asyncio.Future | None = None
    try:
        for run in _runs(core, rec, data_key, start, end):
            fut = asyncio.ensure_future(core.run(_read_open, *run))
            if ahead is not None:
                yield await ahead
            ahead = fut
        if ahead is not None:
            current, ahead = ahead, None
            yield await current
    finally:
        if ahead is not None:  # the reader stopped early (client gone, error): let the run finish quietly
            ahead.add_done_callback(lambda f: f.cancelled() or f.exception())


def _runs(core: Core, rec: ObjectRecord, data_key: bytes, start: int, end: int) -> Iterator[tuple]:
    """(data store, segment, offset, length, plan, plain size, key, stream id) of each run of whole
    blocks to read (the store reads it: a file span, or verified fragments with --volume)."""
    bs = crypto.BLOCK_SIZE
    run_blocks = max(1, core.limits.io_chunk // bs)
    pos = 0
    for seg, plain_size, stream_id, key in _streams(rec, data_key):
        lo, hi = max(start, pos), min(end, pos + plain_size - 1)
        if lo <= hi:
            a, b = lo - pos, hi - pos
            while a <= b:
                run_end = min(b, (a // bs + run_blocks) * bs - 1)
                plan = crypto.plan_range(a, run_end, plain_size)
                where = Segment(seg.ref, seg.size)
                yield core.data, where, plan.cipher_offset, plan.cipher_length, plan, plain_size, key, stream_id
                a = run_end + 1
        pos += plain_size
        if pos > end:
            break


def _read_open(data: DataStore, seg: Segment, offset: int, length: int, plan: crypto.RangePlan, plain_size: int,
               key: bytes, stream_id: int) -> bytes:
    try:
        stored = data.read([seg], offset, length)  # a file piece, or verified fragments with --volume
    except DataUnavailable as e:
        raise S3Error("ServiceUnavailable", f"Cannot read the object now: {e}") from None
    except DataShort:
        raise S3Error("InternalError", "Object data is shorter than its metadata says.") from None
    return _open(stored, plan, plain_size, key, stream_id)


def _open(stored: bytes, plan: crypto.RangePlan, plain_size: int, key: bytes, stream_id: int) -> bytes:
    try:
        return crypto.decrypt_range(stored, plan, plain_size, key, stream_id)
    except crypto.DecryptionError as e:
        raise S3Error("InternalError", f"Stored data failed authentication ({e}).") from None


