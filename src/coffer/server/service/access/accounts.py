"""User administration and quotas: what the admin API does, without HTTP.

Owns users (add, list, remove), their access keys (create, rotate, disable/enable, delete), bucket
ownership (list by owner, give a bucket to another user) and
per-user quotas (``User.props["quota"]``: max_bytes, max_objects, max_buckets). A quota bounds what
the buckets a user owns may hold; it is checked before a write is accepted. Usage is summed from the
metadata and cached for a second per worker, so a quota is exact for sequential writes and may be
overrun by what concurrent writes add within that second (documented in docs/users-and-quotas.md).
Users without a quota pay one cached user lookup per write and nothing else.
"""

from __future__ import annotations

import time
from typing import Any

from coffer.protocol.errors import S3Error
from coffer.server.meta import interface as mi
from coffer.server.meta.model import AccessKey, Bucket, User
from coffer.server.service.access.decision import patch
from coffer.server.service.access.users import (
    Users,
    add_user,
    api_key_id,
    new_api_key,
    random_access_key,
    random_secret_key,
)
from coffer.server.service.core import Core, Principal

QUOTA_FIELDS = ("max_bytes", "max_objects", "max_buckets")
_TTL = 1.0


def _bad(msg: str) -> S3Error:
    return S3Error("InvalidArgument", msg)


def _no_user(user_id: str) -> S3Error:
    return S3Error("NoSuchEntity", f"The user {user_id} does not exist.", status=404)


def _no_key(access_key: str) -> S3Error:
    return S3Error("NoSuchEntity", f"The access key {access_key} does not exist.", status=404)


def key_view(k: AccessKey, with_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"access_key": k.access_key, "user": k.user_id, "status": k.status, "created": k.created}
    if with_secret:
        out["secret_key"] = k.secret_key
    return out


def user_view(u: User, keys: list[AccessKey]) -> dict[str, Any]:
    return {"id": u.id, "display_name": u.display_name, "email": u.email, "admin": bool(u.props.get("admin")),
            "quota": u.props.get("quota") or {}, "created": u.created,
            "access_keys": [key_view(k) for k in keys if k.user_id == u.id]}


class Admin:
    def __init__(self, core: Core, users: Users) -> None:
        self.core = core
        self.users = users  # its credential cache is dropped for keys changed here
        self._users: dict[str, tuple[float, User | None]] = {}
        self._usage: dict[str, tuple[float, int, int]] = {}
        self._generation = 0  # bumped by every invalidation: a lookup that raced one is not cached
        self._watch = mi.PrincipalsWatch(core.meta)  # SQLite: changes made by other processes
        core.meta.on_invalidate(self.invalidate)

    def invalidate(self, what: str) -> None:
        """A user changed somewhere ("user:ID": their quota may have), or "" (anything may have)."""
        self._generation += 1
        kind, _, name = what.partition(":")
        if kind == "user":
            self._users.pop(name, None)
        elif kind != "key":
            self._users.clear()

    # -- users -------------------------------------------------------------------------------------
    async def list_users(self) -> list[dict[str, Any]]:
        keys = await self.core.meta.list_access_keys()
        return [user_view(u, keys) for u in await self.core.meta.list_users()]

    async def get_user(self, user_id: str) -> dict[str, Any]:
        u = await self.core.meta.get_user(user_id)
        if u is None:
            raise _no_user(user_id)
        return user_view(u, await self.core.meta.list_access_keys(user_id))

    async def add_user(self, user_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Create a user with a fresh key (given keys are used if both are present); returns the secret."""
        if not user_id or len(user_id) > 128 or not all(c.isalnum() or c in "-_.@" for c in user_id):
            raise _bad("A user id is 1-128 letters, digits and -_.@")
        if await self.core.meta.get_user(user_id) is not None:
            raise S3Error("EntityAlreadyExists", f"The user {user_id} already exists.", status=409)
        ak = doc.get("access_key") or random_access_key()
        sk = doc.get("secret_key") or random_secret_key()
        try:
            await add_user(self.core.meta, user_id, ak, sk, display_name=doc.get("display_name"),
                           email=doc.get("email"), admin=bool(doc.get("admin")))
        except ValueError as e:
            raise _bad(str(e)) from None
        view = await self.get_user(user_id)
        view["access_keys"] = [{**view["access_keys"][0], "secret_key": sk}] if view["access_keys"] else []
        return view

    async def remove_user(self, user_id: str) -> None:
        owned = await self.core.meta.list_buckets(user_id)
        if owned:
            raise S3Error("DeleteConflict", f"The user {user_id} still owns buckets: "
                          + ", ".join(b.name for b in owned[:10]), status=409)
        keys = await self.core.meta.list_access_keys(user_id)
        if not await self.core.meta.delete_user(user_id):
            raise _no_user(user_id)
        self._users.pop(user_id, None)
        for k in keys:
            self.users.forget(k.access_key)

    # -- keys --------------------------------------------------------------------------------------
    async def list_keys(self, user_id: str | None) -> list[dict[str, Any]]:
        return [key_view(k) for k in await self.core.meta.list_access_keys(user_id)]

    async def create_key(self, user_id: str, kind: str = "s3") -> dict[str, Any]:
        """A new key for `user_id`: an S3 key pair (kind "s3"), or an IBM API key (kind "apikey") that
        ibm_boto3 trades for bearer tokens at /identity/token; either secret is returned only here."""
        if kind not in ("s3", "apikey"):
            raise _bad("A key's type is s3 or apikey")
        if await self.core.meta.get_user(user_id) is None:
            raise _no_user(user_id)
        api_key = new_api_key() if kind == "apikey" else None
        key = AccessKey(api_key_id(api_key) if api_key else random_access_key(), random_secret_key(), user_id,
                        "active", time.time())
        await self.core.meta.put_access_key(key)
        if api_key is None:
            return key_view(key, with_secret=True)
        # the service instance id ibm_boto3 sends (ibm-service-instance-id) is the user's id
        return {**key_view(key), "type": "apikey", "api_key": api_key, "service_instance_id": user_id}

    async def _key(self, access_key: str) -> AccessKey:
        k = await self.core.meta.get_access_key(access_key)
        if k is None:
            raise _no_key(access_key)
        return k

    async def rotate_key(self, access_key: str) -> dict[str, Any]:
        """A new secret for the same access key id; the old secret stops working (within the
        credential cache's TTL in other workers)."""
        k = await self._key(access_key)
        k.secret_key = random_secret_key()
        await self.core.meta.put_access_key(k)
        return key_view(k, with_secret=True)

    async def set_key_status(self, access_key: str, status: str, who: Principal | None = None) -> dict[str, Any]:
        if status not in ("active", "disabled"):
            raise _bad("status must be active or disabled")
        k = await self._key(access_key)
        if status == "disabled" and who is not None and k.user_id == who.user_id:
            active = [x for x in await self.core.meta.list_access_keys(who.user_id) if x.status == "active"]
            if [x.access_key for x in active] == [access_key]:
                raise S3Error("DeleteConflict", "Refusing to disable the last active key of the caller.", status=409)
        k.status = status
        await self.core.meta.put_access_key(k)
        return key_view(k)

    async def delete_key(self, access_key: str, who: Principal) -> None:
        k = await self._key(access_key)
        if k.user_id == who.user_id and len(await self.core.meta.list_access_keys(who.user_id)) == 1:
            raise S3Error("DeleteConflict", "Refusing to delete the last access key of the caller.", status=409)
        await self.core.meta.delete_access_key(access_key)

    # -- bucket ownership --------------------------------------------------------------------------
    async def list_buckets(self, owner: str | None) -> list[dict[str, Any]]:
        return [{"name": b.name, "owner": b.owner, "created": b.created, "region": b.region}
                for b in await self.core.meta.list_buckets(owner)]

    async def set_bucket_owner(self, name: str, owner: str) -> dict[str, Any]:
        """Give a bucket to another user. Its stored ACL is reset to private (the old owner's grant
        must not survive); its policy stays, as it names principals explicitly."""
        if await self.core.meta.get_user(owner) is None:
            raise _no_user(owner)
        try:
            # ACL first: a crash in between leaves the old owner with a private bucket, never the new
            # owner with the old owner's grants
            await self.core.meta.modify_bucket_props(name, patch({"acl": None}))
            await self.core.meta.set_bucket_owner(name, owner)
        except mi.NoSuchBucket:
            raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=name) from None
        return {"name": name, "owner": owner}

    # -- quotas ------------------------------------------------------------------------------------
    async def get_quota(self, user_id: str) -> dict[str, Any]:
        u = await self.core.meta.get_user(user_id)
        if u is None:
            raise _no_user(user_id)
        objects, size, buckets = await self.usage(user_id, fresh=True)
        return {"user": user_id, "quota": u.props.get("quota") or {},
                "usage": {"bytes": size, "objects": objects, "buckets": buckets}}

    async def set_quota(self, user_id: str, doc: dict[str, Any] | None) -> dict[str, Any]:
        quota: dict[str, int] = {}
        for name, value in (doc or {}).items():
            if name not in QUOTA_FIELDS:
                raise _bad(f"unknown quota field {name}; expected {', '.join(QUOTA_FIELDS)}")
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise _bad(f"{name} must be a non-negative integer")
            quota[name] = value

        def change(props: dict[str, Any]) -> dict[str, Any]:
            if quota:
                props["quota"] = quota
            else:
                props.pop("quota", None)
            return props

        try:  # in one metadata transaction with the read: a token issued meanwhile is kept
            await self.core.meta.modify_user_props(user_id, change)
        except mi.NoSuchUser:
            raise _no_user(user_id) from None
        self._users.pop(user_id, None)
        return await self.get_quota(user_id)

    async def _user(self, user_id: str) -> User | None:
        if self._watch.moved():  # another process changed a user or key
            self._generation += 1
            self._users.clear()
        now = time.monotonic()
        hit = self._users.get(user_id)
        if hit is None or hit[0] < now:
            if len(self._users) > 10_000:
                self._users.clear()
            generation = self._generation
            hit = (now + self.core.limits.credential_cache_ttl, await self.core.meta.get_user(user_id))
            if generation == self._generation:  # else what was read may predate the change
                self._users[user_id] = hit
        return hit[1]

    async def usage(self, user_id: str, fresh: bool = False) -> tuple[int, int, int]:
        """(objects, bytes, buckets) of what the user owns."""
        now = time.monotonic()
        hit = self._usage.get(user_id)
        if hit is None or hit[0] < now or fresh:
            buckets = await self.core.meta.list_buckets(user_id)
            objects = size = 0
            for b in buckets:
                n, s = await self.core.meta.count_objects(b.name)
                objects, size = objects + n, size + s
            self._usage[user_id] = (now + _TTL, objects, size)
            return objects, size, len(buckets)
        return hit[1], hit[2], -1

    async def check_write(self, bucket: Bucket, incoming: int, new_object: bool = True) -> None:
        """QuotaExceeded when ``incoming`` more bytes (and one more object, unless it is a part or an
        append piece) would pass the owner's quota."""
        u = await self._user(bucket.owner)
        quota = u.props.get("quota") if u else None
        if not quota:
            return
        objects, size, _ = await self.usage(bucket.owner)
        if "max_bytes" in quota and size + incoming > quota["max_bytes"]:
            raise S3Error("QuotaExceeded", "The bucket owner's storage quota would be exceeded.",
                          status=403, BucketName=bucket.name)
        if new_object and "max_objects" in quota and objects + 1 > quota["max_objects"]:
            raise S3Error("QuotaExceeded", "The bucket owner's object count quota would be exceeded.",
                          status=403, BucketName=bucket.name)
        # count this write now, so a burst from one worker cannot overrun by more than itself
        ttl, o, s = self._usage[bucket.owner]
        self._usage[bucket.owner] = (ttl, o + int(new_object), s + incoming)

    async def check_new_bucket(self, who: Principal) -> None:
        u = await self._user(who.user_id)
        quota = u.props.get("quota") if u else None
        if quota and "max_buckets" in quota \
                and len(await self.core.meta.list_buckets(who.user_id)) >= quota["max_buckets"]:
            raise S3Error("TooManyBuckets", "You have attempted to create more buckets than allowed")
