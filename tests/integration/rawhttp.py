"""Raw HTTP for hostile-input tests: exact bytes on a socket, and SigV4 signing we can then break.

Owns three things the hostile-input, crash and client suites need and no HTTP library gives:

* `exchange()` writes exactly the bytes a test chose (a truncated body, a body longer than its
  Content-Length, a 64 KiB header) and parses whatever comes back. A reader thread runs while the
  writer writes, so an early answer (a server refusing a body half-way) is still seen, and every
  read is bounded by a timeout: a server that hangs fails the test instead of hanging it.
* `Signer` signs with botocore's own `S3SigV4Auth` (the reference implementation) so a test can
  then corrupt exactly one thing: a signature byte, the date, the payload hash, a header.
* aws-chunked encoders: signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, our encoder, checked
  against the AWS documentation's example), unsigned chunks with a checksum trailer (botocore's
  AwsChunkedWrapper), and a small reference decoder the property tests use as their oracle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import re
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

SIGV4_TS = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


# ---------------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes
    elapsed: float

    def xml(self, tag: str) -> str | None:
        """The text of the first <tag> in the body (error documents are flat, a regex is enough)."""
        m = re.search(rb"<%s>(.*?)</%s>" % (tag.encode(), tag.encode()), self.body, re.S)
        return m.group(1).decode("utf-8", "replace") if m else None

    @property
    def code(self) -> str | None:
        return self.xml("Code")

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-amz-request-id")

    def describe(self) -> str:
        return f"{self.status} {self.reason} {self.headers} {self.body[:600]!r}"

    def assert_error(self, status: int, *codes: str) -> None:
        """Exactly this status, one of these S3 codes, and a <RequestId> equal to x-amz-request-id."""
        assert self.status == status, f"expected {status} {codes}, got {self.describe()}"
        assert self.code in codes, f"expected code {codes}, got {self.describe()}"
        assert self.request_id, f"no x-amz-request-id header: {self.describe()}"
        assert self.xml("RequestId") == self.request_id, f"RequestId differs: {self.describe()}"


def parse_response(buf: bytes, head: bool = False) -> tuple[Response, int] | None:
    """Parse one response from the start of `buf`: (response, bytes used), or None if incomplete.

    Bodies are delimited by Content-Length or chunked Transfer-Encoding; a response with neither
    runs to the end of the connection and is completed by the caller at EOF.
    """
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {lines[0]!r}")
    status, reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    pos = end + 4
    resp = Response(status, reason, headers, b"", 0.0)
    if head or status in (204, 304) or 100 <= status < 200:
        return resp, pos
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(buf[pos:eol].split(b";")[0], 16)
            if size == 0:
                fin = buf.find(b"\r\n\r\n", eol)  # skip trailers, if any
                if fin < 0:
                    return None
                resp.body = bytes(body)
                return resp, fin + 4
            if len(buf) < eol + 2 + size + 2:
                return None
            body += buf[eol + 2 : eol + 2 + size]
            pos = eol + 2 + size + 2
    if "content-length" in headers:
        n = int(headers["content-length"])
        if len(buf) < pos + n:
            return None
        resp.body = buf[pos : pos + n]
        return resp, pos + n
    return None  # read-to-EOF body


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def exchange(
    url: str,
    data: bytes | list[bytes],
    *,
    head: bool = False,
    timeout: float = 5.0,
    half_close: bool = False,
    pause: float = 0.0,
) -> Response | None:
    """Write `data` (a list is written piece by piece, `pause` seconds apart) and read one response.

    Returns None when the server closed the connection without answering. `half_close` shuts down
    our sending side after the last piece (the server then sees EOF where it wanted more body).
    Raises TimeoutError when no complete response arrives within `timeout` seconds.
    """
    pieces = [data] if isinstance(data, bytes) else list(data)
    sock = socket.create_connection(_host_port(url), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    result: list[Response | None] = []
    failure: list[BaseException] = []
    started = time.monotonic()

    def reader() -> None:
        buf = b""
        try:
            while True:
                parsed = parse_response(buf, head) if buf else None
                if parsed and parsed[0].status != 100:
                    parsed[0].elapsed = time.monotonic() - started
                    result.append(parsed[0])
                    return
                if parsed:  # skip an interim 100 Continue
                    buf = buf[parsed[1] :]
                    continue
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    result.append(_at_eof(buf, started))
                    return
                buf += chunk
        except BaseException as exc:  # surfaced in the calling thread
            failure.append(exc)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        for i, piece in enumerate(pieces):
            if i and pause:
                time.sleep(pause)
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server stopped listening: its answer (if any) is what we test
        if half_close:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        t.join(timeout + 1)
    finally:
        sock.close()
    if failure:
        if isinstance(failure[0], TimeoutError):
            raise TimeoutError(f"no response within {timeout}s") from failure[0]
        raise failure[0]
    if t.is_alive() or not result:
        raise TimeoutError(f"no response within {timeout}s")
    return result[0]


def _at_eof(buf: bytes, started: float) -> Response | None:
    """The response when the server closed first: its body runs to EOF (None: no full head)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    parsed = parse_response(buf[: end + 4], head=True)
    if parsed is None:
        return None
    resp = parsed[0]
    resp.body = buf[end + 4 :]
    resp.elapsed = time.monotonic() - started
    return resp


def send_and_close(url: str, data: bytes, *, linger: float = 0.2) -> None:
    """Write `data`, wait a moment, then close without reading: a client that vanished mid-body."""
    with socket.create_connection(_host_port(url), timeout=5) as sock:
        sock.sendall(data)
        time.sleep(linger)


def build(method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    """The request exactly as given: no header is added, none is fixed up."""
    head = f"{method} {target} HTTP/1.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode("latin-1") + b"\r\n" + body


# ---------------------------------------------------------------------------------------------
# Signing
# ---------------------------------------------------------------------------------------------


def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@dataclass
class Signed:
    """A signed request, ready to be written as is or with exactly one thing changed."""

    method: str
    target: str  # path and query, exactly as sent
    headers: list[tuple[str, str]]
    body: bytes
    signature: str = ""
    timestamp: str = ""
    scope: str = ""
    key: bytes = b""  # the SigV4 signing key: chunk signatures derive from it
    extra: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def with_header(self, name: str, value: str | None) -> Signed:
        """A copy with `name` replaced (or removed when value is None), the signature untouched."""
        hdrs = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        if value is not None:
            hdrs.append((name, value))
        return replace(self, headers=hdrs)

    def with_body(self, body: bytes) -> Signed:
        return replace(self, body=body)

    def to_bytes(self) -> bytes:
        return build(self.method, self.target, self.headers, self.body)


class Signer:
    """SigV4 for one endpoint and one key pair, through botocore's signer classes."""

    def __init__(self, url: str, access_key: str, secret_key: str, region: str = "us-east-1") -> None:
        self.url = url.rstrip("/")
        self.netloc = urlsplit(url).netloc
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region

    def _credentials(self):
        from botocore.credentials import Credentials

        return Credentials(self.access_key, self.secret_key)

    def sign(
        self,
        method: str,
        target: str,
        *,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        payload_hash: str | None = None,
        when: dt.datetime | None = None,
        content_length: bool = True,
        content_sha256_header: bool = True,
    ) -> Signed:
        """Sign like an S3 client; `payload_hash` overrides x-amz-content-sha256 (STREAMING-*, a lie).

        `content_sha256_header=False` signs with the generic SigV4 signer, which puts the payload
        hash only in the canonical request: the request then lacks x-amz-content-sha256.
        """
        from botocore.auth import S3SigV4Auth, SigV4Auth
        from botocore.awsrequest import AWSRequest

        hdrs = [("Host", self.netloc), *(headers or [])]
        if content_length and not any(k.lower() == "content-length" for k, _ in hdrs):
            hdrs.append(("Content-Length", str(len(body))))
        when = when or dt.datetime.now(dt.UTC)
        stamp = when.strftime(SIGV4_TS)
        base = S3SigV4Auth if content_sha256_header else SigV4Auth

        class _Fixed(base):  # type: ignore[valid-type, misc]
            """botocore's signer with the clock and the payload hash chosen by the test."""

            def payload(self, request):
                return payload_hash if payload_hash is not None else super().payload(request)

            def add_auth(self, request):
                request.context["timestamp"] = stamp
                self._modify_request_before_signing(request)
                canonical = self.canonical_request(request)
                sig = self.signature(self.string_to_sign(request, canonical), request)
                self._inject_signature_to_request(request, sig)
                request.context["signature"] = sig

        req = AWSRequest(method=method, url=self.url + target, data=body)
        for k, v in hdrs:
            req.headers[k] = v
        _Fixed(self._credentials(), "s3", self.region).add_auth(req)
        out = [(k, v) for k, v in req.headers.items()]
        date = stamp[:8]
        return Signed(
            method,
            target,
            out,
            body,
            signature=req.context["signature"],
            timestamp=stamp,
            scope=f"{date}/{self.region}/s3/aws4_request",
            key=signing_key(self.secret_key, date, self.region),
        )

    def presign(self, method: str, target: str, *, expires: int = 3600, when: dt.datetime | None = None) -> str:
        """A presigned request target (path + query with X-Amz-Signature last), botocore-made."""
        from botocore.auth import S3SigV4QueryAuth
        from botocore.awsrequest import AWSRequest

        stamp = (when or dt.datetime.now(dt.UTC)).strftime(SIGV4_TS)

        class _Fixed(S3SigV4QueryAuth):
            def add_auth(self, request):
                request.context["timestamp"] = stamp
                self._modify_request_before_signing(request)
                canonical = self.canonical_request(request)
                sig = self.signature(self.string_to_sign(request, canonical), request)
                self._inject_signature_to_request(request, sig)

        req = AWSRequest(method=method, url=self.url + target)
        req.headers["Host"] = self.netloc
        _Fixed(self._credentials(), "s3", self.region, expires=expires).add_auth(req)
        parts = urlsplit(req.url)
        return f"{parts.path}?{parts.query}"


# ---------------------------------------------------------------------------------------------
# aws-chunked bodies
# ---------------------------------------------------------------------------------------------


def chunk_signature(key: bytes, timestamp: str, scope: str, previous: str, chunk: bytes) -> str:
    """One link of the chunk-signature chain (AWS SigV4 streaming, "AWS4-HMAC-SHA256-PAYLOAD")."""
    sts = "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            timestamp,
            scope,
            previous,
            EMPTY_SHA256,
            hashlib.sha256(chunk).hexdigest(),
        ]
    )
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def signed_chunks(
    data: bytes, chunk_size: int, *, key: bytes, timestamp: str, scope: str, seed: str
) -> list[tuple[bytes, str]]:
    """(chunk data, chunk signature) for each chunk of `data` and the final empty chunk."""
    out: list[tuple[bytes, str]] = []
    prev = seed
    pieces = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    for piece in pieces:
        prev = chunk_signature(key, timestamp, scope, prev, piece)
        out.append((piece, prev))
    return out


def frame_signed(chunks: list[tuple[bytes, str]]) -> bytes:
    return b"".join(b"%x;chunk-signature=%s\r\n%s\r\n" % (len(c), s.encode(), c) for c, s in chunks)


def unsigned_trailer_body(
    data: bytes, algorithm: str = "crc32", chunk_size: int = 8192, trailer_name: str | None = None
) -> bytes:
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER framing with a checksum trailer, made by botocore."""
    from botocore.httpchecksum import AwsChunkedWrapper, CrtCrc32cChecksum, CrtCrc32Checksum

    cls = {"crc32": CrtCrc32Checksum, "crc32c": CrtCrc32cChecksum}[algorithm]
    wrapper = AwsChunkedWrapper(
        io.BytesIO(data),
        checksum_cls=cls,
        checksum_name=trailer_name or f"x-amz-checksum-{algorithm}",
        chunk_size=chunk_size,
    )
    return wrapper.read()


def decode_aws_chunked(body: bytes, *, trailers: bool) -> tuple[bytes, dict[str, str]] | None:
    """Reference decoder (signatures not checked): (data, trailers), or None if the framing is bad.

    Strict on purpose: hex sizes only, CRLF everywhere, a final 0 chunk, and - when `trailers` -
    "name:value" lines ended by an empty line. The property tests use it to know whether a random
    body happens to be well-formed, in which case storing it is correct.
    """
    out = bytearray()
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_field = body[pos:eol].split(b";", 1)[0]
        if not size_field or not re.fullmatch(rb"[0-9a-fA-F]{1,16}", size_field):
            return None
        size = int(size_field, 16)
        pos = eol + 2
        if size == 0:
            break
        if body[pos + size : pos + size + 2] != b"\r\n":
            return None
        out += body[pos : pos + size]
        pos += size + 2
    found: dict[str, str] = {}
    if not trailers:
        return (bytes(out), found) if body[pos:] == b"\r\n" else None
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return None
        line = body[pos:eol]
        pos = eol + 2
        if not line:
            return (bytes(out), found) if pos == len(body) else None
        name, sep, value = line.partition(b":")
        if not sep:
            return None
        found[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
