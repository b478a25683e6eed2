"""soak.py's verdict and pacing, and the client calls it adds (HEAD, DELETE, multipart) against a real Coffer."""

from __future__ import annotations

import argparse
import asyncio
import time

import pytest
import soak
from harness import procs
from harness.s3client import RequestFailed, S3Client, make_payloads, make_signer, new_session

MiB = 1 << 20


def _run(samples: list[dict]) -> soak.Soak:
    run = soak.Soak.__new__(soak.Soak)
    run.a = argparse.Namespace(minutes=30, streams=8, rate=300, workers=2, settle=5.0)
    run.samples = samples
    run.c = soak.Counters()
    return run


def _sample(minute: float, w1: float, w2: float) -> dict:
    return {"t": minute * 60, "rss_mib": {"master": 70.0, "worker 1": w1, "worker 2": w2},
            "ops": {"put": int(minute * 1000)}, "errors": 0, "cpu_s": minute * 10, "load": "1.00 / 1.00 / 1.00",
            "put_p50_ms": 5.0, "put_p99_ms": 50.0}


def test_verdict_flat_within_ten_percent_from_the_settle_minute():
    # the start-up climb (56 -> 80 MiB) is before minute 5 and does not count
    samples = [_sample(0, 56, 56), _sample(5, 80, 80), _sample(30, 87, 79)]
    text, flat = soak.render(_run(samples), [], {})
    assert flat
    assert "+7.0 MiB (+8.8%): flat" in text


def test_verdict_not_flat_when_a_worker_grows():
    samples = [_sample(0, 56, 56), _sample(5, 80, 80), _sample(30, 80, 100)]
    text, flat = soak.render(_run(samples), [], {})
    assert not flat
    assert "+20.0 MiB (+25.0%): NOT flat" in text


def test_verdict_not_flat_when_a_worker_disappears():
    gone = _sample(30, 80, 80)
    del gone["rss_mib"]["worker 2"]
    _, flat = soak.render(_run([_sample(0, 56, 56), _sample(5, 80, 80), gone]), [], {})
    assert not flat


def test_limiter_caps_the_total_rate():
    async def go() -> float:
        lim = soak.Limiter(200)
        t0 = time.monotonic()
        await asyncio.gather(*(_take(lim, 10) for _ in range(4)))
        return time.monotonic() - t0

    async def _take(lim: soak.Limiter, n: int) -> None:
        for _ in range(n):
            await lim.wait()

    assert asyncio.run(go()) >= 39 / 200


@pytest.fixture
def coffer(tmp_path):
    server = procs.start_coffer(tmp_path, "benchak", "benchsecretkey0123456789", 1, None, "coffer")
    yield server
    server.stop()


def test_client_head_delete_and_multipart(coffer):
    sign, _ = make_signer("benchak", "benchsecretkey0123456789", "us-east-1")
    parts = make_payloads(5 * MiB, 2, seed=1) + make_payloads(1000, 1, seed=2)

    async def go() -> None:
        async with new_session(2) as s:
            c = S3Client(s, coffer.base, "soaktest", sign)
            assert await c.create_bucket() == 200
            assert await c.multipart("mp/one", parts) == 10 * MiB + 1000
            assert await c.get("mp/one") == 10 * MiB + 1000
            await c.head("mp/one")
            await c.delete("mp/one")
            with pytest.raises(RequestFailed, match="HTTP 404"):
                await c.head("mp/one")
            with pytest.raises(RequestFailed, match="CompleteMultipartUpload"):  # a small part before the last
                await c.multipart("mp/two", parts[::-1])

    asyncio.run(go())
