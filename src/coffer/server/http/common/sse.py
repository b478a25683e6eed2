"""Encryption at rest on the HTTP side: SSE request headers in, x-amz-server-side-encryption* out, and
the body of GET on an encrypted object.

Encrypted objects are streamed through the decryptor (service/crypto/sse.py: only the blocks the range
overlaps are read and authenticated); they never take the sendfile path, which stays untouched for
plaintext objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from coffer.server.crypto.envelope import SSE_C_COPY_PREFIX, CustomerKey, SseRequest, customer_key, sse_request
from coffer.server.http.common.context import Ctx
from coffer.server.http.common.respond import send_stream
from coffer.server.http.common.secure import secrets_allowed
from coffer.server.meta.model import Bucket, ObjectRecord
from coffer.server.service.crypto.sse import read_plain, response_headers
from coffer.server.service.objects.bucket_config import key_protect_doc


def secure(ctx: Ctx) -> bool:
    """May this request carry an SSE-C key: TLS, loopback, or --allow-insecure-secrets (http/common/secure.py)."""
    return secrets_allowed(ctx.request, ctx.cfg.allow_insecure_secrets)


def request_sse(ctx: Ctx) -> SseRequest:
    """What a write asks for (validated with S3's errors; SSE-C over plain HTTP is refused as S3 does)."""
    return sse_request(ctx.request.headers, secure=secure(ctx))


def request_customer(ctx: Ctx) -> CustomerKey | None:
    return customer_key(ctx.request.headers, secure=secure(ctx))


def copy_source_customer(ctx: Ctx) -> CustomerKey | None:
    return customer_key(ctx.request.headers, SSE_C_COPY_PREFIX, secure=secure(ctx))


def object_sse_headers(rec: ObjectRecord) -> dict[str, str]:
    return response_headers(rec.props.get("sse"))


def check_read(ctx: Ctx, rec: ObjectRecord) -> CustomerKey | None:
    """GET/HEAD of an object: SSE-C objects need their key again (and only SSE-C objects take one)."""
    customer = request_customer(ctx)
    ctx.svc.core.sse.check_access(rec.props.get("sse"), customer)
    return customer


async def send_encrypted(ctx: Ctx, rec: ObjectRecord, customer: CustomerKey | None, status: int,
                         headers: dict[str, str], start: int, length: int) -> web.StreamResponse:
    data_key = ctx.svc.core.sse.data_key(rec.props["sse"], customer)
    # The first run of blocks is decrypted before the headers go out, so a wrong key or a damaged first
    # block is an S3 error response; damage further on can only cut the response short.
    chunks = read_plain(ctx.svc.core, rec, data_key, start, length).__aiter__()
    first = await anext(chunks, b"")
    resp = web.StreamResponse(status=status, headers=headers)
    resp.content_length = length
    await send_stream(ctx.request, resp, _prepend(first, chunks))
    return resp


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for c in rest:
        yield c


def key_protect_props(ctx: Ctx) -> dict | None:
    """CreateBucket with IBM's ibm-sse-kp-* headers: a bucket tied to a named root key (validated first,
    so an unknown key creates no bucket)."""
    doc = key_protect_doc(ctx.header("ibm-sse-kp-encryption-algorithm"),
                          ctx.header("ibm-sse-kp-customer-root-key-crn"))
    if doc is None:
        return None
    ctx.svc.bucket_config.check_encryption(doc)
    return {"encryption": doc}


def key_protect_headers(bucket: Bucket) -> dict[str, str]:
    doc = bucket.props.get("encryption") or {}
    if not doc.get("key_protect_crn"):
        return {}
    return {"ibm-sse-kp-enabled": "true", "ibm-sse-kp-crk-id": doc["key_protect_crn"]}
