"""What an object write's request headers ask for: stored headers, user metadata, conditions,
tagging, object lock and retention, the storage policy (`put_params`, `lock_request`).

Shared by every front that writes objects with S3 headers (S3's PutObject, CopyObject and multipart
uploads; DS3's blob PUT). `REDIRECT_HEADER` is stored with the object and answered by the website
front as a 301.
"""

from __future__ import annotations

from coffer.protocol.errors import S3Error
from coffer.protocol.timeutil import parse_http_date, parse_iso8601
from coffer.server.http.common.context import RequestContext, parse_int
from coffer.server.meta.model import Expect
from coffer.server.service import PutParams
from coffer.server.service.objects.tagging import parse_tagging_header
from coffer.server.service.worm.retention import LockRequest

REDIRECT_HEADER = "x-amz-website-redirect-location"  # stored with the object; the website answers 301
STORED_HEADERS = ("Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires",
                  REDIRECT_HEADER)


def check_redirect_location(value: str | None) -> None:
    if value is not None and (not value.startswith(("/", "http://", "https://")) or len(value) > 2048):
        raise S3Error("InvalidArgument", "The website redirect location must have a prefix of 'http://' or "
                      "'https://' or '/'.", ArgumentName=REDIRECT_HEADER, ArgumentValue=value[:256])


def header_int(value: str | None, name: str) -> int | None:
    """An integer header (or XML element) value; None when absent or blank."""
    return parse_int(value, name, None, lo=None, not_an_integer=_not_an_integer)


def _not_an_integer(name: str, raw: str) -> S3Error:
    return S3Error("InvalidArgument", f"{name} must be an integer.", ArgumentName=name, ArgumentValue=raw)


def header_date(value: str | None, name: str) -> float | None:
    """An ISO 8601 or HTTP date header (or XML element) value; None when absent."""
    if value is None:
        return None
    ts = parse_iso8601(value)
    if ts is None:
        ts = parse_http_date(value)
    if ts is None:
        raise S3Error("InvalidArgument", f"{name} is not a valid date.", ArgumentName=name, ArgumentValue=value)
    return ts


def lock_request(ctx: RequestContext) -> LockRequest | None:
    """Object lock (S3) and retention (IBM) headers of a PUT, copy or multipart request."""
    h = ctx.request.headers
    hold = h.get("x-amz-object-lock-legal-hold")
    if hold is not None and hold not in ("ON", "OFF"):
        raise S3Error("InvalidArgument", "Legal Hold must be either of 'ON' or 'OFF'",
                      ArgumentName="x-amz-object-lock-legal-hold", ArgumentValue=hold)
    req = LockRequest(
        mode=h.get("x-amz-object-lock-mode"),
        until=header_date(h.get("x-amz-object-lock-retain-until-date"), "x-amz-object-lock-retain-until-date"),
        legal_hold=None if hold is None else hold == "ON",
        ibm_period=header_int(h.get("Retention-Period"), "Retention-Period"),
        ibm_until=header_date(h.get("Retention-Expiration-Date"), "Retention-Expiration-Date"),
        ibm_hold=h.get("Retention-Legal-Hold-ID"),
    )
    return req if req.any_s3() or req.any_ibm() else None


def put_params(ctx: RequestContext) -> PutParams:
    """What a PUT (or a copy with REPLACE, or CreateMultipartUpload) stores beside the bytes."""
    h = ctx.request.headers
    headers = {n: h[n] for n in STORED_HEADERS if n in h}
    check_redirect_location(headers.get(REDIRECT_HEADER))
    if "Content-Encoding" in headers:  # aws-chunked is transfer framing, not part of the object
        enc = ",".join(e.strip() for e in headers["Content-Encoding"].split(",") if e.strip() != "aws-chunked")
        if enc:
            headers["Content-Encoding"] = enc
        else:
            del headers["Content-Encoding"]
    user_meta = {k[11:].lower(): v for k, v in h.items() if k.lower().startswith("x-amz-meta-")}
    expect = write_expect(ctx)
    tagging = h.get("x-amz-tagging")
    return PutParams(content_type=h.get("Content-Type"), headers=headers, user_meta=user_meta,
                     storage_class=h.get("x-amz-storage-class", "STANDARD"), expect=expect,
                     tags=parse_tagging_header(tagging) if tagging is not None else None, lock=lock_request(ctx),
                     storage_policy=h.get("x-coffer-storage-policy"))


def write_expect(ctx: RequestContext) -> Expect | None:
    """S3's conditional writes (PutObject, CopyObject, CompleteMultipartUpload): If-None-Match `*` (no
    current object) or an ETag (the current object, if any, has another), If-Match an ETag or `*`;
    checked in the metadata transaction that commits the write."""
    h = ctx.request.headers
    inm, im = h.get("If-None-Match"), h.get("If-Match")
    if inm is None and im is None:
        return None
    inm = inm.strip().strip('"') if inm is not None else None
    return Expect(if_match=im.strip().strip('"') if im is not None else None,
                  if_none_match_any=inm == "*", if_none_match=inm if inm not in (None, "*") else None)
