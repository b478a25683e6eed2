"""Bucket configuration documents: default encryption, CORS rules, website.

Each lives in the bucket's JSON ``props`` (docs/data-format.md) under ``encryption``, ``cors`` and
``website``, as the validated dictionaries the HTTP layer parsed from S3's XML. This module owns the
read-modify-write of those keys and their validation that needs the service (a KMS key must exist).
"""

from __future__ import annotations

from typing import Any

from coffer.protocol.errors import S3Error
from coffer.server.meta import interface as mi
from coffer.server.meta.model import Bucket
from coffer.server.service.core import Core, Principal

_MISSING = {
    "encryption": ("ServerSideEncryptionConfigurationNotFoundError",
                   "The server side encryption configuration was not found"),
    "cors": ("NoSuchCORSConfiguration", "The CORS configuration does not exist"),
    "website": ("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration"),
}


class BucketConfig:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def get(self, who: Principal, bucket: str, name: str) -> dict[str, Any]:
        b = await self.core.bucket_for(who, bucket)
        doc = b.props.get(name)
        if not doc:
            code, message = _MISSING[name]
            raise S3Error(code, message, BucketName=bucket)
        return doc

    async def put(self, who: Principal, bucket: str, name: str, doc: dict[str, Any] | None) -> Bucket:
        b = await self.core.bucket_for(who, bucket)
        if name == "encryption" and doc:
            self.check_encryption(doc)
        props = dict(b.props)
        if doc is None:
            props.pop(name, None)
        else:
            props[name] = doc
        try:
            await self.core.meta.update_bucket_props(bucket, props)
        except mi.NoSuchBucket:
            raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=bucket) from None
        b.props = props
        return b

    def check_encryption(self, doc: dict[str, Any]) -> None:
        """A default naming a KMS key must name a usable one; it is stored by its UUID (a renamed
        alias cannot redirect the bucket to another key)."""
        if doc["algorithm"] == "aws:kms" and doc.get("kms_key_id"):
            key_uuid, arn = self.core.sse.resolve_kms(doc["kms_key_id"])
            doc["kms_key_id"], doc["kms_arn"] = key_uuid, arn

    async def put_document(self, who: Principal, bucket: str, name: str, doc: Any) -> Bucket:
        """Set a configuration given in its stored (dictionary) form, as the console edits it:
        the same checks and the same S3 errors as the XML documents of the S3 API."""
        checker = _DOCUMENT_CHECKS.get(name)
        if checker is None:
            raise S3Error("InvalidArgument", "The configuration is cors, website or encryption.",
                          ArgumentName="name", ArgumentValue=name)
        return await self.put(who, bucket, name, checker(doc))

    async def public(self, bucket: str) -> Bucket | None:
        """The bucket for unauthenticated uses (CORS preflight, website); None when it does not exist."""
        return await self.core.meta.get_bucket(bucket)


def key_protect_doc(algorithm: str | None, root_key_crn: str | None) -> dict[str, Any] | None:
    """IBM COS Key Protect headers of CreateBucket -> the bucket's default-encryption document.

    A Key Protect bucket is an SSE-KMS default bound to a named root key of the local key store; the
    CRN's last ``key:`` segment (or the whole value: a UUID, ARN or ``alias/name``) names it."""
    if algorithm is None and root_key_crn is None:
        return None
    if algorithm not in (None, "AES256") or not root_key_crn:
        raise S3Error("InvalidArgument", "Key Protect needs ibm-sse-kp-encryption-algorithm: AES256 and "
                      "ibm-sse-kp-customer-root-key-crn", ArgumentName="ibm-sse-kp-customer-root-key-crn")
    key = root_key_crn.rsplit(":key:", 1)[1] if ":key:" in root_key_crn else root_key_crn
    return {"algorithm": "aws:kms", "kms_key_id": key, "key_protect_crn": root_key_crn, "bucket_key": False}


# -- the documents in their stored form (the console edits them as JSON) ---------------------------------
CORS_METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
_REDIRECT_FIELDS = ("Protocol", "HostName", "ReplaceKeyPrefixWith", "ReplaceKeyWith", "HttpRedirectCode")


def _malformed(what: str) -> S3Error:
    return S3Error("MalformedXML", f"The configuration is not well formed: {what}.")


def _strings(v: Any, what: str) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _malformed(f"{what} is a list of strings")
    return [x.strip() for x in v if x.strip()]


def check_encryption_doc(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise _malformed("a default encryption is an object")
    algorithm = doc.get("algorithm")
    if algorithm not in ("AES256", "aws:kms"):
        raise S3Error("InvalidArgument", "The encryption method specified is not supported",
                      ArgumentName="SSEAlgorithm", ArgumentValue=str(algorithm))
    kms_key = doc.get("kms_key_id") or None
    if kms_key is not None and (algorithm != "aws:kms" or not isinstance(kms_key, str)):
        raise S3Error("InvalidArgument", "a KMSMasterKeyID is not applicable if the default sse algorithm is "
                      "not aws:kms", ArgumentName="ApplyServerSideEncryptionByDefault")
    return {"algorithm": algorithm, "kms_key_id": kms_key, "bucket_key": bool(doc.get("bucket_key"))}


def check_cors_doc(doc: Any) -> dict[str, Any]:
    rules_in = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(rules_in, list) or not 1 <= len(rules_in) <= 100:
        raise _malformed("CORS needs 1 to 100 rules")
    rules = []
    for r in rules_in:
        if not isinstance(r, dict):
            raise _malformed("a CORS rule is an object")
        origins, methods = _strings(r.get("AllowedOrigin"), "AllowedOrigin"), _strings(r.get("AllowedMethod"),
                                                                                       "AllowedMethod")
        if not origins or not methods:
            raise _malformed("a CORS rule needs an AllowedOrigin and an AllowedMethod")
        for m in methods:
            if m not in CORS_METHODS:
                raise S3Error("InvalidRequest", "Found unsupported HTTP method in CORS config. Unsupported "
                              f"method is {m}")
        headers = _strings(r.get("AllowedHeader"), "AllowedHeader")
        for what, values in (("AllowedOrigin", origins), ("AllowedHeader", headers)):
            for v in values:
                if v.count("*") > 1:
                    raise S3Error("InvalidRequest", f'{what} "{v}" can not have more than one wildcard.')
        rule: dict[str, Any] = {"ID": r.get("ID") or None, "AllowedHeader": headers, "AllowedMethod": methods,
                                "AllowedOrigin": origins, "ExposeHeader": _strings(r.get("ExposeHeader"),
                                                                                   "ExposeHeader")}
        max_age = r.get("MaxAgeSeconds")
        if max_age not in (None, ""):
            if isinstance(max_age, bool) or not str(max_age).isdigit():
                raise _malformed("MaxAgeSeconds is a whole number")
            rule["MaxAgeSeconds"] = int(max_age)
        rules.append(rule)
    return {"rules": rules}


def _protocol(value: Any) -> None:
    if value is not None and value not in ("http", "https"):
        raise S3Error("InvalidArgument", "Invalid protocol, protocol can be http or https. If not defined the "
                      "protocol will be selected automatically.", ArgumentName="Protocol", ArgumentValue=str(value))


def check_website_doc(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise _malformed("a website configuration is an object")
    redirect_all = doc.get("RedirectAllRequestsTo")
    if redirect_all:
        if doc.get("IndexDocument") or doc.get("ErrorDocument") or doc.get("RoutingRules"):
            raise S3Error("InvalidArgument", "RedirectAllRequestsTo cannot be provided in conjunction with other "
                          "Routing/Redirect configurations.", ArgumentName="RedirectAllRequestsTo")
        host = redirect_all.get("HostName") if isinstance(redirect_all, dict) else None
        if not isinstance(host, str) or not host:
            raise _malformed("RedirectAllRequestsTo needs a HostName")
        _protocol(redirect_all.get("Protocol") or None)
        return {"RedirectAllRequestsTo": {"HostName": host, "Protocol": redirect_all.get("Protocol") or None}}
    suffix = (doc.get("IndexDocument") or {}).get("Suffix")
    if not isinstance(suffix, str) or not suffix:
        raise S3Error("InvalidArgument", "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo "
                      "is empty", ArgumentName="IndexDocument")
    if "/" in suffix:
        raise S3Error("InvalidArgument", "The IndexDocument Suffix is not well formed", ArgumentName="IndexDocument",
                      ArgumentValue=suffix)
    out: dict[str, Any] = {"IndexDocument": {"Suffix": suffix}}
    error_key = (doc.get("ErrorDocument") or {}).get("Key")
    if error_key:
        out["ErrorDocument"] = {"Key": str(error_key)}
    rules_in = doc.get("RoutingRules") or []
    if not isinstance(rules_in, list) or len(rules_in) > 50:
        raise _malformed("RoutingRules is a list of at most 50 rules")
    rules = []
    for r in rules_in:
        red = r.get("Redirect") if isinstance(r, dict) else None
        if not isinstance(red, dict):
            raise _malformed("a routing rule needs a Redirect")
        redirect = {f: str(red[f]) for f in _REDIRECT_FIELDS if red.get(f) not in (None, "")}
        _protocol(redirect.get("Protocol"))
        if "ReplaceKeyPrefixWith" in redirect and "ReplaceKeyWith" in redirect:
            raise S3Error("InvalidArgument", "You can only define ReplaceKeyPrefix or ReplaceKey but not both.",
                          ArgumentName="Redirect")
        code = redirect.get("HttpRedirectCode")
        if code is not None and (not code.isdigit() or not 300 <= int(code) <= 399):
            raise S3Error("InvalidArgument", "The provided HTTP redirect code is not valid. Valid codes are 3XX "
                          "except 300.", ArgumentName="HttpRedirectCode", ArgumentValue=code)
        rule: dict[str, Any] = {"Redirect": redirect}
        cond_in = r.get("Condition")
        if isinstance(cond_in, dict):
            cond = {f: str(cond_in[f]) for f in ("KeyPrefixEquals", "HttpErrorCodeReturnedEquals")
                    if cond_in.get(f) not in (None, "")}
            err = cond.get("HttpErrorCodeReturnedEquals")
            if err is not None and (not err.isdigit() or not 400 <= int(err) <= 599):
                raise S3Error("InvalidArgument", "The provided HTTP error code is not valid. Valid codes are 4XX "
                              "or 5XX.", ArgumentName="HttpErrorCodeReturnedEquals", ArgumentValue=err)
            if cond:
                rule["Condition"] = cond
        rules.append(rule)
    if rules:
        out["RoutingRules"] = rules
    return out


_DOCUMENT_CHECKS = {"encryption": check_encryption_doc, "cors": check_cors_doc, "website": check_website_doc}
