"""Append sessions: Coffer's native protocol, the multipart fallback, and handles moving between clients."""

from __future__ import annotations

import os

import pytest

from coffer import ClientConfig, CofferError


def test_native_appends_on_coffer(coffer_client, coffer_bkt):
    obj = coffer_bkt.object("native.log")
    obj.put(b"base-")
    w = obj.get_writer()
    h = w.append_content(b"one", append_to_existing=True)
    assert h.startswith("cn1.")  # Coffer's own protocol, not the fallback
    # The handle is server state: a different client (another process, say) can carry on with it.
    other = coffer_bkt.client.__class__(coffer_client.endpoint, coffer_client.access_key,
                                        coffer_client._transport.credentials.secret_key, proxy="")
    h = other.bucket(coffer_bkt.name).object("native.log").get_writer().append_content(b"-two", handle=h)
    assert obj.read() == b"base-"
    w.append_content(b"", handle=h, flush=True)
    assert obj.read() == b"base-one-two"


def test_forced_fallback_on_coffer(coffer_target, coffer_bkt):
    client = coffer_target.client(config=ClientConfig(append_mode="multipart"))
    obj = client.bucket(coffer_bkt.name).object("fallback.log")
    obj.put(os.urandom(6 * 1024 * 1024))  # >= 5 MiB: becomes part 1 by UploadPartCopy
    before = obj.read()
    w = obj.get_writer()
    h = w.append_content(b"tail", append_to_existing=True)
    assert h.startswith("cm1.")
    assert obj.read() == before
    w.append_content(b"!", handle=h, flush=True)
    assert obj.read() == before + b"tail!"
    assert list(coffer_bkt.list_uploads()) == []


def test_fallback_on_seaweedfs_and_handles_across_clients(weed_target):
    import uuid

    client = weed_target.client()
    bkt = client.bucket(f"sdk-app-{uuid.uuid4().hex[:8]}").create()
    try:
        obj = bkt.object("x.log")
        w = obj.get_writer()
        h = w.append_content(b"small")
        assert h.startswith("cm1.")  # SeaweedFS is not Coffer: multipart fallback
        stranger = weed_target.client().bucket(bkt.name).object("x.log").get_writer()
        with pytest.raises(CofferError) as info:  # its 5 buffered bytes live in the first client
            stranger.append_content(b"more", handle=h)
        assert info.value.code == "AppendHandleNotHere"
        big = os.urandom(5 * 1024 * 1024)
        h = w.append_content(big, handle=h)  # buffer reaches 5 MiB: uploaded as a part, nothing held
        stranger.append_content(b"end", handle=h, flush=True)
        assert obj.read() == b"small" + big + b"end"
    finally:
        bkt.delete(force=True)
