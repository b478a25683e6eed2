"""Bucket configuration endpoints: Put/Get/Delete BucketEncryption, BucketCors,
BucketWebsite.

Owns the XML <-> dictionary mapping of the three documents and S3's validation errors for them; the
dictionaries use S3's element names so that Get renders exactly what Put accepted. Storage and the
checks that need keys are in service/objects/bucket_config.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.etree.ElementTree import Element

from aiohttp import web

from coffer.protocol import xmlutil
from coffer.protocol.errors import MALFORMED_XML, S3Error, parse_document
from coffer.server.http.common.body import read_small_body
from coffer.server.http.common.context import Ctx, handles
from coffer.server.http.common.respond import xml_response

CORS_METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
_MAX_CORS_RULES = 100
_MAX_ROUTING_RULES = 50


def _malformed() -> S3Error:
    return S3Error("MalformedXML", MALFORMED_XML)


async def _document(ctx: Ctx, root_name: str) -> Element:
    return parse_document(await read_small_body(ctx.request, ctx.plan, 64 * 1024), root_name)


def _texts(el: Element, name: str) -> list[str]:
    return [(c.text or "").strip() for c in xmlutil.children(el, name)]


def _one(el: Element | None, name: str) -> str | None:
    if el is None:
        return None
    text = xmlutil.child_text(el, name)
    return text.strip() if text is not None else None


# -- default encryption --------------------------------------------------------------------------------
def parse_encryption(root: Element) -> dict[str, Any]:
    rules = xmlutil.children(root, "Rule")
    if len(rules) != 1:
        raise _malformed()
    default = xmlutil.find(rules[0], "ApplyServerSideEncryptionByDefault")
    algorithm = _one(default, "SSEAlgorithm")
    if algorithm is None:
        raise _malformed()
    if algorithm not in ("AES256", "aws:kms"):
        raise S3Error("InvalidArgument", "The encryption method specified is not supported",
                      ArgumentName="SSEAlgorithm", ArgumentValue=algorithm)
    kms_key = _one(default, "KMSMasterKeyID") or None
    if kms_key is not None and algorithm != "aws:kms":
        raise S3Error("InvalidArgument", "a KMSMasterKeyID is not applicable if the default sse algorithm is "
                      "not aws:kms", ArgumentName="ApplyServerSideEncryptionByDefault")
    bucket_key = (_one(rules[0], "BucketKeyEnabled") or "false").lower() == "true"
    return {"algorithm": algorithm, "kms_key_id": kms_key, "bucket_key": bucket_key}


@handles("GetBucketEncryption")
async def get_encryption(ctx: Ctx) -> web.StreamResponse:
    doc = await ctx.svc.bucket_config.get(ctx.who, ctx.bucket, "encryption")
    default = {"SSEAlgorithm": doc["algorithm"], "KMSMasterKeyID": doc.get("kms_arn")}
    return xml_response("ServerSideEncryptionConfiguration", {
        "Rule": {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": bool(doc.get("bucket_key"))}})


@handles("DeleteBucketEncryption", "DeleteBucketCors", "DeleteBucketWebsite")
async def delete_config(ctx: Ctx) -> web.StreamResponse:
    name = {"DeleteBucketEncryption": "encryption", "DeleteBucketCors": "cors",
            "DeleteBucketWebsite": "website"}[ctx.route.endpoint.name]
    await ctx.svc.bucket_config.put(ctx.who, ctx.bucket, name, None)
    return web.Response(status=204)


# -- CORS ----------------------------------------------------------------------------------------------
def _one_wildcard(values: list[str], what: str) -> None:
    for v in values:
        if v.count("*") > 1:
            raise S3Error("InvalidRequest", f'{what} "{v}" can not have more than one wildcard.')


def parse_cors(root: Element) -> dict[str, Any]:
    rules = []
    for el in xmlutil.children(root, "CORSRule"):
        origins, methods = _texts(el, "AllowedOrigin"), _texts(el, "AllowedMethod")
        if not origins or not methods:
            raise _malformed()
        for m in methods:
            if m not in CORS_METHODS:
                raise S3Error("InvalidRequest", "Found unsupported HTTP method in CORS config. Unsupported "
                              f"method is {m}")
        headers = _texts(el, "AllowedHeader")
        _one_wildcard(origins, "AllowedOrigin")
        _one_wildcard(headers, "AllowedHeader")
        rule: dict[str, Any] = {"ID": _one(el, "ID"), "AllowedHeader": headers, "AllowedMethod": methods,
                                "AllowedOrigin": origins, "ExposeHeader": _texts(el, "ExposeHeader")}
        max_age = _one(el, "MaxAgeSeconds")
        if max_age is not None:
            if not max_age.isdigit():
                raise _malformed()
            rule["MaxAgeSeconds"] = int(max_age)
        rules.append(rule)
    if not rules or len(rules) > _MAX_CORS_RULES:
        raise _malformed()
    return {"rules": rules}


@handles("GetBucketCors")
async def get_cors(ctx: Ctx) -> web.StreamResponse:
    doc = await ctx.svc.bucket_config.get(ctx.who, ctx.bucket, "cors")
    return xml_response("CORSConfiguration", {"CORSRule": doc["rules"]})


# -- website -------------------------------------------------------------------------------------------
_REDIRECT_FIELDS = ("Protocol", "HostName", "ReplaceKeyPrefixWith", "ReplaceKeyWith", "HttpRedirectCode")


def _protocol(value: str | None) -> None:
    if value is not None and value not in ("http", "https"):
        raise S3Error("InvalidArgument", "Invalid protocol, protocol can be http or https. If not defined the "
                      "protocol will be selected automatically.", ArgumentName="Protocol", ArgumentValue=value)


def parse_website(root: Element) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    redirect_all = xmlutil.find(root, "RedirectAllRequestsTo")
    index = xmlutil.find(root, "IndexDocument")
    if redirect_all is not None:
        if index is not None or xmlutil.find(root, "ErrorDocument") is not None \
                or xmlutil.find(root, "RoutingRules") is not None:
            raise S3Error("InvalidArgument", "RedirectAllRequestsTo cannot be provided in conjunction with other "
                          "Routing/Redirect configurations.", ArgumentName="RedirectAllRequestsTo")
        host = _one(redirect_all, "HostName")
        if not host:
            raise _malformed()
        _protocol(_one(redirect_all, "Protocol"))
        doc["RedirectAllRequestsTo"] = {"HostName": host, "Protocol": _one(redirect_all, "Protocol")}
        return doc
    suffix = _one(index, "Suffix")
    if index is None or not suffix:
        raise S3Error("InvalidArgument", "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo "
                      "is empty", ArgumentName="IndexDocument")
    if "/" in suffix:
        raise S3Error("InvalidArgument", "The IndexDocument Suffix is not well formed", ArgumentName="IndexDocument",
                      ArgumentValue=suffix)
    doc["IndexDocument"] = {"Suffix": suffix}
    error_key = _one(xmlutil.find(root, "ErrorDocument"), "Key")
    if error_key:
        doc["ErrorDocument"] = {"Key": error_key}
    rules_el = xmlutil.find(root, "RoutingRules")
    rules = []
    for r in xmlutil.children(rules_el, "RoutingRule") if rules_el is not None else []:
        cond_el, red_el = xmlutil.find(r, "Condition"), xmlutil.find(r, "Redirect")
        if red_el is None:
            raise _malformed()
        redirect = {f: v for f in _REDIRECT_FIELDS if (v := _one(red_el, f)) is not None}
        _protocol(redirect.get("Protocol"))
        if "ReplaceKeyPrefixWith" in redirect and "ReplaceKeyWith" in redirect:
            raise S3Error("InvalidArgument", "You can only define ReplaceKeyPrefix or ReplaceKey but not both.",
                          ArgumentName="Redirect")
        code = redirect.get("HttpRedirectCode")
        if code is not None and (not code.isdigit() or not 300 <= int(code) <= 399):
            raise S3Error("InvalidArgument", "The provided HTTP redirect code is not valid. Valid codes are 3XX "
                          "except 300.", ArgumentName="HttpRedirectCode", ArgumentValue=code)
        rule: dict[str, Any] = {"Redirect": redirect}
        if cond_el is not None:
            cond = {f: v for f in ("KeyPrefixEquals", "HttpErrorCodeReturnedEquals")
                    if (v := _one(cond_el, f)) is not None}
            err = cond.get("HttpErrorCodeReturnedEquals")
            if err is not None and (not err.isdigit() or not 400 <= int(err) <= 599):
                raise S3Error("InvalidArgument", "The provided HTTP error code is not valid. Valid codes are 4XX "
                              "or 5XX.", ArgumentName="HttpErrorCodeReturnedEquals", ArgumentValue=err)
            rule["Condition"] = cond
        rules.append(rule)
    if len(rules) > _MAX_ROUTING_RULES:
        raise _malformed()
    if rules:
        doc["RoutingRules"] = rules
    return doc


@handles("GetBucketWebsite")
async def get_website(ctx: Ctx) -> web.StreamResponse:
    doc = dict(await ctx.svc.bucket_config.get(ctx.who, ctx.bucket, "website"))
    if "RoutingRules" in doc:
        doc["RoutingRules"] = {"RoutingRule": doc["RoutingRules"]}
    return xml_response("WebsiteConfiguration", doc)


# -- Put: one handler, the operation picks the document's root, its parser and the config's name -----
_PUTS: dict[str, tuple[str, Callable[[Element], dict[str, Any]], str]] = {
    "PutBucketEncryption": ("ServerSideEncryptionConfiguration", parse_encryption, "encryption"),
    "PutBucketCors": ("CORSConfiguration", parse_cors, "cors"),
    "PutBucketWebsite": ("WebsiteConfiguration", parse_website, "website"),
}


@handles(*_PUTS)
async def put_config(ctx: Ctx) -> web.StreamResponse:
    root, parse, name = _PUTS[ctx.route.endpoint.name]
    await ctx.svc.bucket_config.put(ctx.who, ctx.bucket, name, parse(await _document(ctx, root)))
    return web.Response(status=200)
