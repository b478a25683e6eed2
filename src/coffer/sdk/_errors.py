"""Typed SDK errors: the CofferError hierarchy and the mapping from an S3 error answer to a class.

Every failure the SDK raises is a :class:`CofferError` carrying the S3 error code, the HTTP status,
the message and the request id, so callers can ``except NoSuchKey`` instead of comparing strings.
Errors the server never sent (a connection that keeps failing, a checksum we computed that does not
match, a cancelled transfer) use the same base class with status 0 so one ``except`` catches all.
"""

from __future__ import annotations

from typing import Any

from coffer.protocol.errors import ERRORS, parse_error_xml


class CofferError(Exception):
    """Base class of every SDK error: ``code``, ``status``, ``message``, ``request_id`` (and more)."""

    default_code = "CofferError"

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status: int = 0,
        request_id: str | None = None,
        host_id: str | None = None,
        resource: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.status = status
        self.message = message or self.code
        self.request_id = request_id
        self.host_id = host_id
        self.resource = resource
        self.extra: dict[str, str] = dict(extra or {})
        # How many times the SDK sent the request; > 1 means an earlier attempt may have taken effect.
        self.attempts = 1
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f" ({self.resource})" if self.resource else ""
        status = f" [HTTP {self.status}]" if self.status else ""
        return f"{self.code}: {self.message}{where}{status}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status}, message={self.message!r})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view (used by the CLI's --json error output)."""
        return {
            "error": self.code,
            "status": self.status,
            "message": self.message,
            "request_id": self.request_id,
            "resource": self.resource,
        }


# --- families: catch a whole kind of failure at once ------------------------------------------------


class NotFound(CofferError):
    """The bucket, key, upload or version does not exist (HTTP 404)."""

    default_code = "NotFound"


class ClientRequestError(CofferError):
    """The server refused the request as malformed or not allowed (a 4xx that is not 404/403/412)."""

    default_code = "InvalidRequest"


class ServerError(CofferError):
    """The server failed (5xx); the SDK retried before raising this."""

    default_code = "InternalError"


# --- specific codes ---------------------------------------------------------------------------------


class NoSuchBucket(NotFound):
    default_code = "NoSuchBucket"


class NoSuchKey(NotFound):
    default_code = "NoSuchKey"


class NoSuchUpload(NotFound):
    default_code = "NoSuchUpload"


class NoSuchVersion(NotFound):
    default_code = "NoSuchVersion"


class AccessDenied(CofferError):
    """Authentication or authorisation failed (HTTP 403): bad keys, signature, clock or policy."""

    default_code = "AccessDenied"


class InvalidAccessKeyId(AccessDenied):
    default_code = "InvalidAccessKeyId"


class SignatureDoesNotMatch(AccessDenied):
    default_code = "SignatureDoesNotMatch"


class PreconditionFailed(CofferError):
    default_code = "PreconditionFailed"


class NotModified(CofferError):
    default_code = "NotModified"


class BucketAlreadyExists(ClientRequestError):
    default_code = "BucketAlreadyExists"


class BucketAlreadyOwnedByYou(BucketAlreadyExists):
    default_code = "BucketAlreadyOwnedByYou"


class BucketNotEmpty(ClientRequestError):
    default_code = "BucketNotEmpty"


class InvalidBucketName(ClientRequestError):
    default_code = "InvalidBucketName"


class InvalidArgument(ClientRequestError):
    default_code = "InvalidArgument"


class InvalidRange(ClientRequestError):
    default_code = "InvalidRange"


class BadDigest(ClientRequestError):
    default_code = "BadDigest"


class EntityTooSmall(ClientRequestError):
    default_code = "EntityTooSmall"


class EntityTooLarge(ClientRequestError):
    default_code = "EntityTooLarge"


class InvalidPart(ClientRequestError):
    default_code = "InvalidPart"


class MethodNotAllowed(ClientRequestError):
    default_code = "MethodNotAllowed"


class NotImplementedByServer(ClientRequestError):
    """The server does not implement the operation (S3 code ``NotImplemented``)."""

    default_code = "NotImplemented"


class SlowDown(ServerError):
    default_code = "SlowDown"


class ServiceUnavailable(ServerError):
    default_code = "ServiceUnavailable"


class InternalError(ServerError):
    default_code = "InternalError"


# --- errors the SDK itself detects ------------------------------------------------------------------


class ConnectionFailed(CofferError):
    """The server could not be reached, or the connection kept dropping, after every retry."""

    default_code = "ConnectionFailed"


class IntegrityError(CofferError):
    """Data we received does not match its size, ETag or checksum."""

    default_code = "IntegrityError"


class TransferCancelled(CofferError):
    """The transfer was cancelled through its future; whatever it had stored was cleaned up."""

    default_code = "TransferCancelled"


class ProtocolError(CofferError):
    """The server's answer is not what the S3 (or Coffer) protocol says it should be."""

    default_code = "ProtocolError"


_BY_CODE: dict[str, type[CofferError]] = {
    cls.default_code: cls
    for cls in (
        NoSuchBucket, NoSuchKey, NoSuchUpload, NoSuchVersion, AccessDenied, InvalidAccessKeyId,
        SignatureDoesNotMatch, PreconditionFailed, NotModified, BucketAlreadyExists,
        BucketAlreadyOwnedByYou, BucketNotEmpty, InvalidBucketName, InvalidArgument, InvalidRange,
        BadDigest, EntityTooSmall, EntityTooLarge, InvalidPart, MethodNotAllowed, NotImplementedByServer,
        SlowDown, ServiceUnavailable, InternalError,
    )
}
# Codes without a class of their own that belong to a family.
_BY_CODE.update({"RequestTimeTooSkewed": AccessDenied, "ExpiredToken": AccessDenied,
                 "InvalidToken": AccessDenied, "NoSuchLifecycleConfiguration": NotFound,
                 "InvalidPartOrder": InvalidPart})


def _class_for(code: str, status: int, not_found: type[CofferError]) -> type[CofferError]:
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status == 404:
        return not_found if not code or code == "NotFound" else NotFound
    if status == 403:
        return AccessDenied
    if status == 412:
        return PreconditionFailed
    if status == 304:
        return NotModified
    if status == 416:
        return InvalidRange
    if status >= 500:
        return ServerError
    return ClientRequestError


def error_from_response(
    status: int,
    body: bytes,
    headers: Any,
    *,
    resource: str | None = None,
    not_found: type[CofferError] = NotFound,
) -> CofferError:
    """Build the typed error for an S3 error answer.

    HEAD answers carry no body, so the code then comes from the status; ``not_found`` says what a
    bare 404 means for the request that got it (NoSuchKey for an object, NoSuchBucket for a bucket).
    """
    code, message, fields = parse_error_xml(body) if body else ("", "", {})
    # HEAD answers have no body; servers that know better (Coffer, MinIO) name the code in a header.
    code = code or (headers.get("x-amz-error-code") or "").strip()
    cls = _class_for(code, status, not_found)
    request_id = fields.pop("RequestId", None) or headers.get("x-amz-request-id")
    host_id = fields.pop("HostId", None) or headers.get("x-amz-id-2")
    res = fields.pop("Resource", None) or resource
    if not message:
        spec = ERRORS.get(code or cls.default_code)
        message = fields.pop("Body", "") or (spec.message if spec else f"HTTP {status}")
    return cls(
        message,
        code=code or cls.default_code,
        status=status,
        request_id=request_id,
        host_id=host_id,
        resource=res,
        extra=fields,
    )


def is_retryable(err: CofferError) -> bool:
    """Transient failures worth another attempt: 500, 503 and SlowDown; never a 4xx."""
    if isinstance(err, ConnectionFailed):
        return True
    if 400 <= err.status < 500:
        return False
    return err.status in (500, 502, 503, 504) or err.code in ("SlowDown", "InternalError")


class TransferFailed(CofferError):
    """Some files of a directory transfer failed; ``failures`` maps each key or path to its error."""

    default_code = "TransferFailed"

    def __init__(self, message: str, failures: dict[str, BaseException]) -> None:
        super().__init__(message)
        self.failures = failures
