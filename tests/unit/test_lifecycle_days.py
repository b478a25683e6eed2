"""Lifecycle day arithmetic: S3 rounds `Days` actions up to the next midnight UTC; a test day
length (--lifecycle-day-seconds) keeps the plain multiple. Checked on `due_time` and on a real
lifecycle pass (SQLite metadata, data files in a temporary folder) with the clock moved forward.
"""

from __future__ import annotations

import calendar

import pytest
from service_env import ROOT, Env, put, run

from coffer.protocol.errors import S3Error
from coffer.server.service.objects.lifecycle import due_time


def _utc(y, mo, d, h=0, mi=0) -> float:
    return float(calendar.timegm((y, mo, d, h, mi, 0)))


def test_due_time_rounds_to_next_midnight():
    # the S3 user guide's example: written 2014-01-15 10:30 UTC, Days=3 -> 2014-01-19 00:00 UTC
    assert due_time(_utc(2014, 1, 15, 10, 30), 3, 86400) == _utc(2014, 1, 19)
    assert due_time(_utc(2014, 1, 15), 1, 86400) == _utc(2014, 1, 16)  # already at midnight
    assert due_time(_utc(2014, 1, 31, 23, 59), 1, 86400) == _utc(2014, 2, 2)


def test_due_time_test_day_length_is_plain():
    assert due_time(1000.5, 3, 10) == 1030.5


def test_pass_expires_at_midnight_not_before(tmp_path):
    async def go():
        async with Env(tmp_path) as svc:
            await svc.buckets.create(ROOT, "lcd", None, {})
            await put(svc, "lcd", "k", b"x")
            written = (await svc.objects.get(ROOT, "lcd", "k")).last_modified
            await svc.lifecycle.put(ROOT, "lcd", [{"id": "r", "status": "Enabled", "filter": {"prefix": ""},
                                                   "expiration": {"days": 1}}])
            midnight = due_time(written, 1, 86400)
            assert written + 86400 <= midnight < written + 2 * 86400
            assert await svc.lifecycle.run_pass(86400, now=midnight - 1) == 0  # a day has passed, not midnight
            assert (await svc.objects.get(ROOT, "lcd", "k")).inline == b"x"
            assert await svc.lifecycle.run_pass(86400, now=midnight) == 1
            with pytest.raises(S3Error) as ei:
                await svc.objects.get(ROOT, "lcd", "k")
            assert ei.value.code == "NoSuchKey"

    run(go())
