"""Bucket-policy building blocks: wildcard matching, policy variables and the Condition operators.

This module owns the pieces of policy evaluation that look at strings: the ``*``/``?`` wildcard
matcher used by Action, Resource and StringLike, the ``${...}`` policy variables, and every Condition
operator with its AWS semantics (IfExists, ForAnyValue:/ForAllValues:, missing keys, negations).
Statement structure, parsing and the allow/deny decision live in :mod:`policy`.

A request *context* maps condition-key names to a string, a list of strings (multivalued keys) or
None (absent).  Key names are case-insensitive in AWS, except the part after the ``/`` of keys such
as ``s3:ExistingObjectTag/<tag key>`` (tag keys are case-sensitive), so :func:`norm_key` lowercases
only the part before the first ``/``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

Context = Mapping[str, "str | Sequence[str] | None"]

# Tokens of a compiled wildcard pattern: single characters are literals; these two are wildcards.
STAR = object()
ONE = object()
Token = object
_VAR = re.compile(r"\$\{([^}]*)\}")


class ConditionError(ValueError):
    """A Condition block that cannot be evaluated: its text becomes the MalformedPolicy message."""


# Condition keys S3 accepts (compared lowercased); the SUFFIXED ones take a tag key after the '/'.
_KEY_NAMES = """aws:SourceIp aws:SecureTransport aws:username aws:userid aws:CurrentTime aws:EpochTime
    aws:PrincipalArn aws:PrincipalAccount aws:PrincipalType aws:Referer aws:UserAgent aws:SourceVpc
    aws:SourceVpce aws:SourceArn aws:SourceAccount aws:TokenIssueTime aws:MultiFactorAuthPresent
    aws:MultiFactorAuthAge aws:ViaAWSService aws:CalledVia aws:RequestedRegion aws:TagKeys
    s3:prefix s3:delimiter s3:max-keys s3:x-amz-acl s3:x-amz-grant-read s3:x-amz-grant-write
    s3:x-amz-grant-read-acp s3:x-amz-grant-write-acp s3:x-amz-grant-full-control s3:x-amz-copy-source
    s3:x-amz-metadata-directive s3:x-amz-server-side-encryption s3:x-amz-server-side-encryption-aws-kms-key-id
    s3:x-amz-server-side-encryption-customer-algorithm s3:x-amz-storage-class s3:x-amz-content-sha256
    s3:VersionId s3:LocationConstraint s3:RequestObjectTagKeys s3:ExistingJobPriority s3:authType
    s3:signatureversion s3:signatureAge s3:TlsVersion s3:object-lock-mode s3:object-lock-retain-until-date
    s3:object-lock-remaining-retention-days s3:object-lock-legal-hold s3:ResourceAccount
    s3:AccessPointNetworkOrigin s3:DataAccessPointArn s3:DataAccessPointAccount"""
CONDITION_KEYS = frozenset(k.lower() for k in _KEY_NAMES.split())


SUFFIXED_KEYS = ("s3:existingobjecttag/", "s3:requestobjecttag/", "aws:requesttag/", "aws:principaltag/")


def known_key(key: str) -> bool:
    """Whether S3 accepts ``key`` in a Condition block (else MalformedPolicy)."""
    low = key.lower()
    return low in CONDITION_KEYS or any(low.startswith(p) and len(low) > len(p) for p in SUFFIXED_KEYS)


def norm_key(key: str) -> str:
    """Canonical form of a condition-key name: case-insensitive before the first '/', exact after."""
    head, sep, tail = key.partition("/")
    return head.lower() + sep + tail


def context_values(ctx: Context, key: str) -> list[str] | None:
    """The values of ``key`` in the context as a list, or None when the key is absent."""
    value = ctx.get(norm_key(key))
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


def glob_tokens(pattern: str) -> list[Token]:
    """Tokens of a plain wildcard pattern (no policy variables)."""
    return [STAR if c == "*" else ONE if c == "?" else c for c in pattern]


def expand_variables(pattern: str, ctx: Context, *, wildcards: bool) -> list[Token] | None:
    """Substitute ``${key}`` variables (2012-10-17 policies) and tokenise the pattern.

    ``${*}``, ``${?}`` and ``${$}`` are literal characters, never wildcards, which is why the result
    is a token list rather than a string.  A variable naming an absent key makes the value unusable
    (None), as in AWS, where such a value matches nothing; ``${key, 'default'}`` supplies a default.
    """
    out: list[Token] = []
    pos = 0
    for m in _VAR.finditer(pattern):
        out.extend(glob_tokens(pattern[pos : m.start()]) if wildcards else list(pattern[pos : m.start()]))
        name, _, default = m.group(1).partition(",")
        name = name.strip()
        if name in ("*", "?", "$"):
            out.append(name)
        else:
            values = context_values(ctx, name)
            if values and len(values) == 1:
                out.extend(values[0])
            elif default.strip().startswith("'") and default.strip().endswith("'") and len(default.strip()) >= 2:
                out.extend(default.strip()[1:-1])
            else:
                return None
        pos = m.end()
    out.extend(glob_tokens(pattern[pos:]) if wildcards else list(pattern[pos:]))
    return out


def match_tokens(tokens: Sequence[Token], text: str, *, fold: bool = False) -> bool:
    """Wildcard match: STAR matches any run (even empty, even across '/'), ONE exactly one character.

    The classic two-pointer algorithm with one backtrack point: linear in practice and never
    exponential, which matters because patterns come from untrusted policy documents.
    """
    if fold:
        text = text.lower()
        tokens = [t.lower() if isinstance(t, str) else t for t in tokens]
    t = p = 0
    star_p, star_t = -1, 0
    n_tok, n_txt = len(tokens), len(text)
    while t < n_txt:
        if p < n_tok and tokens[p] is not STAR and (tokens[p] is ONE or tokens[p] == text[t]):
            p += 1
            t += 1
        elif p < n_tok and tokens[p] is STAR:
            star_p, star_t = p, t
            p += 1
        elif star_p >= 0:
            star_t += 1
            t = star_t
            p = star_p + 1
        else:
            return False
    while p < n_tok and tokens[p] is STAR:
        p += 1
    return p == n_tok


def glob_match(pattern: str, text: str, *, fold: bool = False) -> bool:
    """True when ``text`` matches the wildcard ``pattern`` (``*`` and ``?``)."""
    return match_tokens(glob_tokens(pattern), text, fold=fold)


# -- value parsers -------------------------------------------------------------------------------------
def _number(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        raise ConditionError(f"Invalid numeric value {s}") from None


def parse_date(s: str) -> datetime:
    """AWS accepts ISO 8601 dates (with or without time, 'Z' or offset) and epoch seconds."""
    text = s.strip()
    if re.fullmatch(r"-?\d+", text) and len(text) != 8:
        return datetime.fromtimestamp(int(text), UTC)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConditionError(f"Invalid date value {s}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _network(s: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(s.strip(), strict=False)
    except ValueError:
        raise ConditionError(f"Invalid IP address or CIDR {s}") from None


def _in_network(value: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        addr = ipaddress.ip_address(value.strip())
    except ValueError:
        return False  # a context value that is not an address matches no network
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None and net.version == 4:
        addr = addr.ipv4_mapped  # ::ffff:a.b.c.d from a dual-stack socket is the v4 client
    return addr.version == net.version and addr in net


# -- operators -----------------------------------------------------------------------------------------
# Each base operator is (positive matcher, negated?).  A matcher gets one context value, the policy
# values and the context (for variables) and says whether the context value matches any policy value.
Matcher = Callable[[str, Sequence[str], Context], bool]


def _string_eq(fold: bool) -> Matcher:
    def match(value: str, wanted: Sequence[str], ctx: Context) -> bool:
        for w in wanted:
            toks = expand_variables(w, ctx, wildcards=False)
            if toks is None:
                continue
            lit = "".join(str(x) for x in toks)
            if lit == value or (fold and lit.lower() == value.lower()):
                return True
        return False

    return match


def _string_like(value: str, wanted: Sequence[str], ctx: Context) -> bool:
    for w in wanted:
        toks = expand_variables(w, ctx, wildcards=True)
        if toks is not None and match_tokens(toks, value):
            return True
    return False


def _numeric(cmp: Callable[[float, float], bool]) -> Matcher:
    def match(value: str, wanted: Sequence[str], ctx: Context) -> bool:
        try:
            v = float(value)
        except ValueError:
            return False
        return any(cmp(v, _number(w)) for w in wanted)

    return match


def _date(cmp: Callable[[datetime, datetime], bool]) -> Matcher:
    def match(value: str, wanted: Sequence[str], ctx: Context) -> bool:
        try:
            v = parse_date(value)
        except ConditionError:
            return False
        return any(cmp(v, parse_date(w)) for w in wanted)

    return match


def _bool(value: str, wanted: Sequence[str], ctx: Context) -> bool:
    return any(value.lower() == w.lower() for w in wanted)


def _ip(value: str, wanted: Sequence[str], ctx: Context) -> bool:
    return any(_in_network(value, _network(w)) for w in wanted)


_EQ: Callable[[object, object], bool] = lambda a, b: a == b  # noqa: E731
_COMPARISONS: dict[str, Callable] = {
    "Equals": _EQ,
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}

OPERATORS: dict[str, tuple[Matcher, bool]] = {
    "StringEquals": (_string_eq(False), False),
    "StringNotEquals": (_string_eq(False), True),
    "StringEqualsIgnoreCase": (_string_eq(True), False),
    "StringNotEqualsIgnoreCase": (_string_eq(True), True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (_string_like, False),  # ARN operators compare with wildcards like StringLike
    "ArnLike": (_string_like, False),
    "ArnNotEquals": (_string_like, True),
    "ArnNotLike": (_string_like, True),
    "Bool": (_bool, False),
    "IpAddress": (_ip, False),
    "NotIpAddress": (_ip, True),
    "NumericNotEquals": (_numeric(_EQ), True),
    "DateNotEquals": (_date(_EQ), True),
}
for _name, _cmp in _COMPARISONS.items():
    OPERATORS["Numeric" + _name] = (_numeric(_cmp), False)
    OPERATORS["Date" + _name] = (_date(_cmp), False)


def split_operator(name: str) -> tuple[str | None, str, bool]:
    """(set qualifier or None, base operator, if-exists) of a Condition operator name.

    Raises ConditionError with S3's wording for names it does not know.
    """
    qualifier: str | None = None
    base = name
    for q in ("ForAnyValue:", "ForAllValues:"):
        if base.startswith(q):
            qualifier, base = q[:-1], base[len(q) :]
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    if base == "Null" and not if_exists and qualifier is None:
        return None, base, False
    if base not in OPERATORS:
        raise ConditionError(f"Invalid Condition type : {name}")
    return qualifier, base, if_exists


def validate_values(base: str, values: Sequence[str]) -> None:
    """Check policy values at PutBucketPolicy time, so a bad CIDR or date never reaches evaluation."""
    for v in values:
        if base in ("IpAddress", "NotIpAddress"):
            _network(v)
        elif base.startswith("Numeric"):
            _number(v)
        elif base.startswith("Date"):
            parse_date(v)
        elif base in ("Bool", "Null") and v.lower() not in ("true", "false"):
            raise ConditionError(f"Invalid {base} value {v}")


def evaluate_condition(operator: str, key: str, values: Sequence[str], ctx: Context) -> bool:
    """One (operator, key, values) triple of a Condition block against the request context.

    AWS's rules: policy values are ORed; a missing key makes a positive operator false and a negated
    one true; IfExists makes a missing key true; ForAllValues is true for a missing key and needs every
    context value to match, ForAnyValue needs at least one.  Without a qualifier a multivalued context
    key behaves like ForAnyValue for positive operators and its complement for negated ones.
    """
    qualifier, base, if_exists = split_operator(operator)
    present = context_values(ctx, key)
    if base == "Null":
        want_absent = any(v.lower() == "true" for v in values)
        want_present = any(v.lower() == "false" for v in values)
        absent = present is None or len(present) == 0
        return (want_absent and absent) or (want_present and not absent)
    matcher, negated = OPERATORS[base]
    if present is None or (qualifier is None and not present):
        if if_exists or qualifier == "ForAllValues":
            return True
        return negated and qualifier is None
    if qualifier == "ForAllValues":
        return all(matcher(v, values, ctx) != negated for v in present)
    if qualifier == "ForAnyValue":
        return any(matcher(v, values, ctx) != negated for v in present)
    hit = any(matcher(v, values, ctx) for v in present)
    return hit != negated


# Keys whose fixed values pin a statement to known callers or networks (AWS's "public" analysis).
_NARROWING_NAMES = """aws:SourceIp aws:SourceVpc aws:SourceVpce aws:SourceArn aws:SourceAccount aws:PrincipalAccount
    aws:PrincipalArn aws:PrincipalOrgID aws:userid aws:username s3:DataAccessPointAccount"""
_NARROWING = frozenset(k.lower() for k in _NARROWING_NAMES.split())


def narrows_callers(operator: str, key: str, values: Sequence[str]) -> bool:
    """Whether a condition restricts a statement to fixed callers, so "*" in Principal is not public.

    Only positive equality-style operators on identity/network keys count, with no wildcard values;
    an IPv4 range wider than /8 (or IPv6 wider than /32) still counts as public, as in S3.
    """
    try:
        qualifier, base, _ = split_operator(operator)
    except ConditionError:
        return False
    if key.lower() not in _NARROWING or qualifier == "ForAllValues":
        return False
    if base == "IpAddress":
        nets = [_network(v) for v in values]
        return all(n.prefixlen >= (8 if n.version == 4 else 32) for n in nets)
    if base in ("StringEquals", "StringEqualsIgnoreCase", "ArnEquals", "StringLike", "ArnLike"):
        return all(v and "*" not in v and "?" not in v and "${" not in v for v in values)
    return False


def utc_now_context() -> dict[str, str]:
    """aws:CurrentTime and aws:EpochTime for the moment of the request."""
    now = datetime.now(UTC)
    return {"aws:currenttime": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "aws:epochtime": str(int(now.timestamp()))}
