"""Logging set-up for `coffer serve`: `--log-level` and `--log-format text|json`.

Text lines are `time pid logger LEVEL [request id] message`; JSON lines are one object each with the same fields
(`time` in ISO 8601 UTC, `pid`, `logger`, `level`, `message`, plus `exc` for a traceback), for log
shippers that parse JSON. Every worker inherits the set-up through fork.

Access-log lines (INFO on `coffer.access`, one per request) are gathered and written together, every
`FLUSH_SECONDS` or every `BATCH_LINES` lines, by a thread of each process: a write per request took
the GIL away from the event loop once per request. Any other line (and any warning) is written at
once, after the gathered ones, so the order holds. A worker killed with SIGKILL loses at most the
last `FLUSH_SECONDS` of its access lines; a worker that stops writes them first.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import threading
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


ACCESS_LOGGER = "coffer.access"
FLUSH_SECONDS = 0.2
BATCH_LINES = 256


class GatheringHandler(logging.StreamHandler):
    """A StreamHandler that writes access-log lines in batches (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[str] = []
        self._flusher_pid = 0  # the process whose flusher thread runs (threads do not survive fork)
        os.register_at_fork(after_in_child=self._pending.clear)  # the parent writes its own lines

    def emit(self, record: logging.LogRecord) -> None:  # called with self.lock held (Handler.handle)
        if record.name != ACCESS_LOGGER or record.levelno > logging.INFO:
            self._write_pending()
            super().emit(record)
            return
        try:
            self._pending.append(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)
            return
        if len(self._pending) >= BATCH_LINES:
            self._write_pending()
        elif self._flusher_pid != os.getpid():
            self._flusher_pid = os.getpid()
            threading.Thread(target=self._flush_every, name="coffer-log-flush", daemon=True).start()

    def flush(self) -> None:
        with self.lock if self.lock is not None else contextlib.nullcontext():
            self._write_pending()
            super().flush()

    def _write_pending(self) -> None:
        if self._pending:
            lines = "".join(self._pending)
            self._pending.clear()
            try:
                self.stream.write(lines)
                self.stream.flush()
            except Exception:
                pass  # as StreamHandler: a log that cannot be written does not fail the request

    def _flush_every(self) -> None:
        pid = os.getpid()
        while self._flusher_pid == pid:
            time.sleep(FLUSH_SECONDS)
            if self._pending:
                self.flush()


def flush() -> None:
    """Write every gathered line now (a worker about to exit)."""
    for handler in logging.getLogger().handlers:
        handler.flush()


def setup(level: str, fmt: str) -> None:
    handler = GatheringHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(_RequestId())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
