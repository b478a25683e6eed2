"""POST Object: browser-based uploads with an HTML form (multipart/form-data).

The form's fields come first, the ``file`` part last; fields after the file are ignored, as in S3.
The caller is named by the form's own signature over its policy document (SigV4 or SigV2 fields),
or is anonymous when the form has no policy (then only a bucket policy or ACL allowing anonymous
writes lets it in). The file is streamed to the service like any PUT body; content-length-range is
enforced while it streams, so an oversized upload is refused before anything is committed.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import AsyncIterator
from urllib.parse import quote, urlencode

from aiohttp import BodyPartReader, web
from multidict import CIMultiDict

from coffer.protocol import checksums as ck
from coffer.protocol import post_policy, sigv4
from coffer.protocol.errors import S3Error
from coffer.server.crypto.envelope import sse_request
from coffer.server.http.common.context import Ctx, handles
from coffer.server.http.common.gate import request_context
from coffer.server.http.common.hooks import around_write
from coffer.server.http.common.respond import quoted, xml_response
from coffer.server.http.common.sse import secure
from coffer.server.http.s3.objects import put_result_headers
from coffer.server.http.s3.tagging import tagging_document
from coffer.server.meta.model import ObjectRecord
from coffer.server.service import ANONYMOUS, Integrity, Principal, PutParams

MAX_FIELD = 20 * 1024
MAX_FIELDS_TOTAL = 64 * 1024
_STORED = {"cache-control": "Cache-Control", "content-disposition": "Content-Disposition",
           "content-encoding": "Content-Encoding", "expires": "Expires", "content-language": "Content-Language"}


def _malformed(msg: str = "The body of your POST request is not well-formed multipart/form-data.") -> S3Error:
    return S3Error("MalformedPOSTRequest", msg)


def _fields_too_large() -> S3Error:
    return S3Error("MaxPostPreDataLengthExceeded", "Your POST request fields preceding the upload file were too "
                   "large.", status=400)


async def _read_form(ctx: Ctx) -> tuple[dict[str, str], BodyPartReader | None, str]:
    """(fields by lowercase name, the file part or None, the file's name)."""
    if not (ctx.header("Content-Type") or "").lower().startswith("multipart/form-data"):
        raise S3Error("PreconditionFailed", "Bucket POST must be of the enclosure-type multipart/form-data",
                      Condition="Bucket POST must be of the enclosure-type multipart/form-data")
    try:
        reader = await ctx.request.multipart()
    except (ValueError, AssertionError, KeyError):
        raise _malformed() from None
    fields: dict[str, str] = {}
    total = 0
    while True:
        try:
            part = await reader.next()
        except ValueError:
            raise _malformed() from None
        if part is None:
            return fields, None, ""
        if not isinstance(part, BodyPartReader) or not part.name:
            raise _malformed()
        name = part.name.lower()
        if name == "file":
            return fields, part, part.filename or ""
        raw = bytearray()
        while chunk := await part.read_chunk(8192):
            raw += chunk
            if len(raw) > MAX_FIELD:
                raise _fields_too_large()
        total += len(raw)
        if total > MAX_FIELDS_TOTAL:
            raise _fields_too_large()
        try:
            fields[name] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed() from None


async def _caller(ctx: Ctx, fields: dict[str, str]) -> Principal:
    """Verify the form's signature; no policy field means an anonymous upload."""
    policy_b64 = fields.get("policy")
    if policy_b64 is None:
        return ANONYMOUS
    if "x-amz-signature" in fields:
        if fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
            raise S3Error("InvalidArgument", "Only AWS4-HMAC-SHA256 is supported",
                          ArgumentName="x-amz-algorithm", ArgumentValue=fields.get("x-amz-algorithm"))
        parts = (fields.get("x-amz-credential") or "").split("/")
        if len(parts) != 5 or parts[4] != "aws4_request":
            raise S3Error("InvalidArgument", "Invalid credential", ArgumentName="x-amz-credential",
                          ArgumentValue=fields.get("x-amz-credential"))
        access_key, date, region, service, _ = parts
        if (fields.get("x-amz-date") or "")[:8] != date:
            raise S3Error("InvalidArgument", "The x-amz-date field does not match the credential's date",
                          ArgumentName="x-amz-date", ArgumentValue=fields.get("x-amz-date"))
        if region != ctx.cfg.region and (ctx.bucket_rec is None or ctx.bucket_rec.region != region):
            raise S3Error("AuthorizationHeaderMalformed", f"the region '{region}' is wrong; expecting "
                          f"'{ctx.cfg.region}'", Region=ctx.cfg.region)
        secret, who = await ctx.svc.users.credentials(access_key)
        key = sigv4.signing_key(secret, date, region, service)
        good = post_policy.sign_v4(key, policy_b64)
        given = fields["x-amz-signature"]
    elif "signature" in fields and "awsaccesskeyid" in fields:
        access_key = fields["awsaccesskeyid"]
        secret, who = await ctx.svc.users.credentials(access_key)
        good, given = post_policy.sign_v2(secret, policy_b64), fields["signature"]
    else:
        raise S3Error("InvalidArgument", "Bucket POST must contain a field named 'x-amz-signature' with a "
                      "policy", ArgumentName="x-amz-signature")
    if not hmac.compare_digest(good.encode(), given.encode()):
        raise S3Error("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                      "signature you provided. Check your key and signing method.", AWSAccessKeyId=access_key)
    return who


async def _file_body(part: BodyPartReader, policy: post_policy.PostPolicy | None, max_size: int,
                     ) -> AsyncIterator[bytes]:
    size = 0
    while chunk := await part.read_chunk(256 * 1024):
        size += len(chunk)
        post_policy.check_length(policy, size, final=False)
        if size > max_size:
            raise S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
        yield chunk
    post_policy.check_length(policy, size, final=True)  # before the service commits anything


@handles("PostObject")
async def post_object(ctx: Ctx) -> web.StreamResponse:
    fields, part, filename = await _read_form(ctx)
    ctx.bucket_rec = await ctx.svc.core.meta.get_bucket(ctx.bucket)
    who = await _caller(ctx, fields)
    policy = post_policy.parse_post_policy(fields["policy"]) if "policy" in fields else None
    if "key" not in fields:
        raise S3Error("InvalidArgument", "Bucket POST must contain a field named 'key'.  If it is specified, "
                      "please check the order of the fields.", ArgumentName="key")
    key = fields["key"].replace("${filename}", filename)
    if not key:
        raise S3Error("InvalidArgument", "User key must have a length greater than 0.", ArgumentName="key")
    if policy is not None:
        post_policy.check_fields(policy, {**fields, "bucket": ctx.bucket, "key": key}, time.time())
    if part is None:
        raise S3Error("InvalidArgument", "POST requires exactly one file upload per request.",
                      ArgumentName="file", ArgumentValue="0")
    ctx.who = who
    ctx.bucket_rec = await ctx.svc.access.authorize(who, "s3:PutObject", ctx.bucket, key,
                                                    lambda: {**request_context(ctx), "s3:authtype": "POST"})
    if ctx.bucket_rec is not None:
        await ctx.svc.admin.check_write(ctx.bucket_rec, int(ctx.header("Content-Length") or 0))
    acl_headers = {k: v for k, v in fields.items() if k.startswith("x-amz-grant-")}
    if "acl" in fields:
        acl_headers["x-amz-acl"] = fields["acl"]
    owner, props = await ctx.svc.access.new_object(who, ctx.bucket_rec, acl_headers)
    # encryption fields, read like the PutObject headers of the same names
    sse_fields = CIMultiDict((k, v) for k, v in fields.items() if k.startswith("x-amz-server-side-encryption"))
    params = PutParams(
        content_type=fields.get("content-type") or part.headers.get("Content-Type"),
        headers={_STORED[k]: v for k, v in fields.items() if k in _STORED},
        user_meta={k[11:]: v for k, v in fields.items() if k.startswith("x-amz-meta-")},
        storage_class=fields.get("x-amz-storage-class", "STANDARD"), owner=owner, props=props,
        sse=sse_request(sse_fields, secure=secure(ctx)) if sse_fields else None,
        tags=tagging_document(fields["tagging"]) if "tagging" in fields else None,
    )
    integrity = _form_integrity(fields)

    async def store() -> web.StreamResponse:
        rec = await ctx.svc.objects.put(who, ctx.bucket, key, _file_body(part, policy, ctx.cfg.limits.max_put_size),
                                        params, integrity)
        return _answer(ctx, fields, key, rec)

    # frozen buckets refuse it; bucket notifications get an s3:ObjectCreated:Post event
    return await around_write(ctx.svc, ctx.bucket, key, "s3:ObjectCreated:Post", who.user_id, ctx.request_id,
                              ctx.request, store)


def _form_integrity(fields: dict[str, str]) -> Integrity:
    """The form's x-amz-checksum-<algorithm> field (checked against the file: BadDigest) and
    x-amz-checksum-algorithm (the checksum to compute and store), as their PutObject headers."""
    integ = Integrity()
    for name, value in fields.items():
        if name.startswith("x-amz-checksum-") and name not in ("x-amz-checksum-algorithm", "x-amz-checksum-type"):
            algo = ck.algo_from_header(name)
            if algo is None:
                raise S3Error("InvalidRequest", f"Unsupported checksum field {name}.")
            try:
                ck.decode_b64_checksum(algo, value)
            except ValueError:
                raise S3Error("InvalidRequest", f"Value for {name} field is invalid.") from None
            integ.expected[algo] = value
    if "x-amz-checksum-algorithm" in fields:
        algo = fields["x-amz-checksum-algorithm"].upper()
        if algo not in ck.ALGORITHMS:
            raise S3Error("InvalidRequest", "Checksum algorithm provided is unsupported. Please try again with "
                          "any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
        integ.algorithms.add(algo)
    if len(integ.expected) > 1:
        raise S3Error("InvalidRequest", "Expecting a single x-amz-checksum- field. Multiple checksum Types are "
                      "not allowed.")
    return integ


def _answer(ctx: Ctx, fields: dict[str, str], key: str, rec: ObjectRecord) -> web.StreamResponse:
    location = f"{ctx.request.scheme}://{ctx.request.host}/{quote(ctx.bucket)}/{quote(key)}"
    headers = {**put_result_headers(rec), "Location": location}
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    if redirect:
        sep = "&" if "?" in redirect else "?"
        target = redirect + sep + urlencode({"bucket": ctx.bucket, "key": key, "etag": quoted(rec.etag)})
        return web.Response(status=303, headers={**headers, "Location": target})
    status = fields.get("success_action_status")
    if status == "201":
        return xml_response("PostResponse", {"Location": location, "Bucket": ctx.bucket, "Key": key,
                                             "ETag": quoted(rec.etag)}, status=201, headers=headers)
    if status == "200":
        return web.Response(status=200, headers=headers)
    return web.Response(status=204, headers=headers)
