"""WORM: which object versions are protected, and the guard every destroying path goes through.

Owns the protection state stored in an object version's props and the one rule that decides whether
a version may be destroyed (deleted, or replaced in place):

    props["retention"] = {"mode": "GOVERNANCE" | "COMPLIANCE", "until": epoch seconds}   (S3)
    props["legal_hold"] = True                                                         (S3)
    props["ibm"] = {"period": seconds | -1 (indefinite) | -2 (permanent),
                    "until": epoch seconds | None (indefinite/permanent),
                    "holds": [{"id": str, "date": epoch seconds}, ...]}               (IBM COS)

Enforcement is in the service layer, not HTTP, and *inside the metadata transaction*: the service
hands `guard(...)` to every metadata call that may destroy a version (put over an unversioned or
null version, complete multipart, copy, delete by version id, DeleteObjects, the lifecycle worker),
and the backend calls it with the props of each version it is about to destroy, so a retention set
concurrently cannot be raced past. Nothing in Coffer deletes a version any other way.
"""

from __future__ import annotations

import time
from typing import Any

from coffer.protocol.errors import S3Error
from coffer.protocol.timeutil import http_date, iso8601
from coffer.server.meta.interface import Guard

# S3's answer for a protected version (DeleteObject with versionId, DeleteObjects per key).
LOCKED_MESSAGE = "Access Denied because object protected by object lock."
IBM_LOCKED_MESSAGE = "Access Denied because the object is protected by a retention policy or legal hold."


class Locked(S3Error):
    """A guard's refusal: AccessDenied (403), as S3 and IBM COS answer."""

    def __init__(self, message: str = LOCKED_MESSAGE) -> None:
        super().__init__("AccessDenied", message)


def why_locked(props: dict[str, Any], now: float, bypass_governance: bool = False) -> str | None:
    """The reason this version may not be destroyed now, or None if it may."""
    if props.get("legal_hold"):
        return LOCKED_MESSAGE
    ret = props.get("retention")
    if ret and float(ret.get("until", 0)) > now and (ret.get("mode") == "COMPLIANCE" or not bypass_governance):
        return LOCKED_MESSAGE
    ibm = props.get("ibm")
    if ibm:
        if ibm.get("holds"):
            return IBM_LOCKED_MESSAGE
        if ibm.get("until") is None and int(ibm.get("period", 0)) < 0:
            return IBM_LOCKED_MESSAGE
        if ibm.get("until") is not None and float(ibm["until"]) > now:
            return IBM_LOCKED_MESSAGE
    return None


def is_locked(props: dict[str, Any], now: float | None = None) -> bool:
    """Protected against every caller (governance bypass not considered)."""
    return why_locked(props, time.time() if now is None else now) is not None


def guard(bypass_governance: bool = False) -> Guard:
    """The guard the service passes to the metadata store; time is read when it runs, in the
    transaction, so a retention that expires between the request and the commit is honoured."""

    def check(props: dict[str, Any]) -> None:
        reason = why_locked(props, time.time(), bypass_governance)
        if reason is not None:
            raise Locked(reason)

    return check


def lock_headers(props: dict[str, Any]) -> dict[str, str]:
    """Response headers describing a version's protection (GET/HEAD), S3's and IBM's."""
    h: dict[str, str] = {}
    ret = props.get("retention")
    if ret:
        h["x-amz-object-lock-mode"] = ret["mode"]
        h["x-amz-object-lock-retain-until-date"] = iso8601(float(ret["until"]))
    if "legal_hold" in props:
        h["x-amz-object-lock-legal-hold"] = "ON" if props["legal_hold"] else "OFF"
    ibm = props.get("ibm")
    if ibm:
        h["Retention-Period"] = str(ibm.get("period", 0))
        if ibm.get("until") is not None:
            h["Retention-Expiration-Date"] = http_date(float(ibm["until"]))
        h["Retention-Legal-Hold-Count"] = str(len(ibm.get("holds", [])))
    return h
