"""Encryption at rest: block-wise AES-256-GCM object streams, data-key wrapping, SSE request headers.

This module owns the byte formats of encrypted data (see docs/encryption.md, the byte-for-byte
reference): how an object's plaintext becomes its stored ciphertext, how the per-object data key is
wrapped, and the validation of SSE-S3/SSE-KMS/SSE-C request headers with S3's error codes.  The
master key and the local KMS key store (files in the data folder) are in :mod:`coffer.server.crypto.keys`.
Wiring all this into PUT/GET is the service's job.

Why blocks: each 64 KiB plaintext block is sealed on its own, with a nonce derived from (stream id,
block index), so a range read decrypts only the blocks it overlaps, and the GCM tag of every block
authenticates it.  The associated data binds the block index and whether it is the last block, so
blocks cannot be reordered, and the stream cannot be truncated at a block boundary unnoticed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from coffer.protocol.errors import S3Error

BLOCK_SIZE = 64 * 1024
TAG_SIZE = 16
KEY_SIZE = 32
WRAP_VERSION = 1
WRAPPED_SIZE = 1 + 12 + KEY_SIZE + TAG_SIZE  # version | nonce | sealed key | tag
_BLOCK_AAD = b"coffer-sse-block-v1"
_WRAP_AAD = b"coffer-sse-dk-v1|"


class DecryptionError(Exception):
    """Ciphertext or a wrapped key failed authentication: tampering, corruption or the wrong key."""


# -- object streams ------------------------------------------------------------------------------------
def ciphertext_size(plain_size: int, block_size: int = BLOCK_SIZE) -> int:
    """Stored size of ``plain_size`` bytes: each block adds a tag; an empty stream is one empty block."""
    blocks = max(1, -(-plain_size // block_size))
    return plain_size + blocks * TAG_SIZE


def block_count(plain_size: int, block_size: int = BLOCK_SIZE) -> int:
    return max(1, -(-plain_size // block_size))


def _nonce(stream_id: int, index: int) -> bytes:
    # 4-byte stream id (0 for a simple object, the part number for a multipart part) + 8-byte index:
    # unique per (data key, block) because a data key is never reused across objects.
    return struct.pack(">IQ", stream_id, index)


def _aad(stream_id: int, index: int, final: bool) -> bytes:
    return _BLOCK_AAD + struct.pack(">IQ?", stream_id, index, final)


class BlockCipher:
    """Seals and opens single blocks of one stream (one object, or one part of a multipart object)."""

    def __init__(self, data_key: bytes, stream_id: int = 0, block_size: int = BLOCK_SIZE) -> None:
        if len(data_key) != KEY_SIZE:
            raise ValueError("data key must be 32 bytes")
        if not 0 <= stream_id < 2**32 or block_size <= 0:
            raise ValueError("bad stream id or block size")
        self._gcm = AESGCM(data_key)
        self.stream_id = stream_id
        self.block_size = block_size

    def seal(self, index: int, plaintext: bytes, final: bool) -> bytes:
        return self._gcm.encrypt(_nonce(self.stream_id, index), plaintext, _aad(self.stream_id, index, final))

    def open(self, index: int, ciphertext: bytes, final: bool) -> bytes:
        try:
            return self._gcm.decrypt(_nonce(self.stream_id, index), ciphertext, _aad(self.stream_id, index, final))
        except InvalidTag:
            raise DecryptionError(f"block {index} of stream {self.stream_id} failed authentication") from None


class Encryptor:
    """Incremental encryption: ``feed`` pieces of any size, then ``finish``; output is the stored stream.

    One full block is always held back until more data or ``finish`` arrives, because only then is it
    known whether that block is the last (the last block is sealed with final=True).
    """

    def __init__(self, data_key: bytes, stream_id: int = 0, block_size: int = BLOCK_SIZE) -> None:
        self._cipher = BlockCipher(data_key, stream_id, block_size)
        self._buf = bytearray()
        self._index = 0
        self.plain_size = 0

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        self.plain_size += len(data)
        bs = self._cipher.block_size
        out = []
        pos = 0
        # Blocks are cut at offsets and the buffer trimmed once: deleting per block would move the
        # rest of a large piece once per block (quadratic in the piece size).
        while len(self._buf) - pos > bs:
            out.append(self._cipher.seal(self._index, bytes(self._buf[pos : pos + bs]), False))
            pos += bs
            self._index += 1
        del self._buf[:pos]
        return b"".join(out)

    def finish(self) -> bytes:
        last = self._cipher.seal(self._index, bytes(self._buf), True)
        self._buf.clear()
        return last


def encrypt_bytes(data: bytes, data_key: bytes, stream_id: int = 0, block_size: int = BLOCK_SIZE) -> bytes:
    enc = Encryptor(data_key, stream_id, block_size)
    return enc.feed(data) + enc.finish()


@dataclass(frozen=True)
class RangePlan:
    """Which stored bytes a plaintext range needs, and how to cut the decrypted blocks to the range."""

    first_block: int
    last_block: int
    cipher_offset: int  # where to start reading the stored stream
    cipher_length: int  # how many stored bytes to read
    skip: int  # plaintext bytes to drop from the first decrypted block
    length: int  # plaintext bytes of the answer


def plan_range(start: int, end: int, plain_size: int, block_size: int = BLOCK_SIZE) -> RangePlan:
    """Plan reading plaintext bytes ``start..end`` (inclusive, already clamped to the object)."""
    if not 0 <= start <= end < plain_size:
        raise ValueError("range outside the object")
    first, last = start // block_size, end // block_size
    stored_block = block_size + TAG_SIZE
    offset = first * stored_block
    stop = min((last + 1) * stored_block, ciphertext_size(plain_size, block_size))
    return RangePlan(first, last, offset, stop - offset, start - first * block_size, end - start + 1)


def decrypt_range(
    stored: bytes, plan: RangePlan, plain_size: int, data_key: bytes, stream_id: int = 0, block_size: int = BLOCK_SIZE
) -> bytes:
    """Decrypt the ``plan.cipher_length`` stored bytes read at ``plan.cipher_offset`` to the range."""
    return b"".join(decrypt_blocks([stored], plan, plain_size, data_key, stream_id, block_size))


def decrypt_blocks(
    chunks: Iterable[bytes],
    plan: RangePlan,
    plain_size: int,
    data_key: bytes,
    stream_id: int = 0,
    block_size: int = BLOCK_SIZE,
) -> Iterator[bytes]:
    """Streaming form of :func:`decrypt_range`: stored bytes in pieces of any size, plaintext out."""
    cipher = BlockCipher(data_key, stream_id, block_size)
    final_index = block_count(plain_size, block_size) - 1
    stored_block = block_size + TAG_SIZE
    final_stored = plain_size - final_index * block_size + TAG_SIZE
    buf = bytearray()
    index, skip, remaining = plan.first_block, plan.skip, plan.length
    for chunk in chunks:
        buf += chunk
        pos = 0
        while remaining:
            take = stored_block if index < final_index else final_stored
            if len(buf) - pos < take:
                break
            plain = cipher.open(index, bytes(buf[pos : pos + take]), index == final_index)
            pos += take
            piece = plain[skip : skip + remaining]
            skip, index, remaining = 0, index + 1, remaining - len(piece)
            yield piece
        del buf[:pos]
    if remaining:
        raise DecryptionError("stored stream ended before the requested range")


def decrypt_bytes(
    stored: bytes, plain_size: int, data_key: bytes, stream_id: int = 0, block_size: int = BLOCK_SIZE
) -> bytes:
    """Whole-stream decryption (checks the stored size first: a truncated stream fails loudly)."""
    if len(stored) != ciphertext_size(plain_size, block_size):
        raise DecryptionError("stored stream has the wrong size")
    if plain_size == 0:
        BlockCipher(data_key, stream_id, block_size).open(0, stored, True)
        return b""
    return decrypt_range(
        stored, plan_range(0, plain_size - 1, plain_size, block_size), plain_size, data_key, stream_id, block_size
    )


# -- data keys -----------------------------------------------------------------------------------------
def new_data_key() -> bytes:
    return secrets.token_bytes(KEY_SIZE)


def key_fingerprint(key: bytes) -> str:
    """A short public id of a key (first 16 hex of SHA-256 over a label and the key), never the key."""
    return hashlib.sha256(b"coffer-key-id|" + key).hexdigest()[:16]


def wrap_key(data_key: bytes, wrapping_key: bytes, key_id: str) -> bytes:
    """Seal a data key under a wrapping key (AES-256-GCM; AAD binds the wrapping key's id)."""
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(wrapping_key).encrypt(nonce, data_key, _WRAP_AAD + key_id.encode())
    return bytes([WRAP_VERSION]) + nonce + sealed


def unwrap_key(wrapped: bytes, wrapping_key: bytes, key_id: str) -> bytes:
    if len(wrapped) != WRAPPED_SIZE or wrapped[0] != WRAP_VERSION:
        raise DecryptionError("wrapped data key has an unknown format")
    try:
        return AESGCM(wrapping_key).decrypt(wrapped[1:13], wrapped[13:], _WRAP_AAD + key_id.encode())
    except InvalidTag:
        raise DecryptionError("wrapped data key failed authentication (tampered or wrong key)") from None


# -- request headers (SSE-S3, SSE-KMS, SSE-C) ----------------------------------------------------------
SSE_C_PREFIX = "x-amz-server-side-encryption-customer-"
SSE_C_COPY_PREFIX = "x-amz-copy-source-server-side-encryption-customer-"
_SSE_C = "Requests specifying Server Side Encryption with Customer provided keys must "
_NEEDS_KMS = (
    "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms"
)
# S3's wording for each refusal, keyed by a short name (code, message).
MESSAGES = {
    "insecure": ("InvalidRequest", _SSE_C + "be made over a secure connection."),
    "no-algorithm": ("InvalidArgument", _SSE_C + "provide a valid encryption algorithm."),
    "bad-algorithm": (
        "InvalidEncryptionAlgorithmError",
        "The Encryption request you specified is not valid. Supported value: AES256.",
    ),
    "no-key": ("InvalidArgument", _SSE_C + "provide an appropriate secret key."),
    "bad-key": ("InvalidArgument", "The secret key was invalid for the specified algorithm."),
    "no-md5": ("InvalidArgument", _SSE_C + "provide the client calculated MD5 of the secret key."),
    "bad-md5": ("InvalidArgument", "The calculated MD5 hash of the key did not match the hash that was provided."),
    "c-and-sse": (
        "InvalidArgument",
        "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
    ),
    "needs-kms": ("InvalidArgument", _NEEDS_KMS),
    "bad-sse": ("InvalidArgument", "The encryption method specified is not supported"),
    "encrypted": (
        "InvalidRequest",
        "The object was stored using a form of Server Side Encryption. The correct parameters must be provided "
        "to retrieve the object.",
    ),
    # another key than the object's: 400, as S3's conformance suites expect (not 403: the caller may read it)
    "wrong-key": ("InvalidRequest", "The provided encryption parameters did not match the ones used originally."),
}


def sse_error(which: str, **extra: str | None) -> S3Error:
    code, message = MESSAGES[which]
    return S3Error(code, message, **extra)


@dataclass(frozen=True)
class CustomerKey:
    key: bytes
    key_md5: str  # base64, echoed in responses

    @property
    def key_id(self) -> str:
        # SSE-C keys are never stored; the wrap AAD and the object record use this derived id instead.
        return "sse-c:" + key_fingerprint(self.key)


def customer_key(headers: Mapping[str, str], prefix: str = SSE_C_PREFIX, *, secure: bool = True) -> CustomerKey | None:
    """Validate SSE-C headers (lowercase names) as S3 does; None when the request carries none."""
    algo, key_b64, md5_b64 = (headers.get(prefix + n) for n in ("algorithm", "key", "key-md5"))
    if algo is None and key_b64 is None and md5_b64 is None:
        return None
    if not secure:
        raise sse_error("insecure")
    if algo is None:
        raise sse_error("no-algorithm", ArgumentName=prefix + "algorithm")
    if algo != "AES256":
        raise sse_error("bad-algorithm", ArgumentName=prefix + "algorithm", ArgumentValue=algo)
    if not key_b64:
        raise sse_error("no-key", ArgumentName=prefix + "key")
    try:
        key = base64.b64decode(key_b64, validate=True)
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != KEY_SIZE:
        raise sse_error("bad-key", ArgumentName=prefix + "key")
    if not md5_b64:
        raise sse_error("no-md5", ArgumentName=prefix + "key-MD5")
    actual_md5 = base64.b64encode(hashlib.md5(key).digest()).decode()
    if md5_b64 != actual_md5:
        raise sse_error("bad-md5", ArgumentName=prefix + "key-MD5")
    return CustomerKey(key, actual_md5)


@dataclass(frozen=True)
class SseRequest:
    mode: str | None  # None | "AES256" (SSE-S3) | "aws:kms" | "SSE-C"
    kms_key_id: str | None = None
    customer: CustomerKey | None = None
    bucket_key: bool | None = None  # x-amz-server-side-encryption-bucket-key-enabled (SSE-KMS only)


def sse_request(headers: Mapping[str, str], *, secure: bool = True) -> SseRequest:
    """What encryption a PUT/POST/CreateMultipartUpload/Copy asks for, validated with S3's errors."""
    sse = headers.get("x-amz-server-side-encryption")
    kms_id = headers.get("x-amz-server-side-encryption-aws-kms-key-id")
    customer = customer_key(headers, secure=secure)
    if customer is not None:
        if sse is not None or kms_id is not None:
            raise sse_error("c-and-sse", ArgumentName="x-amz-server-side-encryption", ArgumentValue=sse)
        return SseRequest("SSE-C", customer=customer)
    if sse is not None and sse not in ("AES256", "aws:kms"):
        raise sse_error("bad-sse", ArgumentName="x-amz-server-side-encryption", ArgumentValue=sse)
    if kms_id is not None and sse != "aws:kms":
        raise sse_error("needs-kms")
    return SseRequest(sse, kms_key_id=kms_id or None, bucket_key=bucket_key_header(headers))


def bucket_key_header(headers: Mapping[str, str]) -> bool | None:
    raw = headers.get("x-amz-server-side-encryption-bucket-key-enabled")
    if raw is None:
        return None
    if raw.strip().lower() not in ("true", "false"):
        raise S3Error("InvalidArgument", "Invalid value for x-amz-server-side-encryption-bucket-key-enabled",
                      ArgumentName="x-amz-server-side-encryption-bucket-key-enabled", ArgumentValue=raw)
    return raw.strip().lower() == "true"


def require_customer_key(stored_key_id: str, given: CustomerKey | None) -> CustomerKey:
    """Reads of an SSE-C object need the same key again; S3's answers when it is missing or wrong."""
    if given is None:
        raise sse_error("encrypted")
    if given.key_id != stored_key_id:
        raise sse_error("wrong-key")
    return given
