"""Authentication: which user signed this request, and how its body must be verified.

Handles the four ways S3 clients sign — SigV4 in the Authorization header, SigV4 presigned query
parameters, SigV2 header and SigV2 query string — using the pure signing functions in
coffer.protocol (the same ones the SDK signs with). The answer is a `Principal` plus a `BodyPlan`:
whether the payload is a plain body with a signed SHA-256, UNSIGNED-PAYLOAD, or one of the
aws-chunked streaming modes (with the seed signature the chunk signatures chain from).
"""

from __future__ import annotations

import hmac
import re
import time
from dataclasses import dataclass, field

from coffer.protocol import sigv2, sigv4
from coffer.protocol.errors import S3Error
from coffer.protocol.timeutil import parse_amz_date, parse_http_date
from coffer.server.config import Limits
from coffer.server.service import ANONYMOUS, Principal, Service
from coffer.server.service.access.tokens import TokenError

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
STREAMING_MODES = frozenset({
    sigv4.STREAMING_PAYLOAD, sigv4.STREAMING_PAYLOAD_TRAILER, sigv4.STREAMING_UNSIGNED_TRAILER,
})


@dataclass(slots=True)
class BodyPlan:
    mode: str = sigv4.UNSIGNED_PAYLOAD  # a hex sha256, UNSIGNED-PAYLOAD or a STREAMING-* mode
    signing_key: bytes | None = None
    amz_date: str = ""
    scope: str = ""
    seed_signature: str = ""
    trailers: tuple[str, ...] = field(default_factory=tuple)

    @property
    def sha256(self) -> str | None:
        return self.mode.lower() if _HEX64.match(self.mode) else None

    @property
    def streaming(self) -> bool:
        return self.mode in STREAMING_MODES


IAM_TOKEN_PATH = "/identity/token"  # IBM IAM's token path, served on the S3 address (http/s3/identity.py)
parse_query = sigv4.parse_query  # raw query -> decoded pairs, '+' kept literally (as signed)


def _v2_mismatch(access_key: str, sts: str) -> S3Error:
    return S3Error("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                   "signature you provided. Check your key and signing method.",
                   AWSAccessKeyId=access_key, StringToSign=sts)


def _denied(msg: str = "Access Denied") -> S3Error:
    return S3Error("AccessDenied", msg)


# x-amz-* headers that only add integrity checks on the body (a wrong value fails the sender's own
# upload): they may travel unsigned. Every other x-amz-* header changes what the request does.
_INTEGRITY_ONLY = ("x-amz-content-sha256", "x-amz-checksum-", "x-amz-sdk-checksum-algorithm", "x-amz-trailer",
                   "x-amz-decoded-content-length")


def require_signed(headers, signed: tuple[str, ...] | list[str]) -> None:
    """SigV4 (header or presigned URL): every x-amz-* header that changes the request must be signed,
    else S3's AccessDenied. Without this a presigned PUT's holder could add x-amz-acl: public-read,
    grants, retention, tags or a website redirect that the signer never agreed to."""
    names = set(signed)
    unsigned = sorted({k.lower() for k in headers if k.lower().startswith("x-amz-") and k.lower() not in names
                       and not k.lower().startswith(_INTEGRITY_ONLY)})
    if unsigned:
        raise S3Error("AccessDenied", "There were headers present in the request which were not signed",
                      HeadersNotSigned=", ".join(unsigned))


def check_framing(headers) -> None:
    """Requests whose meaning is ambiguous are refused, never half-understood: two Authorization
    headers (which one did the proxy check?) and a Transfer-Encoding other than plain chunked."""
    if len(headers.getall("Authorization", ())) > 1:
        raise S3Error("InvalidArgument", "Only one Authorization header is allowed.", ArgumentName="Authorization")
    te = [v.strip().lower() for v in ",".join(headers.getall("Transfer-Encoding", ())).split(",") if v.strip()]
    if te and te != ["chunked"]:
        raise S3Error("NotImplemented", "A header you provided implies functionality that is not implemented",
                      status=501, Header="Transfer-Encoding")


class Authenticator:
    def __init__(self, service: Service, limits: Limits, region: str) -> None:
        self.service = service
        self.limits = limits
        self.region = region

    async def _check_region(self, region: str, bucket: str | None, malformed: str) -> None:
        """Requests are signed for the server's region, or for the region of the bucket they address."""
        if region == self.region:
            return
        b = await self.service.core.meta.get_bucket(bucket) if bucket else None
        if b is None or b.region != region:
            raise S3Error(malformed, f"the region '{region}' is wrong; expecting '{self.region}'",
                          Region=self.region)

    async def authenticate(
        self, method: str, raw_path: str, raw_query: str, headers, query: dict[str, str], bucket: str | None = None
    ) -> tuple[Principal, BodyPlan]:
        self._bucket = bucket
        check_framing(headers)
        auth = headers.get("Authorization")
        if auth is not None:
            if auth.startswith("AWS4-HMAC-SHA256"):
                return await self._v4_header(method, raw_path, raw_query, headers, auth)
            if auth.startswith("AWS "):
                return await self._v2(method, raw_path, query, headers, auth), self._plain_plan(headers)
            if auth.startswith("Bearer "):  # IBM IAM-style tokens from POST /identity/token (ibm_boto3 oauth)
                return await self._bearer(auth[7:].strip()), self._plain_plan(headers)
            if auth.startswith("Basic ") and raw_path == IAM_TOKEN_PATH and method == "POST":
                return ANONYMOUS, self._plain_plan(headers)  # IAM clients send a fixed Basic header; the form decides
            raise S3Error("InvalidArgument", "Unsupported Authorization Type", ArgumentName="Authorization",
                          ArgumentValue=auth[:40])
        if "X-Amz-Algorithm" in query or "X-Amz-Signature" in query:
            return await self._v4_query(method, raw_path, raw_query, headers, query)
        if "Signature" in query and "AWSAccessKeyId" in query:
            return await self._v2_query(method, raw_path, query, headers), self._plain_plan(headers)
        # Unsigned: an anonymous request, which only a bucket policy or ACL can allow (service.access).
        return ANONYMOUS, self._plain_plan(headers)

    async def _bearer(self, token: str) -> Principal:
        try:
            return await self.service.tokens.verify(token)
        except TokenError as e:
            raise S3Error("AccessDenied", f"The bearer token was refused: {e}") from None

    # -- SigV4 -------------------------------------------------------------------------------------
    def _check_time(self, amz_date: str) -> float:
        t = parse_amz_date(amz_date)
        if t is None:
            raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
        if abs(time.time() - t) > self.limits.clock_skew_seconds:
            raise S3Error("RequestTimeTooSkewed", "The difference between the request time and the current time "
                          "is too large.", RequestTime=amz_date, MaxAllowedSkewMilliseconds="900000")
        return t

    async def _v4_header(self, method, raw_path, raw_query, headers, auth) -> tuple[Principal, BodyPlan]:
        try:
            a = sigv4.parse_authorization(auth)
        except sigv4.SigV4ParseError as e:
            raise S3Error("AuthorizationHeaderMalformed", f"The authorization header is malformed; {e}") from None
        await self._check_region(a.region, self._bucket, "AuthorizationHeaderMalformed")
        secret, who = await self.service.users.credentials(a.access_key)
        amz_date = headers.get("x-amz-date") or ""
        if not amz_date:
            d = parse_http_date(headers.get("Date", ""))
            if d is None:
                raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(d))
        self._check_time(amz_date)
        if amz_date[:8] != a.date:
            raise S3Error("AuthorizationHeaderMalformed", "The authorization header is malformed; Invalid "
                          f"credential date. Date is not the same as X-Amz-Date: {a.date}.")
        payload = headers.get("x-amz-content-sha256")
        if payload is None:
            raise S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
        if payload not in STREAMING_MODES and payload != sigv4.UNSIGNED_PAYLOAD and not _HEX64.match(payload):
            raise S3Error("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                          "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD or a valid "
                          "sha256 value.", ArgumentName="x-amz-content-sha256", ArgumentValue=payload[:80])
        require_signed(headers, a.signed_headers)
        key = sigv4.signing_key(secret, a.date, a.region, a.service)
        scope = sigv4.scope(a.date, a.region, a.service)
        creq = sigv4.canonical_request(
            method, sigv4.canonical_uri_from_raw(raw_path), sigv4.canonical_query(parse_query(raw_query)),
            headers, list(a.signed_headers), payload,
        )
        sts = sigv4.string_to_sign(amz_date, scope, creq)
        if not hmac.compare_digest(sigv4.signature(key, sts), a.signature):
            raise S3Error("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                          "signature you provided. Check your key and signing method.",
                          AWSAccessKeyId=a.access_key, StringToSign=sts, CanonicalRequest=creq)
        plan = BodyPlan(mode=payload, signing_key=key, amz_date=amz_date, scope=scope, seed_signature=a.signature)
        if plan.streaming:
            trailer = headers.get("x-amz-trailer")
            plan.trailers = tuple(t.strip().lower() for t in trailer.split(",")) if trailer else ()
        return who, plan

    async def _v4_query(self, method, raw_path, raw_query, headers, query) -> tuple[Principal, BodyPlan]:
        # X-Amz-Expires <= 0, over a week or not a number: S3 answers 403 AccessDenied (as to an expired URL)
        raw_expires = query.get("X-Amz-Expires", "1")
        if not raw_expires.lstrip("-").isdigit() or not 1 <= int(raw_expires) <= self.limits.max_presign_expires:
            raise S3Error("AccessDenied", "X-Amz-Expires must be between 1 and 604800 seconds (a week)",
                          X_Amz_Expires=raw_expires)
        try:
            q = sigv4.parse_presigned(query)
        except sigv4.SigV4ParseError as e:
            raise S3Error("AuthorizationQueryParametersError", str(e)) from None
        await self._check_region(q.region, self._bucket, "AuthorizationQueryParametersError")
        secret, who = await self.service.users.credentials(q.access_key)
        t = parse_amz_date(q.amz_date)
        if t is None:
            raise S3Error("AuthorizationQueryParametersError", "X-Amz-Date must be in the ISO8601 Long Format "
                          "\"yyyyMMdd'T'HHmmss'Z'\"")
        now = time.time()
        if now > t + q.expires:
            raise S3Error("AccessDenied", "Request has expired", X_Amz_Expires=str(q.expires),
                          Expires=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t + q.expires)))
        if t - now > self.limits.clock_skew_seconds:
            raise S3Error("RequestTimeTooSkewed", "The difference between the request time and the current time "
                          "is too large.")
        require_signed(headers, q.signed_headers)
        params = [(k, v) for k, v in parse_query(raw_query) if k != "X-Amz-Signature"]
        payload = headers.get("x-amz-content-sha256") or sigv4.UNSIGNED_PAYLOAD
        key = sigv4.signing_key(secret, q.date, q.region, q.service)
        scope = sigv4.scope(q.date, q.region, q.service)
        creq = sigv4.canonical_request(method, sigv4.canonical_uri_from_raw(raw_path),
                                       sigv4.canonical_query(params), headers, list(q.signed_headers), payload)
        sts = sigv4.string_to_sign(q.amz_date, scope, creq)
        if not hmac.compare_digest(sigv4.signature(key, sts), q.signature):
            raise S3Error("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                          "signature you provided. Check your key and signing method.",
                          AWSAccessKeyId=q.access_key, StringToSign=sts, CanonicalRequest=creq)
        return who, BodyPlan(mode=payload if payload not in STREAMING_MODES else sigv4.UNSIGNED_PAYLOAD)

    # -- SigV2 -------------------------------------------------------------------------------------
    def _plain_plan(self, headers) -> BodyPlan:
        mode = headers.get("x-amz-content-sha256") or sigv4.UNSIGNED_PAYLOAD
        if mode in (sigv4.STREAMING_PAYLOAD, sigv4.STREAMING_PAYLOAD_TRAILER):
            raise S3Error("InvalidRequest", "Signed streaming uploads need Signature Version 4.")
        plan = BodyPlan(mode=mode)
        if plan.streaming:
            trailer = headers.get("x-amz-trailer")
            plan.trailers = tuple(t.strip().lower() for t in trailer.split(",")) if trailer else ()
        return plan

    async def _v2(self, method, raw_path, query, headers, auth) -> Principal:
        try:
            access_key, sig = sigv2.parse_authorization(auth)
        except ValueError:
            raise S3Error("InvalidArgument", "Authorization header is invalid -- one and only one ' ' "
                          "(space) required", ArgumentName="Authorization") from None
        secret, who = await self.service.users.credentials(access_key)
        date = headers.get("x-amz-date") or headers.get("Date")
        t = parse_http_date(date or "")
        if t is None:
            raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
        if abs(time.time() - t) > self.limits.clock_skew_seconds:
            raise S3Error("RequestTimeTooSkewed", "The difference between the request time and the current time "
                          "is too large.")
        # botocore signs a bucket path as "/bucket/" while sending "/bucket": accept either form
        for path in sigv2.resource_paths(raw_path):
            sts = sigv2.string_to_sign(method, path, query, headers)
            if hmac.compare_digest(sigv2.sign(secret, sts), sig):
                break
        else:
            raise _v2_mismatch(access_key, sts)
        return who

    async def _v2_query(self, method, raw_path, query, headers) -> Principal:
        access_key = query["AWSAccessKeyId"]
        try:
            expires = int(query.get("Expires", ""))
        except ValueError:
            raise _denied("Invalid date (should be seconds since epoch)") from None
        secret, who = await self.service.users.credentials(access_key)
        if time.time() > expires:
            raise _denied("Request has expired")
        for path in sigv2.resource_paths(raw_path):
            sts = sigv2.query_string_to_sign(method, path, query, headers, str(expires))
            if hmac.compare_digest(sigv2.sign(secret, sts), query["Signature"]):
                break
        else:
            raise _v2_mismatch(access_key, sts)
        return who
