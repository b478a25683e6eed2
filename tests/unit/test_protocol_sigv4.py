"""SigV4 against botocore: what boto3 actually sends must verify through our server path, and our
client signer must produce byte-identical Authorization headers and presigned URLs."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from minio.credentials import Credentials as MinioCredentials
from minio.helpers import quote
from minio.signer import sign_v4_s3

from coffer.protocol import sigv4
from coffer.protocol.sigv4 import (
    EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
    SigV4ParseError,
    canonical_query_from_raw,
    canonical_request,
    canonical_uri_from_raw,
    parse_authorization,
    parse_presigned,
    parse_query,
    presign_url,
    server_string_to_sign,
    sign_headers,
    signature,
    signing_key,
    uri_encode,
)

AK, SK, REGION = "COFFERTESTAK", "coffer/test+secret", "us-east-1"
ENDPOINT = "http://127.0.0.1:9"  # never contacted: a before-send hook answers every request
KEYS = [
    "plain.txt",
    "with space.txt",
    "plus+sign",
    "percent%20literal%",
    "tilde~and_under-dash.dot",
    "double//slash",
    "/leading-slash",
    "dir/../dot-segments/./x",
    "unicode-é-日本語-😀",
    "quote'\"<>&?#=;:@!$*()[],",
    "tab\tand\nnewline",
    "k" * 1024,
    "é" * 512,  # 1024 bytes of UTF-8
]


class _EmptyRaw:
    def stream(self, *args: object, **kwargs: object):
        return iter([b""])

    def read(self, *args: object, **kwargs: object) -> bytes:
        return b""


def make_client(**config: object):
    client = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config),
    )
    sent: list = []

    def capture(request, **kwargs):
        sent.append(request)
        return AWSResponse(request.url, 200, {}, _EmptyRaw())

    client.meta.events.register("before-send.s3", capture)
    client.sent = sent  # type: ignore[attr-defined]
    return client


@pytest.fixture(scope="module")
def client():
    return make_client()


def send(client, operation: str, **params: object):
    client.sent.clear()
    try:
        getattr(client, operation)(**params)
    except Exception:  # the canned empty 200 may not parse; the request was captured regardless
        pass
    req = client.sent[-1]
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in req.headers.items()}
    return req.method, req.url, headers


def verify_as_server(method: str, url: str, headers: dict[str, str]) -> None:
    """What the server does with a request off the wire: parse, recompute, compare."""
    auth = parse_authorization(headers["Authorization"])
    parts = urlsplit(url)
    lowered = {k.lower(): v for k, v in headers.items()}
    sts = server_string_to_sign(
        method,
        parts.path,
        parts.query,
        lowered,
        auth.signed_headers,
        lowered["x-amz-content-sha256"],
        lowered["x-amz-date"],
        auth.scope,
    )
    assert auth.access_key == AK and auth.region == REGION and auth.service == "s3"
    assert signature(signing_key(SK, auth.date, auth.region), sts) == auth.signature


def resign_as_client(method: str, url: str, headers: dict[str, str]) -> None:
    """Our SDK signer given the same headers and time must produce botocore's Authorization."""
    auth = parse_authorization(headers["Authorization"])
    lowered = {k.lower(): v for k, v in headers.items()}
    given_headers = {
        k: v for k, v in lowered.items() if k in auth.signed_headers and k not in ("x-amz-date",)
    }
    payload_hash, when = lowered["x-amz-content-sha256"], lowered["x-amz-date"]
    added = sign_headers(method, url, given_headers, payload_hash, AK, SK, REGION, amz_date=when)
    assert added["Authorization"] == headers["Authorization"]


@pytest.mark.parametrize("key", KEYS)
def test_boto3_object_requests_verify_and_resign(client, key: str) -> None:
    for op, params in (
        ("put_object", {"Body": b"hello", "ContentType": "text/plain", "Metadata": {"a": "  x  y  "}}),
        ("get_object", {"Range": "bytes=0-9", "VersionId": "v 1+2"}),
        ("head_object", {}),
        ("upload_part", {"UploadId": "u/p=id", "PartNumber": 3, "Body": b"p"}),
        ("delete_object", {}),
    ):
        method, url, headers = send(client, op, Bucket="bucket", Key=key, **params)
        verify_as_server(method, url, headers)
        resign_as_client(method, url, headers)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=120),
    prefix=st.text(st.characters(blacklist_categories=["Cs"]), max_size=40),
    token=st.text(st.characters(blacklist_categories=["Cs"]), max_size=20),
)
def test_random_keys_and_query_values(client, key: str, prefix: str, token: str) -> None:
    method, url, headers = send(client, "get_object", Bucket="bkt", Key=key)
    verify_as_server(method, url, headers)
    resign_as_client(method, url, headers)
    params = {"Bucket": "bkt", "Prefix": prefix, "Delimiter": "/", "StartAfter": token}
    method, url, headers = send(client, "list_objects_v2", **params)
    verify_as_server(method, url, headers)
    resign_as_client(method, url, headers)


@settings(max_examples=40, deadline=None)
@given(
    path=st.lists(st.text(st.characters(blacklist_categories=["Cs"]), max_size=12), min_size=1, max_size=4),
    query=st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)).map(tuple), max_size=4),
)
def test_canonical_request_matches_botocore_signer(path: list[str], query: list[tuple[str, str]]) -> None:
    """Direct comparison of the canonical request text with botocore's S3SigV4Auth."""
    query = [(k, v) for k, v in query if k]
    raw_path = "/" + "/".join(uri_encode(seg) for seg in path)
    raw_query = "&".join(f"{uri_encode(k)}={uri_encode(v)}" for k, v in query)
    url = f"http://s3.example.com{raw_path}" + (f"?{raw_query}" if raw_query else "")
    req = AWSRequest(method="PUT", url=url, headers={"X-Amz-Meta-Note": " a   b ", "Content-Type": "x/y"})
    req.context["payload_signing_enabled"] = True
    auth = S3SigV4Auth(Credentials(AK, SK), "s3", REGION)
    auth.add_auth(req)
    signed = parse_authorization(req.headers["Authorization"]).signed_headers
    del req.headers["Authorization"]  # botocore's canonical form of the request as it signed it
    theirs = auth.canonical_request(req)
    lowered = {k.lower(): v for k, v in req.headers.items()}
    lowered["host"] = "s3.example.com"  # botocore derives Host from the URL; servers receive it
    ours = canonical_request(
        "PUT",
        canonical_uri_from_raw(raw_path),
        canonical_query_from_raw(raw_query),
        lowered,
        list(signed),
        lowered["x-amz-content-sha256"],
    )
    assert ours == theirs


def test_aws_documentation_get_object_example() -> None:
    # "Example: GET Object" from the S3 SigV4 header-auth documentation.
    key = signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1")
    headers = {
        "Host": "examplebucket.s3.amazonaws.com",
        "Range": "bytes=0-9",
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
    }
    sts = server_string_to_sign(
        "GET",
        "/test.txt",
        "",
        headers,
        ["host", "range", "x-amz-content-sha256", "x-amz-date"],
        EMPTY_SHA256,
        "20130524T000000Z",
        "20130524/us-east-1/s3/aws4_request",
    )
    assert signature(key, sts) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"


def test_aws_documentation_presigned_example() -> None:
    url = presign_url(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "us-east-1",
        86400,
        amz_date="20130524T000000Z",
    )
    assert url.endswith("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")


@pytest.mark.parametrize("key", KEYS[:8])
def test_boto3_presigned_urls_verify_and_match_ours(key: str) -> None:
    c = make_client(signature_version="s3v4")
    url = c.generate_presigned_url(
        "get_object",
        Params={"Bucket": "bucket", "Key": key, "ResponseContentType": "text/plain; x=1"},
        ExpiresIn=900,
    )
    parts = urlsplit(url)
    params = dict(parse_query(parts.query))
    pq = parse_presigned(params)
    assert pq.expires == 900 and pq.signed_headers == ("host",)
    sts = server_string_to_sign(
        "GET",
        parts.path,
        parts.query,
        {"host": parts.netloc},
        pq.signed_headers,
        UNSIGNED_PAYLOAD,
        pq.amz_date,
        pq.scope,
        presigned=True,
    )
    assert signature(signing_key(SK, pq.date, pq.region), sts) == pq.signature
    ours = presign_url(
        "GET",
        f"{parts.scheme}://{parts.netloc}{parts.path}",
        AK,
        SK,
        REGION,
        900,
        amz_date=pq.amz_date,
        extra_query={"response-content-type": "text/plain; x=1"},
    )
    # Same path and same parameters (boto3's parameter order differs between versions).
    ours_parts = urlsplit(ours)
    assert ours_parts.path == parts.path
    assert sorted(parse_query(ours_parts.query)) == sorted(parse_query(parts.query))


def test_canonical_uri_from_raw() -> None:
    assert canonical_uri_from_raw("/b/a%2Fb") == "/b/a%2Fb"
    assert canonical_uri_from_raw("/b/a+b") == "/b/a%2Bb"
    assert canonical_uri_from_raw("/b/a%2bb%7e") == "/b/a%2Bb~"
    assert canonical_uri_from_raw("/b/a%20b//c/") == "/b/a%20b//c/"
    assert canonical_uri_from_raw("/b/%FF%FE") == "/b/%FF%FE"  # invalid UTF-8 survives
    assert canonical_uri_from_raw("") == "/"


def test_uri_encode_rules() -> None:
    assert uri_encode("AZaz09-_.~") == "AZaz09-_.~"
    assert uri_encode("a/b c") == "a%2Fb%20c"
    assert uri_encode("a/b", encode_slash=False) == "a/b"
    assert uri_encode("é") == "%C3%A9"


def test_canonical_query_sorts_encoded_names_then_values() -> None:
    q = sigv4.canonical_query([("b", "2"), ("a", "z"), ("a", "y"), ("acl", ""), ("A", "x y")])
    assert q == "A=x%20y&a=y&a=z&acl=&b=2"
    assert canonical_query_from_raw("uploads&prefix=a+b&x=%7e") == "prefix=a%2Bb&uploads=&x=~"


VALID = (
    "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + "a" * 64
)


def test_parse_authorization() -> None:
    a = parse_authorization(VALID)
    assert (a.access_key, a.date, a.region, a.service) == ("AKID", "20250101", "us-east-1", "s3")
    assert a.signed_headers == ("host", "x-amz-content-sha256", "x-amz-date")
    assert a.scope == "20250101/us-east-1/s3/aws4_request"
    # No spaces after commas is also accepted (several SDKs send that).
    assert parse_authorization(VALID.replace(", ", ",")) == a


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "AWS AKID:sig",
        VALID.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
        VALID.replace("Credential=", "Cred="),
        VALID.replace("/aws4_request", "/aws5_request"),
        VALID.replace("20250101", "2025011"),
        VALID.replace("SignedHeaders=host;", "SignedHeaders=Host;"),
        VALID.replace("a" * 64, "A" * 64),
        VALID.replace("a" * 64, "a" * 63),
        VALID + ", Signature=" + "b" * 64,
        VALID.replace("Signature=", "Signature=\n"),
        "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/s3/aws4_request",
    ],
)
def test_parse_authorization_rejects(bad: str) -> None:
    with pytest.raises(SigV4ParseError):
        parse_authorization(bad)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.builds(lambda a, b: VALID[:a] + b, st.integers(0, len(VALID)), st.text(max_size=30)),
    )
)
def test_parse_authorization_fuzz_only_raises_parse_error(value: str) -> None:
    try:
        parse_authorization(value)
    except SigV4ParseError:
        pass


def presigned_params(**override: str) -> dict[str, str]:
    p = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": "AKID/20250101/us-east-1/s3/aws4_request",
        "X-Amz-Date": "20250101T000000Z",
        "X-Amz-Expires": "3600",
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Signature": "0" * 64,
    }
    p.update(override)
    return p


def test_parse_presigned_checks() -> None:
    q = parse_presigned(presigned_params())
    assert q.expires == 3600 and q.amz_date == "20250101T000000Z"
    for bad in (
        {"X-Amz-Expires": "604801"},
        {"X-Amz-Expires": "-1"},
        {"X-Amz-Expires": "١٢"},
        {"X-Amz-Date": "20250102T000000Z"},
        {"X-Amz-Date": "20250101T000000Z\n"},
        {"X-Amz-Algorithm": "AWS4-HMAC-SHA1"},
    ):
        with pytest.raises(SigV4ParseError):
            parse_presigned(presigned_params(**bad))
    p = presigned_params()
    del p["X-Amz-Signature"]
    with pytest.raises(SigV4ParseError):
        parse_presigned(p)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(list(presigned_params())), st.text(max_size=80)))
def test_parse_presigned_fuzz_only_raises_parse_error(override: dict[str, str]) -> None:
    try:
        parse_presigned(presigned_params(**override))
    except SigV4ParseError:
        pass


def test_streaming_strings_to_sign_layout() -> None:
    s = sigv4.chunk_string_to_sign("20130524T000000Z", "S", "prev", "h")
    assert s == f"AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\nS\nprev\n{EMPTY_SHA256}\nh"
    t = sigv4.trailer_string_to_sign("20130524T000000Z", "S", "prev", "h")
    assert t == "AWS4-HMAC-SHA256-TRAILER\n20130524T000000Z\nS\nprev\nh"


def test_sign_headers_adds_host_and_drops_unsignable_headers() -> None:
    added = sign_headers(
        "GET",
        "https://h.example:443/b/k",
        {"User-Agent": "x", "X-Amz-Meta-A": "1"},
        EMPTY_SHA256,
        AK,
        SK,
        REGION,
        amz_date="20250101T000000Z",
    )
    assert added["host"] == "h.example"
    signed = parse_authorization(added["Authorization"]).signed_headers
    assert signed == ("host", "x-amz-content-sha256", "x-amz-date", "x-amz-meta-a")


class _MultiDict(dict):
    """A stand-in for a multi-valued header mapping (items() repeats names), as HTTP servers expose."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self._pairs = pairs

    def items(self):  # type: ignore[override]
        return list(self._pairs)


def test_repeated_headers_are_trimmed_and_comma_joined_like_botocore() -> None:
    req = AWSRequest(method="GET", url="http://h/b/k")
    req.headers["X-Amz-Meta-Multi"] = " a  b "
    req.headers.add_header("X-Amz-Meta-Multi", "c ")  # HTTPHeaders keeps both values
    auth = S3SigV4Auth(Credentials(AK, SK), "s3", REGION)
    auth.add_auth(req)
    signed = parse_authorization(req.headers["Authorization"]).signed_headers
    del req.headers["Authorization"]
    theirs = auth.canonical_request(req)
    pairs = [(k, v) for k, v in req.headers.items()] + [("Host", "h")]
    ours = canonical_request(
        "GET", "/b/k", "", _MultiDict(pairs), list(signed), req.headers["X-Amz-Content-SHA256"]
    )
    assert "x-amz-meta-multi:a b,c\n" in ours
    assert ours == theirs


@pytest.mark.parametrize("key", KEYS)
def test_minio_signed_requests_verify(key: str) -> None:
    """A second, independent client implementation (minio-py's signer) must verify too."""
    url = urlsplit(
        f"http://127.0.0.1:9000/bucket/{quote(key)}?uploadId={quote('a b+c', safe='')}&partNumber=2"
    )
    headers = {
        "Host": url.netloc,
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20250101T000000Z",
        "X-Amz-Meta-Note": "two  spaces",
    }
    signed = sign_v4_s3(
        method="PUT",
        url=url,
        region=REGION,
        headers=dict(headers),
        credentials=MinioCredentials(AK, SK),
        content_sha256=EMPTY_SHA256,
        date=datetime(2025, 1, 1, tzinfo=UTC),
    )
    verify_as_server("PUT", url.geturl(), {k: str(v) for k, v in signed.items()})


# -- the verifier's shortcuts give what the general path gives -------------------------------------

def _general_uri(raw_path: str) -> str:
    from urllib.parse import quote_from_bytes, unquote_to_bytes
    return "/".join(quote_from_bytes(unquote_to_bytes(seg), safe="~") for seg in raw_path.split("/"))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="abcXYZ019-._~/%+ é", max_size=30))
def test_plain_path_shortcut_matches_the_general_encoding(path):
    raw = "/" + path
    assert canonical_uri_from_raw(raw) == _general_uri(raw)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["Host", "host", "X-Amz-Date", "x-amz-meta-a", "X-AMZ-META-A",
                                           "Content-MD5"]),
                          st.text(alphabet="ab  \t1=", max_size=8)), max_size=8))
def test_signed_header_block_from_a_multidict_matches_the_general_path(pairs):
    from multidict import CIMultiDict, CIMultiDictProxy

    signed = ["content-md5", "host", "x-amz-date", "x-amz-meta-a"]
    multi = CIMultiDictProxy(CIMultiDict(pairs))
    general = sigv4.canonical_headers_block(_ListHeaders(pairs), signed)
    assert sigv4.canonical_headers_block(multi, signed) == general


class _ListHeaders:
    """A mapping whose items() repeats names, as the general path reads it."""

    def __init__(self, pairs):
        self.pairs = pairs

    def items(self):
        return list(self.pairs)


def test_authorization_header_parsed_from_its_cached_head_as_in_full():
    head = ("AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date")
    for sig in ("a" * 64, "0123456789abcdef" * 4):
        a = parse_authorization(f"{head}, Signature={sig}")
        assert (a.access_key, a.date, a.region, a.signed_headers, a.signature) == (
            "AKID", "20250101", "us-east-1", ("host", "x-amz-content-sha256", "x-amz-date"), sig)
    with pytest.raises(SigV4ParseError):  # a repeated signature is refused, not taken from the tail
        parse_authorization(f"{head}, Signature={'a' * 64}, Signature={'b' * 64}")
    with pytest.raises(SigV4ParseError):  # a malformed head is refused however often it is sent
        for _ in range(2):
            parse_authorization(f"AWS4-HMAC-SHA256 Credential=AKID/2025/us-east-1/s3/aws4_request, "
                                f"SignedHeaders=host, Signature={'a' * 64}")
    with pytest.raises(SigV4ParseError):
        parse_authorization(f"{head}, Signature={'A' * 64}")  # upper-case hex: the full path refuses it
