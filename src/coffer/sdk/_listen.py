"""Live bucket events: the listen API (MinIO's ListenBucketNotification) as typed events.

``bucket.listen(events=..., prefix=..., suffix=...)`` (or ``client.listen(...)`` for every bucket, an
admin's call) opens one long-lived GET whose body is one ``{"Records": [...]}`` JSON document per
line, with blank keep-alive lines; :class:`EventStream` yields one :class:`BucketEvent` per record.
The stream ends (iteration stops) when the server ends it, or when ``interrupt()`` is called from
another thread (a read blocked waiting for the next event returns at once: the socket is shut down,
nothing else is touched, so a signal-handling thread may call it); a broken connection raises
:class:`ConnectionFailed`. Reconnecting, and catching up on what happened meanwhile, is the caller's
choice (``coffer mirror --watch`` re-syncs).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from coffer.sdk._errors import ConnectionFailed

if TYPE_CHECKING:
    from coffer.sdk._transport import Response, Transport

CREATED = "s3:ObjectCreated:*"
REMOVED = "s3:ObjectRemoved:*"


@dataclass(frozen=True, slots=True)
class BucketEvent:
    """One S3 event record: ``name`` is the full event name (``s3:ObjectCreated:Put``)."""

    name: str
    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None
    time: datetime | None = None
    sequencer: str = ""
    record: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def created(self) -> bool:
        return self.name.startswith("s3:ObjectCreated:")

    @property
    def removed(self) -> bool:
        return self.name.startswith("s3:ObjectRemoved:")

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.name, "bucket": self.bucket, "key": self.key, "size": self.size, "etag": self.etag,
                "version_id": self.version_id, "time": self.time.isoformat() if self.time else None,
                "sequencer": self.sequencer}


def parse_record(record: dict[str, Any]) -> BucketEvent:
    s3 = record.get("s3") or {}
    obj = s3.get("object") or {}
    when = record.get("eventTime")
    try:
        stamp = datetime.fromisoformat(when.replace("Z", "+00:00")) if isinstance(when, str) else None
    except ValueError:
        stamp = None
    return BucketEvent(
        name="s3:" + str(record.get("eventName", "")).removeprefix("s3:"),
        bucket=str((s3.get("bucket") or {}).get("name", "")),
        key=unquote_plus(str(obj.get("key", ""))),
        size=obj.get("size"), etag=obj.get("eTag"), version_id=obj.get("versionId"), time=stamp,
        sequencer=str(obj.get("sequencer", "")), record=record,
    )


def parse_line(line: bytes) -> list[BucketEvent]:
    """The events of one line of a listen stream; a blank (keep-alive) line has none."""
    line = line.strip()
    if not line:
        return []
    try:
        doc = json.loads(line)
    except ValueError as e:
        raise ConnectionFailed(f"listen stream: not a JSON line: {line[:80]!r}") from e
    return [parse_record(r) for r in doc.get("Records") or []]


def listen_query(events: Iterable[str] | None, prefix: str, suffix: str) -> list[tuple[str, str]]:
    """The listen request's query; no events: every event (an empty `events` still names the API)."""
    q = [("events", e) for e in (events or ())] or [("events", "")]
    if prefix:
        q.append(("prefix", prefix))
    if suffix:
        q.append(("suffix", suffix))
    return q


class EventStream:
    """An open listen stream: iterate it for :class:`BucketEvent`s; ``close()`` (or ``with``) ends it."""

    def __init__(self, transport: Transport, bucket: str | None, query: list[tuple[str, str]]) -> None:
        self._resp: Response | None = transport.request("GET", bucket, query=query, stream=True, retries=False)
        self._pending: list[BucketEvent] = []
        self._buf = b""
        self._interrupted = False
        conn = getattr(self._resp.raw, "connection", None)  # urllib3's connection, while the body is open
        self._sock: socket.socket | None = getattr(conn, "sock", None)

    def __iter__(self) -> Iterator[BucketEvent]:
        return self

    def __next__(self) -> BucketEvent:
        while not self._pending:
            line = self._line()
            if line is None:
                self.close()
                raise StopIteration
            try:
                self._pending = parse_line(line)  # none on a keep-alive line: read the next
            except ConnectionFailed:
                self.close()
                raise
        return self._pending.pop(0)

    def _line(self) -> bytes | None:
        """The next line of the body, or None at its end."""
        while b"\n" not in self._buf:
            if self._resp is None or self._resp.raw is None or self._interrupted:
                return None
            try:
                chunk = self._resp.raw.read1(65536)
            except Exception as e:  # urllib3 / socket errors: the connection broke
                self.close()
                if self._interrupted:
                    return None
                raise ConnectionFailed(f"listen stream: {e}") from e
            if self._interrupted:
                return None
            if not chunk:
                rest, self._buf = self._buf, b""
                return rest or None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def interrupt(self) -> None:
        """End the stream from another thread: a blocked ``next()`` stops the iteration promptly.

        Only the socket is shut down (one system call, safe while another thread reads it);
        ``close()`` still releases the connection.
        """
        self._interrupted = True
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # closed already

    def close(self) -> None:
        resp, self._resp = self._resp, None
        if resp is not None and resp.raw is not None:
            resp.raw.close()  # not released to the pool: the stream was not read to its end

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
