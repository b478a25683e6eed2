"""Coffer: an S3-compatible object store. This package's top level is the public Python SDK.

    from coffer import Client, TransferConfig, CofferError
    client = Client.from_env()
    client.bucket("photos").object("cat.jpg").get_writer().put_file("cat.jpg")

Names are loaded on first use (PEP 562), so ``import coffer.server`` or ``import coffer.protocol``
does not drag the SDK and urllib3 into the server process.

Modules and packages:
  __main__  `python -m coffer`: the same entry point as the `coffer` console script.
  cli       Coffer's client command line (``coffer ls/cp/sync/...``): the CLI for people, on top of the SDK.
  compat    Compatibility layers: other object stores' Python APIs served by Coffer through its SDK.
  entry     The `coffer` command: the composition root that joins the client CLI and the server commands.
  protocol  coffer.protocol: the pure S3 wire layer shared by the server (verifying) and the SDK (signing).
  sdk       Coffer's Python SDK internals. The public surface is the top-level ``coffer`` package.
  server    The server (`coffer serve`, `coffer node serve`): never imported by the SDK, CLI or compat layers.
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

__version__ = "0.1.0"

# public name -> private module that defines it
_EXPORTS: dict[str, str] = {
    "Client": "coffer.sdk._client",
    "ClientConfig": "coffer.sdk._config",
    "TransferConfig": "coffer.sdk._config",
    "Bucket": "coffer.sdk._bucket",
    "Object": "coffer.sdk._object",
    "ObjectReader": "coffer.sdk._reader",
    "ObjectWriter": "coffer.sdk._writer",
    "ObjectProps": "coffer.sdk._types",
    "ObjectInfo": "coffer.sdk._types",
    "Prefix": "coffer.sdk._types",
    "DeleteResult": "coffer.sdk._types",
    "BatchResult": "coffer.sdk._batch",
    "PutResult": "coffer.sdk._types",
    "PutManyResult": "coffer.sdk._snowball",
    "Credentials": "coffer.sdk._config",
    "TransferManager": "coffer.sdk._transfer",
    "TransferFuture": "coffer.sdk._transfer",
    "Subscriber": "coffer.sdk._transfer",
    "BulkJob": "coffer.sdk._bulk",
    "JobStatus": "coffer.sdk._bulk",
    "CofferError": "coffer.sdk._errors",
    "NotFound": "coffer.sdk._errors",
    "ClientRequestError": "coffer.sdk._errors",
    "ServerError": "coffer.sdk._errors",
    "NoSuchBucket": "coffer.sdk._errors",
    "NoSuchKey": "coffer.sdk._errors",
    "NoSuchUpload": "coffer.sdk._errors",
    "NoSuchVersion": "coffer.sdk._errors",
    "AccessDenied": "coffer.sdk._errors",
    "InvalidAccessKeyId": "coffer.sdk._errors",
    "SignatureDoesNotMatch": "coffer.sdk._errors",
    "PreconditionFailed": "coffer.sdk._errors",
    "NotModified": "coffer.sdk._errors",
    "BucketAlreadyExists": "coffer.sdk._errors",
    "BucketAlreadyOwnedByYou": "coffer.sdk._errors",
    "BucketNotEmpty": "coffer.sdk._errors",
    "InvalidBucketName": "coffer.sdk._errors",
    "InvalidArgument": "coffer.sdk._errors",
    "InvalidRange": "coffer.sdk._errors",
    "BadDigest": "coffer.sdk._errors",
    "EntityTooSmall": "coffer.sdk._errors",
    "EntityTooLarge": "coffer.sdk._errors",
    "InvalidPart": "coffer.sdk._errors",
    "MethodNotAllowed": "coffer.sdk._errors",
    "NotImplementedByServer": "coffer.sdk._errors",
    "SlowDown": "coffer.sdk._errors",
    "ServiceUnavailable": "coffer.sdk._errors",
    "InternalError": "coffer.sdk._errors",
    "ConnectionFailed": "coffer.sdk._errors",
    "IntegrityError": "coffer.sdk._errors",
    "TransferCancelled": "coffer.sdk._errors",
    "ProtocolError": "coffer.sdk._errors",
    "TransferFailed": "coffer.sdk._errors",
    "DirectoryResult": "coffer.sdk._transfer",
    "ObjectGroup": "coffer.sdk._group",
    "GroupResult": "coffer.sdk._group",
    "RequestRecord": "coffer.sdk._tracing",
    "AsyncClient": "coffer.sdk._async._client",
    "AsyncBucket": "coffer.sdk._async._handles",
    "AsyncObject": "coffer.sdk._async._handles",
    "AsyncObjectReader": "coffer.sdk._async._io",
    "AsyncObjectWriter": "coffer.sdk._async._io",
    "AsyncTransferManager": "coffer.sdk._async._transfer",
    "AsyncTransferFuture": "coffer.sdk._async._future",
    "ObjectVersion": "coffer.sdk._documents",
    "ObjectLockConfig": "coffer.sdk._documents",
    "Retention": "coffer.sdk._documents",
    "ProtectionConfig": "coffer.sdk._documents",
    "LegalHold": "coffer.sdk._documents",
    "RetentionState": "coffer.sdk._documents",
    "LifecycleRule": "coffer.sdk._documents",
    "CorsRule": "coffer.sdk._documents",
    "RoutingRule": "coffer.sdk._documents",
    "WebsiteConfig": "coffer.sdk._documents",
    "EncryptionConfig": "coffer.sdk._documents",
    "NotificationTarget": "coffer.sdk._documents",
    "Grant": "coffer.sdk._documents",
    "Acl": "coffer.sdk._documents",
    "PublicAccessBlock": "coffer.sdk._documents",
    "BucketEvent": "coffer.sdk._listen",
    "EventStream": "coffer.sdk._listen",
    "AsyncEventStream": "coffer.sdk._async._listen",
}

__all__ = [
    "AccessDenied",
    "Acl",
    "AsyncBucket",
    "AsyncClient",
    "AsyncEventStream",
    "AsyncObject",
    "AsyncObjectReader",
    "AsyncObjectWriter",
    "AsyncTransferFuture",
    "AsyncTransferManager",
    "BadDigest",
    "BatchResult",
    "Bucket",
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "BucketEvent",
    "BucketNotEmpty",
    "BulkJob",
    "Client",
    "ClientConfig",
    "ClientRequestError",
    "CofferError",
    "ConnectionFailed",
    "CorsRule",
    "Credentials",
    "DeleteResult",
    "DirectoryResult",
    "EncryptionConfig",
    "EntityTooLarge",
    "EntityTooSmall",
    "EventStream",
    "Grant",
    "GroupResult",
    "IntegrityError",
    "InternalError",
    "InvalidAccessKeyId",
    "InvalidArgument",
    "InvalidBucketName",
    "InvalidPart",
    "InvalidRange",
    "JobStatus",
    "LegalHold",
    "LifecycleRule",
    "MethodNotAllowed",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchUpload",
    "NoSuchVersion",
    "NotFound",
    "NotImplementedByServer",
    "NotModified",
    "NotificationTarget",
    "Object",
    "ObjectGroup",
    "ObjectInfo",
    "ObjectLockConfig",
    "ObjectProps",
    "ObjectReader",
    "ObjectVersion",
    "ObjectWriter",
    "PreconditionFailed",
    "Prefix",
    "ProtectionConfig",
    "ProtocolError",
    "PublicAccessBlock",
    "PutManyResult",
    "PutResult",
    "RequestRecord",
    "Retention",
    "RetentionState",
    "RoutingRule",
    "ServerError",
    "ServiceUnavailable",
    "SignatureDoesNotMatch",
    "SlowDown",
    "Subscriber",
    "TransferCancelled",
    "TransferConfig",
    "TransferFailed",
    "TransferFuture",
    "TransferManager",
    "WebsiteConfig",
    "__version__",
]


def __getattr__(name: str) -> _Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'coffer' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    # The public surface (pinned by tests/sdk/test_sdk_public_names.py against docs/sdk.md) plus
    # private names; subpackages (sdk, protocol, server, cli) stay importable but unlisted.
    private = {n for n in globals() if n.startswith("_")}
    return sorted(private | set(_EXPORTS))


if _TYPE_CHECKING:  # static tools see real imports
    from coffer.sdk._async._client import AsyncClient
    from coffer.sdk._async._future import AsyncTransferFuture
    from coffer.sdk._async._handles import AsyncBucket, AsyncObject
    from coffer.sdk._async._io import AsyncObjectReader, AsyncObjectWriter
    from coffer.sdk._async._transfer import AsyncTransferManager
    from coffer.sdk._batch import BatchResult
    from coffer.sdk._bucket import Bucket
    from coffer.sdk._bulk import BulkJob, JobStatus
    from coffer.sdk._client import Client
    from coffer.sdk._config import ClientConfig, Credentials, TransferConfig
    from coffer.sdk._documents import (
        Acl,
        CorsRule,
        EncryptionConfig,
        Grant,
        LegalHold,
        LifecycleRule,
        NotificationTarget,
        ObjectLockConfig,
        ObjectVersion,
        ProtectionConfig,
        PublicAccessBlock,
        Retention,
        RetentionState,
        RoutingRule,
        WebsiteConfig,
    )
    from coffer.sdk._errors import (
        AccessDenied,
        BadDigest,
        BucketAlreadyExists,
        BucketAlreadyOwnedByYou,
        BucketNotEmpty,
        ClientRequestError,
        CofferError,
        ConnectionFailed,
        EntityTooLarge,
        EntityTooSmall,
        IntegrityError,
        InternalError,
        InvalidAccessKeyId,
        InvalidArgument,
        InvalidBucketName,
        InvalidPart,
        InvalidRange,
        MethodNotAllowed,
        NoSuchBucket,
        NoSuchKey,
        NoSuchUpload,
        NoSuchVersion,
        NotFound,
        NotImplementedByServer,
        NotModified,
        PreconditionFailed,
        ProtocolError,
        ServerError,
        ServiceUnavailable,
        SignatureDoesNotMatch,
        SlowDown,
        TransferCancelled,
        TransferFailed,
    )
    from coffer.sdk._object import Object
    from coffer.sdk._reader import ObjectReader
    from coffer.sdk._snowball import PutManyResult
    from coffer.sdk._tracing import RequestRecord
    from coffer.sdk._transfer import DirectoryResult, Subscriber, TransferFuture, TransferManager
    from coffer.sdk._types import DeleteResult, ObjectInfo, ObjectProps, Prefix, PutResult
    from coffer.sdk._writer import ObjectWriter
