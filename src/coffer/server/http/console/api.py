"""The console's JSON API: ``/_coffer/console/api/<name>``, one handler per name and method.

Every handler acts as the session's user: the same authorization decision as S3
(service.access.authorize with the S3 action the operation needs, bucket policies and ACLs
included), the same quota checks, then the service call. Object writes (uploads, multipart
completion, folders, deletes, version restores) go through the fronts' write hook
(`common.hooks.around_call`): frozen buckets refuse them and they raise the bucket notification
events S3 would (webhooks and listen streams), with the same intent-first crash safety. Errors answer
``{"error": {code, message, status, request_id}}`` with the S3 error's status. Methods other than
GET need the CSRF header (session.py); ``login`` needs a JSON body (a cross-site form cannot send
one without a CORS preflight, which this API never grants).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web

from coffer.protocol import sigv4
from coffer.protocol.errors import S3Error
from coffer.server.config import Config
from coffer.server.http.common import stats
from coffer.server.http.common.auth import BodyPlan, parse_query
from coffer.server.http.common.body import read_json_object
from coffer.server.http.common.hooks import Written, around_call
from coffer.server.http.common.respond import apply_range, send_range, send_stream
from coffer.server.http.console import session as sessions
from coffer.server.meta.model import CommonPrefix, ObjectRecord
from coffer.server.service import CompletedPart, Integrity, Principal, PutParams, ReadConditions, Service
from coffer.server.service.access.policy_conditions import utc_now_context
from coffer.server.service.access.tokens import TokenError
from coffer.server.service.core import BUCKET_HINT
from coffer.server.service.events.notifications import EVENTS as NOTIFY_EVENTS
from coffer.server.service.events.notifications import PROPS_KEY as NOTIFY_KEY
from coffer.server.service.events.notifications import render_config as render_notifications
from coffer.server.service.events.notifications import webhook_url
from coffer.server.service.objects.versioning import DeleteOutcome
from coffer.server.service.storage.admin import DataAdmin
from coffer.server.service.storage.locate import placement

T = TypeVar("T")
MAX_JSON = 1024 * 1024
MAX_LIST = 1000
SHARE_EXPIRIES = (60, 3600, 86400, 7 * 86400)


@dataclass(slots=True)
class Req:
    svc: Service
    cfg: Config
    request: web.BaseRequest
    query: dict[str, str]
    session: sessions.Session | None
    s3_port: int | None = None  # the S3 listener's port when the console has a listener of its own

    @property
    def who(self) -> Principal:
        assert self.session is not None
        return self.session.who

    def arg(self, name: str, default: str | None = None) -> str:
        v = self.query.get(name, default)
        if v is None or (v == "" and default is None):
            raise S3Error("InvalidArgument", f"Missing query parameter {name}.", ArgumentName=name)
        return v

    def int_arg(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            n = int(raw)
        except ValueError:
            n = lo - 1
        if not lo <= n <= hi:
            raise S3Error("InvalidArgument", f"{name} must be an integer in {lo}..{hi}", ArgumentName=name,
                          ArgumentValue=raw)
        return n

    @property
    def version_id(self) -> str | None:
        return self.query.get("version_id") or None

    async def json(self) -> dict[str, Any]:
        return await read_json_object(self.request, BodyPlan(), MAX_JSON)

    def context(self) -> dict[str, Any]:
        c: dict[str, Any] = utc_now_context()
        if self.request.remote:
            c["aws:sourceip"] = self.request.remote
        c["aws:securetransport"] = "true" if self.request.secure else "false"
        if "User-Agent" in self.request.headers:
            c["aws:useragent"] = self.request.headers["User-Agent"]
        for q in ("prefix", "delimiter"):
            if q in self.query:
                c["s3:" + q] = self.query[q]
        if self.version_id:
            c["s3:versionid"] = self.version_id
        return c

    async def authorize(self, action: str, bucket: str | None, key: str | None = None) -> Any:
        """The S3 decision for this action; acting on a version is its own action, as in S3."""
        if self.version_id and key is not None and "Object" in action and "Version" not in action \
                and action not in ("s3:PutObjectLegalHold", "s3:PutObjectRetention"):
            action = action.replace("Object", "ObjectVersion", 1)
        rec = await self.svc.access.authorize(self.who, action, bucket, key, self.context)
        BUCKET_HINT.set(rec)
        return rec

    async def write(self, bucket: str, key: str, event: str, call: Callable[[], Awaitable[T]],
                    written: Callable[[T], Written] = lambda _r: Written()) -> T:
        """Run one object write as S3 would: frozen-bucket refusal, then its notification events."""
        return await around_call(self.svc, bucket, key, event, self.who.user_id, self.request.get("rid", ""),
                                 self.request.remote or "", call, written)

    def require_admin(self) -> None:
        if not self.who.admin:
            raise S3Error("AccessDenied", "Only administrators may do this.")


Handler = Callable[[Req], Awaitable[Any]]
ROUTES: dict[tuple[str, str], Handler] = {}


def route(method: str, name: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        ROUTES[(method, name)] = fn
        return fn

    return deco


def as_json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(), content_type="application/json")


async def dispatch(svc: Service, cfg: Config, request: web.BaseRequest, name: str,
                   raw_query: str, s3_port: int | None = None) -> web.StreamResponse:
    method = "GET" if request.method == "HEAD" else request.method
    handler = ROUTES.get((method, name))
    if handler is None:
        if any(n == name for _m, n in ROUTES):
            raise S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.")
        raise S3Error("NoSuchResource", "No such console API.", status=404)
    query: dict[str, str] = {}
    for k, v in parse_query(raw_query):
        query.setdefault(k, v)
    session = None
    if name != "login":
        session = await sessions.current(svc, request)
        if method != "GET":
            sessions.check_csrf(session, request)
    result = await handler(Req(svc, cfg, request, query, session, s3_port))
    if isinstance(result, web.StreamResponse):
        return result
    return as_json(result) if result is not None else web.Response(status=204)


def _ts(t: float | None) -> str | None:
    return datetime.fromtimestamp(t).astimezone().isoformat(timespec="seconds") if t else None


# -- session --------------------------------------------------------------------------------------
def _me(s: sessions.Session) -> dict[str, Any]:
    return {"user": s.who.user_id, "display_name": s.who.display_name, "admin": s.who.admin,
            "access_key": s.access_key, "csrf": s.csrf, "expires": s.expires}


@route("POST", "login")
async def login(r: Req) -> Any:
    """``{"access_key", "secret_key"}`` or ``{"api_key"}`` (IBM style); failures are rate limited
    per remote address (session.LoginLimiter: 429 with Retry-After)."""
    if not r.request.headers.get("Content-Type", "").startswith("application/json"):
        raise S3Error("InvalidRequest", "Log in with a JSON body.")
    doc = await r.json()
    ak, sk, apikey = doc.get("access_key"), doc.get("secret_key"), doc.get("api_key")
    by_api_key = isinstance(apikey, str) and bool(apikey.strip())
    if not by_api_key and (not isinstance(ak, str) or not isinstance(sk, str) or not ak or not sk):
        raise S3Error("InvalidArgument", "Give an access key and a secret key, or an API key.")
    limiter = sessions.LoginLimiter(r.cfg.data_dir / "run" / "console-logins")
    address = r.request.remote or "unknown"
    limiter.check(address)
    try:
        s = await (sessions.login_api_key(r.svc, apikey.strip()) if by_api_key
                   else sessions.login(r.svc, ak.strip(), sk))
    except S3Error as e:
        if e.code == "AccessDenied":
            limiter.failed(address)
        raise
    limiter.succeeded(address)
    resp = as_json(_me(s))
    sessions.set_cookie(resp, s, r.request.secure)
    return resp


@route("GET", "session")
async def session_info(r: Req) -> Any:
    assert r.session is not None
    return _me(r.session)


@route("POST", "logout")
async def logout(r: Req) -> Any:
    assert r.session is not None
    await sessions.logout(r.svc, r.session)
    resp = web.Response(status=204)
    sessions.clear_cookie(resp)
    return resp


# -- buckets --------------------------------------------------------------------------------------
@route("GET", "buckets")
async def buckets(r: Req) -> Any:
    await r.authorize("s3:ListAllMyBuckets", None)
    mine = await r.svc.buckets.list(r.who)
    out = []
    for b in mine:
        objects, size = await r.svc.core.meta.count_objects(b.name)
        out.append({"name": b.name, "created": _ts(b.created), "objects": objects, "bytes": size,
                    "versioning": b.props.get("versioning"), "object_lock": bool(b.props.get("object_lock")),
                    "protection": bool(b.props.get("protection"))})
    return {"buckets": out}


@route("POST", "buckets")
async def create_bucket(r: Req) -> Any:
    doc = await r.json()
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise S3Error("InvalidBucketName", "The specified bucket is not valid.", BucketName=str(name))
    await r.authorize("s3:CreateBucket", name)
    await r.svc.admin.check_new_bucket(r.who)
    props: dict[str, Any] = {}
    if doc.get("object_lock"):
        props = {"versioning": "Enabled", "object_lock": {"enabled": True}}
    elif doc.get("versioning"):
        props = {"versioning": "Enabled"}
    await r.svc.buckets.create(r.who, name, None, props)
    return {"name": name}


@route("DELETE", "buckets")
async def delete_bucket(r: Req) -> Any:
    name = r.arg("bucket")
    await r.authorize("s3:DeleteBucket", name)
    await r.svc.buckets.delete(r.who, name)


# -- listing --------------------------------------------------------------------------------------
@route("GET", "objects")
async def objects(r: Req) -> Any:
    bucket, prefix = r.arg("bucket"), r.arg("prefix", "")
    delimiter = r.query.get("delimiter", "/")
    limit = r.int_arg("limit", 200, 1, MAX_LIST)
    await r.authorize("s3:ListBucket", bucket)
    page = await r.svc.objects.list(r.who, bucket, prefix, delimiter or None, r.query.get("after") or None, limit)
    entries, prefixes = [], []
    for e in page.entries:
        if isinstance(e, CommonPrefix):
            prefixes.append(e.prefix)
        else:
            entries.append({"key": e.key, "size": e.size, "etag": e.etag, "last_modified": _ts(e.last_modified),
                            "storage_class": e.storage_class})
    return {"bucket": bucket, "prefix": prefix, "objects": entries, "prefixes": prefixes,
            "truncated": page.truncated, "next": page.next_marker if page.truncated else None}


@route("GET", "versions")
async def versions(r: Req) -> Any:
    bucket, prefix = r.arg("bucket"), r.arg("prefix", "")
    limit = r.int_arg("limit", 200, 1, MAX_LIST)
    await r.authorize("s3:ListBucketVersions", bucket)
    page = await r.svc.versioning.list(r.who, bucket, prefix, r.query.get("delimiter") or None,
                                       r.query.get("key_marker") or None, r.query.get("version_id_marker") or None,
                                       limit)
    out = []
    for e in page.entries:
        if isinstance(e, CommonPrefix):
            continue
        rec = e.record
        out.append({"key": rec.key, "version_id": rec.version_id or "null", "latest": e.is_latest,
                    "delete_marker": rec.delete_marker, "size": rec.size, "etag": rec.etag,
                    "last_modified": _ts(rec.last_modified), "protection": _protection(rec)})
    return {"versions": out, "truncated": page.truncated, "next_key_marker": page.next_key_marker,
            "next_version_id_marker": page.next_version_id_marker}


# -- objects --------------------------------------------------------------------------------------
async def _receive_put(r: Req, bucket: str, key: str) -> ObjectRecord:
    b = await r.authorize("s3:PutObject", bucket, key)
    size = r.request.content_length
    if size is None:
        raise S3Error("MissingContentLength", "You must provide the Content-Length HTTP header.")
    if b is not None:
        await r.svc.admin.check_write(b, size)
    ctype = r.request.headers.get("Content-Type") or "application/octet-stream"
    params = PutParams(content_type=ctype)
    owner, props = await r.svc.access.new_object(r.who, b, {})
    params.owner, params.props = owner, props
    return await r.write(bucket, key, "s3:ObjectCreated:Put", lambda: r.svc.objects.put(
        r.who, bucket, key, r.request.content.iter_any(), params, Integrity(content_length=size)))


@route("PUT", "object")
async def put_object(r: Req) -> Any:
    rec = await _receive_put(r, r.arg("bucket"), r.arg("key"))
    return {"key": rec.key, "etag": rec.etag, "size": rec.size, "version_id": rec.version_id}


@route("POST", "folder")
async def create_folder(r: Req) -> Any:
    bucket, key = r.arg("bucket"), r.arg("key")
    if not key.endswith("/"):
        key += "/"
    b = await r.authorize("s3:PutObject", bucket, key)
    if b is not None:
        await r.svc.admin.check_write(b, 0)

    async def empty() -> Any:
        if False:
            yield b""

    await r.write(bucket, key, "s3:ObjectCreated:Put", lambda: r.svc.objects.put(
        r.who, bucket, key, empty(), PutParams(content_type="application/x-directory"), Integrity(content_length=0)))
    return {"key": key}


@route("POST", "upload")
async def create_upload(r: Req) -> Any:
    bucket, key = r.arg("bucket"), r.arg("key")
    b = await r.authorize("s3:PutObject", bucket, key)
    owner, props = await r.svc.access.new_object(r.who, b, {})
    doc = await r.json()
    ctype = doc.get("content_type") if isinstance(doc.get("content_type"), str) else None
    params = PutParams(content_type=ctype or "application/octet-stream", owner=owner, props=props)
    up = await r.svc.multipart.create(r.who, bucket, key, params, None, None)
    return {"upload_id": up.upload_id}


@route("PUT", "part")
async def upload_part(r: Req) -> Any:
    bucket, key, upload_id = r.arg("bucket"), r.arg("key"), r.arg("upload_id")
    number = r.int_arg("part", 0, 1, r.svc.limits.max_parts)
    b = await r.authorize("s3:PutObject", bucket, key)
    size = r.request.content_length
    if size is None:
        raise S3Error("MissingContentLength", "You must provide the Content-Length HTTP header.")
    if b is not None:
        await r.svc.admin.check_write(b, size, new_object=False)
    part = await r.svc.multipart.upload_part(r.who, bucket, key, upload_id, number, r.request.content.iter_any(),
                                             Integrity(content_length=size))
    return {"part": number, "etag": part.etag}


@route("POST", "complete")
async def complete_upload(r: Req) -> Any:
    bucket, key, upload_id = r.arg("bucket"), r.arg("key"), r.arg("upload_id")
    b = await r.authorize("s3:PutObject", bucket, key)
    if b is not None:
        await r.svc.admin.check_write(b, 0)
    doc = await r.json()
    parts = doc.get("parts")
    if not isinstance(parts, list) or not parts:
        raise S3Error("MalformedXML", "Give the parts: [{part, etag}, ...]")
    wanted = [CompletedPart(int(p["part"]), str(p["etag"]).strip('"'), {}) for p in parts]
    rec = await r.write(bucket, key, "s3:ObjectCreated:CompleteMultipartUpload",
                        lambda: r.svc.multipart.complete(r.who, bucket, key, upload_id, wanted, None))
    return {"key": rec.key, "etag": rec.etag, "size": rec.size, "version_id": rec.version_id}


@route("DELETE", "upload")
async def abort_upload(r: Req) -> Any:
    bucket, key, upload_id = r.arg("bucket"), r.arg("key"), r.arg("upload_id")
    await r.authorize("s3:AbortMultipartUpload", bucket, key)
    await r.svc.multipart.abort(r.who, bucket, key, upload_id)


@route("GET", "uploads")
async def list_uploads(r: Req) -> Any:
    """Unfinished uploads of the bucket (the page resumes one whose file is chosen again)."""
    bucket = r.arg("bucket")
    await r.authorize("s3:ListBucketMultipartUploads", bucket)
    page = await r.svc.multipart.list_uploads(r.who, bucket, r.query.get("prefix", ""), None, None, None, 1000)
    out = []
    for u in page.uploads:
        parts, _ = await r.svc.core.meta.list_parts(u.upload_id, 0, 10000)
        out.append({"key": u.key, "upload_id": u.upload_id, "initiated": _ts(u.initiated),
                    "parts": [{"part": p.number, "etag": p.etag, "size": p.size} for p in parts]})
    return {"uploads": out}


def _protection(rec: ObjectRecord) -> dict[str, Any]:
    p = rec.props
    out: dict[str, Any] = {"legal_hold": bool(p.get("legal_hold"))}
    ret = p.get("retention")
    if ret:
        out["retention"] = {"mode": ret["mode"], "until": _ts(float(ret["until"])),
                            "active": float(ret["until"]) > time.time()}
    ibm = p.get("ibm")
    if ibm:
        out["ibm"] = {"period": ibm.get("period"), "until": _ts(ibm.get("until")),
                      "holds": [{"id": h["id"], "date": _ts(h.get("date"))} for h in ibm.get("holds", [])]}
    return out


@route("GET", "object")
async def object_info(r: Req) -> Any:
    bucket, key = r.arg("bucket"), r.arg("key")
    await r.authorize("s3:GetObject", bucket, key)
    rec = await r.svc.objects.get(r.who, bucket, key, version_id=r.version_id)
    b = await r.svc.core.meta.get_bucket(bucket)
    return {"bucket": bucket, "key": rec.key, "size": rec.size, "etag": rec.etag,
            "last_modified": _ts(rec.last_modified), "content_type": rec.content_type,
            "version_id": rec.version_id, "owner": rec.owner, "checksums": rec.checksums,
            "checksum_type": rec.checksum_type, "metadata": rec.user_meta, "headers": rec.headers,
            "storage_class": rec.storage_class, "tags": rec.props.get("tags") or {},
            "storage_policy": rec.props.get("policy") or (b.props.get("storage_policy") if b else None),
            "parts": len(rec.parts) if rec.parts else 0, "encrypted": bool(rec.props.get("sse")),
            "protection": _protection(rec),
            "object_lock": bool(b and b.props.get("object_lock")),
            "ibm_protection": (b.props.get("protection") if b else None),
            "placement": await placement(r.svc.core, rec, r.who.admin)}


SAFE_INLINE = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
               "application/json")


@route("GET", "content")
async def content(r: Req) -> web.StreamResponse:
    bucket, key = r.arg("bucket"), r.arg("key")
    await r.authorize("s3:GetObject", bucket, key)
    rec = await r.svc.objects.get(r.who, bucket, key, version_id=r.version_id)
    ctype = rec.content_type or "application/octet-stream"
    name = key.rsplit("/", 1)[-1] or "object"
    download = r.query.get("download") == "1"
    inline = not download and ctype.split(";")[0].strip() in SAFE_INLINE
    headers = {"Content-Type": ctype if inline or download else "application/octet-stream",
               "Content-Disposition": f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(name)}",
               "ETag": f'"{rec.etag}"'}
    if not ctype.startswith("application/pdf"):
        # object bytes never run as the console: a sandboxed, script-less document
        headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    status, start, length = apply_range(r.request.headers.get("Range"), rec.size, headers)
    if rec.props.get("sse"):
        resp = web.StreamResponse(status=status, headers=headers)
        await send_stream(r.request, resp, r.svc.objects.plain_stream(rec, start, length, None))
        return resp
    return await send_range(r.request, r.svc, rec, status, headers, start, length)


@route("DELETE", "object")
async def delete_object(r: Req) -> Any:
    bucket, key = r.arg("bucket"), r.arg("key")
    await r.authorize("s3:DeleteObject", bucket, key)
    vid = r.version_id

    def written(d: DeleteOutcome) -> Written:
        return Written(delete_marker=d.delete_marker, version_id=d.version_id)

    out = await r.write(bucket, key, "s3:ObjectRemoved:Delete",
                        lambda: r.svc.objects.delete(r.who, bucket, key, vid), written)
    return {"delete_marker": out.delete_marker, "version_id": out.version_id}


@route("POST", "restore")
async def restore_version(r: Req) -> Any:
    """Make an older version current again: copy it over the key (a new version; history kept)."""
    bucket, key, vid = r.arg("bucket"), r.arg("key"), r.arg("version_id")
    await r.authorize("s3:GetObject", bucket, key)
    r.query.pop("version_id")
    await r.authorize("s3:PutObject", bucket, key)
    rec, _src = await r.write(bucket, key, "s3:ObjectCreated:Copy", lambda: r.svc.objects.copy(
        r.who, bucket, key, bucket, key, cond=ReadConditions(), replace=None, storage_class=None, src_version=vid))
    return {"version_id": rec.version_id, "etag": rec.etag}


@route("PUT", "tags")
async def put_tags(r: Req) -> Any:
    bucket, key = r.arg("bucket"), r.arg("key")
    tags = (await r.json()).get("tags")
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise S3Error("InvalidTag", "Tags are a JSON object of strings.")
    await r.authorize("s3:PutObjectTagging", bucket, key)
    await r.svc.tagging.put_object_tags(r.who, bucket, key, r.version_id, tags or None)
    return {"tags": tags}


@route("PUT", "legal-hold")
async def legal_hold(r: Req) -> Any:
    bucket, key = r.arg("bucket"), r.arg("key")
    on = bool((await r.json()).get("on"))
    await r.authorize("s3:PutObjectLegalHold", bucket, key)
    await r.svc.retention.put_legal_hold(r.who, bucket, key, r.version_id, on)
    return {"legal_hold": on}


@route("PUT", "retention")
async def retention(r: Req) -> Any:
    bucket, key = r.arg("bucket"), r.arg("key")
    doc = await r.json()
    mode = doc.get("mode") or None
    until: float | None = None
    if mode is not None:
        try:
            until = datetime.fromisoformat(str(doc.get("until"))).timestamp()
        except ValueError:
            raise S3Error("InvalidArgument", "The retain-until date is not a date (YYYY-MM-DDTHH:MM).") from None
    await r.authorize("s3:PutObjectRetention", bucket, key)
    await r.svc.retention.put_retention(r.who, bucket, key, r.version_id, mode, until,
                                        bool(doc.get("bypass_governance")))
    return {"mode": mode, "until": _ts(until)}


@route("POST", "ibm-hold")
async def ibm_hold(r: Req) -> Any:
    """IBM COS legal holds: ``{"add": ID}`` or ``{"remove": ID}`` (a protected bucket's object)."""
    bucket, key = r.arg("bucket"), r.arg("key")
    doc = await r.json()
    await r.authorize("s3:PutObjectLegalHold", bucket, key)
    if isinstance(doc.get("add"), str):
        await r.svc.ibm.add_hold(r.who, bucket, key, doc["add"])
    elif isinstance(doc.get("remove"), str):
        await r.svc.ibm.remove_hold(r.who, bucket, key, doc["remove"])
    else:
        raise S3Error("InvalidArgument", "Give the hold to add or to remove.", ArgumentName="RetentionLegalHoldId")
    rec = await r.svc.objects.get(r.who, bucket, key)
    return _protection(rec)


@route("POST", "share")
async def share(r: Req) -> Any:
    """A presigned GET URL made with the session's own access key (its secret never leaves the server)."""
    assert r.session is not None
    bucket, key = r.arg("bucket"), r.arg("key")
    expires = r.int_arg("expires", 3600, 1, sigv4.MAX_PRESIGN_EXPIRES)
    await r.authorize("s3:GetObject", bucket, key)
    await r.svc.objects.get(r.who, bucket, key, version_id=r.version_id)  # it exists and is readable
    secret, _who = await r.svc.users.credentials(r.session.access_key)
    host = r.request.host
    if r.s3_port is not None:  # asked on the console's own listener: the link goes to the S3 one
        host = f"{host.rsplit(':', 1)[0] if not host.startswith('[') else host.rsplit(']', 1)[0] + ']'}:{r.s3_port}"
    base = f"{'https' if r.request.secure else 'http'}://{host}/{quote(bucket)}/{quote(key, safe='/~')}"
    extra = {"versionId": r.version_id} if r.version_id else None
    url = sigv4.presign_url("GET", base, r.session.access_key, secret, r.cfg.region, expires, extra_query=extra)
    return {"url": url, "expires_in": expires, "expires": _ts(time.time() + expires)}


# -- bucket settings -------------------------------------------------------------------------------
async def _optional(fn: Awaitable[Any]) -> Any:
    try:
        return await fn
    except S3Error as e:
        if e.status in (403, 404) or e.code.startswith("No"):
            return None
        raise


@route("GET", "settings")
async def settings(r: Req) -> Any:
    bucket = r.arg("bucket")
    b = await r.authorize("s3:GetBucketVersioning", bucket)
    if b is None:
        raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=bucket)
    objects, size = await r.svc.core.meta.count_objects(bucket)
    out: dict[str, Any] = {"bucket": bucket, "owner": b.owner, "created": _ts(b.created), "objects": objects,
                           "bytes": size, "versioning": b.props.get("versioning"),
                           "object_lock": b.props.get("object_lock"), "protection": b.props.get("protection")}
    out["lifecycle"] = await _optional(r.svc.lifecycle.get(r.who, bucket))
    if await _optional(r.authorize("s3:GetBucketPolicy", bucket)) is not None:
        out["policy"] = await _optional(r.svc.access_config.get_policy(bucket))
    for name in ("cors", "website", "encryption"):
        out[name] = b.props.get(name)
    out["quota"] = await _optional(r.svc.admin.get_quota(b.owner)) if r.who.admin or r.who.user_id == b.owner \
        else None
    return out


@route("PUT", "versioning")
async def put_versioning(r: Req) -> Any:
    bucket = r.arg("bucket")
    status = (await r.json()).get("status")
    await r.authorize("s3:PutBucketVersioning", bucket)
    await r.svc.versioning.put(r.who, bucket, status)
    return {"versioning": status}


@route("PUT", "lifecycle")
async def put_lifecycle(r: Req) -> Any:
    bucket = r.arg("bucket")
    rules = (await r.json()).get("rules")
    await r.authorize("s3:PutLifecycleConfiguration", bucket)
    if not rules:
        await r.svc.lifecycle.delete(r.who, bucket)
        return {"rules": None}
    if not isinstance(rules, list) or not all(isinstance(x, dict) for x in rules):
        raise S3Error("MalformedXML", "Lifecycle rules are a JSON list of rule objects.")
    await r.svc.lifecycle.put(r.who, bucket, rules)
    return {"rules": rules}


@route("PUT", "protection")
async def put_protection(r: Req) -> Any:
    """IBM COS protection configuration: retention periods in days (minimum <= default <= maximum),
    permanent retention allowed or not; once set it only moves towards more protection."""
    bucket = r.arg("bucket")
    doc = await r.json()
    days = []
    for name in ("minimum", "default", "maximum"):
        v = doc.get(name)
        if isinstance(v, bool) or not isinstance(v, int):
            raise S3Error("InvalidArgument", f"The {name} retention is a whole number of days.",
                          ArgumentName=name, ArgumentValue=str(v))
        days.append(v)
    await r.authorize("s3:PutBucketProtection", bucket)
    await r.svc.ibm.put_protection(r.who, bucket, "Retention", days[0], days[1], days[2], bool(doc.get("permanent")))
    return {"protection": await r.svc.ibm.get_protection(r.who, bucket)}


@route("PUT", "policy")
async def put_policy(r: Req) -> Any:
    bucket = r.arg("bucket")
    text = (await r.json()).get("policy")
    if not isinstance(text, str):
        raise S3Error("MalformedPolicy", "The policy is a JSON document given as text.")
    if not text.strip():
        await r.authorize("s3:DeleteBucketPolicy", bucket)
        await r.svc.access_config.delete_policy(bucket)
        return {"policy": None}
    await r.authorize("s3:PutBucketPolicy", bucket)
    await r.svc.access_config.put_policy(bucket, text.encode())
    return {"policy": text}


CONFIG_ACTIONS = {"cors": "s3:PutBucketCORS", "website": "s3:PutBucketWebsite",
                  "encryption": "s3:PutEncryptionConfiguration"}


@route("PUT", "bucket-config")
async def put_bucket_config(r: Req) -> Any:
    """Set (``{"doc": {...}}``) or remove (no ``doc``) a CORS, website or default-encryption
    configuration, in the form GET settings shows it; the S3 API's checks and errors."""
    bucket, name = r.arg("bucket"), r.arg("name")
    if name not in CONFIG_ACTIONS:
        raise S3Error("InvalidArgument", "name is cors, website or encryption.", ArgumentName="name")
    doc = (await r.json()).get("doc") if r.request.can_read_body else None
    await r.authorize(CONFIG_ACTIONS[name], bucket)
    if doc is None:
        await r.svc.bucket_config.put(r.who, bucket, name, None)
        return {name: None}
    b = await r.svc.bucket_config.put_document(r.who, bucket, name, doc)
    return {name: b.props.get(name)}


def _notification_view(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for c in configs:
        flt = dict(c.get("filter") or [])
        out.append({"id": c["id"], "url": webhook_url(c["kind"], c["target"]), "target": c["target"],
                    "events": c["events"], "prefix": flt.get("prefix", ""), "suffix": flt.get("suffix", "")})
    return out


@route("GET", "notifications")
async def get_notifications(r: Req) -> Any:
    bucket = r.arg("bucket")
    b = await r.authorize("s3:GetBucketNotification", bucket)
    if b is None:
        raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=bucket)
    return {"configs": _notification_view(b.props.get(NOTIFY_KEY) or []), "events": sorted(NOTIFY_EVENTS)}


@route("PUT", "notifications")
async def put_notifications(r: Req) -> Any:
    """Webhook notifications from a form: ``{"configs": [{id, url, events, prefix, suffix}]}``; the same
    document (and checks: events, destination networks, signing secrets kept) as the S3 API's."""
    bucket = r.arg("bucket")
    configs = (await r.json()).get("configs") or []
    if not isinstance(configs, list) or not all(isinstance(c, dict) for c in configs):
        raise S3Error("MalformedXML", "Notifications are a JSON list of {id, url, events, prefix, suffix}.")
    b = await r.authorize("s3:PutBucketNotification", bucket)
    if b is None:
        raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=bucket)
    stored = []
    for i, c in enumerate(configs):
        events = c.get("events")
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise S3Error("InvalidArgument", "events is a list of event names.", ArgumentName="Event")
        flt = [[n, str(c[n])] for n in ("prefix", "suffix") if c.get(n)]
        stored.append({"id": str(c.get("id") or f"coffer-{i + 1}"), "kind": "Url", "target": str(c.get("url") or ""),
                       "events": events, "filter": flt})
    await r.svc.notifier.set_config(b, render_notifications(stored))
    b = await r.svc.core.meta.get_bucket(bucket)
    return {"configs": _notification_view((b.props.get(NOTIFY_KEY) if b else None) or [])}


# -- administration ----------------------------------------------------------------------------------
@route("GET", "users")
async def users(r: Req) -> Any:
    r.require_admin()
    out = await r.svc.admin.list_users()
    for u in out:
        u["keys"] = u.pop("access_keys", [])
    return {"users": out}


@route("POST", "users")
async def add_user(r: Req) -> Any:
    r.require_admin()
    doc = await r.json()
    uid = doc.pop("id", None)
    if not isinstance(uid, str) or not uid:
        raise S3Error("InvalidArgument", "A user needs an id.")
    view = await r.svc.admin.add_user(uid, {k: doc[k] for k in ("display_name", "email", "admin") if k in doc})
    first = view.pop("access_keys", [{}])[0]  # the new user's key, with its secret (shown once)
    return {**view, "access_key": first.get("access_key"), "secret_key": first.get("secret_key")}


@route("POST", "keys")
async def create_key(r: Req) -> Any:
    r.require_admin()
    doc = await r.json()
    user, kind = doc.get("user"), doc.get("type") or "s3"
    if not isinstance(user, str) or not user:
        raise S3Error("InvalidArgument", "A key needs a user.")
    if kind not in ("s3", "apikey"):
        raise S3Error("InvalidArgument", "A key's type is s3 or apikey.", ArgumentName="type", ArgumentValue=str(kind))
    return await r.svc.admin.create_key(user, kind)


@route("POST", "rotate")
async def rotate_key(r: Req) -> Any:
    r.require_admin()
    ak = r.arg("key")
    out = await r.svc.admin.rotate_key(ak)
    r.svc.users.forget(ak)
    return out


@route("PUT", "key-status")
async def key_status(r: Req) -> Any:
    r.require_admin()
    ak = r.arg("key")
    out = await r.svc.admin.set_key_status(ak, str((await r.json()).get("status")), r.who)
    r.svc.users.forget(ak)
    return out


@route("GET", "quota")
async def get_quota(r: Req) -> Any:
    user = r.arg("user")
    if user != r.who.user_id:
        r.require_admin()
    return await r.svc.admin.get_quota(user)


@route("PUT", "quota")
async def put_quota(r: Req) -> Any:
    r.require_admin()
    return await r.svc.admin.set_quota(r.arg("user"), await r.json() or None)


# -- KMS keys, bearer tokens, bulk jobs (admins) ------------------------------------------------------
@route("GET", "kms")
async def kms_keys(r: Req) -> Any:
    r.require_admin()
    return {"keys": await r.svc.kms.list()}


@route("POST", "kms")
async def create_kms_key(r: Req) -> Any:
    r.require_admin()
    doc = await r.json()
    description, alias = doc.get("description") or "", doc.get("alias") or ""
    if not isinstance(description, str) or not isinstance(alias, str):
        raise S3Error("InvalidArgument", "description and alias are strings.")
    return await r.svc.kms.create(description.strip(), alias.strip())


@route("PUT", "kms-state")
async def kms_state(r: Req) -> Any:
    r.require_admin()
    return await r.svc.kms.set_state(r.arg("key"), str((await r.json()).get("state")))


def _token_view(t: Any) -> dict[str, Any]:
    return {"id": t.token_id, "user": t.user_id, "created": _ts(t.created), "expires": _ts(t.expires),
            "revoked": t.revoked, "expired": bool(t.expires and t.expires < time.time())}


@route("GET", "tokens")
async def tokens(r: Req) -> Any:
    r.require_admin()
    out = [_token_view(t) for t in await r.svc.tokens.list(r.query.get("user") or None)]
    return {"tokens": out[::-1]}  # newest first


TOKEN_LIFETIMES = (3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400)


@route("POST", "tokens")
async def issue_token(r: Req) -> Any:
    """A bearer token for a user (``Authorization: Bearer``); the token itself is shown once."""
    r.require_admin()
    doc = await r.json()
    user, expires_in = doc.get("user"), doc.get("expires_in")
    if not isinstance(user, str) or not user:
        raise S3Error("InvalidArgument", "A token needs a user.", ArgumentName="user")
    if expires_in is not None and expires_in not in TOKEN_LIFETIMES:
        raise S3Error("InvalidArgument", "expires_in is one of " + ", ".join(map(str, TOKEN_LIFETIMES)) +
                      " seconds, or null (no expiry).", ArgumentName="expires_in", ArgumentValue=str(expires_in))
    try:
        token, info = await r.svc.tokens.issue(user, expires_in=expires_in)
    except TokenError as e:
        raise S3Error("NoSuchEntity", str(e), status=404) from None
    return {**_token_view(info), "token": token}


@route("DELETE", "tokens")
async def revoke_token(r: Req) -> Any:
    r.require_admin()
    try:
        return _token_view(await r.svc.tokens.revoke(r.arg("id")))
    except TokenError as e:
        raise S3Error("NoSuchEntity", str(e), status=404) from None


def _job_view(j: Any) -> dict[str, Any]:
    return {"id": j.id, "name": j.name, "bucket": j.bucket, "owner": j.owner, "type": j.type, "status": j.status,
            "priority": j.priority, "created": _ts(j.created), "finished": _ts(j.finished),
            "total_bytes": j.total_bytes, "done_bytes": j.done_bytes}


@route("GET", "jobs")
async def jobs(r: Req) -> Any:
    """DS3 bulk jobs: an administrator's view is every job, a user's their own (as the DS3 API)."""
    offset = r.int_arg("offset", 0, 0, 10 ** 9)
    page, total = await r.svc.jobs.list(r.who, r.query.get("status") or None, offset, r.int_arg("limit", 50, 1, 500))
    return {"jobs": [_job_view(j) for j in page], "total": total, "offset": offset}


@route("GET", "job")
async def job(r: Req) -> Any:
    j, chunks = await r.svc.jobs.detail(r.who, r.arg("id"))
    out = []
    for c in chunks:
        done = sum(b.length for b in c.blobs if b.done)
        out.append({"number": c.number, "id": c.id, "allocated": c.allocated, "blobs": len(c.blobs),
                    "blobs_done": sum(1 for b in c.blobs if b.done), "bytes": sum(b.length for b in c.blobs),
                    "done_bytes": done, "objects": sorted({b.name for b in c.blobs})[:20]})
    return {**_job_view(j), "chunks": out}


@route("DELETE", "job")
async def cancel_job(r: Req) -> Any:
    await r.svc.jobs.cancel(r.who, r.arg("id"))
    j, _ = await r.svc.jobs.detail(r.who, r.arg("id"))
    return _job_view(j)


@route("GET", "health")
async def health(r: Req) -> Any:
    r.require_admin()
    try:
        data = await DataAdmin(r.svc.core).volumes()
    except S3Error:
        data = {"volumes": [], "repair_queue": 0, "single_folder": True}
    return {**data, "workers": r.cfg.workers if hasattr(r.cfg, "workers") else None}


@route("GET", "metrics")
async def metrics(r: Req) -> Any:
    r.require_admin()
    return stats.snapshot()
