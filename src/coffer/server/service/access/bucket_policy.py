"""Bucket policies: parsing and validating the JSON document as S3 does, and evaluating it.

This module owns the policy *document* (Version, Statement, Sid, Effect, Principal/NotPrincipal,
Action/NotAction, Resource/NotResource, Condition) and the decision for one request: an explicit Deny
in any matching statement wins, otherwise a matching Allow allows, otherwise the policy is silent
(implicit deny, which the caller may still overturn with an ACL grant or ownership; see
:func:`combine`).  String matching and Condition operators live in :mod:`policy_conditions`.

Validation errors are ``S3Error("MalformedPolicy", <S3's message>)``; the policy is validated once at
PutBucketPolicy time, so evaluation never raises for a stored policy.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

from coffer.protocol.errors import S3Error
from coffer.server.service.access.policy_conditions import (
    ConditionError,
    Context,
    evaluate_condition,
    expand_variables,
    glob_match,
    glob_tokens,
    known_key,
    match_tokens,
    narrows_callers,
    norm_key,
    split_operator,
    validate_values,
)

MAX_POLICY_BYTES = 20 * 1024  # S3's limit on a bucket policy document
VERSIONS = ("2012-10-17", "2008-10-17")
ARN_PREFIX = "arn:aws:s3:::"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# S3 actions on a bucket resource (arn:aws:s3:::bucket) and on object resources (arn:aws:s3:::bucket/key).
BUCKET_ACTIONS = _words(
    """ListBucket ListBucketVersions ListBucketMultipartUploads GetBucketLocation GetBucketAcl PutBucketAcl
    GetBucketPolicy PutBucketPolicy DeleteBucketPolicy GetBucketPolicyStatus GetBucketCORS PutBucketCORS
    GetBucketWebsite PutBucketWebsite DeleteBucketWebsite GetEncryptionConfiguration PutEncryptionConfiguration
    GetBucketVersioning PutBucketVersioning GetBucketTagging PutBucketTagging GetLifecycleConfiguration
    PutLifecycleConfiguration GetBucketLogging PutBucketLogging GetBucketNotification PutBucketNotification
    GetBucketOwnershipControls PutBucketOwnershipControls GetBucketPublicAccessBlock PutBucketPublicAccessBlock
    GetBucketObjectLockConfiguration PutBucketObjectLockConfiguration GetReplicationConfiguration
    PutReplicationConfiguration GetBucketRequestPayment PutBucketRequestPayment GetAccelerateConfiguration
    PutAccelerateConfiguration DeleteBucket CreateBucket ListenBucketNotification"""
)
OBJECT_ACTIONS = _words(
    """GetObject GetObjectVersion PutObject DeleteObject DeleteObjectVersion GetObjectAcl PutObjectAcl
    GetObjectVersionAcl PutObjectVersionAcl GetObjectTagging PutObjectTagging DeleteObjectTagging
    GetObjectVersionTagging PutObjectVersionTagging DeleteObjectVersionTagging GetObjectAttributes
    GetObjectVersionAttributes GetObjectRetention PutObjectRetention GetObjectLegalHold PutObjectLegalHold
    BypassGovernanceRetention AbortMultipartUpload ListMultipartUploadParts RestoreObject
    GetObjectTorrent ReplicateObject ReplicateDelete ReplicateTags"""
)
ACCOUNT_ACTIONS = frozenset(["ListAllMyBuckets", "ListenNotification"])
ALL_ACTIONS = {a.lower(): a for a in BUCKET_ACTIONS | OBJECT_ACTIONS | ACCOUNT_ACTIONS}


class Decision(enum.Enum):
    """Outcome of a policy for one request."""

    DENY = "deny"  # an explicit Deny matched: nothing can overturn it
    ALLOW = "allow"  # an Allow matched and no Deny
    NONE = "none"  # no statement matched: implicit deny, unless an ACL or ownership allows


def malformed(message: str) -> S3Error:
    return S3Error("MalformedPolicy", message)


@dataclass(frozen=True)
class Condition:
    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" | "Deny"
    sid: str | None = None
    principals: tuple[str, ...] | None = None  # None: the statement uses NotPrincipal
    not_principals: tuple[str, ...] | None = None
    actions: tuple[str, ...] | None = None  # None: the statement uses NotAction
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Policy:
    version: str
    statements: tuple[Statement, ...]
    id: str | None = None
    raw: str = field(default="", compare=False)  # the document as stored, returned by GetBucketPolicy


@dataclass(frozen=True)
class Request:
    """What a policy is evaluated against.

    ``principal_ids`` are every name the caller is known by (see :func:`principal_ids`); empty for an
    anonymous request, which only ``"*"`` principals match.  ``action`` is ``s3:<Name>``; ``resource``
    an S3 ARN; ``context`` the condition keys, already normalised with :func:`norm_key`.
    """

    principal_ids: frozenset[str]
    action: str
    resource: str
    context: Context = field(default_factory=dict)


def resource_arn(bucket: str, key: str | None = None) -> str:
    """The ARN a request is evaluated against: the raw key (not URL-encoded) after ``bucket/``."""
    return ARN_PREFIX + bucket + ("" if key is None else "/" + key)


def principal_ids(user_id: str | None, display_name: str | None = None) -> frozenset[str]:
    """Names a Coffer user is matched by in Principal: canonical id, account root ARN, user ARN."""
    if not user_id:
        return frozenset()
    ids = {user_id, f"arn:aws:iam::{user_id}:root"}
    if display_name:
        ids |= {f"arn:aws:iam::{user_id}:user/{display_name}", f"arn:aws:iam:::user/{display_name}"}
    return frozenset(ids)


def build_context(*pairs: tuple[str, Any], **extra: Any) -> dict[str, Any]:
    """A context dict with normalised key names; None values are dropped (the key is absent)."""
    ctx: dict[str, Any] = {}
    for key, value in [*pairs, *extra.items()]:
        if value is not None:
            ctx[norm_key(key)] = value
    return ctx


# -- parsing -------------------------------------------------------------------------------------------
def _strings(value: Any, what: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) for v in items):
        raise malformed(f"Policy has invalid {what}")
    return tuple(items)


def _principal(value: Any) -> tuple[str, ...]:
    if value == "*":
        return ("*",)
    if not isinstance(value, dict) or not value:
        raise malformed("Invalid principal in policy")
    out: list[str] = []
    for kind, names in value.items():
        if kind not in ("AWS", "CanonicalUser", "Service", "Federated"):
            raise malformed("Invalid principal in policy")
        items = names if isinstance(names, list) else [names]
        if not items or not all(isinstance(n, str) and n.strip() for n in items):
            raise malformed("Invalid principal in policy")
        for n in items:
            # AWS accepts "*" alone; a wildcard inside an ARN is not a pattern and is refused.
            if n != "*" and ("*" in n or "?" in n):
                raise malformed("Invalid principal in policy")
            out.append(n)
    return tuple(out)


def _action_matches(pattern: str) -> set[str]:
    if pattern == "*":
        return set(ALL_ACTIONS.values())
    service, _, name = pattern.partition(":")
    if service.lower() != "s3" or not name:
        raise malformed("Policy has invalid action")
    hits = {real for low, real in ALL_ACTIONS.items() if glob_match(name.lower(), low)}
    if not hits:
        raise malformed("Policy has invalid action")
    return hits


def _check_resource(arn: str, bucket: str) -> None:
    if arn == "*":
        return
    if not arn.startswith(ARN_PREFIX) or len(arn) == len(ARN_PREFIX):
        raise malformed("Policy has invalid resource")
    bucket_part = arn[len(ARN_PREFIX) :].split("/", 1)[0]
    # A bucket policy may only speak of its own bucket (a pattern covering it is fine).
    if "$" not in bucket_part and not glob_match(bucket_part, bucket):
        raise malformed("Policy has invalid resource")


def _applies(action: str, arn: str) -> bool:
    if arn == "*":
        return True
    rest = arn[len(ARN_PREFIX) :]
    if action in OBJECT_ACTIONS:
        return "/" in rest or "*" in rest
    if action in BUCKET_ACTIONS:
        return "/" not in rest
    return False  # ListAllMyBuckets has no bucket resource


def _scalar(v: Any) -> Any:
    # JSON true/false and numbers are accepted where S3 expects strings ("Bool": {"k": false}).
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v) if isinstance(v, int | float) else v


def _conditions(value: Any) -> tuple[Condition, ...]:
    if not isinstance(value, dict):
        raise malformed("Invalid Condition block")
    out: list[Condition] = []
    for operator, block in value.items():
        try:
            _, base, _ = split_operator(operator)
        except ConditionError as exc:
            raise malformed(str(exc)) from None
        if not isinstance(block, dict) or not block:
            raise malformed("Invalid Condition block")
        for key, raw in block.items():
            if not known_key(key):
                raise malformed("Policy has an invalid condition key")
            items = raw if isinstance(raw, list) else [raw]
            values = _strings([_scalar(v) for v in items], "condition value")
            try:
                validate_values(base, values)
            except ConditionError as exc:
                raise malformed(str(exc)) from None
            out.append(Condition(operator, key, values))
    return tuple(out)


_STATEMENT_FIELDS = _words("Sid Effect Principal NotPrincipal Action NotAction Resource NotResource Condition")


def _statement(raw: Any, bucket: str) -> Statement:
    if not isinstance(raw, dict):
        raise malformed("Invalid policy syntax.")
    for name in raw:
        if name not in _STATEMENT_FIELDS:
            raise malformed(f"Unknown field {name}")
    effect = raw.get("Effect")
    if effect is None:
        raise malformed("Missing required field Effect")
    if effect not in ("Allow", "Deny"):
        raise malformed(f"Invalid effect: {effect}")
    if ("Principal" in raw) == ("NotPrincipal" in raw):
        raise malformed("Missing required field Principal" if "Principal" not in raw else "Invalid policy syntax.")
    if ("Action" in raw) == ("NotAction" in raw):
        raise malformed("Missing required field Action" if "Action" not in raw else "Invalid policy syntax.")
    if ("Resource" in raw) == ("NotResource" in raw):
        raise malformed("Missing required field Resource" if "Resource" not in raw else "Invalid policy syntax.")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise malformed("Invalid policy syntax.")
    actions = _strings(raw.get("Action", raw.get("NotAction")), "action")
    resources = _strings(raw.get("Resource", raw.get("NotResource")), "resource")
    for arn in resources:
        _check_resource(arn, bucket)
    matched = {a: _action_matches(a) for a in actions}
    if "Action" in raw and "Resource" in raw:
        # S3 refuses a statement naming an action that no listed resource can be the target of.
        for hits in matched.values():
            if not any(_applies(a, r) for a in hits for r in resources):
                raise malformed("Action does not apply to any resource(s) in statement")
    principal = _principal(raw.get("Principal", raw.get("NotPrincipal")))
    return Statement(
        effect=effect,
        sid=sid,
        principals=principal if "Principal" in raw else None,
        not_principals=principal if "NotPrincipal" in raw else None,
        actions=actions if "Action" in raw else None,
        not_actions=actions if "NotAction" in raw else None,
        resources=resources if "Resource" in raw else None,
        not_resources=resources if "NotResource" in raw else None,
        conditions=_conditions(raw["Condition"]) if "Condition" in raw else (),
    )


def parse_policy(document: str | bytes, bucket: str) -> Policy:
    """Parse and validate a bucket policy for ``bucket``; raises S3Error MalformedPolicy."""
    if isinstance(document, bytes):
        try:
            document = document.decode("utf-8")
        except UnicodeDecodeError:
            raise malformed("This policy contains invalid Json") from None
    if len(document.encode("utf-8")) > MAX_POLICY_BYTES:
        raise malformed("Policies must be no larger than 20 KB")
    if not document.lstrip().startswith("{"):
        raise malformed("Policies must be valid JSON and the first byte must be '{'")
    try:
        raw = json.loads(document)
    except (ValueError, RecursionError):
        raise malformed("This policy contains invalid Json") from None
    if not isinstance(raw, dict):
        raise malformed("This policy contains invalid Json")
    for name in raw:
        if name not in ("Version", "Id", "Statement"):
            raise malformed(f"Unknown field {name}")
    version = raw.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise malformed(f"Document is invalid: Invalid Version {version}")
    if "Statement" not in raw:
        raise malformed("Missing required field Statement")
    body = raw["Statement"]
    items = body if isinstance(body, list) else [body]
    if not items:
        raise malformed("Could not parse the policy: Statement is empty!")
    statements = tuple(_statement(s, bucket) for s in items)
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        raise malformed("Statement IDs (SID) in a single policy must be unique.")
    pid = raw.get("Id")
    return Policy(version=version, statements=statements, id=pid if isinstance(pid, str) else None, raw=document)


# -- evaluation ----------------------------------------------------------------------------------------
def _principal_matches(names: tuple[str, ...], req: Request) -> bool:
    return any(n == "*" or n in req.principal_ids for n in names)


def _action_in(patterns: tuple[str, ...], action: str) -> bool:
    return any(p == "*" or glob_match(p, action, fold=True) for p in patterns)


def _resource_in(patterns: tuple[str, ...], req: Request, variables: bool) -> bool:
    for p in patterns:
        toks = expand_variables(p, req.context, wildcards=True) if variables else glob_tokens(p)
        if toks is not None and match_tokens(toks, req.resource):
            return True
    return False


def statement_matches(st: Statement, req: Request, version: str = "2012-10-17") -> bool:
    """Whether every element of the statement (principal, action, resource, conditions) matches."""
    if st.principals is not None and not _principal_matches(st.principals, req):
        return False
    if st.not_principals is not None and _principal_matches(st.not_principals, req):
        return False
    if st.actions is not None and not _action_in(st.actions, req.action):
        return False
    if st.not_actions is not None and _action_in(st.not_actions, req.action):
        return False
    variables = version == "2012-10-17"  # policy variables do not exist in 2008-10-17 documents
    if st.resources is not None and not _resource_in(st.resources, req, variables):
        return False
    if st.not_resources is not None and _resource_in(st.not_resources, req, variables):
        return False
    return all(evaluate_condition(c.operator, c.key, c.values, req.context) for c in st.conditions)


def evaluate(policy: Policy | None, req: Request) -> Decision:
    """AWS's order: any matching Deny -> DENY; else any matching Allow -> ALLOW; else NONE."""
    if policy is None:
        return Decision.NONE
    allowed = False
    for st in policy.statements:
        if statement_matches(st, req, policy.version):
            if st.effect == "Deny":
                return Decision.DENY
            allowed = True
    return Decision.ALLOW if allowed else Decision.NONE


def combine(decision: Decision, *, acl_allows: bool, is_owner: bool = False) -> bool:
    """Final answer for a request: explicit Deny beats everything, then policy Allow, ACL or ownership.

    Even the bucket owner is denied by an explicit Deny in the bucket policy (as in S3, where only the
    account root can still delete such a policy; the caller decides that exception).
    """
    if decision is Decision.DENY:
        return False
    return decision is Decision.ALLOW or acl_allows or is_owner


def is_public(policy: Policy | None) -> bool:
    """GetBucketPolicyStatus: an Allow to every principal ("*" or NotPrincipal) that no condition pins
    to fixed callers or networks (:func:`policy_conditions.narrows_callers`) makes the bucket public."""
    if policy is None:
        return False
    for st in policy.statements:
        everyone = st.not_principals is not None or (st.principals is not None and "*" in st.principals)
        if (
            st.effect == "Allow"
            and everyone
            and not any(narrows_callers(c.operator, c.key, c.values) for c in st.conditions)
        ):
            return True
    return False
