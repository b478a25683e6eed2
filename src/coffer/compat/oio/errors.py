"""OpenIO-style exceptions of `coffer.compat.oio`, and the translation of Coffer's errors into them.

Owns the mapping from an S3 error code (a `CofferError` raised by the SDK) to the OpenIO exception
class OpenIO code catches (`NoSuchContainer`, `NoSuchObject`, `Conflict`, ...); each keeps the Coffer
error as `.cause`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from coffer.sdk._errors import CofferError

F = TypeVar("F", bound=Callable[..., Any])


class OioException(Exception):
    def __init__(self, message: str, cause: CofferError | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class NotFound(OioException):
    pass


class NoSuchAccount(NotFound):
    pass


class NoSuchContainer(NotFound):
    pass


class NoSuchObject(NotFound):
    pass


class Conflict(OioException):
    pass


class Forbidden(OioException):
    pass


class BadRequest(OioException):
    pass


class EtagMismatch(OioException):
    """`object_create(etag=...)` with data whose MD5 is another (nothing was stored)."""


_BY_CODE: dict[str, type[OioException]] = {
    "NoSuchBucket": NoSuchContainer, "NoSuchKey": NoSuchObject, "NoSuchVersion": NoSuchObject,
    "BucketAlreadyExists": Conflict, "BucketAlreadyOwnedByYou": Conflict, "BucketNotEmpty": Conflict,
    "ConditionalRequestConflict": Conflict, "PreconditionFailed": Conflict, "DeleteConflict": Conflict,
    "AccessDenied": Forbidden, "InvalidObjectState": Forbidden, "InvalidAccessKeyId": Forbidden,
    "SignatureDoesNotMatch": Forbidden,
    "Conflict": Conflict, "InvalidArgument": BadRequest, "InvalidStorageClass": BadRequest,
    "InvalidRequest": BadRequest, "InvalidBucketName": BadRequest, "InvalidRange": BadRequest,
    "BadDigest": EtagMismatch,
}


def oio_error(e: CofferError) -> OioException:
    cls = _BY_CODE.get(e.code or "", NotFound if e.status == 404 else OioException)
    return cls(str(e), e)


def translate(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CofferError as e:
            raise oio_error(e) from e
    return wrapper  # type: ignore[return-value]
