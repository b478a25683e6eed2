"""The benchmark's one HTTP client: aiohttp plus our own SigV4 signing, identical for every target.

It owns request signing (Coffer's `coffer.protocol.sigv4.sign_headers`, or botocore's signer when the
package is not importable), the few S3 calls the workloads need (CreateBucket, PutObject, GetObject,
HeadObject, DeleteObject, ListObjectsV2, a multipart upload) and the parsing of ListObjectsV2 pages,
which comes from a server and is treated as untrusted input.

Throughput matters more than generality here: payloads are prepared once (bytes, MD5 and SHA-256 computed
up front) so the client never hashes on the hot path, and bodies are read and dropped chunk by chunk.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import quote

import aiohttp
from defusedxml import ElementTree
from yarl import URL

UNSIGNED = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
PAYLOAD_MODES = ("unsigned", "sha256")

SignFn = Callable[[str, str, dict[str, str], str], dict[str, str]]


class RequestFailed(RuntimeError):
    """A request answered with an unexpected status or body size; the message carries enough to debug."""


@dataclass(frozen=True)
class Payload:
    """A request body with its digests computed once, so sending it costs no client CPU for hashing."""

    data: bytes
    md5_b64: str
    sha256_hex: str

    @classmethod
    def of(cls, data: bytes) -> Payload:
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        return cls(data, md5, hashlib.sha256(data).hexdigest())


def make_payloads(size: int, count: int, seed: int = 0) -> list[Payload]:
    """`count` distinct incompressible bodies of `size` bytes (distinct so no server can dedupe them)."""
    out = []
    for i in range(count):
        # A repeated random 1 MiB block with a per-payload prefix is cheap to build and still
        # incompressible per block; the prefix makes every payload's digest different.
        block = hashlib.shake_256(f"coffer-bench-{seed}-{i}".encode()).digest(min(size, 1 << 20))
        reps = -(-size // len(block)) if block else 0
        out.append(Payload.of((block * reps)[:size]))
    return out


def make_signer(access_key: str, secret_key: str, region: str) -> tuple[SignFn, str]:
    """A function (method, url, headers, payload_hash) -> headers to add, and which signer it is."""
    try:
        from coffer.protocol.sigv4 import sign_headers
    except ImportError:
        return _botocore_signer(access_key, secret_key, region), "botocore"

    def sign(method: str, url: str, headers: dict[str, str], payload_hash: str) -> dict[str, str]:
        return sign_headers(method, url, headers, payload_hash, access_key, secret_key, region)

    return sign, "coffer.protocol.sigv4"


def _botocore_signer(access_key: str, secret_key: str, region: str) -> SignFn:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    class _GivenPayloadHash(S3SigV4Auth):
        # botocore hashes the body itself over plain http (and would replace UNSIGNED-PAYLOAD by the
        # empty body's hash here, since the body is not on the request): sign the hash we were given.
        def payload(self, request):
            return request.context["bench_payload_hash"]

    auth = _GivenPayloadHash(Credentials(access_key, secret_key), "s3", region)

    def sign(method: str, url: str, headers: dict[str, str], payload_hash: str) -> dict[str, str]:
        req = AWSRequest(method=method, url=url, headers=dict(headers))
        req.context["bench_payload_hash"] = payload_hash
        auth.add_auth(req)
        given = {h.lower() for h in headers}
        return {k: v for k, v in req.headers.items() if k.lower() not in given}

    return sign


@dataclass
class ListPage:
    keys: list[str] = field(default_factory=list)
    truncated: bool = False
    token: str | None = None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def parse_list_page(body: bytes) -> ListPage:
    """Parse a ListObjectsV2 answer.  Raises ValueError on anything that is not one (wrong root, bad XML,
    truncated without a continuation token) so a broken server shows up as an error, not as a fast list.

    The lean parse (`parse_list_page_lean`) is what the listing benchmarks use; this full one is kept
    for callers that want every element checked by an XML parser."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as e:
        raise ValueError(f"bad ListObjectsV2 XML: {e}") from None
    if _local(root.tag) != "ListBucketResult":
        raise ValueError(f"not a ListBucketResult: {_local(root.tag)}")
    page = ListPage()
    for child in root:
        name = _local(child.tag)
        if name == "Contents":
            key = next((c.text or "" for c in child if _local(c.tag) == "Key"), None)
            if key is None:
                raise ValueError("Contents without Key")
            page.keys.append(key)
        elif name == "IsTruncated":
            page.truncated = (child.text or "").strip().lower() == "true"
        elif name == "NextContinuationToken":
            page.token = child.text or None
    if page.truncated and not page.token:
        raise ValueError("IsTruncated without NextContinuationToken")
    return page


_ROOT = re.compile(rb"^(?:<\?xml[^>]*\?>\s*)?<ListBucketResult[\s>]")
_KEY = re.compile(rb"<Key>([^<]*)</Key>")
_TRUNCATED = re.compile(rb"<IsTruncated>\s*(true|false)\s*</IsTruncated>")
_TOKEN = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")
_KEY_COUNT = re.compile(rb"<KeyCount>(\d+)</KeyCount>")


def parse_list_page_lean(body: bytes) -> ListPage:
    """A ListObjectsV2 answer read with a few regular expressions: the keys (entities decoded), whether
    it is truncated and the continuation token.

    A full XML parse of a 1,000-key page costs the client ~7 ms, more than Coffer spends producing it
    (~5 ms), so with it a sequential listing measured the client's parser as much as the server. The
    checks that matter for a benchmark stay: the root element, one Key per Contents, KeyCount equal to
    keys plus common prefixes, a token whenever the page is truncated (the listing's order is checked by
    `list_all`). Well-formedness is the conformance tests' business."""
    if not _ROOT.match(body):
        raise ValueError(f"not a ListBucketResult: {body[:200]!r}")
    page = ListPage()
    page.keys = [unescape(k.decode()) for k in _KEY.findall(body)]
    if body.count(b"<Contents>") != len(page.keys):
        raise ValueError("Contents without Key")
    count = _KEY_COUNT.search(body)
    if count is not None and int(count.group(1)) != len(page.keys) + body.count(b"<CommonPrefixes>"):
        raise ValueError(f"KeyCount {int(count.group(1))} but {len(page.keys)} keys listed")
    truncated = _TRUNCATED.search(body)
    if truncated is None:
        raise ValueError("no IsTruncated")
    page.truncated = truncated.group(1) == b"true"
    token = _TOKEN.search(body)
    page.token = unescape(token.group(1).decode()) if token and token.group(1) else None
    if page.truncated and not page.token:
        raise ValueError("IsTruncated without NextContinuationToken")
    return page


class S3Client:
    """Path-style requests against one endpoint (`base` = http://host:port, `bucket` = first path part).

    With `sign` None the requests go out unsigned (nginx); otherwise every request carries SigV4 with the
    payload hash chosen by `payload_mode`: "unsigned" (UNSIGNED-PAYLOAD plus Content-MD5: the server still
    checks integrity, and neither side pays for SHA-256) or "sha256" (the body's SHA-256 as the signed hash).
    """

    def __init__(self, session: aiohttp.ClientSession, base: str, bucket: str, sign: SignFn | None,
                 payload_mode: str = "unsigned") -> None:
        if payload_mode not in PAYLOAD_MODES:
            raise ValueError(f"payload_mode must be one of {PAYLOAD_MODES}")
        self.session, self.base, self.bucket = session, base.rstrip("/"), bucket
        self.sign, self.payload_mode = sign, payload_mode

    def url(self, key: str = "", query: str = "") -> str:
        path = f"/{self.bucket}/{quote(key, safe='/-_.~')}" if key else f"/{self.bucket}"
        return f"{self.base}{path}" + (f"?{query}" if query else "")

    def _headers(self, method: str, url: str, extra: dict[str, str], payload_hash: str) -> dict[str, str]:
        if self.sign is None:
            return extra
        return {**extra, **self.sign(method, url, extra, payload_hash)}

    def _empty_hash(self) -> str:
        return UNSIGNED if self.payload_mode == "unsigned" else EMPTY_SHA256

    async def create_bucket(self) -> int:
        """PUT the bucket; returns the status (200, or 409 when it already exists)."""
        url = self.url()
        headers = self._headers("PUT", url, {}, self._empty_hash())
        async with self.session.put(URL(url, encoded=True), headers=headers, data=b"") as r:
            await r.read()
            return r.status

    async def put(self, key: str, payload: Payload) -> int:
        url = self.url(key)
        extra = {"Content-MD5": payload.md5_b64, "Content-Length": str(len(payload.data))}
        phash = UNSIGNED if self.payload_mode == "unsigned" else payload.sha256_hex
        headers = self._headers("PUT", url, extra, phash)
        async with self.session.put(URL(url, encoded=True), headers=headers, data=_body(payload.data)) as r:
            body = await r.read()
            if r.status not in (200, 201, 204):
                raise RequestFailed(f"PUT {key}: HTTP {r.status} {body[:300]!r}")
        return len(payload.data)

    async def get(self, key: str, expect: int | None = None) -> int:
        url = self.url(key)
        headers = self._headers("GET", url, {}, self._empty_hash())
        n = 0
        async with self.session.get(URL(url, encoded=True), headers=headers) as r:
            if r.status != 200:
                body = await r.read()
                raise RequestFailed(f"GET {key}: HTTP {r.status} {body[:300]!r}")
            # readany hands over whatever the connection buffered: no copy into one big bytes object.
            while chunk := await r.content.readany():
                n += len(chunk)
        if expect is not None and n != expect:
            raise RequestFailed(f"GET {key}: {n} bytes, expected {expect}")
        return n

    async def head(self, key: str) -> None:
        url = self.url(key)
        headers = self._headers("HEAD", url, {}, self._empty_hash())
        async with self.session.head(URL(url, encoded=True), headers=headers) as r:
            if r.status != 200:
                raise RequestFailed(f"HEAD {key}: HTTP {r.status}")

    async def delete(self, key: str) -> None:
        url = self.url(key)
        headers = self._headers("DELETE", url, {}, self._empty_hash())
        async with self.session.delete(URL(url, encoded=True), headers=headers) as r:
            body = await r.read()
            if r.status not in (200, 204):
                raise RequestFailed(f"DELETE {key}: HTTP {r.status} {body[:300]!r}")

    async def _call(self, method: str, key: str, query: str,
                    payload: Payload | None = None) -> tuple[int, Mapping[str, str], bytes]:
        """One request with a query string: (status, headers, body)."""
        url = self.url(key, query)
        data = payload.data if payload else b""
        extra = {"Content-Length": str(len(data))}
        if payload:
            extra["Content-MD5"] = payload.md5_b64
        phash = self._empty_hash() if payload is None or self.payload_mode == "unsigned" else payload.sha256_hex
        headers = self._headers(method, url, extra, phash)
        async with self.session.request(method, URL(url, encoded=True), headers=headers, data=_body(data)) as r:
            return r.status, r.headers.copy(), await r.read()  # case-insensitive header names

    async def multipart(self, key: str, parts: list[Payload]) -> int:
        """CreateMultipartUpload, UploadPart for each of `parts` in order, CompleteMultipartUpload; returns
        the bytes sent."""
        status, _, body = await self._call("POST", key, "uploads=")
        if status != 200:
            raise RequestFailed(f"CreateMultipartUpload {key}: HTTP {status} {body[:300]!r}")
        root = ElementTree.fromstring(body)
        upload_id = next((c.text for c in root if _local(c.tag) == "UploadId"), None)
        if not upload_id:
            raise RequestFailed(f"CreateMultipartUpload {key}: no UploadId in {body[:300]!r}")
        uid = quote(upload_id, safe="-_.~")
        etags = []
        for n, part in enumerate(parts, 1):
            status, headers, body = await self._call("PUT", key, f"partNumber={n}&uploadId={uid}", part)
            if status != 200 or not headers.get("ETag"):
                raise RequestFailed(f"UploadPart {n} of {key}: HTTP {status} {body[:300]!r}")
            etags.append(headers["ETag"])
        xml = "<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in enumerate(etags, 1)
        ) + "</CompleteMultipartUpload>"
        status, _, body = await self._call("POST", key, f"uploadId={uid}", Payload.of(xml.encode()))
        # an error may also come as a 200 whose body is an <Error> document
        if status != 200 or b"<Error>" in body:
            raise RequestFailed(f"CompleteMultipartUpload {key}: HTTP {status} {body[:300]!r}")
        return sum(len(p.data) for p in parts)

    async def list_page(self, prefix: str, token: str | None, max_keys: int,
                        delimiter: str | None = None) -> ListPage:
        params = [("list-type", "2"), ("max-keys", str(max_keys)), ("prefix", prefix)]
        if delimiter:
            params.append(("delimiter", delimiter))
        if token:
            params.append(("continuation-token", token))
        query = "&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in sorted(params))
        url = self.url(query=query)
        headers = self._headers("GET", url, {}, self._empty_hash())
        async with self.session.get(URL(url, encoded=True), headers=headers) as r:
            body = await r.read()
            if r.status != 200:
                raise RequestFailed(f"ListObjectsV2: HTTP {r.status} {body[:300]!r}")
        return parse_list_page_lean(body)

    async def list_all(self, prefix: str, page_size: int = 1000, max_pages: int = 100_000,
                       delimiter: str | None = None) -> tuple[int, int]:
        """List every key under `prefix`; returns (keys, pages).  Bounded by `max_pages` so a server
        that keeps answering IsTruncated cannot hold the run forever."""
        token: str | None = None
        keys = pages = 0
        last = ""
        while pages < max_pages:
            page = await self.list_page(prefix, token, page_size, delimiter)
            pages += 1
            if page.keys and page.keys[0] <= last:
                raise RequestFailed(f"ListObjectsV2 went backwards at {page.keys[0]!r} after {last!r}")
            keys += len(page.keys)
            last = page.keys[-1] if page.keys else last
            if not page.truncated:
                return keys, pages
            token = page.token
        raise RequestFailed(f"ListObjectsV2 still truncated after {max_pages} pages")


SEND_CHUNK = 1 << 20


def _body(data: bytes):
    """Large bodies go out as 1 MiB memoryview slices: handed to the transport as one 64 MiB bytes
    object, asyncio copies the unsent rest into its write buffer (measured: ~2.8 CPU-s per GiB sent,
    against ~0.4 in slices), and that copy would make the client the bottleneck."""
    if len(data) <= SEND_CHUNK:
        return data
    view = memoryview(data)

    async def chunks():
        for off in range(0, len(view), SEND_CHUNK):
            yield view[off:off + SEND_CHUNK]

    return chunks()


def new_session(streams: int, read_bufsize: int = 4 << 20) -> aiohttp.ClientSession:
    """One session per workload: a connection per stream kept alive, no decompression, no cookie jar,
    a large read buffer so big GETs are not paused by flow control every 64 KiB."""
    conn = aiohttp.TCPConnector(limit=streams, limit_per_host=streams, ttl_dns_cache=None,
                                enable_cleanup_closed=False)
    return aiohttp.ClientSession(connector=conn, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
                                 read_bufsize=read_bufsize, skip_auto_headers=("User-Agent",),
                                 timeout=aiohttp.ClientTimeout(total=300, sock_connect=10))
