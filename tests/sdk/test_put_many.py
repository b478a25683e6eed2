"""Bucket.put_many / AsyncBucket.put_many: many small objects in one snowball PUT (docs/sdk.md)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from coffer import AccessDenied, AsyncClient, Client


@pytest.fixture
def cbucket(endpoint):
    client = Client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    b = client.bucket(f"t-many-{uuid.uuid4().hex[:12]}").create()
    yield b
    b.delete(force=True)


def test_put_many_sync(cbucket, tmp_path):
    f = tmp_path / "page.html"
    f.write_bytes(b"<p>hi</p>")
    res = cbucket.put_many([("a.txt", b"alpha"), ("b", "beta"), ("web/page.html", f)], prefix="in/",
                           metadata={"team": "x"})
    assert res.count == 3 and len(res.etag) == 32
    assert cbucket.object("in/a.txt").read() == b"alpha"
    assert cbucket.object("in/b").read() == b"beta"
    props = cbucket.object("in/web/page.html").head()
    assert props.content_type == "text/html" and props.custom == {"team": "x"}
    assert "CRC32C" in props.checksums
    assert [o.key for o in cbucket.list_objects()] == ["in/a.txt", "in/b", "in/web/page.html"]


def test_put_many_refused_key_raises(cbucket):
    cbucket.set_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{cbucket.name}/locked/*"}]})
    with pytest.raises(AccessDenied):
        cbucket.put_many([("locked/x", b"1")])
    cbucket.delete_policy()


def test_put_many_async(endpoint, cbucket):
    async def main() -> int:
        async with AsyncClient(endpoint.url, endpoint.access_key, endpoint.secret_key) as client:
            res = await client.bucket(cbucket.name).put_many([(f"k{i}", bytes([i]) * i) for i in range(50)])
            return res.count
    assert asyncio.run(main()) == 50
    assert cbucket.object("k49").read() == bytes([49]) * 49
