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
from dataclasses import replace
from typing import Any

from coffer.protocol.errors import S3Error
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

    async def _save(self, user: Any, policies: dict[str, dict]) -> None:
        await self.core.meta.put_user(replace(user, props={**user.props, PROPS: policies}))

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
        user, policies = await self._mine(who)
        if any(p["name"] == name for p in policies.values()):
            raise S3Error("Conflict", f"A data policy named {name} exists.", status=409)
        ident = str(uuid.uuid4())
        policies[ident] = {"name": name, "storage_policy": self._storage_policy(storage_policy, name),
                           "created": time.time(), **{k: v for k, v in settings.items() if k in SETTINGS}}
        await self._save(user, policies)
        return {"id": ident, **policies[ident]}

    async def modify(self, who: Principal, ident: str, name: str | None, storage_policy: str | None,
                     settings: dict[str, str]) -> dict:
        user, policies = await self._mine(who)
        found = await self.find(who, ident)
        if found is None:
            raise _not_found(ident)
        pid = found["id"]
        p = dict(policies[pid])
        if name and name != p["name"]:
            if any(q["name"] == name for i, q in policies.items() if i != pid):
                raise S3Error("Conflict", f"A data policy named {name} exists.", status=409)
            p["name"] = name
        p.update({k: v for k, v in settings.items() if k in SETTINGS})
        changed = bool(storage_policy) and self._storage_policy(storage_policy, p["name"]) != p["storage_policy"]
        if changed:
            p["storage_policy"] = self._storage_policy(storage_policy, p["name"])
        policies[pid] = p
        await self._save(user, policies)
        if changed:  # the buckets made with it take the new default (their objects keep theirs)
            new = storage.parse(p["storage_policy"])
            for b in await self.users_buckets(who, pid):
                await storage.set_bucket_storage_policy(self.core, b, new)
        return {"id": pid, **p}

    async def delete(self, who: Principal, ident: str) -> None:
        user, policies = await self._mine(who)
        found = await self.find(who, ident)
        if found is None:
            raise _not_found(ident)
        using = await self.users_buckets(who, found["id"])
        if using:
            raise S3Error("Conflict", f"The data policy {found['name']} is used by bucket(s) {', '.join(using)}.",
                          status=409)
        del policies[found["id"]]
        await self._save(user, policies)

    async def users_buckets(self, who: Principal, pid: str) -> list[str]:
        return [b.name for b in await self.core.meta.list_buckets(who.user_id) if b.props.get(BUCKET_PROP) == pid]
