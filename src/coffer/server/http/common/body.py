"""Request bodies: from the socket to the service as verified, decoded byte pieces.

`integrity_for` reads what the request promises (Content-Length or x-amz-decoded-content-length,
Content-MD5, x-amz-checksum-* headers or declared trailers, the signed payload hash); `body_stream`
yields the payload, decoding aws-chunked framing and checking chunk signatures on the way, and
copies trailer checksums into the Integrity record once the trailer has arrived. The service then
verifies everything before it commits: a body that fails any check leaves nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from coffer.protocol import checksums as ck
from coffer.protocol.chunked import AwsChunkedDecoder, ChunkedError
from coffer.protocol.errors import S3Error
from coffer.server.http.common.auth import BodyPlan
from coffer.server.service import Integrity


def integrity_for(
    request: web.BaseRequest, plan: BodyPlan, *, require_length: bool, checksum_headers: bool = True
) -> Integrity:
    h = request.headers
    integ = Integrity()
    if plan.streaming:
        decoded = h.get("x-amz-decoded-content-length")
        if decoded is not None:
            integ.content_length = _int_header("x-amz-decoded-content-length", decoded)
        elif require_length and request.content_length is None and not _chunked_te(request):
            raise S3Error("MissingContentLength", "You must provide the Content-Length HTTP header.")
        for name in plan.trailers:
            algo = ck.algo_from_header(name)
            if algo is None:
                raise S3Error("InvalidRequest", f"The value specified in the x-amz-trailer header is not "
                              f"supported: {name}")
            integ.algorithms.add(algo)
    else:
        if request.content_length is not None:
            integ.content_length = request.content_length
        elif require_length and not _chunked_te(request):
            raise S3Error("MissingContentLength", "You must provide the Content-Length HTTP header.")
        integ.sha256_hex = plan.sha256
    md5 = h.get("Content-MD5")
    if md5 is not None:
        try:
            integ.content_md5 = ck.parse_content_md5(md5)
        except ValueError:
            raise S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.", Content_MD5=md5) from None
    for name, value in h.items() if checksum_headers else ():
        lname = name.lower()
        if lname.startswith("x-amz-checksum-") and lname != "x-amz-checksum-type" \
                and lname != "x-amz-checksum-algorithm" and lname != "x-amz-checksum-mode":
            algo = ck.algo_from_header(lname)
            if algo is None:
                raise S3Error("InvalidRequest", f"Unsupported checksum header {name}.")
            try:
                ck.decode_b64_checksum(algo, value)
            except ValueError:
                raise S3Error("InvalidRequest", f"Value for {name} header is invalid.") from None
            integ.expected[algo] = value
    sdk_algo = h.get("x-amz-sdk-checksum-algorithm") or h.get("x-amz-checksum-algorithm")
    if sdk_algo:
        algo = sdk_algo.upper()
        if algo not in ck.ALGORITHMS:
            raise S3Error("InvalidRequest", "Checksum algorithm provided is unsupported. Please try again with "
                          "any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
        integ.algorithms.add(algo)
    if len(integ.expected) > 1:
        raise S3Error("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are "
                      "not allowed.")
    return integ


def _int_header(name: str, value: str) -> int:
    try:
        n = int(value)
        if n < 0:
            raise ValueError
        return n
    except ValueError:
        raise S3Error("InvalidArgument", f"{name} is invalid", ArgumentName=name, ArgumentValue=value) from None


def _chunked_te(request: web.BaseRequest) -> bool:
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


async def body_stream(request: web.BaseRequest, plan: BodyPlan, integ: Integrity) -> AsyncIterator[bytes]:
    """The request payload as byte pieces; raises S3Error for bad framing, signatures or truncation."""
    content = request.content
    try:
        if not plan.streaming:
            async for data in content.iter_any():
                yield data
            return
        dec = AwsChunkedDecoder(
            plan.mode, signing_key=plan.signing_key, amz_date=plan.amz_date, scope=plan.scope,
            seed_signature=plan.seed_signature, declared_trailers=plan.trailers,
            expected_length=integ.content_length,
        )
        try:
            async for data in content.iter_any():
                for piece in dec.feed(data):
                    yield bytes(piece)
            dec.finish()
        except ChunkedError as e:
            raise S3Error(e.code, e.message) from None
        for name, value in dec.trailers.items():
            algo = ck.algo_from_header(name)
            if algo is not None:
                try:
                    ck.decode_b64_checksum(algo, value)
                except ValueError:
                    raise S3Error("InvalidRequest", f"Value for {name} trailing header is invalid.") from None
                integ.expected[algo] = value
    except (ConnectionError, EOFError) as e:
        raise S3Error("IncompleteBody", f"The request body ended early: {e}") from None


async def read_small_body(
    request: web.BaseRequest, plan: BodyPlan, limit: int, *, checksum_headers: bool = True
) -> bytes:
    """A whole (XML) request document, bounded by `limit`, verified like any other body.

    CompleteMultipartUpload's x-amz-checksum-* headers describe the object, not the document:
    it passes checksum_headers=False."""
    integ = integrity_for(request, plan, require_length=False, checksum_headers=checksum_headers)
    if integ.content_length is not None and integ.content_length > limit:
        raise S3Error("MaxMessageLengthExceeded", "Your request was too big.")
    pieces: list[bytes] = []
    size = 0
    hs = integ.hashers(default_checksum=False)
    async for data in body_stream(request, plan, integ):
        size += len(data)
        if size > limit:
            raise S3Error("MaxMessageLengthExceeded", "Your request was too big.")
        pieces.append(data)
        for h in hs.values():
            h.update(data)
    integ.verify(size, hs)
    return b"".join(pieces)


async def read_json_object(request: web.BaseRequest, plan: BodyPlan, limit: int) -> dict[str, Any]:
    """A small JSON request document that must be an object; an empty body reads as `{}`.

    Shared by the admin API and the OpenIO API, which answer bad JSON the same way."""
    raw = await read_small_body(request, plan, limit)
    if not raw.strip():
        return {}
    try:
        doc = parse_json(raw)
    except JsonTooDeep as e:
        raise S3Error("MalformedJSON", str(e), status=400) from None
    except ValueError:
        raise S3Error("MalformedJSON", "The request body is not valid JSON.", status=400) from None
    if not isinstance(doc, dict):
        raise S3Error("MalformedJSON", "The request body must be a JSON object.", status=400)
    return doc


MAX_JSON_DEPTH = 32  # request documents of the admin, OpenIO and AIStore APIs are a few levels deep


class JsonTooDeep(ValueError):
    pass


def parse_json(raw: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads with nesting bounded: deeper documents are a ValueError (JsonTooDeep), never the
    RecursionError the C scanner raises near Python's recursion limit (which would be a 500)."""
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise JsonTooDeep(f"The JSON document is nested more than {max_depth} levels deep.") from None
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > max_depth:
                raise JsonTooDeep(f"The JSON document is nested more than {max_depth} levels deep.")
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return doc
