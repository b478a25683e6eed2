"""aws-chunked request bodies (the STREAMING-* x-amz-content-sha256 modes): incremental, bounded decoding.

Wire format (signed modes carry ``;chunk-signature=<hex>`` on every size line)::

    <hex-size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n   ... repeated ...
    0[;chunk-signature=<sig>]\\r\\n
    [name:value\\r\\n ...]                 trailers (the *-TRAILER modes)
    [x-amz-trailer-signature:<sig>\\r\\n]   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER only
    \\r\\n

Each chunk signature chains from the previous one (the first from the seed signature of the
Authorization header); the trailer signature chains from the final 0-size chunk's and covers the
trailers canonicalised as ``name:value\\n`` lines.

Memory is bounded: only a size line / trailer line (at most ``max_chunk_header`` bytes) is ever
buffered; chunk data is handed back as memoryview slices of the caller's buffers as it arrives.  A
chunk's signature is only known to be good once the chunk ends, so the caller must treat everything
as provisional until :meth:`AwsChunkedDecoder.finish` returns.

Error codes (``ChunkedError.code``) follow what Amazon S3 answers, as observed by S3-compatible
gateways that test against it (versitygw, MinIO):

* ``IncompleteBody`` - the body ended early, or the framing is broken (bad hex size, missing CRLF,
  size line longer than ``max_chunk_header``, more payload than x-amz-decoded-content-length, bytes
  after the end).  S3 has no dedicated "malformed chunked encoding" code; it reports these as an
  incomplete body.
* ``SignatureDoesNotMatch`` - a chunk or trailer signature is wrong or missing in a signed mode.
* ``MalformedTrailerError`` - a trailer line is malformed, undeclared in x-amz-trailer, repeated, or
  a declared trailer is missing.
* ``InvalidChunkSizeError`` - a non-final chunk is smaller than ``min_chunk_size`` (S3 enforces 8 KiB
  for signed chunks; off by default).
"""

from __future__ import annotations

import hashlib
import hmac

from coffer.protocol.sigv4 import (
    STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    chunk_string_to_sign,
    trailer_string_to_sign,
)

MODES = (STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_TRAILER)
TRAILER_SIGNATURE = "x-amz-trailer-signature"
_MAX_TRAILER_LINES = 32
_MAX_HEX_DIGITS = 16  # 2**64: far beyond any object size, and keeps int() parsing trivial

# Decoder states.
_HEADER, _DATA, _DATA_CRLF, _TRAILER, _DONE = range(5)


class ChunkedError(Exception):
    """A malformed, truncated or forged aws-chunked body; ``code`` is the S3 error code to answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class AwsChunkedDecoder:
    """Incremental decoder for aws-chunked bodies; see the module docstring for format and errors.

    ``mode`` is the request's x-amz-content-sha256 value.  Signed modes need ``signing_key`` (from
    :func:`coffer.protocol.sigv4.signing_key`), the request's ``amz_date``, credential ``scope`` and
    the ``seed_signature`` from its Authorization header.  ``declared_trailers`` are the names listed
    in x-amz-trailer.  ``expected_length`` (x-amz-decoded-content-length) is checked when given.
    """

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
        min_chunk_size: int = 0,
        expected_length: int | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"not an aws-chunked mode: {mode!r}")
        self.mode = mode
        self.signed = mode != STREAMING_UNSIGNED_TRAILER
        if self.signed and not signing_key:
            raise ValueError("signed aws-chunked modes need the signing key")
        self._key = signing_key or b""
        self._amz_date = amz_date
        self._scope = scope
        self._prev_sig = seed_signature
        self.declared_trailers = tuple(t.strip().lower() for t in declared_trailers if t.strip())
        self._max_header = max_chunk_header
        self._min_chunk = min_chunk_size
        self._expected = expected_length
        self.trailers: dict[str, str] = {}
        self.decoded_length = 0

        self._state = _HEADER
        self._line = bytearray()  # the partial size/trailer line, bounded by max_chunk_header
        self._remaining = 0  # data bytes left in the current chunk
        self._crlf_seen = 0  # how many bytes of a chunk's closing CRLF were consumed
        self._chunk_sig = ""
        self._chunk_hash = hashlib.sha256() if self.signed else None
        self._prev_size: int | None = None
        self._trailer_lines: list[tuple[str, str]] = []
        self._trailer_sig: str | None = None
        self._skipped_blank = False
        self._error: ChunkedError | None = None

    # --- public API ---------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the terminating empty line has been read (and every signature verified)."""
        return self._state == _DONE

    def feed(self, data: bytes | memoryview) -> list[memoryview | bytes]:
        """Consume the next piece of the body; return the payload bytes it carried.

        The pieces are zero-copy views into ``data``: copy them before reusing that buffer.  They are
        provisional until :meth:`finish` (a chunk's signature is checked when the chunk ends).
        """
        if self._error is not None:
            raise self._error
        try:
            return self._feed(memoryview(data).cast("B"))
        except ChunkedError as exc:
            self._error = exc
            raise

    def finish(self) -> None:
        """The body ended: raise unless the final chunk (and trailers) were complete and verified."""
        if self._error is not None:
            raise self._error
        if self._state == _TRAILER and not self._line and (self._trailer_complete() or self._skipped_blank):
            # Tolerate a missing final blank line once everything that matters was received: some
            # encoders stop right after the last trailer (or the 0-size chunk).  After "0\r\n\r\n"
            # with trailers still owed, report the missing trailer rather than a truncated body.
            try:
                self._end_trailers()
            except ChunkedError as exc:
                self._error = exc
                raise
        if self._state != _DONE:
            self._error = ChunkedError("IncompleteBody", "the aws-chunked body ended before its final chunk")
            raise self._error

    # --- state machine ------------------------------------------------------------------------------

    def _feed(self, mv: memoryview) -> list[memoryview | bytes]:
        out: list[memoryview | bytes] = []
        pos, end = 0, len(mv)
        while pos < end:
            state = self._state
            if state == _DATA:
                n = min(self._remaining, end - pos)
                piece = mv[pos : pos + n]
                if self._chunk_hash is not None:
                    self._chunk_hash.update(piece)
                out.append(piece)
                self._remaining -= n
                self.decoded_length += n
                pos += n
                if self._remaining == 0:
                    self._state = _DATA_CRLF
            elif state == _DATA_CRLF:
                expected = b"\r\n"[self._crlf_seen]
                if mv[pos] != expected:
                    raise ChunkedError("IncompleteBody", "chunk data is not followed by CRLF")
                pos += 1
                self._crlf_seen += 1
                if self._crlf_seen == 2:
                    self._crlf_seen = 0
                    self._end_data_chunk()
            elif state in (_HEADER, _TRAILER):
                line, pos = self._take_line(mv, pos, end)
                if line is None:
                    break
                if state == _HEADER:
                    self._on_size_line(line)
                else:
                    self._on_trailer_line(line)
            else:  # _DONE: only stray line breaks may follow the terminating blank line
                if mv[pos:end].tobytes().strip(b"\r\n"):
                    raise ChunkedError("IncompleteBody", "bytes after the end of the aws-chunked body")
                pos = end
        return out

    def _take_line(self, mv: memoryview, pos: int, end: int) -> tuple[bytes | None, int]:
        """Accumulate up to the next LF; return (line without CRLF, new pos) or (None, end)."""
        # Copy at most what a legal line can still hold, so a hostile body can't make us buffer more.
        room = self._max_header - len(self._line) + 2
        window = bytes(mv[pos : min(end, pos + room)])
        nl = window.find(b"\n")
        if nl < 0:
            self._line += window
            if len(self._line) > self._max_header:
                raise ChunkedError("IncompleteBody", "aws-chunked size or trailer line is too long")
            return None, pos + len(window)
        self._line += window[: nl + 1]
        line = bytes(self._line)
        self._line.clear()
        if not line.endswith(b"\r\n"):
            raise ChunkedError("IncompleteBody", "aws-chunked line is not terminated by CRLF")
        if len(line) - 2 > self._max_header:
            raise ChunkedError("IncompleteBody", "aws-chunked size or trailer line is too long")
        return line[:-2], pos + nl + 1

    def _on_size_line(self, line: bytes) -> None:
        size_field, _, ext = line.partition(b";")
        size_text = size_field.strip(b" \t")
        if not size_text or len(size_text) > _MAX_HEX_DIGITS or size_text.strip(b"0123456789abcdefABCDEF"):
            raise ChunkedError("IncompleteBody", f"invalid chunk size {size_field[:32]!r}")
        size = int(size_text, 16)
        if self._prev_size is not None and size and self._prev_size < self._min_chunk:
            raise ChunkedError(
                "InvalidChunkSizeError",
                f"Only the last chunk is allowed to have a size less than {self._min_chunk} bytes",
            )
        self._prev_size = size
        if self.signed:
            self._chunk_sig = self._chunk_signature(ext)
        if self._expected is not None and self.decoded_length + size > self._expected:
            raise ChunkedError("IncompleteBody", "chunks exceed x-amz-decoded-content-length")
        if size:
            self._remaining = size
            self._state = _DATA
            return
        # The 0-size chunk ends the payload; its signature covers empty data.
        if self.signed:
            self._verify_chunk()
        if self._expected is not None and self.decoded_length != self._expected:
            raise ChunkedError("IncompleteBody", "chunks fall short of x-amz-decoded-content-length")
        self._state = _TRAILER

    @staticmethod
    def _chunk_signature(ext: bytes) -> str:
        # Extensions other than chunk-signature are allowed by the chunked grammar and ignored.
        for item in ext.split(b";"):
            name, _, value = item.partition(b"=")
            if name.strip() == b"chunk-signature":
                return value.strip().decode("ascii", "replace")
        raise ChunkedError("SignatureDoesNotMatch", "a signed aws-chunked chunk has no chunk-signature")

    def _verify_chunk(self) -> None:
        assert self._chunk_hash is not None
        sts = chunk_string_to_sign(self._amz_date, self._scope, self._prev_sig, self._chunk_hash.hexdigest())
        expected = hmac.new(self._key, sts.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), self._chunk_sig.encode("ascii", "replace")):
            raise ChunkedError("SignatureDoesNotMatch", "a chunk signature does not match")
        self._prev_sig = self._chunk_sig
        self._chunk_hash = hashlib.sha256()

    def _end_data_chunk(self) -> None:
        if self.signed:
            self._verify_chunk()
        self._state = _HEADER

    def _on_trailer_line(self, line: bytes) -> None:
        if not line:
            # Some encoders put a blank line between the 0-size chunk and the trailers; skip one
            # when trailers are still owed, otherwise this blank line ends the body.
            owed = bool(self.declared_trailers) or self.mode == STREAMING_PAYLOAD_TRAILER
            if owed and not self._trailer_lines and self._trailer_sig is None and not self._skipped_blank:
                self._skipped_blank = True
                return
            self._end_trailers()
            return
        if self.mode == STREAMING_PAYLOAD:
            raise ChunkedError("IncompleteBody", "expected the end of the body after the final chunk")
        if len(self._trailer_lines) >= _MAX_TRAILER_LINES:
            raise ChunkedError("MalformedTrailerError", "too many trailer lines")
        name_b, sep, value_b = line.partition(b":")
        try:
            name = name_b.decode("ascii").strip().lower()
            value = value_b.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise ChunkedError("MalformedTrailerError", "trailer line is not valid text") from None
        if not sep or not name:
            raise ChunkedError("MalformedTrailerError", "trailer line is not 'name:value'")
        if self._trailer_sig is not None:
            raise ChunkedError("MalformedTrailerError", "trailer after x-amz-trailer-signature")
        if name == TRAILER_SIGNATURE and self.mode == STREAMING_PAYLOAD_TRAILER:
            self._trailer_sig = value
            return
        if name not in self.declared_trailers:
            raise ChunkedError("MalformedTrailerError", f"trailer {name!r} was not declared in x-amz-trailer")
        if name in self.trailers:
            raise ChunkedError("MalformedTrailerError", f"trailer {name!r} is repeated")
        self._trailer_lines.append((name, value))
        self.trailers[name] = value

    def _trailer_complete(self) -> bool:
        if any(t not in self.trailers for t in self.declared_trailers):
            return False
        return self.mode != STREAMING_PAYLOAD_TRAILER or self._trailer_sig is not None

    def _end_trailers(self) -> None:
        missing = [t for t in self.declared_trailers if t not in self.trailers]
        if missing:
            raise ChunkedError("MalformedTrailerError", f"declared trailer {missing[0]!r} is missing")
        if self.mode == STREAMING_PAYLOAD_TRAILER:
            if self._trailer_sig is None:
                raise ChunkedError("SignatureDoesNotMatch", "the trailer has no x-amz-trailer-signature")
            canonical = "".join(f"{n}:{v}\n" for n, v in self._trailer_lines).encode("utf-8")
            sts = trailer_string_to_sign(
                self._amz_date, self._scope, self._prev_sig, hashlib.sha256(canonical).hexdigest()
            )
            expected = hmac.new(self._key, sts.encode("utf-8"), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected.encode(), self._trailer_sig.encode("ascii", "replace")):
                raise ChunkedError("SignatureDoesNotMatch", "the trailer signature does not match")
        self._state = _DONE
