"""IBM COS immutable storage operations: bucket protection, legal holds, retention extension.

Owns the IBM-specific API (the wire format is IBM's ibm-cos-sdk service model): PUT/GET
`?protection` on a bucket, POST `?legalHold&add=ID` / `&remove=ID`, GET `?legalHold`, POST
`?extendRetention`. The per-object state and its enforcement are shared with S3 Object Lock
(service/worm/rule.py, service/worm/retention.py).

IBM's rules kept here: the protection policy, once set, cannot be removed and its bounds only move
towards more protection (minimum up, maximum up, default within them); at most 100 holds per object;
retention only ever extends, bounded by the bucket's maximum from the time of the request.
"""

from __future__ import annotations

import time
from typing import Any

from coffer.protocol.errors import S3Error
from coffer.server.meta.model import ObjectRecord
from coffer.server.service.core import Core, Principal
from coffer.server.service.worm.retention import DAY, MAX_HOLDS, check_hold_id, ibm_bounds, protection


class Ibm:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def put_protection(
        self, who: Principal, name: str, status: str, minimum: int, default: int, maximum: int, permanent: bool,
    ) -> None:
        await self.core.bucket_for(who, name)
        if status != "Retention":
            raise S3Error("InvalidArgument", "Status must be Retention.", ArgumentName="Status", ArgumentValue=status)
        if not 0 <= minimum <= default <= maximum or maximum > 365243:
            raise S3Error("InvalidArgument", "Retention periods must satisfy 0 <= Minimum <= Default <= Maximum "
                          "<= 365243 days.", ArgumentName="ProtectionConfiguration")

        def change(props: dict) -> dict:  # checked in the transaction
            if props.get("versioning") or props.get("object_lock"):
                raise S3Error("InvalidBucketState", "A protection policy cannot be set on a bucket with versioning "
                              "or Object Lock.", BucketName=name)
            old = props.get("protection")
            if old:
                if old.get("permanent") and not permanent:
                    raise S3Error("InvalidArgument", "EnablePermanentRetention cannot be disabled once enabled.",
                                  ArgumentName="EnablePermanentRetention")
                if minimum < old["min"] or maximum < old["max"]:
                    raise S3Error("InvalidArgument", "The bucket's minimum and maximum retention can only be "
                                  "increased.", ArgumentName="ProtectionConfiguration")
            return {**props, "protection": {"status": status, "min": minimum, "default": default, "max": maximum,
                                            "permanent": bool(permanent)}}

        await self.core.meta.modify_bucket_props(name, change)

    async def get_protection(self, who: Principal, name: str) -> dict | None:
        b = await self.core.bucket_for(who, name)
        return protection(b)

    async def _retained(self, who: Principal, bucket: str, key: str) -> tuple[dict, ObjectRecord]:
        """A protected bucket's object that has retention metadata (IBM: else 400, no holds)."""
        prot, rec = await self._protected(who, bucket, key)
        if "ibm" not in rec.props:
            raise S3Error("InvalidRequest", "The object has no retention period; legal holds cannot be changed.",
                          Key=key)
        return prot, rec

    async def _protected(self, who: Principal, bucket: str, key: str) -> tuple[dict, ObjectRecord]:
        b = await self.core.bucket_for(who, bucket)
        prot = protection(b)
        if not prot:
            raise S3Error("InvalidRequest", "Legal holds and retention need a bucket with a protection policy.",
                          BucketName=bucket)
        rec = await self.core.meta.get_object(bucket, key)
        if rec is None:
            raise S3Error("NoSuchKey", "The specified key does not exist.", Key=key)
        return prot, rec

    async def _modify(self, bucket: str, key: str, fn) -> ObjectRecord:
        rec = await self.core.meta.modify_props(bucket, key, None, fn)
        if rec is None:
            raise S3Error("NoSuchKey", "The specified key does not exist.", Key=key)
        return rec

    async def add_hold(self, who: Principal, bucket: str, key: str, hold_id: str) -> None:
        check_hold_id(hold_id)
        await self._retained(who, bucket, key)

        def change(rec: ObjectRecord) -> dict:
            ibm = _ibm_of(rec)
            holds = list(ibm.get("holds", []))
            if any(h["id"] == hold_id for h in holds):
                # IBM: the existing hold is left as it is and the answer is 409
                raise S3Error("LegalHoldAlreadyExists", "A legal hold with this ID is already on the object.",
                              status=409, Key=key, RetentionLegalHoldId=hold_id)
            if len(holds) >= MAX_HOLDS:
                raise S3Error("InvalidRequest", f"An object can have at most {MAX_HOLDS} legal holds.")
            holds.append({"id": hold_id, "date": time.time()})
            return {**rec.props, "ibm": {**ibm, "holds": holds}}

        await self._modify(bucket, key, change)

    async def remove_hold(self, who: Principal, bucket: str, key: str, hold_id: str) -> None:
        check_hold_id(hold_id)
        await self._retained(who, bucket, key)

        def change(rec: ObjectRecord) -> dict:
            ibm = _ibm_of(rec)
            holds = [h for h in ibm.get("holds", []) if h["id"] != hold_id]
            if len(holds) == len(ibm.get("holds", [])):
                raise S3Error("InvalidArgument", "The object has no legal hold with this ID.",
                              ArgumentName="RetentionLegalHoldId", ArgumentValue=hold_id)
            return {**rec.props, "ibm": {**ibm, "holds": holds}}

        await self._modify(bucket, key, change)

    async def list_holds(self, who: Principal, bucket: str, key: str) -> tuple[ObjectRecord, dict]:
        _prot, rec = await self._protected(who, bucket, key)
        if "ibm" not in rec.props:  # IBM: no retention period on the object -> 404
            raise S3Error("NoSuchObjectLockConfiguration", "The object has no retention period.", Key=key)
        return rec, _ibm_of(rec)

    async def extend(
        self, who: Principal, bucket: str, key: str, *, additional: int | None = None,
        from_now: int | None = None, new_period: int | None = None, new_until: float | None = None,
    ) -> None:
        given = [v for v in (additional, from_now, new_period, new_until) if v is not None]
        if len(given) != 1:
            raise S3Error("InvalidArgument", "Exactly one of Additional-Retention-Period, "
                          "Extend-Retention-From-Current-Time, New-Retention-Period and New-Retention-Expiration-Date "
                          "must be given.")
        prot, _ = await self._protected(who, bucket, key)

        def change(rec: ObjectRecord) -> dict:
            now = time.time()
            ibm = _ibm_of(rec)
            period = int(ibm.get("period", 0))
            created = rec.last_modified
            # indefinite may become a fixed period (IBM); permanent never changes
            if period == -2 or (period == -1 and new_period is None):
                raise S3Error("InvalidArgument", "The object's retention cannot be changed that way.")
            cur_until = ibm.get("until")
            if additional is not None:
                target = (cur_until if cur_until is not None else now) + additional
            elif from_now is not None:
                target = now + from_now
            elif new_period is not None:
                if new_period in (-1, -2):
                    ibm_bounds(prot, new_period)
                    return {**rec.props, "ibm": {**ibm, "period": new_period, "until": None}}
                target = created + new_period
            else:
                assert new_until is not None
                target = new_until
            if (additional is not None and additional < 0) or (cur_until is not None and target < cur_until):
                raise S3Error("InvalidArgument", "Retention can only be extended, never shortened.")
            if target - now > prot["max"] * DAY:
                raise S3Error("InvalidArgument", "The new retention exceeds the bucket's maximum retention.")
            return {**rec.props, "ibm": {**ibm, "period": round(target - created), "until": target}}

        await self._modify(bucket, key, change)


def _ibm_of(rec: ObjectRecord) -> dict[str, Any]:
    return dict(rec.props.get("ibm") or {"period": 0, "until": rec.last_modified, "holds": []})
