"""Tunables of the SDK: :class:`ClientConfig` (HTTP, retries, appends) and :class:`TransferConfig`.

Both are plain frozen dataclasses validated on construction so a bad value fails where it is written,
not deep inside a worker thread. Defaults follow s3transfer where users already have expectations
(8 MiB threshold and parts, 10 workers) and S3's hard limits where the protocol imposes them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

# S3 protocol limits every server enforces.
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
MAX_SINGLE_COPY = 5 * GiB

APPEND_MODES = ("auto", "native", "multipart")


@dataclass(frozen=True)
class ClientConfig:
    """How the client talks HTTP.

    ``max_attempts`` counts the first try: 5 means up to four retries, each after a jittered
    exponential backoff (``backoff_base`` doubled per attempt, capped at ``backoff_max``).
    ``signed_payload_limit`` is the largest in-memory body whose SHA-256 is signed over plain HTTP;
    bigger or streamed bodies go UNSIGNED-PAYLOAD with Content-MD5 (see docs/sdk.md, "Integrity").
    ``append_mode`` picks Coffer's native append sessions or the multipart fallback; "auto" uses the
    native protocol only against a server that identifies itself as Coffer.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    max_attempts: int = 5
    backoff_base: float = 0.05
    backoff_max: float = 8.0
    max_pool_connections: int = 64
    signed_payload_limit: int = 1 * MiB
    append_mode: str = "auto"
    verify_tls: bool | str = True
    user_agent: str = "coffer-sdk/0.1"

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_pool_connections < 1:
            raise ValueError("max_pool_connections must be at least 1")
        if self.append_mode not in APPEND_MODES:
            raise ValueError(f"append_mode must be one of {APPEND_MODES}")
        if self.signed_payload_limit < 0:
            raise ValueError("signed_payload_limit must be >= 0")

    def with_(self, **changes: object) -> ClientConfig:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class TransferConfig:
    """How the transfer manager splits and schedules work.

    Files at or above ``multipart_threshold`` move in ``multipart_chunksize`` parts, up to
    ``max_concurrency`` at a time; memory stays within ``max_concurrency * multipart_chunksize``.
    ``max_bandwidth`` (bytes/s, None: unlimited) is shared by every transfer of one manager.
    ``resume`` lets an upload continue a pending multipart upload of the same key (ListParts) instead
    of starting over; the parts already stored are checked against the local data before reuse.
    ``copy_threshold``: objects up to this size are copied with one CopyObject (no data moves through
    the client; on Coffer not even on the server), bigger ones part by part.
    """

    multipart_threshold: int = 8 * MiB
    multipart_chunksize: int = 8 * MiB
    max_concurrency: int = 10
    max_bandwidth: int | None = None
    num_download_attempts: int = 5
    resume: bool = True
    verify: bool = True
    copy_threshold: int = MAX_SINGLE_COPY
    io_chunksize: int = 256 * KiB

    def __post_init__(self) -> None:
        if self.multipart_threshold < 1:
            raise ValueError("multipart_threshold must be positive")
        if not MIN_PART_SIZE <= self.multipart_chunksize <= MAX_PART_SIZE:
            raise ValueError(f"multipart_chunksize must be between {MIN_PART_SIZE} and {MAX_PART_SIZE} bytes")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if self.max_bandwidth is not None and self.max_bandwidth <= 0:
            raise ValueError("max_bandwidth must be positive or None")
        if self.num_download_attempts < 1:
            raise ValueError("num_download_attempts must be at least 1")
        if not 1 <= self.copy_threshold <= MAX_SINGLE_COPY:
            raise ValueError(f"copy_threshold must be between 1 and {MAX_SINGLE_COPY}")
        if self.io_chunksize < 4 * KiB:
            raise ValueError("io_chunksize must be at least 4 KiB")

    def part_size_for(self, size: int) -> int:
        """The part size to use for ``size`` bytes: the configured one, grown to fit in 10,000 parts."""
        part = self.multipart_chunksize
        while part * MAX_PARTS < size:
            part *= 2
        return min(part, MAX_PART_SIZE)
