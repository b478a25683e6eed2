"""SDK request tracing: DEBUG lines on the ``coffer.sdk`` logger and the ``on_request`` hook, with
retries, timings and request ids, and never a secret (keys, signatures, SSE-C keys, tokens)."""

from __future__ import annotations

import base64
import hashlib
import logging
import os

import pytest
from sdk_faults import CuttingProxy

from coffer import Client, ClientConfig, NoSuchKey, RequestRecord


def _secrets(target, key: bytes) -> list[str]:
    return [target.secret_key, "Signature=", "X-Amz-Signature", "Authorization", base64.b64encode(key).decode()]


def test_debug_log_shows_requests_without_secrets(coffer_target, coffer_bkt, caplog):
    key = os.urandom(32)
    records: list[RequestRecord] = []
    client = coffer_target.client(config=ClientConfig(max_attempts=3, on_request=records.append))
    obj = client.bucket(coffer_bkt.name).object("traced key.txt")
    ssec = {"x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
            "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(hashlib.md5(key).digest()).decode()}
    with caplog.at_level(logging.DEBUG, logger="coffer.sdk"):
        obj.put(b"hello", headers=ssec)
        with pytest.raises(NoSuchKey):
            client.bucket(coffer_bkt.name).object("missing").head()
        url = obj.presign()
        obj.set_tags({"a": "b"})
    lines = [r.getMessage() for r in caplog.records if r.name == "coffer.sdk"]
    assert len(lines) == 3 and len(records) == 3
    assert lines[0].startswith(f"PUT /{coffer_bkt.name}/traced%20key.txt -> 200 rid=")
    assert lines[1].startswith(f"HEAD /{coffer_bkt.name}/missing -> 404 NoSuchKey rid=")
    assert lines[2].startswith(f"PUT /{coffer_bkt.name}/traced%20key.txt?tagging -> 200")
    assert all("attempt 1/3" in line and " ms " in line for line in lines)
    text = "\n".join(lines) + repr(records)
    for secret in _secrets(coffer_target, key):
        assert secret not in text
    put, head, _tags = records
    assert put.method == "PUT" and put.status == 200 and put.request_id and put.bytes_sent == 5
    assert put.request_id in lines[0]
    assert head.status == 404 and head.error_code == "NoSuchKey" and not head.will_retry
    assert put.elapsed > 0
    assert "X-Amz-Signature" in url  # presigning makes no request and logs nothing


def test_retries_are_traced(coffer_target, coffer_bkt, caplog):
    proxy = CuttingProxy(coffer_target.url)
    try:
        records: list[RequestRecord] = []
        config = ClientConfig(max_attempts=3, backoff_base=0.001, backoff_max=0.01, on_request=records.append)
        client = Client(proxy.url, coffer_target.access_key, coffer_target.secret_key, proxy="", config=config)
        proxy.cut_up(after=300_000)
        with caplog.at_level(logging.DEBUG, logger="coffer.sdk"):
            client.bucket(coffer_bkt.name).object("retried").put(os.urandom(1 << 20))
        assert [(r.status, r.attempt, r.will_retry) for r in records] == [(0, 1, True), (200, 2, False)]
        assert records[0].error_code == "ConnectionFailed" and records[0].error
        assert records[0].retry_delay <= 0.01
        lines = [r.getMessage() for r in caplog.records if r.name == "coffer.sdk"]
        assert "no answer ConnectionFailed" in lines[0] and "retrying in" in lines[0]
        assert "-> 200" in lines[1] and "attempt 2/3" in lines[1]
    finally:
        proxy.close()


def test_a_failing_hook_never_fails_the_request(coffer_target, coffer_bkt):
    def boom(_record: RequestRecord) -> None:
        raise RuntimeError("hook bug")

    client = coffer_target.client(config=ClientConfig(on_request=boom))
    client.bucket(coffer_bkt.name).object("k").put(b"x")
    assert coffer_bkt.object("k").read() == b"x"


def test_redaction_of_query_secrets():
    from coffer.sdk._tracing import redact_target

    assert redact_target("/b/k?X-Amz-Signature=abc&x-id=1&X-Amz-Security-Token=t") == \
        "/b/k?X-Amz-Signature=REDACTED&x-id=1&X-Amz-Security-Token=REDACTED"
    assert redact_target("/b/k?tagging") == "/b/k?tagging"


def test_an_unreadable_listing_page_is_asked_again_then_refused_clearly(coffer_target, coffer_bkt):
    from coffer.sdk._errors import ProtocolError

    keys = [f"k{i:03d}" for i in range(60)]
    for k in keys:
        coffer_bkt.object(k).put(b"x")
    proxy = CuttingProxy(coffer_target.url)
    try:
        client = Client(proxy.url, coffer_target.access_key, coffer_target.secret_key, proxy="")
        proxy.corrupt_down(at=3000)  # inside the first page's XML (a page of 60 keys is ~15 KB)
        assert [o.key for o in client.bucket(coffer_bkt.name).list_objects()] == keys
        assert proxy.corruptions == 1 and proxy.requests == 2  # the page was asked again, once
        # every answer unreadable: a ProtocolError naming the listing, not a bare XML error
        fresh = Client(proxy.url, coffer_target.access_key, coffer_target.secret_key, proxy="")
        proxy.corrupt_down(at=3000, times=5)  # a flip every 3,000 bytes: every page, every try
        with pytest.raises(ProtocolError, match=r"ListObjectsV2 answer .* not readable XML"):
            list(fresh.bucket(coffer_bkt.name).list_objects())
    finally:
        proxy.close()
