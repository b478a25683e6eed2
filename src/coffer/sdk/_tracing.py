"""Request tracing: one record per HTTP attempt, to the ``coffer.sdk`` logger and an optional hook.

Owns what a trace may contain. A record names the request line with the query's secrets redacted
(presign and STS parameters: ``X-Amz-Signature``, ``X-Amz-Credential``, ``X-Amz-Security-Token``,
``Signature``, ``AWSAccessKeyId``), the status, the server's request id, the attempt and its timing;
it never carries request headers, so ``Authorization``, session tokens and SSE-C keys cannot leak.
Shared by the sync (urllib3) and async (aiohttp) transports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

log = logging.getLogger("coffer.sdk")

SECRET_QUERY = frozenset({"x-amz-signature", "x-amz-credential", "x-amz-security-token", "signature",
                          "awsaccesskeyid", "x-amz-server-side-encryption-customer-key"})
REDACTED = "REDACTED"


@dataclass(frozen=True)
class RequestRecord:
    """One attempt of one request, as the ``on_request`` hook receives it.

    ``status`` is 0 when no answer came (connection failure: ``error`` says why). ``elapsed`` is
    seconds from sending to the answer's headers (a streamed body is read later, by the caller).
    ``will_retry``: the SDK is about to back off ``retry_delay`` seconds and try again.
    """

    method: str
    target: str
    status: int
    request_id: str | None
    attempt: int
    max_attempts: int
    elapsed: float
    error_code: str | None = None
    error: str | None = None
    will_retry: bool = False
    retry_delay: float = 0.0
    bytes_sent: int | None = None

    def line(self) -> str:
        what = f"{self.status}" if self.status else "no answer"
        if self.error_code:
            what += f" {self.error_code}"
        out = (f"{self.method} {self.target} -> {what} rid={self.request_id or '-'} "
               f"{self.elapsed * 1000:.1f} ms attempt {self.attempt}/{self.max_attempts}")
        if self.error and not self.status:
            out += f" ({self.error})"
        if self.will_retry:
            out += f", retrying in {self.retry_delay:.3f} s"
        return out


RequestHook = Callable[[RequestRecord], None]


def redact_target(target: str) -> str:
    """``path?query`` with the values of secret query parameters replaced."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    parts = []
    for item in query.split("&"):
        name, eq, _value = item.partition("=")
        if eq and unquote(name).lower() in SECRET_QUERY:
            parts.append(f"{name}={REDACTED}")
        else:
            parts.append(item)
    return path + "?" + "&".join(parts)


def emit(hook: RequestHook | None, record: RequestRecord) -> None:
    """Log the attempt at DEBUG and hand it to the hook; a failing hook never fails the request."""
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s", record.line())
    if hook is not None:
        try:
            hook(record)
        except Exception:
            log.warning("on_request hook raised; ignored", exc_info=True)
