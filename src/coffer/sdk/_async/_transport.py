"""The async SDK's HTTP core: one aiohttp session, SigV4 signing, retries, tracing.

The async twin of :mod:`coffer.sdk._transport`: the same path-style URLs, the same signer
(:mod:`coffer.protocol.sigv4`), the same integrity rules for bodies (signed SHA-256 for small
in-memory bodies over plain HTTP, UNSIGNED-PAYLOAD with Content-MD5 above that), the same retry
policy (connection failures, 500/502/503/504, SlowDown; never a 4xx) and the same trace records.
Bodies are bytes (re-sent on retry) or async iterables with a known length (sent once).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

import aiohttp
from yarl import URL

from coffer.protocol import sigv4
from coffer.sdk._config import ClientConfig, Credentials
from coffer.sdk._credentials import RefreshingCredentials
from coffer.sdk._errors import (
    CofferError,
    ConnectionFailed,
    NoSuchBucket,
    NoSuchKey,
    NotFound,
    error_from_response,
    is_retryable,
)
from coffer.sdk._operations import Answer, Call
from coffer.sdk._tracing import RequestRecord, emit, redact_target
from coffer.sdk._transport import Query, backoff_delay, encode_query, object_path

T = TypeVar("T")
Body = bytes | bytearray | memoryview | str | AsyncIterable[bytes] | None
Pace = Callable[[int], Awaitable[None]]
PACE_CHUNK = 64 * 1024  # the step of a paced body: fine enough for an even rate


async def _paced(data: bytes, pace: Pace, progress: Callable[[int], None] | None,
                 sent: list[int]) -> AsyncIterator[bytes]:
    """``data`` in chunks, each let through by ``pace`` (a bandwidth limit) before it is handed over
    and counted in ``sent[0]`` and ``progress`` once aiohttp asks for the next one (it was written)."""
    view = memoryview(data)
    for start in range(0, len(data), PACE_CHUNK):
        chunk = view[start:start + PACE_CHUNK]
        await pace(len(chunk))
        yield bytes(chunk)
        sent[0] += len(chunk)
        if progress is not None:
            progress(len(chunk))


class AsyncResponse:
    """A finished (``data`` read) or streaming (``raw`` open) answer; ``release()`` frees the connection."""

    __slots__ = ("data", "headers", "raw", "status")

    def __init__(self, status: int, headers: Mapping[str, str], data: bytes | None,
                 raw: aiohttp.ClientResponse | None) -> None:
        self.status = status
        self.headers = headers
        self.data = data
        self.raw = raw

    async def iter_raw(self, chunk_size: int) -> AsyncIterator[bytes]:
        assert self.raw is not None
        async for chunk in self.raw.content.iter_chunked(chunk_size):
            yield chunk

    def release(self) -> None:
        if self.raw is not None:
            self.raw.release()

    def discard(self) -> None:
        if self.raw is not None:
            self.raw.close()


class AsyncTransport:
    """Signed requests to one endpoint over one aiohttp session (made on first use, in the loop)."""

    def __init__(self, endpoint: str, credentials: Credentials | RefreshingCredentials | None, region: str,
                 config: ClientConfig, proxy: str | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.secure = self.endpoint.startswith("https://")
        self.credentials = credentials
        self.region = region
        self.config = config
        self.proxy = proxy
        self.server_header: str | None = None
        self._session: aiohttp.ClientSession | None = None
        host = self.endpoint.split("://", 1)[1]
        if host.endswith(":80") and not self.secure:
            host = host[:-3]
        elif host.endswith(":443") and self.secure:
            host = host[:-4]
        self.host = host.lower()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            ssl: Any = None
            if self.secure:
                cafile = self.config.verify_tls if isinstance(self.config.verify_tls, str) else self.config.ca_bundle
                if cafile and self.config.verify_tls:
                    import ssl as _ssl

                    ssl = _ssl.create_default_context(cafile=cafile)
                elif not self.config.verify_tls:
                    ssl = False
            connector = aiohttp.TCPConnector(limit=self.config.max_pool_connections, ssl=ssl)
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.config.connect_timeout,
                                            sock_read=self.config.read_timeout)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False,
                                                  trust_env=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, bucket: str | None = None, key: str | None = None, query: Query = None) -> str:
        q = encode_query(query)
        return self.endpoint + object_path(bucket, key) + ("?" + q if q else "")

    def presign(self, method: str, bucket: str, key: str | None, expires: int, query: Query = None) -> str:
        if self.credentials is None:
            return self.url(bucket, key, query)
        ak, sk, token = self.credentials.snapshot()
        extra = dict(query.items() if isinstance(query, Mapping) else query or [])
        if token:
            extra["X-Amz-Security-Token"] = token
        return sigv4.presign_url(
            method.upper(), self.url(bucket, key), ak, sk, self.region, expires,
            extra_query={k: str(v) for k, v in extra.items() if v is not None} or None,
        )

    def _payload_hash(self, data: bytes | None, headers: dict[str, str]) -> str:
        if data is None:
            return sigv4.UNSIGNED_PAYLOAD if "Content-Length" in headers else sigv4.EMPTY_SHA256
        if not data:
            return sigv4.EMPTY_SHA256
        if self.secure:
            return sigv4.UNSIGNED_PAYLOAD
        if len(data) <= self.config.signed_payload_limit:
            return hashlib.sha256(data).hexdigest()
        if not any(k.lower() == "content-md5" or k.lower().startswith("x-amz-checksum-crc") for k in headers):
            headers["Content-MD5"] = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        return sigv4.UNSIGNED_PAYLOAD

    def _sign(self, method: str, url: str, headers: dict[str, str], payload_hash: str) -> dict[str, str]:
        out = dict(headers)
        if self.credentials is None:
            out["x-amz-content-sha256"] = payload_hash
            return out
        ak, sk, token = self.credentials.snapshot()
        if token:
            out["x-amz-security-token"] = token
        out.update(sigv4.sign_headers(method, url, out, payload_hash, ak, sk, self.region))
        return out

    async def request(
        self,
        method: str,
        bucket: str | None = None,
        key: str | None = None,
        *,
        query: Query = None,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        content_length: int | None = None,
        stream: bool = False,
        not_found: type[CofferError] = NotFound,
        pace: Pace | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> AsyncResponse:
        """Send a request, retrying transient failures; raise the typed error for any status >= 300.

        ``pace`` (a bandwidth limit's ``consume``) is awaited for every chunk of a bytes body before
        it goes out, and ``progress`` gets each paced chunk's size once it is written (an unpaced
        body's size once the answer is in; what a failed attempt had reported is taken back). The
        body is still hashed, signed and re-sent whole on retry."""
        path = object_path(bucket, key)
        q = encode_query(query)
        target = path + ("?" + q if q else "")
        url = self.endpoint + target
        data: bytes | None
        source: AsyncIterable[bytes] | None = None
        if body is None:
            data = None
        elif isinstance(body, str):
            data = body.encode("utf-8")
        elif isinstance(body, bytes | bytearray | memoryview):
            data = bytes(body)
        else:
            if content_length is None:
                raise ValueError("an async iterable body needs content_length (S3 requires Content-Length)")
            data, source = None, body
        base = {"Host": self.host, "User-Agent": self.config.user_agent}
        base.update(headers or {})
        if data is not None:
            base["Content-Length"] = str(len(data))
        elif source is not None:
            base["Content-Length"] = str(content_length)
        payload_hash = self._payload_hash(data, base)
        resource = path if key is None else f"{bucket}/{key}"
        attempts = self.config.max_attempts if source is None else 1
        hook = self.config.on_request
        shown = redact_target(target)
        sent = len(data) if data is not None else content_length
        session = self._get_session()
        written = [0]  # bytes of the current attempt reported to ``progress``

        def take_back() -> None:
            if progress is not None and written[0]:
                progress(-written[0])
            written[0] = 0

        attempt = 0
        while True:
            attempt += 1
            send_headers = self._sign(method, url, base, payload_hash)
            started = time.monotonic()
            sending: bytes | AsyncIterable[bytes] | None = data if data is not None else source
            written[0] = 0
            if pace is not None and data:
                sending = _paced(data, pace, progress, written)
            try:
                resp = await session.request(method, URL(url, encoded=True), headers=send_headers,
                                             data=sending, proxy=self.proxy,
                                             allow_redirects=False, skip_auto_headers=("Content-Type",))
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                take_back()
                err: CofferError = ConnectionFailed(f"{method} {resource}: {exc}", resource=resource)
                err.attempts = attempt
                retry = attempt < attempts
                delay = backoff_delay(self.config, attempt, None) if retry else 0.0
                emit(hook, RequestRecord(method, shown, 0, None, attempt, attempts, time.monotonic() - started,
                                         "ConnectionFailed", str(exc) or type(exc).__name__, retry, delay, sent))
                if not retry:
                    raise err from exc
                await asyncio.sleep(delay)
                continue
            elapsed = time.monotonic() - started
            server = resp.headers.get("server")
            if server:
                self.server_header = server
            rid = resp.headers.get("x-amz-request-id")
            if resp.status < 300 or (resp.status == 304 and method in ("GET", "HEAD")):
                emit(hook, RequestRecord(method, shown, resp.status, rid, attempt, attempts, elapsed,
                                         bytes_sent=sent))
                if progress is not None and data and not written[0]:
                    # An unpaced body goes out whole (aiohttp writes it in one go): counted once sent.
                    written[0] = len(data)
                    progress(len(data))
                if stream:
                    return AsyncResponse(resp.status, resp.headers, None, resp)
                try:
                    payload = await resp.read()
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    resp.close()
                    take_back()
                    if attempt >= attempts:
                        raise ConnectionFailed(f"{method} {resource}: {exc}", resource=resource) from exc
                    await asyncio.sleep(backoff_delay(self.config, attempt, None))
                    continue
                resp.release()
                return AsyncResponse(resp.status, resp.headers, payload, None)
            try:
                err_body = await resp.read()
            except (TimeoutError, aiohttp.ClientError, OSError):
                err_body = b""
            resp.release()
            take_back()
            err = error_from_response(resp.status, err_body, resp.headers, resource=resource, not_found=not_found)
            err.attempts = attempt
            retry = attempt < attempts and is_retryable(err)
            delay = backoff_delay(self.config, attempt, resp.headers.get("retry-after"),
                                  slow=err.code == "SlowDown") if retry else 0.0
            emit(hook, RequestRecord(method, shown, resp.status, err.request_id, attempt, attempts, elapsed,
                                     err.code, None, retry, delay, sent))
            if not retry:
                raise err
            await asyncio.sleep(delay)

    async def run(self, call: Call[T], bucket: str, key: str | None = None) -> T:
        """Run a configuration operation (see :mod:`coffer.sdk._operations`)."""
        try:
            resp = await self.request(call.method, bucket, key, query=call.query, headers=call.headers,
                                      body=call.body, not_found=NoSuchKey if key is not None else NoSuchBucket)
        except CofferError as exc:
            if exc.code in call.missing:
                return cast(T, call.default)
            raise
        return call.parse(Answer(resp.status, resp.headers, resp.data or b""))
