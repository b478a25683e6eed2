"""S3 Object Lock and IBM COS immutable storage: configuration, per-version retention, legal holds.

Owns the rules of both WORM dialects (the state they write is described in service/worm/rule.py):

- S3 Object Lock: a bucket created with object lock (versioning forced on, never suspended), its
  default retention (GOVERNANCE or COMPLIANCE, Days or Years), per-version retention and legal hold.
  COMPLIANCE retention can only grow; GOVERNANCE may shrink or go only with the bypass header.
- IBM COS protection: bucket Minimum/Default/Maximum retention in days (the policy can never be
  removed, and its bounds never loosened), per-object Retention-Period / Retention-Expiration-Date
  (seconds; -1 indefinite, -2 permanent when the bucket allows it), up to 100 named legal holds,
  extension only.

`LockRequest` carries what a write asked for (headers of PUT, copy, create/complete multipart);
`Retention.initial_props` turns it plus the bucket's defaults into the new version's props, so every
write path applies the same rules. Protection changes go through `MetaStore.modify_props`, which
runs the check and the write in one transaction.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from coffer.protocol.errors import MALFORMED_XML, S3Error
from coffer.server.meta.model import Bucket, ObjectRecord
from coffer.server.service.core import Core, Principal
from coffer.server.service.worm.rule import Locked

DAY = 86400.0
YEAR_DAYS = 365
MAX_HOLDS = 100
# IBM: legal hold ids are 1-64 characters of letters, digits and ! _ . * ( ) -
_HOLD_ID = re.compile(r"^[A-Za-z0-9!_.*()\-]{1,64}$")
MODES = ("GOVERNANCE", "COMPLIANCE")


@dataclass(slots=True)
class LockRequest:
    """Protection asked for by a write (None: not given)."""

    mode: str | None = None  # x-amz-object-lock-mode
    until: float | None = None  # x-amz-object-lock-retain-until-date
    legal_hold: bool | None = None  # x-amz-object-lock-legal-hold ON/OFF
    ibm_period: int | None = None  # Retention-Period (seconds, -1, -2)
    ibm_until: float | None = None  # Retention-Expiration-Date
    ibm_hold: str | None = None  # Retention-Legal-Hold-ID

    def any_s3(self) -> bool:
        return self.mode is not None or self.until is not None or self.legal_hold is not None

    def any_ibm(self) -> bool:
        return self.ibm_period is not None or self.ibm_until is not None or self.ibm_hold is not None


def lock_config(bucket: Bucket) -> dict | None:
    return bucket.props.get("object_lock")


def protection(bucket: Bucket) -> dict | None:
    return bucket.props.get("protection")


def check_hold_id(hold_id: str) -> None:
    if not _HOLD_ID.match(hold_id or ""):
        raise S3Error("InvalidArgument", "Legal hold IDs must be 1 to 64 characters of letters, digits and "
                      "! _ . * ( ) -", ArgumentName="Retention-Legal-Hold-ID", ArgumentValue=hold_id)


def ibm_bounds(prot: dict, period: int) -> None:
    """A retention period (seconds) must lie within the bucket's minimum and maximum."""
    if period == -2:
        if not prot.get("permanent"):
            raise S3Error("InvalidArgument", "Permanent retention is not enabled on this bucket.",
                          ArgumentName="Retention-Period", ArgumentValue=str(period))
        return
    if period == -1:
        return  # indefinite: allowed whatever the bounds (IBM)
    if period < 0:
        raise S3Error("InvalidArgument", "Retention period must be a non-negative number of seconds, -1 or -2.",
                      ArgumentName="Retention-Period", ArgumentValue=str(period))
    lo, hi = prot["min"] * DAY, prot["max"] * DAY
    if period < lo or period > hi:
        raise S3Error("InvalidArgument", f"Retention period must be between the bucket's minimum ({prot['min']} "
                      f"days) and maximum ({prot['max']} days).", ArgumentName="Retention-Period",
                      ArgumentValue=str(period))


def ibm_state(period: int, now: float, holds: list[dict]) -> dict:
    until = None if period < 0 else now + period
    return {"period": period, "until": until, "holds": holds}


def initial_props(bucket: Bucket, req: LockRequest | None, now: float, base: dict | None = None) -> dict:
    """The protection props of a new version written to `bucket` (merged over `base`)."""
    props: dict[str, Any] = dict(base or {})
    req = req or LockRequest()
    cfg = lock_config(bucket)
    if req.any_s3():
        if not cfg:
            raise S3Error("InvalidRequest", "Bucket is missing Object Lock Configuration")
        if (req.mode is None) != (req.until is None):
            raise S3Error("InvalidArgument", "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode "
                          "must both be supplied")
        if req.mode is not None:
            if req.mode not in MODES:
                raise S3Error("InvalidArgument", "Unknown wormMode directive.", ArgumentName="x-amz-object-lock-mode",
                              ArgumentValue=req.mode)
            if req.until is None or req.until <= now:
                raise S3Error("InvalidArgument", "The retain until date must be in the future!")
            props["retention"] = {"mode": req.mode, "until": req.until}
        if req.legal_hold is not None:
            props["legal_hold"] = req.legal_hold
    if cfg and "retention" not in props and cfg.get("mode"):
        days = cfg.get("days") or YEAR_DAYS * cfg.get("years", 0)
        props["retention"] = {"mode": cfg["mode"], "until": now + days * DAY}
    prot = protection(bucket)
    if req.any_ibm() and not prot:
        raise S3Error("InvalidRequest", "Retention headers are only allowed on objects in a protected bucket.")
    if prot:
        if req.ibm_period is not None and req.ibm_until is not None:
            raise S3Error("InvalidArgument", "Retention-Period and Retention-Expiration-Date cannot both be given.")
        if req.ibm_until is not None:
            period = round(req.ibm_until - now)
            if period < 0:
                raise S3Error("InvalidArgument", "Retention-Expiration-Date is in the past.",
                              ArgumentName="Retention-Expiration-Date")
        elif req.ibm_period is not None:
            period = req.ibm_period
        else:
            period = int(prot["default"] * DAY)
        ibm_bounds(prot, period)
        holds = []
        if req.ibm_hold is not None:
            check_hold_id(req.ibm_hold)
            holds.append({"id": req.ibm_hold, "date": now})
        props["ibm"] = ibm_state(period, now, holds)
        if req.ibm_until is not None:
            props["ibm"]["until"] = req.ibm_until
    return props


class Retention:
    """S3 Object Lock operations (configuration, retention, legal hold)."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def put_config(self, who: Principal, name: str, enabled: bool, rule: dict | None) -> None:
        await self.core.bucket_for(who, name)
        if not enabled:
            raise S3Error("MalformedXML", MALFORMED_XML)
        cfg: dict[str, Any] = {"enabled": True}
        if rule is not None:
            mode, days, years = rule.get("mode"), rule.get("days"), rule.get("years")
            if mode not in MODES or (days is None) == (years is None):
                raise S3Error("MalformedXML", MALFORMED_XML)
            n = days if days is not None else years
            if not isinstance(n, int) or n <= 0:
                raise S3Error("InvalidRetentionPeriod", "Default retention period must be a positive integer value.")
            cfg.update({"mode": mode, "days" if days is not None else "years": n})

        def change(props: dict) -> dict:  # checked in the transaction: no race with versioning changes
            if not props.get("object_lock") and props.get("versioning") != "Enabled":
                raise S3Error("InvalidBucketState", "Versioning must be 'Enabled' on the bucket to apply a Object "
                              "Lock configuration")
            if props.get("protection"):
                raise S3Error("InvalidBucketState", "Object Lock cannot be enabled on an IBM protected bucket.")
            return {**props, "object_lock": cfg, "versioning": "Enabled"}

        await self.core.meta.modify_bucket_props(name, change)

    async def get_config(self, who: Principal, name: str) -> dict:
        b = await self.core.bucket_for(who, name)
        cfg = lock_config(b)
        if not cfg:
            raise S3Error("ObjectLockConfigurationNotFoundError",
                          "Object Lock configuration does not exist for this bucket", BucketName=name)
        return cfg

    async def _version(self, who: Principal, bucket: str, key: str, version_id: str | None) -> ObjectRecord:
        b = await self.core.bucket_for(who, bucket)
        if not lock_config(b):
            raise S3Error("InvalidRequest", "Bucket is missing Object Lock Configuration")
        if version_id is None:
            rec = await self.core.meta.get_object(bucket, key)
            if rec is None:
                raise S3Error("NoSuchKey", "The specified key does not exist.", Key=key)
            return rec
        rec = await self.core.meta.get_version(bucket, key, version_id)
        if rec is None:
            raise S3Error("NoSuchVersion", "The specified version does not exist.", Key=key, VersionId=version_id)
        if rec.delete_marker:
            raise S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.")
        return rec

    async def _modify(self, bucket: str, key: str, version_id: str | None, fn) -> ObjectRecord:
        rec = await self.core.meta.modify_props(bucket, key, version_id, fn)
        if rec is None:
            raise S3Error("NoSuchVersion" if version_id else "NoSuchKey", "The specified version does not exist."
                          if version_id else "The specified key does not exist.", Key=key)
        return rec

    async def put_retention(
        self, who: Principal, bucket: str, key: str, version_id: str | None, mode: str | None,
        until: float | None, bypass_governance: bool,
    ) -> None:
        await self._version(who, bucket, key, version_id)
        if (mode is not None and mode not in MODES) or (mode is None) != (until is None):
            raise S3Error("MalformedXML", MALFORMED_XML)
        if until is not None and until <= time.time():
            raise S3Error("InvalidArgument", "The retain until date must be in the future!")

        def change(rec: ObjectRecord) -> dict:
            props = dict(rec.props)
            old = props.get("retention")
            now = time.time()
            if old and float(old["until"]) > now:
                shorter = mode is None or float(until or 0) < float(old["until"])
                if old["mode"] == "COMPLIANCE" and (shorter or mode != "COMPLIANCE"):
                    raise Locked()
                # GOVERNANCE: shortening it, removing it or changing its mode all need the bypass
                if old["mode"] == "GOVERNANCE" and (shorter or mode != "GOVERNANCE") and not bypass_governance:
                    raise Locked()
            if mode is None:
                props.pop("retention", None)
            else:
                props["retention"] = {"mode": mode, "until": until}
            return props

        await self._modify(bucket, key, version_id, change)

    async def get_retention(self, who: Principal, bucket: str, key: str, version_id: str | None) -> dict:
        rec = await self._version(who, bucket, key, version_id)
        ret = rec.props.get("retention")
        if not ret:
            raise S3Error("NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock "
                          "configuration")
        return ret

    async def put_legal_hold(self, who: Principal, bucket: str, key: str, version_id: str | None, on: bool) -> None:
        await self._version(who, bucket, key, version_id)

        def change(rec: ObjectRecord) -> dict:
            return {**rec.props, "legal_hold": on}

        await self._modify(bucket, key, version_id, change)

    async def get_legal_hold(self, who: Principal, bucket: str, key: str, version_id: str | None) -> bool:
        rec = await self._version(who, bucket, key, version_id)
        if "legal_hold" not in rec.props:
            raise S3Error("NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock "
                          "configuration")
        return bool(rec.props["legal_hold"])
