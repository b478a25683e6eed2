"""Shared helpers for the S3 integration suite.

Owns what several test modules need: asserting an exact S3 error (code + HTTP status), telling
whether the endpoint is the moto reference server (so tests of behaviour moto gets wrong can skip
there only), building extra boto3 clients (other credentials, SigV2, unsigned), raw SigV4-signed
HTTP requests with a chosen Host header, filling buckets quickly, and the checksum / ETag
arithmetic the tests compute independently of the server.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.client
import os
import random
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import pytest
from botocore.exceptions import ClientError

KiB = 1024
MiB = 1024 * KiB


class EndpointLike(Protocol):
    """The parts of conftest's Endpoint the helpers use (kept structural: no import of conftest)."""

    url: str
    access_key: str
    secret_key: str
    server: Any


# ---------------------------------------------------------------------------------------------
# Reference-server detection
# ---------------------------------------------------------------------------------------------


@functools.cache
def _url_is_moto(url: str) -> bool:
    # moto_server serves its HTML dashboard at /moto-api/ next to S3; an S3 server treats the same
    # path as a bucket named "moto-api" and answers with XML (403 or 404).
    try:
        with urllib.request.urlopen(url + "/moto-api/", timeout=5) as r:
            return r.status == 200 and r.headers.get_content_type() == "text/html"
    except OSError:
        return False


def is_external(ep: EndpointLike) -> bool:
    return ep.server is None


def is_moto(ep: EndpointLike) -> bool:
    return bool(os.environ.get("COFFER_TEST_ENDPOINT")) and _url_is_moto(ep.url)


def skip_on_moto(ep: EndpointLike, reason: str) -> None:
    """Skip when validating against moto, whose behaviour differs from the S3 API reference here.

    COFFER_TEST_MOTO_STRICT=1 turns these skips off, to re-check the reasons against a newer moto.
    """
    if is_moto(ep) and not os.environ.get("COFFER_TEST_MOTO_STRICT"):
        pytest.skip(f"moto differs from S3: {reason}")


def skip_if_external(ep: EndpointLike, why: str = "needs a Coffer process of its own") -> None:
    if is_external(ep):
        pytest.skip(why)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@contextmanager
def s3_error(code: str, status: int) -> Iterator[pytest.ExceptionInfo[ClientError]]:
    """Expect the block to fail with exactly this S3 error code and HTTP status.

    HEAD responses carry no body, so botocore reports their code as the status number ("404").
    """
    with pytest.raises(ClientError) as ei:
        yield ei
    resp = ei.value.response
    got = (resp.get("Error", {}).get("Code"), resp.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    assert got == (code, status), f"expected {code} {status}, got {got}: {resp.get('Error')}"


def error_headers(ei: pytest.ExceptionInfo[ClientError]) -> dict[str, str]:
    return ei.value.response["ResponseMetadata"]["HTTPHeaders"]


# ---------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------


def client(
    url: str,
    access_key: str | None,
    secret_key: str | None,
    *,
    checksums: bool = True,
    signature_version: Any = "s3v4",
    addressing_style: str = "path",
    **config_kw: Any,
):
    """A boto3 S3 client like conftest's make_s3, with the knobs these tests turn."""
    import boto3
    from botocore.config import Config

    cfg = Config(
        signature_version=signature_version,
        s3={"addressing_style": addressing_style},
        retries={"max_attempts": 1, "mode": "standard"},
        request_checksum_calculation="when_supported" if checksums else "when_required",
        response_checksum_validation="when_supported" if checksums else "when_required",
        **config_kw,
    )
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        config=cfg,
    )


def unsigned_client(url: str):
    from botocore import UNSIGNED

    return client(url, None, None, signature_version=UNSIGNED)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


def raw_request(
    ep: EndpointLike,
    method: str,
    path: str,
    *,
    host: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    sign: bool = True,
    payload_hash: str | None = None,
    http_chunked: bool = False,
) -> RawResponse:
    """Send one HTTP request to the endpoint's socket with a chosen Host header, SigV4-signed.

    `path` is the already-encoded request target ("/bucket/key?x=y"). `payload_hash` replaces the
    body's SHA-256 in the signature (e.g. STREAMING-UNSIGNED-PAYLOAD-TRAILER); `http_chunked`
    sends the body with Transfer-Encoding: chunked, as boto3 does with aws-chunked bodies. Used
    where boto3 cannot be made to send what the test needs (virtual-host Host headers without DNS,
    checksum trailers over plain HTTP).
    """
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    class _Signer(S3SigV4Auth):
        def payload(self, request):
            return payload_hash or hashlib.sha256(body).hexdigest()

    parsed = urllib.parse.urlsplit(ep.url)
    host = host or parsed.netloc
    hdrs = dict(headers or {})
    if http_chunked:
        hdrs["Transfer-Encoding"] = "chunked"
    if sign:
        req = AWSRequest(method=method, url=f"http://{host}{path}", data=body, headers=hdrs)
        _Signer(Credentials(ep.access_key, ep.secret_key), "s3", "us-east-1").add_auth(req)
        hdrs = dict(req.headers.items())
    hdrs["Host"] = host
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=hdrs, encode_chunked=http_chunked)
        resp = conn.getresponse()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def error_code(body: bytes) -> str | None:
    """The <Code> of an S3 XML error document."""
    import xml.etree.ElementTree as ET

    try:
        return ET.fromstring(body).findtext("Code")
    except ET.ParseError:
        return None


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def unique(prefix: str = "k") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def data(size: int, seed: int = 0) -> bytes:
    """Deterministic incompressible bytes (randbytes is fast enough for tens of MiB)."""
    return random.Random(seed).randbytes(size)


def put_many(s3, bucket: str, keys: Iterable[str], body: bytes = b"", threads: int = 8) -> None:
    """Create many objects concurrently: listing tests need thousands of keys, quickly."""
    keys = list(keys)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=body), keys))


def empty_bucket(s3, bucket: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


# ---------------------------------------------------------------------------------------------
# ETags and checksums, computed independently of the server
# ---------------------------------------------------------------------------------------------


def md5_hex(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def quoted_md5(b: bytes) -> str:
    return f'"{md5_hex(b)}"'


def multipart_etag(parts: list[bytes]) -> str:
    """S3's multipart ETag: md5 of the concatenated binary part md5s, then "-<part count>"."""
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


def _raw_checksum(alg: str, b: bytes) -> bytes:
    from awscrt import checksums

    if alg == "CRC32":
        return checksums.crc32(b).to_bytes(4, "big")
    if alg == "CRC32C":
        return checksums.crc32c(b).to_bytes(4, "big")
    if alg == "CRC64NVME":
        return checksums.crc64nvme(b).to_bytes(8, "big")
    if alg == "SHA1":
        return hashlib.sha1(b).digest()
    if alg == "SHA256":
        return hashlib.sha256(b).digest()
    raise ValueError(alg)


def checksum_b64(alg: str, b: bytes) -> str:
    """The x-amz-checksum-<alg> value of `b`: base64 of the big-endian digest."""
    return base64.b64encode(_raw_checksum(alg, b)).decode()


def composite_checksum(alg: str, parts: list[bytes]) -> str:
    """A COMPOSITE multipart checksum: checksum of the concatenated raw part checksums, "-N"."""
    joined = b"".join(_raw_checksum(alg, p) for p in parts)
    return f"{checksum_b64(alg, joined)}-{len(parts)}"


def content_md5(b: bytes) -> str:
    return base64.b64encode(hashlib.md5(b).digest()).decode()


def wait_for(pred, timeout: float, what: str) -> None:
    """Poll `pred` until true; the timeout only bounds a hang (no assertion is about time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def coffer_cli(data, *args: str) -> str:
    """Run `coffer ARGS --data DATA` (server-side commands: users, tokens) and return its stdout."""
    out = subprocess.run([sys.executable, "-m", "coffer", *args, "--data", str(data)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()
