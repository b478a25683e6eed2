"""Many objects in one request: Coffer's batch GET (`POST /_coffer/batch/v1/get`, docs/batch-get.md),
behind `Bucket.get_many` and `AsyncBucket.get_many`.

Owns the client half of the wire form: the request document, the tar answer read as it arrives
(`coffer.protocol.batch_tar.TarReader`), each member verified before it is handed out (its length;
its full-object CRC when the object has one, else the MD5 ETag of a single-part object) and turned
into a :class:`BatchResult`; a key the server could not read is a result carrying the typed error.
An answer cut short (no end-of-archive blocks) raises after the results it did deliver, so a caller
knows which keys are still to fetch. A server that is not Coffer raises `NotImplementedByServer`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from coffer.protocol import batch_tar as bt
from coffer.protocol import checksums
from coffer.sdk._errors import (
    CofferError,
    ConnectionFailed,
    EntityTooLarge,
    IntegrityError,
    NotImplementedByServer,
    ProtocolError,
    _class_for,
)

PATH = "batch/v1/get"  # under /_coffer/ (coffer.sdk._ext.EXT_BUCKET)
BATCH_KEYS = 256  # keys per request by default
MAX_KEYS = 10_000  # the server's limit per request
_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")

Item = str | tuple[str, str | None]


@dataclass(slots=True)
class BatchResult:
    """One object of a batch GET: ``data`` (verified), or ``error`` (a typed :class:`CofferError`)."""

    key: str
    data: bytes | None = None
    error: CofferError | None = None
    version_id: str | None = None
    etag: str = ""
    size: int = 0
    last_modified: datetime | None = None
    content_type: str | None = None
    checksums: dict[str, str] = field(default_factory=dict)  # ALGO -> base64 (full-object values)
    metadata: dict[str, str] = field(default_factory=dict)  # x-amz-meta-* of the object

    @property
    def ok(self) -> bool:
        return self.error is None


def items_of(keys: Iterable[Item]) -> list[tuple[str, str | None]]:
    return [(k, None) if isinstance(k, str) else (k[0], k[1]) for k in keys]


def request_body(bucket: str, items: list[tuple[str, str | None]]) -> bytes:
    """The batch GET's JSON request for ``items`` ((key, version id or None))."""
    return json.dumps({"bucket": bucket, "continue_on_error": True,
                       "objects": [{"key": k} if v is None else {"key": k, "version_id": v} for k, v in items]},
                      separators=(",", ":")).encode()


REQUEST_HEADERS = {"Content-Type": "application/json"}


def not_coffer(err: CofferError, server: str | None, bucket: str) -> CofferError:
    """The error to raise for a failed batch request: NotImplementedByServer unless Coffer answered it."""
    if "coffer" in (server or "").lower() and err.code != "NotImplemented":
        return err
    if err.status >= 500 or isinstance(err, ConnectionFailed):
        return err
    return NotImplementedByServer(f"the server does not implement the batch GET ({err.code})",
                                  status=err.status, resource=bucket)


def is_tar(headers: Mapping[str, str]) -> bool:
    return (headers.get("Content-Type") or "").split(";")[0].strip().lower() == "application/x-tar"


def not_a_batch_answer(bucket: str) -> NotImplementedByServer:
    """For a 200 that is not a tar: a server that took the batch path for something else."""
    return NotImplementedByServer("the server does not implement the batch GET", resource=bucket)


class BatchParser:
    """Feed it the answer's bytes; it returns the finished results (verified), in order."""

    def __init__(self, bucket: str, verify: bool = True, max_size: int | None = None) -> None:
        self.bucket = bucket
        self.verify = verify
        self.max_size = max_size  # members larger are skipped, not held: their result is EntityTooLarge
        self.reader = bt.TarReader()
        self.member: bt.Member | None = None
        self.pieces: list[bytes] = []
        self.got = 0

    def feed(self, data: bytes) -> list[BatchResult]:
        out: list[BatchResult] = []
        try:
            events = self.reader.feed(data)
        except bt.TarFormatError as e:
            raise ProtocolError(f"batch answer: {e}", resource=self.bucket) from None
        for ev in events:
            if isinstance(ev, bt.Member):
                self.member, self.pieces, self.got = ev, [], 0
                if ev.size == 0:
                    out.append(self._finish())
            else:
                assert self.member is not None
                if self.max_size is None or self.member.size <= self.max_size:
                    self.pieces.append(ev)
                self.got += len(ev)
                assert self.member is not None
                if self.got == self.member.size:
                    out.append(self._finish())
        return out

    def end(self) -> None:
        """The answer ended: raise unless the archive was complete."""
        if not self.reader.done:
            raise ConnectionFailed("the batch answer was cut short", resource=self.bucket)

    def _finish(self) -> BatchResult:
        m = self.member
        assert m is not None
        self.member = None
        r = m.records
        where = f"{self.bucket}/{m.name}"
        if bt.ERROR_CODE in r:
            status = int(r.get(bt.ERROR_STATUS) or 0)
            code = r[bt.ERROR_CODE]
            cls = _class_for(code, status, CofferError)
            return BatchResult(m.name, version_id=r.get(bt.VERSION_ID),
                               error=cls(r.get(bt.ERROR_MESSAGE, ""), code=code, status=status, resource=where))
        if self.max_size is not None and m.size > self.max_size:
            return BatchResult(m.name, version_id=r.get(bt.VERSION_ID), etag=r.get(bt.ETAG, "").strip('"'),
                               size=m.size, error=EntityTooLarge(
                                   f"{m.size} bytes, more than the {self.max_size} asked for: not read",
                                   resource=where))
        data = b"".join(self.pieces)
        self.pieces = []
        sums = {k[len(bt.CHECKSUM):].upper(): v for k, v in r.items() if k.startswith(bt.CHECKSUM)}
        result = BatchResult(
            m.name, data, None, r.get(bt.VERSION_ID), r.get(bt.ETAG, "").strip('"'), m.size,
            datetime.fromtimestamp(m.mtime, UTC), r.get(bt.CONTENT_TYPE),
            sums if (r.get(bt.CHECKSUM_TYPE) or "FULL_OBJECT") == "FULL_OBJECT" else {},
            {k[5:]: v for k, v in r.items() if k.startswith("meta-")})
        if self.verify:
            problem = _check(data, result)
            if problem:
                result.data, result.error = None, IntegrityError(problem, resource=where)
        return result


def _check(data: bytes, r: BatchResult) -> str | None:
    for algo in checksums.CRC_ALGORITHMS:
        want = r.checksums.get(algo)
        if want and "-" not in want:
            got = checksums.checksum_b64(algo, data)
            return None if got == want else f"{algo} mismatch: object says {want}, data gives {got}"
    if _MD5_HEX.match(r.etag):
        got = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return None if got == r.etag else f"MD5 mismatch: ETag {r.etag}, data gives {got}"
    return None


def batches(items: list[tuple[str, str | None]], size: int) -> Iterator[list[tuple[str, str | None]]]:
    size = max(1, min(size, MAX_KEYS))
    for i in range(0, len(items), size):
        yield items[i : i + size]
