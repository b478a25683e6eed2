"""service.access on a real SQLite metadata store (no server): the decisions that the HTTP tests cannot
reach directly, such as s3:ExistingObjectTag on tags set straight on the record."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from coffer.protocol.errors import S3Error
from coffer.server.meta.model import Bucket, ObjectRecord
from coffer.server.meta.sqlite.store import SqliteMetaStore
from coffer.server.service.access.decision import ANONYMOUS, Access
from coffer.server.service.core import Core, Principal

ALICE = Principal("alice", "alice")
BOB = Principal("bob", "bob")
ROOT = Principal("root", "root", admin=True)


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


async def _scenario(tmp: Path) -> None:
    meta = SqliteMetaStore(tmp / "meta.db")
    await meta.open()
    try:
        await meta.create_bucket(Bucket("b", "alice", 1.0, "us-east-1"))
        for key, tags in (("tagged", {"class": "public"}), ("plain", {})):
            await meta.put_object(ObjectRecord("b", key, 0, "e", 1.0, "alice", inline=b"", props={"tags": tags}))
        access = Access(Core(meta, None, None, "us-east-1"))  # type: ignore[arg-type]

        async def allowed(who: Principal, action: str, key: str | None, ctx: dict | None = None) -> bool:
            try:
                await access.authorize(who, action, "b", key, lambda: dict(ctx or {}))
            except S3Error as e:
                assert (e.code, e.status) == ("AccessDenied", 403)
                return False
            return True

        bucket = await meta.get_bucket("b")
        assert bucket is not None
        await access.set_bucket_props(bucket, policy=_policy(
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
             "Condition": {"StringEquals": {"s3:ExistingObjectTag/class": "public"}}},
            {"Effect": "Deny", "Principal": {"AWS": "bob"}, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
             "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}))
        assert await allowed(ANONYMOUS, "s3:GetObject", "tagged")
        assert not await allowed(ANONYMOUS, "s3:GetObject", "plain")
        assert not await allowed(ANONYMOUS, "s3:GetObject", "missing")
        assert await allowed(BOB, "s3:GetObject", "tagged", {"aws:sourceip": "192.0.2.1"})
        assert not await allowed(BOB, "s3:GetObject", "tagged", {"aws:sourceip": "10.1.2.3"})
        assert await allowed(ALICE, "s3:PutObject", "x") and await allowed(ROOT, "s3:PutObject", "x")
        assert not await allowed(BOB, "s3:PutObject", "x")
        with pytest.raises(S3Error):
            await access.authorize(ANONYMOUS, "s3:ListAllMyBuckets", None, None, dict)
        with pytest.raises(S3Error):
            await access.authorize(ANONYMOUS, "s3:CreateBucket", "new", None, dict)
        assert await access.authorize(BOB, "s3:GetObject", "no-such-bucket", "k", dict) is None
        # RestrictPublicBuckets: the public Allow counts for the owner and admins only
        await access.set_bucket_props(bucket, pab={"RestrictPublicBuckets": True})
        assert not await allowed(ANONYMOUS, "s3:GetObject", "tagged")
        assert await allowed(ALICE, "s3:GetObject", "tagged")
        # the policy is re-read when it changes (the cache is keyed by its text)
        await access.set_bucket_props(bucket, pab=None, policy=_policy(
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]}))
        assert not await allowed(ROOT, "s3:GetObject", "tagged")
        assert not await allowed(ALICE, "s3:ListBucket", None)
        assert await allowed(ALICE, "s3:DeleteBucketPolicy", None) and await allowed(ROOT, "s3:GetBucketPolicy", None)
        assert not await allowed(BOB, "s3:DeleteBucketPolicy", None)
    finally:
        await meta.close()


def test_access_decisions(tmp_path: Path) -> None:
    asyncio.run(_scenario(tmp_path))
