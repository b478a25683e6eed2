"""Spectra DS3 data policies made by their users (put/modify/delete), mapped onto storage policies.

A DS3 data policy decides how a bucket's data is kept; on Coffer that is a storage policy (SINGLE,
REPLICA-N, EC-K+M). The built-in data policies are the storage policies themselves (id = name). A
policy made with `put_data_policy_spectra_s3` (`POST /_rest_/data_policy?name=N[&storage_policy=P]`)
gets a UUID and maps onto P (Coffer's extension parameter), else onto its name when the name is a
storage policy, else onto the server's default. They live in the creating user's props
(`props["ds3_data_policies"]`: {id: {name, storage_policy, created, ...}}), as OpenIO account
properties do. A bucket made with one (`data_policy_id`) records its id (`props["ds3_data_policy"]`)
and takes its storage policy as the bucket default; modifying the policy's storage policy updates
those buckets' default (existing objects keep theirs); a policy still used by a bucket cannot be
deleted (409 Conflict, as Spectra answers).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from coffer.protocol.errors import S3Error
from coffer.server.meta import interface as mi
from coffer.server.service.core import Core, Principal
from coffer.server.service.storage import policies as storage

PROPS = "ds3_data_policies"
BUCKET_PROP = "ds3_data_policy"
# DS3 settings the policy document echoes as given (Coffer's behaviour does not depend on them)
SETTINGS = ("checksum_type", "default_blob_size", "versioning", "end_to_end_crc_required", "blobbing_enabled",
            "default_put_job_priority", "default_get_job_priority", "default_verify_job_priority",
            "max_versions_to_keep")


def _not_found(ident: str) -> S3Error:
    return S3Error("NotFound", f"There is no data policy {ident}.", status=404)


class Ds3DataPolicies:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def _mine(self, who: Principal) -> tuple[Any, dict[str, dict]]:
        user = await self.core.meta.get_user(who.user_id) if who.user_id else None
        if user is None:
            raise S3Error("AccessDenied", "Access Denied")
        return user, dict(user.props.get(PROPS) or {})

    async def _change(self, who: Principal, fn: Callable[[dict[str, dict]], None]) -> None:
        """Change the user's policies in place by fn, in one metadata transaction with the read (two
        requests changing one user's policies at once both land); fn may raise to refuse."""
        def change(props: dict[str, Any]) -> dict[str, Any]:
            policies = dict(props.get(PROPS) or {})
            fn(policies)
            return {**props, PROPS: policies}

        if not who.user_id:
            raise S3Error("AccessDenied", "Access Denied")
        try:
            await self.core.meta.modify_user_props(who.user_id, change)
        except mi.NoSuchUser:
            raise S3Error("AccessDenied", "Access Denied") from None

    def _storage_policy(self, asked: str | None, name: str) -> str:
        if asked:
            policy = storage.checked(self.core.data, asked)
        else:
            try:
                policy = storage.checked(self.core.data, name)
            except S3Error:
                policy = None  # a name that is not a storage policy: the server's default
        if policy is None:
            default = self.core.data.default_policy()
            return default.name if default is not None else "SINGLE"
        return policy.name

    async def list(self, who: Principal) -> list[dict]:
        if not who.user_id:
            return []
        return [{"id": i, **p} for i, p in (await self._mine(who))[1].items()]

    async def find(self, who: Principal, ident: str) -> dict | None:
        """A user-made policy by id or name (None when there is none)."""
        for p in await self.list(who):
            if ident in (p["id"], p["name"]):
                return p
        return None

    async def create(self, who: Principal, name: str, storage_policy: str | None, settings: dict[str, str]) -> dict:
        if not name:
            raise S3Error("InvalidArgument", "put_data_policy_spectra_s3 needs a name.", status=400)
        ident = str(uuid.uuid4())
        doc = {"name": name, "storage_policy": self._storage_policy(storage_policy, name),
               "created": time.time(), **{k: v for k, v in settings.items() if k in SETTINGS}}

        def add(policies: dict[str, dict]) -> None:
            if any(p["name"] == name for p in policies.values()):
                raise S3Error("Conflict", f"A data policy named {name} exists.", status=409)
            policies[ident] = doc

        await self._change(who, add)
        return {"id": ident, **doc}

    async def modify(self, who: Principal, ident: str, name: str | None, storage_policy: str | None,
                     settings: dict[str, str]) -> dict:
        found = await self.find(who, ident)
        if found is None:
            raise _not_found(ident)
        pid = found["id"]
        asked = self._storage_policy(storage_policy, found["name"]) if storage_policy else None
        out: dict[str, Any] = {}

        def change(policies: dict[str, dict]) -> None:
            if pid not in policies:
                raise _not_found(ident)
            p = dict(policies[pid])
            if name and name != p["name"]:
                if any(q["name"] == name for i, q in policies.items() if i != pid):
                    raise S3Error("Conflict", f"A data policy named {name} exists.", status=409)
                p["name"] = name
            p.update({k: v for k, v in settings.items() if k in SETTINGS})
            out["changed"] = asked is not None and asked != p["storage_policy"]
            if out["changed"]:
                p["storage_policy"] = asked
            policies[pid] = out["policy"] = p

        await self._change(who, change)
        p = out["policy"]
        if out["changed"]:  # the buckets made with it take the new default (their objects keep theirs)
            new = storage.parse(p["storage_policy"])
            for b in await self.users_buckets(who, pid):
                await storage.set_bucket_storage_policy(self.core, b, new)
        return {"id": pid, **p}

    async def delete(self, who: Principal, ident: str) -> None:
        found = await self.find(who, ident)
        if found is None:
            raise _not_found(ident)
        using = await self.users_buckets(who, found["id"])
        if using:
            raise S3Error("Conflict", f"The data policy {found['name']} is used by bucket(s) {', '.join(using)}.",
                          status=409)
        await self._change(who, lambda policies: policies.pop(found["id"], None) and None)

    async def users_buckets(self, who: Principal, pid: str) -> list[str]:
        return [b.name for b in await self.core.meta.list_buckets(who.user_id) if b.props.get(BUCKET_PROP) == pid]
