"""The SDK's HTTP core: one urllib3 connection pool, SigV4 signing, retries, streaming in and out.

Everything above this module speaks in (method, bucket, key, query, headers, body); this module owns
turning that into signed path-style requests, sending bodies as streams, and deciding what is worth
retrying: connection failures, 500/502/503/504 and SlowDown get jittered exponential backoff (full
jitter, so a crowd of clients spreads out); a 4xx never does, since repeating it cannot help.
Signing is :mod:`coffer.protocol.sigv4`, shared with the server so both sides agree byte for byte.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar, cast

import urllib3
from urllib3.exceptions import HTTPError as _Urllib3Error
from urllib3.util import Timeout

from coffer.protocol import sigv4
from coffer.sdk._body import Payload, payload_hash_headers, to_payload
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

T = TypeVar("T")
Query = Mapping[str, str | int | None] | Iterable[tuple[str, str]] | None


class Response:
    """A finished (``data`` read) or streaming (``raw`` open) answer; ``release()`` returns the socket."""

    __slots__ = ("data", "headers", "raw", "status")

    def __init__(self, status: int, headers: Any, data: bytes | None, raw: Any) -> None:
        self.status = status
        self.headers = headers
        self.data = data
        self.raw = raw

    def iter_raw(self, chunk_size: int) -> Iterator[bytes]:
        """Yield the body as it arrives (raises urllib3 errors if the connection drops)."""
        assert self.raw is not None
        while True:
            chunk = self.raw.read(chunk_size)
            if not chunk:
                return
            yield chunk

    def iter_into(self, buf: bytearray) -> Iterator[memoryview]:
        """Like ``iter_raw`` but reading into one reused buffer: each view is valid until the next.

        Why: ``read(n)`` allocates a fresh n-byte object per chunk and urllib3 copies it once more;
        for a GiB that is a quarter-million freshly faulted pages and a second copy, which on a
        small machine costs more CPU than the socket itself. Reading straight into a reused buffer
        (http.client's ``readinto`` under urllib3, which stops at Content-Length) avoids both.
        Falls back to ``iter_raw`` where the response is not the plain http.client one.
        """
        assert self.raw is not None
        fp = getattr(self.raw, "_fp", None)
        if fp is None or not hasattr(fp, "readinto") or self.raw.length_remaining is None:
            for chunk in self.iter_raw(len(buf)):
                yield memoryview(chunk)
            return
        view = memoryview(buf)
        while True:
            n = fp.readinto(view)
            if not n:
                return
            yield view[:n]

    def release(self) -> None:
        """Give the connection back if its body was read to the end, else close it (it is unusable)."""
        if self.raw is None:
            return
        fp = getattr(self.raw, "_fp", None)
        # A body read by ``iter_into`` leaves urllib3's own counter untouched; http.client closes
        # its fp exactly when the body has been read to its end, so that says the socket is clean.
        drained = fp is not None and getattr(fp, "isclosed", lambda: False)()
        if self.raw.length_remaining and not drained:
            self.raw.close()
        self.raw.release_conn()

    def discard(self) -> None:
        """Drop a half-read stream: its connection cannot be reused, so close rather than release."""
        if self.raw is not None:
            self.raw.close()
            self.raw.release_conn()


def encode_query(query: Query) -> str:
    if not query:
        return ""
    items = query.items() if isinstance(query, Mapping) else query
    out = []
    for k, v in items:
        if v is None:
            continue
        v = str(v)
        # Value-less subresources (?uploads, ?append) go out bare, as the AWS SDKs send them; the
        # signer canonicalises both forms to "name=".
        out.append(sigv4.uri_encode(k) if v == "" else f"{sigv4.uri_encode(k)}={sigv4.uri_encode(v)}")
    return "&".join(out)


def object_path(bucket: str | None, key: str | None) -> str:
    if not bucket:
        return "/"
    if key is None:
        return "/" + sigv4.uri_encode(bucket)
    return f"/{sigv4.uri_encode(bucket)}/{sigv4.uri_encode(key, encode_slash=False)}"


class Transport:
    """Signed requests to one endpoint over a shared, thread-safe connection pool."""

    def __init__(
        self,
        endpoint: str,
        credentials: Credentials | RefreshingCredentials | None,
        region: str,
        config: ClientConfig,
        proxy: str | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.secure = self.endpoint.startswith("https://")
        self.credentials = credentials
        self.region = region
        self.config = config
        self.proxy = proxy
        # The last Server header seen: lets appends pick Coffer's native protocol without probing.
        self.server_header: str | None = None
        timeout = Timeout(connect=config.connect_timeout, read=config.read_timeout)
        common: dict[str, Any] = {
            "maxsize": config.max_pool_connections,
            "block": False,
            "timeout": timeout,
            "retries": False,
        }
        if self.secure:
            if isinstance(config.verify_tls, str):
                common["ca_certs"] = config.verify_tls
            elif config.ca_bundle and config.verify_tls:
                common["ca_certs"] = config.ca_bundle
            common["cert_reqs"] = "CERT_REQUIRED" if config.verify_tls else "CERT_NONE"
        if proxy:
            self._manager: urllib3.PoolManager = urllib3.ProxyManager(proxy, num_pools=4, **common)
        else:
            self._manager = urllib3.PoolManager(num_pools=4, **common)
        self._pool = None if proxy else self._manager.connection_from_url(self.endpoint)
        host = self.endpoint.split("://", 1)[1]
        if host.endswith(":80") and not self.secure:
            host = host[:-3]
        elif host.endswith(":443") and self.secure:
            host = host[:-4]
        self.host = host.lower()

    def close(self) -> None:
        self._manager.clear()

    # --- URLs --------------------------------------------------------------------------------------

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

    # --- requests ----------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        bucket: str | None = None,
        key: str | None = None,
        *,
        query: Query = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        content_length: int | None = None,
        stream: bool = False,
        not_found: type[CofferError] = NotFound,
        retries: bool = True,
    ) -> Response:
        """Send a request, retrying transient failures; raise the typed error for any status >= 300.

        With ``stream=True`` the 2xx answer comes back unread (``raw``); the caller must ``release()``
        it. ``body`` may be bytes, str, a binary file object, an iterable (with ``content_length``)
        or a :class:`Payload`; only rewindable bodies are retried after they started to go out.
        """
        path = object_path(bucket, key)
        q = encode_query(query)
        target = path + ("?" + q if q else "")
        url = self.endpoint + target
        payload = to_payload(body, content_length)
        # Capitalised like urllib3's ProxyManager writes it, so a proxied request gets one Host, not two.
        base = {"Host": self.host, "User-Agent": self.config.user_agent}
        base.update(headers or {})
        if payload is not None:
            base["Content-Length"] = str(payload.length)
        payload_hash = payload_hash_headers(payload, self.secure, self.config.signed_payload_limit, base)
        resource = path if key is None else f"{bucket}/{key}"
        attempts = self.config.max_attempts if retries else 1
        hook = self.config.on_request
        shown = redact_target(target)
        sent = payload.length if payload is not None else None
        attempt = 0
        while True:
            attempt += 1
            send_headers = self._sign(method, url, base, payload_hash)
            if payload is None:
                send_body: Any = None
            elif payload.needs_stream() or payload.whole() is None:
                send_body = payload.stream()
            else:
                send_body = payload.whole()
            started = time.monotonic()
            try:
                raw = self._urlopen(method, url, target, send_body, send_headers)
            except (_Urllib3Error, OSError, ValueError) as exc:
                if isinstance(exc, ValueError) and not _is_socket_value_error(exc):
                    raise
                err: CofferError = ConnectionFailed(f"{method} {resource}: {exc}", resource=resource)
                err.attempts = attempt
                can_retry = payload is None or payload.rewindable
                retry = attempt < attempts and can_retry
                delay = self._delay(attempt, None) if retry else 0.0
                emit(hook, RequestRecord(method, shown, 0, None, attempt, attempts, time.monotonic() - started,
                                         "ConnectionFailed", str(exc), retry, delay, sent))
                if not retry:
                    raise err from exc
                time.sleep(delay)
                if payload is not None:
                    payload.rewind()
                continue
            elapsed = time.monotonic() - started
            server = raw.headers.get("server")
            if server:
                self.server_header = server
            rid = raw.headers.get("x-amz-request-id")
            if raw.status < 300 or (raw.status == 304 and method in ("GET", "HEAD")):
                if stream:
                    emit(hook, RequestRecord(method, shown, raw.status, rid, attempt, attempts, elapsed,
                                             bytes_sent=sent))
                    return Response(raw.status, raw.headers, None, raw)
                try:
                    data = raw.read()
                except (_Urllib3Error, OSError) as exc:
                    raw.close()
                    raw.release_conn()
                    retry = attempt < attempts and (payload is None or payload.rewindable)
                    delay = self._delay(attempt, None) if retry else 0.0
                    emit(hook, RequestRecord(method, shown, raw.status, rid, attempt, attempts,
                                             time.monotonic() - started, "ConnectionFailed", str(exc), retry,
                                             delay, sent))
                    if not retry:
                        raise ConnectionFailed(f"{method} {resource}: {exc}", resource=resource) from exc
                    time.sleep(delay)
                    if payload is not None:
                        payload.rewind()
                    continue
                raw.release_conn()
                emit(hook, RequestRecord(method, shown, raw.status, rid, attempt, attempts, elapsed,
                                         bytes_sent=sent))
                return Response(raw.status, raw.headers, data, None)
            # Read even a HEAD's empty body: http.client refuses the next request on a connection
            # whose previous response was never read to its end.
            err_body = _read_quietly(raw)
            raw.release_conn()
            err = error_from_response(raw.status, err_body, raw.headers, resource=resource, not_found=not_found)
            err.attempts = attempt
            retry = attempt < attempts and is_retryable(err) and (payload is None or payload.rewindable)
            delay = self._delay(attempt, raw.headers.get("retry-after"), slow=err.code == "SlowDown") if retry else 0.0
            emit(hook, RequestRecord(method, shown, raw.status, err.request_id, attempt, attempts, elapsed,
                                     err.code, None, retry, delay, sent))
            if not retry:
                raise err
            time.sleep(delay)
            if payload is not None:
                payload.rewind()

    def run(self, call: Call[T], bucket: str, key: str | None = None) -> T:
        """Run a configuration operation (see :mod:`._operations`) on a bucket or an object."""
        try:
            resp = self.request(call.method, bucket, key, query=call.query, headers=call.headers,
                                body=call.body, not_found=NoSuchKey if key is not None else NoSuchBucket)
        except CofferError as exc:
            if exc.code in call.missing:
                return cast(T, call.default)
            raise
        return call.parse(Answer(resp.status, resp.headers, resp.data or b""))

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

    def _urlopen(self, method: str, url: str, target: str, body: Any, headers: dict[str, str]) -> Any:
        kw = {
            "body": body,
            "headers": headers,
            "redirect": False,
            "retries": False,
            "preload_content": False,
            "decode_content": False,
            "assert_same_host": False,
        }
        if self._pool is not None:
            return self._pool.urlopen(method, target, **kw)
        return self._manager.urlopen(method, url, **kw)

    def _delay(self, attempt: int, retry_after: str | None, slow: bool = False) -> float:
        return backoff_delay(self.config, attempt, retry_after, slow)


def backoff_delay(config: ClientConfig, attempt: int, retry_after: str | None, slow: bool = False) -> float:
    """Full-jitter exponential backoff; SlowDown waits 4x longer and honours Retry-After (capped)."""
    cap = min(config.backoff_max, config.backoff_base * (2 ** (attempt - 1)) * (4 if slow else 1))
    delay = random.uniform(cap / 2 if slow else 0.0, cap)
    if retry_after and retry_after.isdigit():
        delay = max(delay, min(float(retry_after), config.backoff_max))
    return delay


def _read_quietly(raw: Any) -> bytes:
    try:
        return raw.read() or b""
    except (_Urllib3Error, OSError):
        raw.close()
        return b""


def _is_socket_value_error(exc: ValueError) -> bool:
    # http.client raises ValueError for an I/O operation on a socket that was closed under it.
    return "closed" in str(exc).lower()


def payload_for(body: Any, length: int | None = None) -> Payload | None:
    """Public-to-the-SDK alias so other modules attach progress/throttle before calling request()."""
    return to_payload(body, length)
