"""The small-object bench's own pieces: the durable-append limit server and the paired ratios."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path

from harness import procs
from harness.s3client import Payload, S3Client, new_session

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))

import small  # noqa: E402


def test_limit_server_appends_every_acknowledged_body(tmp_path):
    server = small.start_limit(tmp_path, workers=2)
    bodies = [b"", b"x" * 4096, bytes(range(256)) * 3]
    try:
        async def go() -> list[str]:
            async with new_session(4) as s:
                c = S3Client(s, server.base, "bench", None)
                assert await c.create_bucket() == 200
                etags = []
                for i, b in enumerate(bodies):
                    assert await c.put(f"k/{i}", Payload.of(b)) == len(b)
                    async with s.put(c.url(f"again/{i}"), data=b) as r:
                        etags.append(r.headers["ETag"].strip('"'))
                return etags

        etags = asyncio.run(go())
    finally:
        server.stop(keep_data=True)
    assert etags == [hashlib.md5(b).hexdigest() for b in bodies]
    # every answered PUT is in one of the workers' logs, length-prefixed
    records: list[bytes] = []
    for log in sorted((tmp_path / "limit" / "log").glob("log-*.bin")):
        raw = log.read_bytes()
        at = 0
        while at < len(raw):
            n = int.from_bytes(raw[at:at + 4], "little")
            records.append(raw[at + 4:at + 4 + n])
            at += 4 + n
        assert at == len(raw)
    assert sorted(records) == sorted(bodies * 2)


def test_paired_ratios_skip_failed_and_missing_rounds():
    ok = {"value": 10.0, "errors": 0}
    rounds = [
        {"coffer": {"p": {"value": 30.0, "errors": 0}}, "seaweedfs": {"p": ok}},
        {"coffer": {"p": {"value": 5.0, "errors": 1}}, "seaweedfs": {"p": ok}},
        {"coffer": {"p": {"value": 20.0, "errors": 0}}},
        {"coffer": {"p": {"value": 15.0, "errors": 0}}, "seaweedfs": {"p": ok}},
    ]
    assert small.paired_ratios(rounds, "p") == [3.0, 1.5]


def test_stop_leaves_no_limit_process(tmp_path):
    server = small.start_limit(tmp_path, workers=2)
    pgid = server.procs[0].pid
    assert procs.group_members(pgid)
    server.stop()
    assert not procs.group_members(pgid)
