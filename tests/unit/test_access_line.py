"""The access line written without a LogRecord (`logs.GatheringHandler.add_access`) is byte for byte the
line the logging call would have written, in both formats."""

from __future__ import annotations

import logging

import pytest

from coffer.server import logs

FIELDS = {"request_id": "17A2B3C4D5E6F708", "remote": "127.0.0.1", "user": "alice", "operation": "PutObject",
          "bucket": "b", "key": "k/ü", "status": 200, "bytes_in": 4096, "bytes_out": 0, "duration_ms": 1.234}
MESSAGE = "17A2B3C4D5E6F708 127.0.0.1 alice PutObject b k/ü 200 4096 0 1.2ms"


@pytest.mark.parametrize("formatter", [logs.TextFormatter(), logs.JsonFormatter()], ids=["text", "json"])
@pytest.mark.parametrize("created", [1_790_000_000.0, 1_790_000_000.9995, 1_790_000_061.0421])
def test_access_line_matches_the_logging_path(formatter, created):
    record = logging.getLogger(logs.ACCESS_LOGGER).makeRecord(
        logs.ACCESS_LOGGER, logging.INFO, __file__, 1, "%s", (MESSAGE,), None, extra=FIELDS)
    record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
    assert formatter.access_line(created, FIELDS, MESSAGE) == formatter.format(record)
    # a second line in the same second reuses the cached time text and still matches
    assert formatter.access_line(created, FIELDS, MESSAGE) == formatter.format(record)
