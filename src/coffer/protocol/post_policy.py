"""Browser-based uploads (POST Object): the policy document, its signature and its conditions.

Pure functions shared by the server (to check) and the SDK/tests (to sign). A policy is base64 JSON
``{"expiration": ISO8601, "conditions": [...]}``; a condition is ``{"field": "value"}`` (exact
match), ``["eq"|"starts-with", "$field", "value"]`` or ``["content-length-range", min, max]``.
SigV4 signs the base64 text with the request's signing key (hex HMAC-SHA256); SigV2 with the secret
(base64 HMAC-SHA1). Every form field except the signature itself, ``file``, ``policy`` and
``x-ignore-*`` must be named by a condition, as S3 requires. Failures are S3's: AccessDenied
"Invalid according to Policy: ..." for a condition, InvalidPolicyDocument for a bad document.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime

from coffer.protocol.errors import S3Error

# Fields a policy need not mention (the signature and what carries it).
EXEMPT = frozenset({
    "policy", "file", "x-amz-signature", "signature", "awsaccesskeyid", "x-amz-security-token",
})
# Fields whose conditions S3 checks but which the form may omit: "bucket" is the request's bucket.


@dataclass(frozen=True)
class Condition:
    op: str  # "eq" | "starts-with"
    field: str  # lowercase, without "$"
    value: str


@dataclass
class PostPolicy:
    expiration: float
    conditions: list[Condition] = field(default_factory=list)
    length_range: tuple[int, int] | None = None


def _invalid(msg: str) -> S3Error:
    return S3Error("InvalidPolicyDocument", f"Invalid Policy: {msg}")


def _failed(msg: str) -> S3Error:
    return S3Error("AccessDenied", f"Invalid according to Policy: {msg}")


def parse_expiration(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise _invalid("Invalid 'expiration' value: '" + text + "'") from None


def parse_post_policy(policy_b64: str) -> PostPolicy:
    try:
        doc = json.loads(base64.b64decode(policy_b64, validate=True))
    except (binascii.Error, ValueError):
        raise _invalid("Invalid JSON.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("expiration"), str):
        raise _invalid("Policy missing expiration.")
    out = PostPolicy(parse_expiration(doc["expiration"]))
    conds = doc.get("conditions")
    if not isinstance(conds, list):
        raise _invalid("Policy missing conditions.")
    for c in conds:
        if isinstance(c, dict):
            if len(c) != 1:
                raise _invalid("Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.")
            (name, value), = c.items()
            if not isinstance(value, str):
                raise _invalid(f"Invalid Simple-Condition: value of {name} must be a string.")
            out.conditions.append(Condition("eq", name.lower().lstrip("$"), value))
        elif isinstance(c, list) and len(c) == 3 and isinstance(c[0], str):
            op = c[0].lower()
            if op == "content-length-range":
                try:
                    lo, hi = int(c[1]), int(c[2])
                except (TypeError, ValueError):
                    raise _invalid("Invalid content-length-range values.") from None
                if lo < 0 or hi < lo:
                    raise _invalid("Invalid content-length-range values.")
                out.length_range = (lo, hi)
            elif op in ("eq", "starts-with") and isinstance(c[1], str) and c[1].startswith("$") \
                    and isinstance(c[2], str):
                out.conditions.append(Condition(op, c[1][1:].lower(), c[2]))
            else:
                raise _invalid(f"Invalid condition: {json.dumps(c)}")
        else:
            raise _invalid(f"Invalid condition: {json.dumps(c)}")
    return out


def _matches(c: Condition, value: str) -> bool:
    if c.op == "eq":
        return value == c.value
    if c.field == "content-type" and "," in value:  # each listed type must start with the prefix
        return all(v.strip().startswith(c.value) for v in value.split(","))
    return value.startswith(c.value)


def check_fields(policy: PostPolicy, fields: dict[str, str], now: float) -> None:
    """``fields``: the form fields by lowercase name (``bucket`` added by the caller)."""
    if now > policy.expiration:
        raise _failed("Policy expired.")
    for c in policy.conditions:
        value = fields.get(c.field)
        if value is None or not _matches(c, value):
            raise _failed(f'Policy Condition failed: ["{c.op}", "${c.field}", "{c.value}"]')
    named = {c.field for c in policy.conditions}
    extra = [f for f in fields
             if f not in named and f not in EXEMPT and f != "bucket" and not f.startswith("x-ignore-")]
    if extra:
        raise _failed("Extra input fields: " + ", ".join(sorted(extra)))


def check_length(policy: PostPolicy | None, size: int, final: bool) -> None:
    """While streaming (final=False) only the upper bound; at the end both."""
    if policy is None or policy.length_range is None:
        return
    lo, hi = policy.length_range
    if size > hi:
        raise S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                      ProposedSize=str(size), MaxSizeAllowed=str(hi))
    if final and size < lo:
        raise S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size",
                      ProposedSize=str(size), MinSizeAllowed=str(lo))


def sign_v4(signing_key: bytes, policy_b64: str) -> str:
    return hmac.new(signing_key, policy_b64.encode(), hashlib.sha256).hexdigest()


def sign_v2(secret: str, policy_b64: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), policy_b64.encode(), hashlib.sha1).digest()).decode()
