"""`Bucket.get_many` / `AsyncBucket.get_many` (Coffer's batch GET) against a real server: verified bytes and
records per key, per-key errors, versions by id, a corrupted member refused, a cut answer reported after
what it delivered, and NotImplementedByServer from a server that is not Coffer."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest
from sdk_faults import CannedServer, CuttingProxy

from coffer import (
    AsyncClient,
    BatchResult,
    Client,
    ClientConfig,
    ConnectionFailed,
    EntityTooLarge,
    IntegrityError,
    NoSuchKey,
    NotImplementedByServer,
)


def test_get_many_yields_verified_objects_and_per_key_errors(coffer_bkt):
    big = os.urandom(200 * 1024)
    coffer_bkt.object("a.txt").put(b"alpha", content_type="text/plain", metadata={"Colour": "blue"})
    coffer_bkt.object("big.bin").put(big)
    got = list(coffer_bkt.get_many(["a.txt", "missing", "big.bin"], batch_size=2))  # two requests
    assert [r.key for r in got] == ["a.txt", "missing", "big.bin"]
    a, missing, b = got
    assert isinstance(a, BatchResult) and a.ok and a.data == b"alpha" and a.size == 5
    assert a.etag == hashlib.md5(b"alpha").hexdigest() and a.content_type == "text/plain"
    assert a.metadata == {"colour": "blue"} and "CRC32C" in a.checksums and a.last_modified is not None
    assert not missing.ok and isinstance(missing.error, NoSuchKey) and missing.data is None
    assert b.data == big
    small, skipped = coffer_bkt.get_many(["a.txt", "big.bin"], max_size=1000)  # big ones are not held in memory
    assert small.data == b"alpha" and isinstance(skipped.error, EntityTooLarge) and skipped.size == len(big)


def test_get_many_by_version_id(coffer_bkt):
    coffer_bkt.enable_versioning()
    v1 = coffer_bkt.object("k").put(b"one").version_id
    coffer_bkt.object("k").put(b"two")
    old, cur = coffer_bkt.get_many([("k", v1), "k"])
    assert (old.data, old.version_id) == (b"one", v1)
    assert cur.data == b"two" and cur.version_id != v1


def test_async_get_many(coffer_target, coffer_bkt):
    coffer_bkt.object("x").put(b"xx")
    coffer_bkt.object("y").put(b"yyy")

    async def main() -> list[BatchResult]:
        async with AsyncClient(coffer_target.url, coffer_target.access_key, coffer_target.secret_key,
                               proxy="") as c:
            return [r async for r in c.bucket(coffer_bkt.name).get_many(["x", "nope", "y"])]

    x, nope, y = asyncio.run(main())
    assert (x.data, y.data) == (b"xx", b"yyy") and isinstance(nope.error, NoSuchKey)


def test_a_corrupted_member_is_refused_and_a_cut_answer_raises_after_what_it_delivered(coffer_target, coffer_bkt):
    first, second = os.urandom(20_000), os.urandom(20_000)
    coffer_bkt.object("1").put(first)
    coffer_bkt.object("2").put(second)
    proxy = CuttingProxy(coffer_target.url)
    try:
        c = Client(proxy.url, coffer_target.access_key, coffer_target.secret_key, proxy="",
                   config=ClientConfig(max_attempts=1))
        proxy.corrupt_down(at=10_000)  # inside the first member's data
        one, two = c.bucket(coffer_bkt.name).get_many(["1", "2"])
        assert isinstance(one.error, IntegrityError) and one.data is None and two.data == second
        proxy.cut_down(after=30_000)  # inside the second member
        seen: list[str] = []
        with pytest.raises(ConnectionFailed):
            for r in c.bucket(coffer_bkt.name).get_many(["1", "2"]):
                seen.append(r.key)
        assert seen == ["1"]
    finally:
        proxy.close()


@pytest.mark.parametrize("script", [[(200, "")], [(404, "NoSuchBucket")], [(405, "MethodNotAllowed")]])
def test_a_server_that_is_not_coffer(script):
    server = CannedServer(script)
    try:
        c = Client(server.url, "AK", "SK", proxy="", config=ClientConfig(max_attempts=1))
        with pytest.raises(NotImplementedByServer):
            list(c.bucket("b").get_many(["k"]))

        async def main() -> None:
            async with AsyncClient(server.url, "AK", "SK", proxy="", config=ClientConfig(max_attempts=1)) as ac:
                [r async for r in ac.bucket("b").get_many(["k"])]

        server.script = list(script)
        with pytest.raises(NotImplementedByServer):
            asyncio.run(main())
    finally:
        server.close()
