"""CORS in the request path: OPTIONS preflight answers and the Access-Control-* headers of actual
requests, from the bucket's CORS rules (stored by http/s3/bucket_config.py as ``props["cors"]``).

Rules are tried in order; the first whose AllowedOrigin, AllowedMethod and (preflight) AllowedHeader
patterns all match is the one applied, as S3 does. Patterns may hold one ``*``. Preflight needs no
signature (browsers cannot sign it); actual requests are authenticated as usual and their response,
errors included, carries the matching rule's headers (`ids.stamp` adds ``request["cors"]``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.meta.model import Bucket
from coffer.server.service import Service

_NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the evalution of "
                "Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are "
                "not whitelisted by the resource's CORS spec.")


def pattern_match(pattern: str, value: str, *, fold: bool = False) -> bool:
    """S3's CORS patterns: literal, or one ``*`` standing for any run of characters."""
    if fold:
        pattern, value = pattern.lower(), value.lower()
    if "*" not in pattern:
        return pattern == value
    head, _, tail = pattern.partition("*")
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def match_rule(rules: list[dict[str, Any]], origin: str, method: str,
               headers: list[str] | None = None) -> dict[str, Any] | None:
    for rule in rules:
        if not any(pattern_match(p, origin) for p in rule["AllowedOrigin"]):
            continue
        if method not in rule["AllowedMethod"]:
            continue
        if headers and not all(any(pattern_match(p, h, fold=True) for p in rule["AllowedHeader"])
                               for h in headers):
            continue
        return rule
    return None


def rule_headers(rule: dict[str, Any], origin: str, *, preflight: bool,
                 requested_headers: list[str] | None = None) -> dict[str, str]:
    wildcard = "*" in rule["AllowedOrigin"]
    out = {"Access-Control-Allow-Origin": "*" if wildcard else origin,
           "Access-Control-Allow-Methods": ", ".join(rule["AllowedMethod"]),
           "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"}
    if not wildcard:
        out["Access-Control-Allow-Credentials"] = "true"
    if rule.get("ExposeHeader"):
        out["Access-Control-Expose-Headers"] = ", ".join(rule["ExposeHeader"])
    if rule.get("MaxAgeSeconds") is not None:
        out["Access-Control-Max-Age"] = str(rule["MaxAgeSeconds"])
    if preflight and requested_headers:
        out["Access-Control-Allow-Headers"] = ", ".join(requested_headers)
    return out


def _rules(b: Bucket | None) -> list[dict[str, Any]] | None:
    doc = b.props.get("cors") if b is not None else None
    return doc["rules"] if doc else None


async def preflight(service: Service, request: web.BaseRequest, bucket: str | None) -> web.Response:
    origin = request.headers.get("Origin")
    method = request.headers.get("Access-Control-Request-Method")
    if not origin:
        raise S3Error("BadRequest", "Insufficient information. Origin request header needed.")
    if not method:
        raise S3Error("BadRequest", "Invalid Access-Control-Request-Method: null")
    raw = request.headers.get("Access-Control-Request-Headers", "")
    wanted = [h.strip().lower() for h in raw.split(",") if h.strip()]
    b = await service.bucket_config.public(bucket) if bucket else None
    if bucket and b is None:
        raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=bucket)
    rules = _rules(b)
    if rules is None:
        raise S3Error("AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.", status=403,
                      Method=method, ResourceType="BUCKET")
    rule = match_rule(rules, origin, method, wanted)
    if rule is None:
        raise S3Error("AccessForbidden", _NOT_ALLOWED, status=403, Method=method, ResourceType="OBJECT")
    return web.Response(status=200, headers=rule_headers(rule, origin, preflight=True, requested_headers=wanted))


async def note_actual(service: Service, request: web.BaseRequest, bucket: str | None) -> None:
    """For a request with an Origin header on a bucket with CORS rules: remember the headers to add."""
    origin = request.headers.get("Origin")
    if not origin or not bucket:
        return
    rules = _rules(await service.bucket_config.public(bucket))
    if not rules:
        return
    rule = match_rule(rules, origin, request.method)
    if rule is not None:
        request["cors"] = rule_headers(rule, origin, preflight=False)
