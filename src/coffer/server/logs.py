"""Logging set-up for `coffer serve`: `--log-level` and `--log-format text|json`.

Text lines are `time pid logger LEVEL [request id] message`; JSON lines are one object each with the same fields
(`time` in ISO 8601 UTC, `pid`, `logger`, `level`, `message`, plus `exc` for a traceback), for log
shippers that parse JSON. Every worker inherits the set-up through fork.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time

TEXT_FORMAT = "%(asctime)s %(process)d %(name)s %(levelname)s [%(request_id)s] %(message)s"
# The request being handled (set by the serve loop): every log line of a request carries its id.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
               "pid": record.process, "logger": record.name, "level": record.levelname,
               "message": record.getMessage()}
        for key in ("request_id", "remote", "user", "operation", "bucket", "key", "status", "bytes_in",
                    "bytes_out", "duration_ms"):
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, separators=(",", ":"))


def setup(level: str, fmt: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(_RequestId())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
