"""The asyncio SDK against a real Coffer server: the main calls of the sync tests, as coroutines."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from coffer import (
    AccessDenied,
    AsyncClient,
    AsyncObject,
    BucketAlreadyOwnedByYou,
    ClientConfig,
    CorsRule,
    LifecycleRule,
    NoSuchBucket,
    NoSuchKey,
    ObjectVersion,
    PreconditionFailed,
    Prefix,
    RequestRecord,
)


def _client(target, **kw) -> AsyncClient:
    kw.setdefault("config", ClientConfig(max_attempts=3, backoff_base=0.01))
    return AsyncClient(target.url, target.access_key, target.secret_key, proxy="", **kw)


def run(coro):
    return asyncio.run(coro)


def test_buckets_objects_and_listing(coffer_target):
    async def main() -> None:
        async with _client(coffer_target) as c:
            b = await c.bucket(f"sdk-async-{uuid.uuid4().hex[:12]}").create()
            assert await b.exists()
            assert b in await c.list_buckets()
            assert await c.is_coffer()
            with pytest.raises(BucketAlreadyOwnedByYou):
                await b.create()
            await b.create(exist_ok=True)

            obj = b.object("dir/a b.txt")
            assert isinstance(obj, AsyncObject)
            res = await obj.put(b"hello world", content_type="text/plain", metadata={"Colour": "blue"})
            props = await obj.head()
            assert props.etag == res.etag and props.size == 11 and props.custom == {"colour": "blue"}
            assert props.content_type == "text/plain" and "CRC32C" in props.checksums
            assert await obj.read() == b"hello world"
            assert await obj.read("bytes=6-") == b"world"
            assert await obj.read((0, 4)) == b"hello"
            chunks = [c async for c in obj.get_reader(chunk_size=3).iter_content()]
            assert b"".join(chunks) == b"hello world" and max(map(len, chunks)) <= 3

            await b.object("dir/sub/x").put("x")
            await b.object("top").put(b"t")
            keys = [e.key async for e in b.list_objects()]
            assert keys == ["dir/a b.txt", "dir/sub/x", "top"]
            level = [e async for e in b.list_objects(prefix="dir/", delimiter="/", page_size=1)]
            assert [(type(e), e.key) for e in level] == [(type(level[0]), "dir/a b.txt"), (Prefix, "dir/sub/")]

            copy = await obj.copy_to(b, "copied", metadata={"new": "1"})
            assert copy.etag == res.etag
            assert (await b.object("copied").head()).custom == {"new": "1"}
            with pytest.raises(PreconditionFailed):
                await obj.put(b"again", if_none_match="*")

            results = await b.delete_objects(["top", "copied"])
            assert all(r.deleted for r in results)
            await obj.delete()
            assert not await obj.exists()
            with pytest.raises(NoSuchKey):
                await obj.read()
            await b.delete(force=True)
            assert not await b.exists()
            with pytest.raises(NoSuchBucket):
                await b.object("k").put(b"x")

    run(main())


def test_multipart_streams_and_files(coffer_target, tmp_path):
    data = os.urandom(5 * 1024 * 1024 * 2 + 123)  # three parts of 5 MiB
    path = tmp_path / "big.bin"
    path.write_bytes(data)

    async def stream() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 700_000):
            yield data[i:i + 700_000]

    async def main() -> None:
        async with _client(coffer_target) as c:
            b = await c.bucket(f"sdk-async-{uuid.uuid4().hex[:12]}").create()
            w = b.object("file").get_writer()
            res = await w.put_file(path, part_size=5 * 1024 * 1024)
            assert res.etag.endswith("-3")
            got = await b.object("file").read()
            assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()

            res = await b.object("stream").get_writer().put_content(stream(), part_size=5 * 1024 * 1024)
            assert res.etag.endswith("-3")
            assert await b.object("stream").read() == data

            sized = await b.object("sized").get_writer().put_content(stream(), content_length=len(data))
            assert "-" not in sized.etag and await b.object("sized").read("-10") == data[-10:]
            out = tmp_path / "out.bin"
            with open(out, "wb") as f:
                assert await b.object("sized").get_reader().read_into_file(f) == len(data)
            assert out.read_bytes() == data
            assert await b.list_uploads() == []
            await b.delete(force=True)

    run(main())


def test_settings_versions_and_tracing(coffer_target):
    records: list[RequestRecord] = []

    async def main() -> None:
        async with _client(coffer_target, config=ClientConfig(on_request=records.append)) as c:
            b = await c.bucket(f"sdk-async-{uuid.uuid4().hex[:12]}").create(object_lock=True)
            assert await b.get_versioning() == "Enabled"
            await b.set_object_lock("GOVERNANCE", days=1)
            obj = b.object("v")
            v1 = (await obj.put(b"1")).version_id
            v2 = (await obj.put(b"2")).version_id
            versions = [v async for v in b.list_versions()]
            assert [v.version_id for v in versions if isinstance(v, ObjectVersion)] == [v2, v1]
            assert await obj.read(version_id=v1) == b"1"
            with pytest.raises(AccessDenied):
                await obj.delete(v1)
            assert (await obj.get_retention(v1)).mode == "GOVERNANCE"
            await obj.set_tags({"a": "1"})
            assert await obj.get_tags() == {"a": "1"}
            await b.set_tags({"team": "x"})
            assert await b.get_tags() == {"team": "x"}
            assert await b.get_cors() == []
            await b.set_cors([CorsRule(["*"], ["GET"])])
            assert await b.get_cors() == [CorsRule(["*"], ["GET"])]
            await b.set_lifecycle([LifecycleRule(id="r", prefix="tmp/", expiration_days=3)])
            assert (await b.get_lifecycle())[0].expiration_days == 3
            assert await b.get_policy() is None
            assert (await b.get_acl()).grants[0].permission == "FULL_CONTROL"
            with pytest.raises(AccessDenied, match=r"2 object version\(s\) .* protected"):
                await b.delete(force=True)  # the DeleteObjects answer lists them: no 403 of its own
            await b.delete(force=True, bypass_governance=True)

    run(main())
    assert {"PUT", "GET", "DELETE"} <= {r.method for r in records}
    denied = [r for r in records if r.error_code == "AccessDenied"]
    assert len(denied) == 1 and denied[0].status == 403 and denied[0].request_id
    assert all(r.attempt == 1 for r in records)


def test_connection_failure_is_typed():
    import socket

    from coffer import ConnectionFailed

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main() -> None:
        async with AsyncClient(f"http://127.0.0.1:{port}", "k", "s", proxy="",
                               config=ClientConfig(max_attempts=2, backoff_base=0.001)) as c:
            with pytest.raises(ConnectionFailed) as e:
                await c.list_buckets()
            assert e.value.attempts == 2

    run(main())


def test_reader_resumes_a_cut_body_pinned_to_its_etag(coffer_target):
    """A body cut mid-way is asked again from where it stopped (Range + If-Match), up to max_attempts
    tries; an object replaced meanwhile fails with PreconditionFailed instead of being spliced."""
    from sdk_faults import CuttingProxy

    from coffer import ConnectionFailed

    data = os.urandom(8 * 1024 * 1024 + 5)
    proxy = CuttingProxy(coffer_target.url)

    async def main() -> None:
        async with _client(coffer_target) as direct:
            b = await direct.bucket(f"sdk-async-{uuid.uuid4().hex[:12]}").create()
            await b.object("r.bin").put(data)
            async with AsyncClient(proxy.url, coffer_target.access_key, coffer_target.secret_key, proxy="",
                                   config=ClientConfig(max_attempts=3, backoff_base=0.01)) as c:
                obj = c.bucket(b.name).object("r.bin")
                proxy.cut_down(after=1_000_000)
                assert await obj.read() == data
                assert proxy.cuts == 1
                proxy.cut_down(after=2_000_000)
                assert await obj.read((100, 5_000_099)) == data[100:5_000_100]  # a range resumes too
                assert proxy.cuts == 2
                proxy.cut_down(after=1_000_000, times=3)  # three cuts: all of max_attempts=3 tries
                with pytest.raises(ConnectionFailed):
                    await obj.read()
                assert proxy.cuts == 5
                got = bytearray()
                with pytest.raises(PreconditionFailed):
                    async for chunk in obj.get_reader(chunk_size=256 * 1024).iter_content():
                        if not got:
                            await b.object("r.bin").put(b"replaced")  # a new version under the reader
                            proxy.cut_down(after=1)
                        got += chunk
                assert data.startswith(bytes(got))  # nothing of the new object was spliced in
            await b.delete(force=True)

    try:
        run(main())
    finally:
        proxy.close()
