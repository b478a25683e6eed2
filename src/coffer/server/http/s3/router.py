"""Request routing: turns an HTTP request into a typed S3 endpoint.

Every S3 operation is one `Endpoint` (Garage's habit): a name, and the permission it needs
(used by access control). `route()` is pure: it takes the method, the raw path, the
query and the Host header, and answers which endpoint, bucket and key the request addresses —
path-style (`/bucket/key`) or virtual-host-style (`bucket.domain/key`).
"""

from __future__ import annotations

from coffer.protocol.errors import S3Error
from coffer.server.http.common.endpoint import Endpoint, Route, decode_path


def _ep(name: str, permission: str | None = None) -> Endpoint:
    return Endpoint(name, permission or f"s3:{name}")


# Subresources that select a different operation. A request naming one we have not built yet gets
# NotImplemented (never a 500, never a silent wrong answer); other query parameters such as
# boto3's `x-id` are ignored, as S3 ignores them.
KNOWN_SUBRESOURCES = frozenset({
    "accelerate", "acl", "analytics", "attributes", "cors", "delete", "encryption", "intelligent-tiering",
    "inventory", "legal-hold", "lifecycle", "location", "logging", "metrics", "notification", "object-lock",
    "ownershipControls", "partNumber", "policy", "policyStatus", "publicAccessBlock", "replication",
    "requestPayment", "restore", "retention", "select", "tagging", "torrent", "uploadId", "uploads",
    "versioning", "versions", "website", "append", "protection", "legalHold", "extendRetention",
    "session", "metadataTable", "renameObject", "faspConnectionInfo", "events",
})
IAM_TOKEN = Endpoint("IamToken", "iam:Token")  # POST /identity/token (http/s3/identity.py): no signature

# (method, level, selector) -> endpoint; level is "service", "bucket" or "object"; the selector is
# the subresource that decides (None: plain request).
TABLE: dict[tuple[str, str, str | None], Endpoint] = {
    ("GET", "service", None): _ep("ListBuckets", "s3:ListAllMyBuckets"),
    ("PUT", "bucket", None): _ep("CreateBucket"),
    ("HEAD", "bucket", None): _ep("HeadBucket", "s3:ListBucket"),
    ("DELETE", "bucket", None): _ep("DeleteBucket"),
    ("GET", "bucket", None): _ep("ListObjects", "s3:ListBucket"),
    ("GET", "bucket", "location"): _ep("GetBucketLocation"),
    ("GET", "bucket", "uploads"): _ep("ListMultipartUploads", "s3:ListBucketMultipartUploads"),
    ("GET", "bucket", "versioning"): _ep("GetBucketVersioning"),
    ("GET", "bucket", "acl"): _ep("GetBucketAcl"),
    # access control
    ("PUT", "bucket", "acl"): _ep("PutBucketAcl"),
    ("PUT", "object", "acl"): _ep("PutObjectAcl"),
    ("GET", "bucket", "policy"): _ep("GetBucketPolicy"),
    ("PUT", "bucket", "policy"): _ep("PutBucketPolicy"),
    ("DELETE", "bucket", "policy"): _ep("DeleteBucketPolicy"),
    ("GET", "bucket", "policyStatus"): _ep("GetBucketPolicyStatus"),
    ("GET", "bucket", "ownershipControls"): _ep("GetBucketOwnershipControls"),
    ("PUT", "bucket", "ownershipControls"): _ep("PutBucketOwnershipControls"),
    ("DELETE", "bucket", "ownershipControls"): _ep("DeleteBucketOwnershipControls",
                                                   "s3:PutBucketOwnershipControls"),
    ("GET", "bucket", "publicAccessBlock"): _ep("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
    ("PUT", "bucket", "publicAccessBlock"): _ep("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    ("DELETE", "bucket", "publicAccessBlock"): _ep("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    ("POST", "bucket", None): _ep("PostObject", "s3:PutObject"),
    ("GET", "bucket", "notification"): _ep("GetBucketNotificationConfiguration", "s3:GetBucketNotification"),
    ("PUT", "bucket", "notification"): _ep("PutBucketNotificationConfiguration", "s3:PutBucketNotification"),
    ("POST", "bucket", "delete"): _ep("DeleteObjects", "s3:DeleteObject"),
    # MinIO's listen API: a live stream of S3 events (http/s3/listen.py)
    ("GET", "bucket", "events"): _ep("ListenBucketNotification"),
    ("GET", "service", "events"): _ep("ListenNotification"),
    # bucket configuration documents (http/s3/bucket_config.py)
    ("PUT", "bucket", "encryption"): _ep("PutBucketEncryption", "s3:PutEncryptionConfiguration"),
    ("GET", "bucket", "encryption"): _ep("GetBucketEncryption", "s3:GetEncryptionConfiguration"),
    ("DELETE", "bucket", "encryption"): _ep("DeleteBucketEncryption", "s3:PutEncryptionConfiguration"),
    ("PUT", "bucket", "cors"): _ep("PutBucketCors", "s3:PutBucketCORS"),
    ("GET", "bucket", "cors"): _ep("GetBucketCors", "s3:GetBucketCORS"),
    ("DELETE", "bucket", "cors"): _ep("DeleteBucketCors", "s3:PutBucketCORS"),
    ("OPTIONS", "bucket", None): _ep("PreflightRequest"),
    ("OPTIONS", "object", None): _ep("PreflightRequest"),
    ("PUT", "bucket", "website"): _ep("PutBucketWebsite"),
    ("GET", "bucket", "website"): _ep("GetBucketWebsite"),
    ("DELETE", "bucket", "website"): _ep("DeleteBucketWebsite"),
    ("PUT", "object", None): _ep("PutObject"),
    ("GET", "object", None): _ep("GetObject"),
    ("HEAD", "object", None): _ep("HeadObject", "s3:GetObject"),
    ("DELETE", "object", None): _ep("DeleteObject"),
    ("GET", "object", "acl"): _ep("GetObjectAcl"),
    ("GET", "object", "attributes"): _ep("GetObjectAttributes"),
    ("POST", "object", "uploads"): _ep("CreateMultipartUpload", "s3:PutObject"),
    ("PUT", "object", "uploadId"): _ep("UploadPart", "s3:PutObject"),
    ("GET", "object", "uploadId"): _ep("ListParts", "s3:ListMultipartUploadParts"),
    ("POST", "object", "uploadId"): _ep("CompleteMultipartUpload", "s3:PutObject"),
    ("DELETE", "object", "uploadId"): _ep("AbortMultipartUpload"),
    ("PUT", "object", "append"): _ep("AppendObject", "s3:PutObject"),
    ("POST", "object", "append"): _ep("FlushAppend", "s3:PutObject"),
    ("DELETE", "object", "append"): _ep("AbortAppend", "s3:PutObject"),
    # versioning, Object Lock, IBM immutable storage, tagging, lifecycle
    ("PUT", "bucket", "versioning"): _ep("PutBucketVersioning"),
    ("GET", "bucket", "versions"): _ep("ListObjectVersions", "s3:ListBucketVersions"),
    ("PUT", "bucket", "object-lock"): _ep("PutObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration"),
    ("GET", "bucket", "object-lock"): _ep("GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration"),
    ("PUT", "bucket", "tagging"): _ep("PutBucketTagging"),
    ("GET", "bucket", "tagging"): _ep("GetBucketTagging"),
    ("DELETE", "bucket", "tagging"): _ep("DeleteBucketTagging", "s3:PutBucketTagging"),
    ("PUT", "bucket", "lifecycle"): _ep("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
    ("GET", "bucket", "lifecycle"): _ep("GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
    ("DELETE", "bucket", "lifecycle"): _ep("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"),
    ("PUT", "bucket", "protection"): _ep("PutBucketProtectionConfiguration", "s3:PutBucketProtection"),
    ("GET", "bucket", "protection"): _ep("GetBucketProtectionConfiguration", "s3:GetBucketProtection"),
    ("PUT", "object", "retention"): _ep("PutObjectRetention"),
    ("GET", "object", "retention"): _ep("GetObjectRetention"),
    ("PUT", "object", "legal-hold"): _ep("PutObjectLegalHold"),
    ("GET", "object", "legal-hold"): _ep("GetObjectLegalHold"),
    ("PUT", "object", "tagging"): _ep("PutObjectTagging"),
    ("GET", "object", "tagging"): _ep("GetObjectTagging"),
    ("DELETE", "object", "tagging"): _ep("DeleteObjectTagging"),
    ("POST", "object", "legalHold"): _ep("IbmLegalHold", "s3:PutObjectLegalHold"),
    ("GET", "object", "legalHold"): _ep("ListLegalHolds", "s3:GetObjectLegalHold"),
    ("POST", "object", "extendRetention"): _ep("ExtendObjectRetention", "s3:PutObjectRetention"),
}
# Subresources that select on a GET of an object but merely qualify it (GET ?partNumber=N).
_QUALIFIERS = frozenset({"partNumber", "versionId"})


def split_host(host: str | None, domains: tuple[str, ...]) -> str | None:
    """The bucket named by a virtual-host-style Host header, or None for path-style."""
    if not host:
        return None
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.lower().rstrip(".")
    for d in domains:
        if name.endswith("." + d) and len(name) > len(d) + 1:
            return name[: -len(d) - 1]
    return None


def route(method: str, raw_path: str, query: dict[str, str], host: str | None, domains: tuple[str, ...]) -> Route:
    path = decode_path(raw_path)
    vbucket = split_host(host, domains)
    if method == "POST" and vbucket is None and raw_path == "/identity/token":
        return Route(IAM_TOKEN, None, None)
    if "faspConnectionInfo" in query:
        raise S3Error("NotImplemented", "Aspera high-speed transfer (faspConnectionInfo) is not available on this "
                      "server; use ordinary S3 transfers.",
                      Method=method, ResourceType="faspConnectionInfo")
    if vbucket is not None:
        bucket: str | None = vbucket
        key = path[1:] if path.startswith("/") else path
    else:
        rest = path[1:] if path.startswith("/") else path
        bucket, _, key = rest.partition("/")
        if not bucket:
            bucket = None
    key = key or None
    level = "object" if key is not None else ("bucket" if bucket else "service")
    if method == "OPTIONS":  # a CORS preflight addresses the resource, whatever its query
        selector: str | None = None
    elif method == "POST" and level == "object" and "uploads" in query:
        selector = "uploads"
    else:
        chosen = [q for q in query if q in KNOWN_SUBRESOURCES and q not in _QUALIFIERS]
        if level == "object" and "uploadId" in query:
            selector = "uploadId"
        elif level == "object" and "append" in query:
            selector = "append"
        elif len(chosen) == 1:
            selector = chosen[0]
        elif not chosen:
            selector = None
        else:
            raise S3Error("InvalidRequest", "Conflicting query string parameters: " + ", ".join(sorted(chosen)))
    ep = TABLE.get((method, level, selector))
    if ep is None:
        known_method = any(m == method for (m, lvl, _s) in TABLE if lvl == level)
        if selector is not None or known_method:
            raise S3Error("NotImplemented", "A header or query you provided implies functionality that is "
                              "not implemented.", Method=method, ResourceType=selector or level)
        raise S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.",
                      Method=method, ResourceType=level.upper())
    return Route(ep, bucket, key)

