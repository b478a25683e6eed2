"""The S3 error catalogue and the S3Error exception, shared by the server (to answer) and the SDK (to read).

``ERRORS`` maps every code of the Amazon S3 API reference "Error responses" list (plus the few codes S3
sends that the list omits, e.g. MalformedTrailerError, InvalidChunkSizeError, XAmzContentSHA256Mismatch)
to its HTTP status and default message.  Codes S3 reuses with different wording (AccessDenied for an
expired presigned URL) keep one entry; callers pass the specific message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from coffer.protocol import xmlutil


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    status: int
    message: str


def _specs(*rows: tuple[str, int, str]) -> dict[str, ErrorSpec]:
    return {code: ErrorSpec(code, status, message) for code, status, message in rows}


ERRORS: dict[str, ErrorSpec] = _specs(
    ("AccessControlListNotSupported", 400, "The bucket does not allow ACLs."),
    ("AccessDenied", 403, "Access Denied"),
    ("AccessPointAlreadyOwnedByYou", 409, "An access point with an identical name already exists."),
    ("AccountProblem", 403, "There is a problem with your account that prevents the operation."),
    ("AllAccessDisabled", 403, "All access to this resource has been disabled."),
    ("AmbiguousGrantByEmailAddress", 400, "The email address is associated with more than one account."),
    ("AuthorizationHeaderMalformed", 400, "The authorization header you provided is invalid."),
    ("AuthorizationQueryParametersError", 400, "The authorization query parameters are invalid."),
    ("BadDigest", 400, "The Content-MD5 or checksum you specified did not match what we received."),
    ("BadRequest", 400, "Bad Request"),
    (
        "BucketAlreadyExists",
        409,
        "The requested bucket name is not available. The bucket namespace is shared by all users "
        "of the system. Please select a different name and try again.",
    ),
    (
        "BucketAlreadyOwnedByYou",
        409,
        "Your previous request to create the named bucket succeeded and you already own it.",
    ),
    ("BucketHasAccessPointsAttached", 400, "The bucket has access points attached."),
    ("BucketNotEmpty", 409, "The bucket you tried to delete is not empty"),
    ("ClientTokenConflict", 409, "The request conflicts with another request using the same token."),
    (
        "ConditionalRequestConflict",
        409,
        "A conflicting conditional operation is currently in progress against this resource.",
    ),
    ("ConnectionClosedByRequester", 400, "The connection was closed before the request completed."),
    ("CredentialsNotSupported", 400, "This request does not support credentials."),
    ("CrossLocationLoggingProhibited", 403, "Cross-location logging is not allowed."),
    ("DeviceNotActiveError", 400, "The device is not currently active."),
    ("EmptyRequestBody", 400, "The request body cannot be empty."),
    ("EncryptionTypeMismatch", 400, "The encryption type does not match the existing object."),
    ("EndpointNotFound", 400, "Direct requests to the correct endpoint."),
    ("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size."),
    ("EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size."),
    ("ExpiredToken", 400, "The provided token has expired."),
    ("IllegalLocationConstraintException", 400, "The location constraint is not valid for this endpoint."),
    (
        "IllegalVersioningConfigurationException",
        400,
        "The versioning configuration specified in the request is invalid.",
    ),
    (
        "IncompleteBody",
        400,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    ),
    ("IncorrectEndpoint", 400, "The specified bucket exists in another region."),
    ("IncorrectNumberOfFilesInPostRequest", 400, "POST requires exactly one file upload per request."),
    ("InlineDataTooLarge", 400, "The inline data exceeds the maximum allowed size."),
    ("InsufficientStorage", 507, "Not enough storage space is available to complete the request."),
    ("InternalError", 500, "We encountered an internal error. Please try again."),
    ("InvalidAccessKeyId", 403, "The access key ID you provided does not exist in our records."),
    ("InvalidAccessPoint", 400, "The specified access point name or account is not valid."),
    ("InvalidAccessPointAliasError", 400, "The specified access point alias name is not valid."),
    ("InvalidAddressingHeader", 400, "You must specify the Anonymous role."),
    ("InvalidArgument", 400, "Invalid Argument"),
    (
        "InvalidBucketAclWithObjectOwnership",
        400,
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting.",
    ),
    ("InvalidBucketName", 400, "The specified bucket is not valid."),
    ("InvalidBucketOwnerAWSAccountID", 400, "The value of the expected bucket owner is not valid."),
    ("InvalidBucketState", 409, "The request is not valid for the current state of the bucket."),
    ("InvalidChunkSizeError", 400, "Only the last chunk is allowed to have a size less than 8192 bytes"),
    ("InvalidDigest", 400, "The Content-MD5 or checksum you specified is not valid."),
    ("InvalidEncryptionAlgorithmError", 400, "The encryption request you specified is not valid."),
    ("InvalidHostHeader", 400, "The host header is not valid."),
    ("InvalidHttpMethod", 400, "The request uses an HTTP method that is not allowed."),
    ("InvalidLocationConstraint", 400, "The specified location constraint is not valid."),
    ("InvalidObjectState", 403, "The operation is not valid for the current state of the object."),
    (
        "InvalidPart",
        400,
        "One or more of the specified parts could not be found. The part may not have been "
        "uploaded, or the specified entity tag may not match the part's entity tag.",
    ),
    (
        "InvalidPartOrder",
        400,
        "The list of parts was not in ascending order. Parts must be ordered by part number.",
    ),
    ("InvalidPartNumber", 400, "The requested partnumber is not satisfiable"),
    ("InvalidPayer", 403, "All access to this object has been disabled."),
    ("InvalidPolicyDocument", 400, "The content of the form does not meet the conditions of the policy."),
    ("InvalidRange", 416, "The requested range is not satisfiable"),
    ("InvalidRedirectLocation", 400, "The website redirect location is not valid."),
    ("InvalidRequest", 400, "Invalid Request"),
    ("InvalidRetentionPeriod", 400, "The retention period is not valid."),
    ("InvalidSecurity", 403, "The provided security credentials are not valid."),
    ("InvalidSessionException", 400, "The session has expired or is not valid."),
    ("InvalidSignature", 400, "The request signature that the server calculated does not match."),
    ("InvalidSOAPRequest", 400, "The SOAP request body is invalid."),
    ("InvalidStorageClass", 400, "The storage class you specified is not valid."),
    ("InvalidTag", 400, "The tag provided was not a valid tag."),
    (
        "InvalidTargetBucketForLogging",
        400,
        "The target bucket for logging does not exist, is not owned by you, or lacks the grants.",
    ),
    ("InvalidToken", 400, "The provided token is malformed or otherwise invalid."),
    ("InvalidURI", 400, "Couldn't parse the specified URI."),
    ("InvalidWriteOffset", 400, "The write offset does not match the current object size."),
    ("KeyTooLongError", 400, "Your key is too long."),
    ("KMS.DisabledException", 400, "The KMS key is disabled."),
    ("KMS.InvalidKeyUsageException", 400, "The KMS key cannot be used for this operation."),
    ("KMS.KMSInvalidStateException", 400, "The state of the KMS key is not valid for this request."),
    ("KMS.NotFoundException", 400, "The KMS key was not found."),
    ("MalformedACLError", 400, "The XML you provided was not well-formed or did not validate."),
    ("MalformedPOSTRequest", 400, "The body of your POST request is not well-formed multipart/form-data."),
    ("MalformedPolicy", 400, "The policy you provided is not valid."),
    (
        "MalformedTrailerError",
        400,
        "The request contained trailing data that was not well-formed or did not conform to our "
        "published schema.",
    ),
    (
        "MalformedXML",
        400,
        "The XML you provided was not well-formed or did not validate against our published schema.",
    ),
    ("MaxMessageLengthExceeded", 400, "Your request was too big."),
    ("MaxPostPreDataLengthExceededError", 400, "Your POST request fields preceding the file are too large."),
    ("MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size."),
    ("MethodNotAllowed", 405, "The specified method is not allowed against this resource."),
    ("MissingAttachment", 400, "A SOAP attachment was expected, but none were found."),
    ("MissingAuthenticationToken", 403, "The request was not signed."),
    ("MissingContentLength", 411, "You must provide the Content-Length HTTP header."),
    ("MissingRequestBodyError", 400, "Request Body is empty."),
    ("MissingSecurityElement", 400, "The SOAP 1.1 request is missing a security element."),
    ("MissingSecurityHeader", 400, "Your request is missing a required header."),
    ("NoLoggingStatusForKey", 400, "There is no such thing as a logging status subresource for a key."),
    ("NoSuchAccessPoint", 404, "The specified access point does not exist."),
    ("NoSuchAsyncRequest", 404, "The specified request was not found."),
    ("NoSuchBucket", 404, "The specified bucket does not exist"),
    ("NoSuchBucketPolicy", 404, "The bucket policy does not exist"),
    ("NoSuchCORSConfiguration", 404, "The CORS configuration does not exist"),
    ("NoSuchKey", 404, "The specified key does not exist."),
    ("NoSuchLifecycleConfiguration", 404, "The lifecycle configuration does not exist"),
    ("NoSuchMultiRegionAccessPoint", 404, "The specified Multi-Region Access Point does not exist."),
    ("NoSuchObjectLockConfiguration", 404, "The object has no Object Lock configuration."),
    ("NoSuchPublicAccessBlockConfiguration", 404, "The public access block configuration was not found"),
    ("NoSuchTagSet", 404, "The TagSet does not exist"),
    ("NoSuchUpload", 404, "The specified multipart upload does not exist."),
    ("NoSuchVersion", 404, "The specified version does not exist."),
    ("NoSuchWebsiteConfiguration", 404, "The specified bucket does not have a website configuration"),
    ("NotDeviceOwnerError", 400, "The device that generated the token is not yours."),
    ("NotImplemented", 501, "A header you provided implies functionality that is not implemented."),
    # Coffer's (MinIO answers XMinioStorageFull, also 507): the disk is full; deletes still work.
    ("InsufficientStorage", 507, "The server's disk is full: delete objects to free space, or add capacity."),
    ("NotModified", 304, "Not Modified"),
    ("NotSignedUp", 403, "Your account is not signed up for the Amazon S3 service."),
    ("ObjectLockConfigurationNotFoundError", 404, "Object Lock configuration does not exist for this bucket"),
    ("OperationAborted", 409, "A conflicting conditional operation is currently in progress."),
    ("OwnershipControlsNotFoundError", 404, "The bucket ownership controls were not found"),
    (
        "PermanentRedirect",
        301,
        "The bucket you are attempting to access must be addressed using the specified endpoint.",
    ),
    ("PermanentRedirectControlError", 301, "Use the specified endpoint for this operation."),
    ("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold"),
    ("Redirect", 307, "Temporary redirect."),
    ("ReplicationConfigurationNotFoundError", 404, "The replication configuration was not found"),
    ("RequestHeaderSectionTooLarge", 400, "Your request header section exceeds the maximum allowed size."),
    ("RequestIsNotMultiPartContent", 400, "A bucket POST must be multipart/form-data."),
    (
        "RequestTimeout",
        400,
        "Your socket connection to the server was not read from or written to within the timeout period.",
    ),
    (
        "RequestTimeTooSkewed",
        403,
        "The difference between the request time and the server's time is too large.",
    ),
    ("RequestTorrentOfBucketError", 400, "Requesting the torrent file of a bucket is not permitted."),
    ("RestoreAlreadyInProgress", 409, "Object restore is already in progress."),
    (
        "ServerSideEncryptionConfigurationNotFoundError",
        404,
        "The server side encryption configuration was not found",
    ),
    ("ServiceUnavailable", 503, "Service is unable to handle request."),
    (
        "SignatureDoesNotMatch",
        403,
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    ),
    ("SlowDown", 503, "Please reduce your request rate."),
    ("TemporaryRedirect", 307, "You are being redirected to the bucket while DNS updates."),
    ("TokenRefreshRequired", 400, "The provided token must be refreshed."),
    ("TooManyAccessPoints", 400, "You have attempted to create more access points than are allowed."),
    ("TooManyBuckets", 400, "You have attempted to create more buckets than allowed."),
    ("TooManyMultiRegionAccessPointregionsError", 400, "Too many Regions for a Multi-Region Access Point."),
    ("TooManyMultiRegionAccessPoints", 400, "Too many Multi-Region Access Points."),
    ("UnauthorizedAccessError", 403, "Applicable in China Regions only."),
    ("UnexpectedContent", 400, "This request does not support content."),
    ("UnexpectedIPError", 403, "The request was rejected because of an unexpected IP address."),
    ("UnresolvableGrantByEmailAddress", 400, "The email address does not match any account on record."),
    ("UnsupportedArgument", 400, "The request contained an unsupported argument."),
    ("UnsupportedSignature", 400, "The provided request is signed with an unsupported signature version."),
    ("UserKeyMustBeSpecified", 400, "The bucket POST request must contain the specified field name."),
    (
        "XAmzContentSHA256Mismatch",
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    ),
)

# Messages S3 uses with AccessDenied for specific situations (same code, different text).
REQUEST_EXPIRED = "Request has expired"
REQUEST_NOT_YET_VALID = "Request is not valid yet"

# Extra fields are emitted in this order when present, mirroring S3 (ArgumentName before ArgumentValue
# etc.); anything else follows in the order given.
_EXTRA_ORDER = (
    "BucketName",
    "Key",
    "VersionId",
    "UploadId",
    "PartNumber",
    "ETag",
    "ArgumentName",
    "ArgumentValue",
    "ExpectedDigest",
    "CalculatedDigest",
    "MinSizeAllowed",
    "MaxSizeAllowed",
    "ProposedSize",
)

_XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'


class S3Error(Exception):
    """An S3 error to answer (server) or that was answered (SDK).

    ``status`` and ``message`` default from :data:`ERRORS`; an unknown code defaults to 400/500 style
    via the status given, else 500 so a typo never masquerades as a client error.
    """

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        status: int | None = None,
        resource: str | None = None,
        **extra: Any,
    ) -> None:
        spec = ERRORS.get(code)
        self.code = code
        self.message = message if message is not None else (spec.message if spec else code)
        self.status = status if status is not None else (spec.status if spec else 500)
        self.resource = resource
        self.extra: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
        super().__init__(f"{code}: {self.message}")

    def __repr__(self) -> str:
        return f"S3Error({self.code!r}, {self.message!r}, status={self.status})"

    def to_xml(self, request_id: str, host_id: str) -> bytes:
        """The S3 ``<Error>`` body: Code, Message, Resource, extra fields, RequestId, HostId."""
        parts = [_XML_DECL, "<Error><Code>", escape(self.code), "</Code><Message>"]
        parts.append(xmlutil.escape_text(self.message))
        parts.append("</Message>")
        if self.resource is not None:
            parts += ["<Resource>", xmlutil.escape_text(self.resource), "</Resource>"]
        ordered = [k for k in _EXTRA_ORDER if k in self.extra]
        ordered += [k for k in self.extra if k not in _EXTRA_ORDER]
        for name in ordered:
            value = self.extra[name]
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            parts += ["<", name, ">", xmlutil.escape_text(text), "</", name, ">"]
        parts += ["<RequestId>", escape(request_id), "</RequestId>"]
        parts += ["<HostId>", escape(host_id), "</HostId></Error>"]
        return "".join(parts).encode("utf-8")


def error_status(code: str) -> int:
    """HTTP status for ``code`` (500 when unknown)."""
    spec = ERRORS.get(code)
    return spec.status if spec else 500


def parse_error_xml(body: bytes) -> tuple[str, str, dict[str, str]]:
    """Read an S3 ``<Error>`` body: (code, message, other fields such as RequestId, Resource, Key).

    Non-XML or unexpected bodies (a proxy's HTML page, an empty HEAD answer) give ("", "", {}) with the
    raw text under "Body" when there is any, so callers can fall back on the HTTP status.
    """
    try:
        root = xmlutil.parse(body)
    except xmlutil.XmlError:
        text = body[:1024].decode("utf-8", "replace").strip()
        return "", "", ({"Body": text} if text else {})
    if xmlutil.local_name(root) != "Error":
        return "", "", {}
    code = ""
    message = ""
    fields: dict[str, str] = {}
    for child in root:
        name = xmlutil.local_name(child)
        text = child.text or ""
        if name == "Code":
            code = text
        elif name == "Message":
            message = text
        else:
            fields[name] = text
    return code, message, fields


MALFORMED_XML = "The XML you provided was not well-formed or did not validate against our published schema"


def parse_document(body: bytes, root_name: str) -> xmlutil.Element:
    """A request's XML document whose root element must be `root_name`; anything else is S3's
    MalformedXML (the answer every Put*Configuration gives for a bad or misnamed document)."""
    try:
        root = xmlutil.parse(body)
    except xmlutil.XmlError:
        raise S3Error("MalformedXML", MALFORMED_XML) from None
    if xmlutil.local_name(root) != root_name:
        raise S3Error("MalformedXML", MALFORMED_XML)
    return root
