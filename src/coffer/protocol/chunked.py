"""aws-chunked request bodies (STREAMING-* x-amz-content-sha256 modes): incremental, bounded decoding.

Work in progress: the API below is final, the implementation follows.
"""

from __future__ import annotations


class ChunkedError(Exception):
    """A malformed, truncated or forged aws-chunked body; ``code`` is the S3 error code to answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class AwsChunkedDecoder:
    """Incremental decoder for aws-chunked bodies (see module docstring)."""

    def __init__(
        self,
        mode: str,
        *,
        signing_key: bytes | None = None,
        amz_date: str = "",
        scope: str = "",
        seed_signature: str = "",
        declared_trailers: tuple[str, ...] = (),
        max_chunk_header: int = 4096,
    ) -> None:
        self.mode = mode
        self.trailers: dict[str, str] = {}
        self.decoded_length = 0

    def feed(self, data: bytes | memoryview) -> list[memoryview | bytes]:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError
