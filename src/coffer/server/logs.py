"""Logging set-up for `coffer serve`: `--log-level` and `--log-format text|json`.

Text lines are `time pid logger LEVEL [request id] message`; JSON lines are one object each with the same fields
(`time` in ISO 8601 UTC, `pid`, `logger`, `level`, `message`, plus `exc` for a traceback), for log
shippers that parse JSON. Every worker inherits the set-up through fork.

Access-log lines (INFO on `coffer.access`, one per request) are gathered and written together, every
`FLUSH_SECONDS` or every `BATCH_LINES` lines, by a thread of each process: a write per request took
the GIL away from the event loop once per request. Any other line (and any warning) is written at
once, after the gathered ones, so the order holds. A worker killed with SIGKILL loses at most the
last `FLUSH_SECONDS` of its access lines; a worker that stops writes them first. While the access
logger's lines go only to that handler (nothing attached to it since `setup`), the serve loop hands it
the line's fields directly (`access`): the same bytes as the logging call, without a LogRecord, the
call chain and the filters (tests/unit/test_access_line.py pins the equality).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import threading
import time

ACCESS_LOGGER = "coffer.access"
TEXT_FORMAT = "%(asctime)s %(process)d %(name)s %(levelname)s [%(request_id)s] %(message)s"
# The request being handled (set by the serve loop): every log line of a request carries its id.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


ACCESS_FIELDS = ("request_id", "remote", "user", "operation", "bucket", "key", "status", "bytes_in", "bytes_out",
                 "duration_ms")


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT; `access_line` writes an access line without a LogRecord, to the same bytes."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._second = (-1, "")  # the last whole second formatted, and its text

    def access_line(self, created: float, fields: dict, message: str) -> str:
        whole = int(created)
        if whole != self._second[0]:
            self._second = (whole, time.strftime(self.default_time_format, self.converter(created)))
        return (f"{self._second[1]},{int((created - whole) * 1000):03d} {os.getpid()} {ACCESS_LOGGER} INFO "
                f"[{fields['request_id']}] {message}")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
               "pid": record.process, "logger": record.name, "level": record.levelname,
               "message": record.getMessage()}
        for key in ACCESS_FIELDS:
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, separators=(",", ":"))

    def access_line(self, created: float, fields: dict, message: str) -> str:
        millis = int((created - int(created)) * 1000)
        doc = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{millis:03d}Z",
               "pid": os.getpid(), "logger": ACCESS_LOGGER, "level": "INFO", "message": message}
        doc.update(fields)
        return json.dumps(doc, separators=(",", ":"))


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
        self._after_append()

    def add_access(self, fields: dict, message: str) -> None:
        """An access line straight from its fields: the line `emit` would write, without a LogRecord, the
        logging call chain and the filters (a quarter of the CPU of a small request's bookkeeping)."""
        line = self.formatter.access_line(time.time(), fields, message) + self.terminator  # type: ignore[union-attr]
        with self.lock:  # type: ignore[union-attr]
            self._pending.append(line)
            self._after_append()

    def _after_append(self) -> None:
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


def access(fields: dict, message: str) -> bool:
    """Write an access line directly to the gathering handler when that is where the access logger's
    lines go (set up by `setup`, nothing attached since); False: log it the ordinary way."""
    handler = _access_handler
    if handler is None or _access_logger.handlers or not _access_logger.isEnabledFor(logging.INFO):
        return False
    handler.add_access(fields, message)
    return True


_access_logger = logging.getLogger(ACCESS_LOGGER)
_access_handler: GatheringHandler | None = None


def setup(level: str, fmt: str) -> None:
    global _access_handler
    handler = GatheringHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_RequestId())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    _access_handler = handler
