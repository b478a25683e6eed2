"""aws-chunked decoding: AWS's published examples, botocore's own encoder, an independent signed
encoder, and hypothesis properties (split invariance, garbage, truncation, tampering)."""

from __future__ import annotations

import hashlib
import hmac
import io

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, CrtCrc32cChecksum, CrtCrc64NvmeChecksum
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.protocol import sigv4
from coffer.protocol.checksums import Hasher
from coffer.protocol.chunked import AwsChunkedDecoder, ChunkedError
from coffer.protocol.sigv4 import STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_TRAILER

DOC_KEY = sigv4.signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1")
DOC_DATE = "20130524T000000Z"
DOC_SCOPE = "20130524/us-east-1/s3/aws4_request"
DOC_DATA = b"a" * 66560


def doc_body(sigs: list[str], tail: bytes) -> bytes:
    return (
        f"10000;chunk-signature={sigs[0]}\r\n".encode()
        + DOC_DATA[:65536]
        + b"\r\n"
        + f"400;chunk-signature={sigs[1]}\r\n".encode()
        + DOC_DATA[65536:]
        + b"\r\n"
        + f"0;chunk-signature={sigs[2]}\r\n".encode()
        + tail
    )


# "Transferring payload in multiple chunks" and "...including trailing headers" examples (AWS docs).
DOC_SIGNED = doc_body(
    [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ],
    b"\r\n",
)
DOC_SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
DOC_TRAILER = doc_body(
    [
        "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
        "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
        "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
    ],
    b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
    b"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n",
)
DOC_TRAILER_SEED = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
CRC32C = ("x-amz-checksum-crc32c",)


def doc_decoder(trailer: bool = False, **kw: object) -> AwsChunkedDecoder:
    if trailer:
        return AwsChunkedDecoder(
            STREAMING_PAYLOAD_TRAILER,
            signing_key=DOC_KEY,
            amz_date=DOC_DATE,
            scope=DOC_SCOPE,
            seed_signature=DOC_TRAILER_SEED,
            declared_trailers=CRC32C,
            **kw,
        )
    return AwsChunkedDecoder(
        STREAMING_PAYLOAD,
        signing_key=DOC_KEY,
        amz_date=DOC_DATE,
        scope=DOC_SCOPE,
        seed_signature=DOC_SEED,
        **kw,
    )


def decode(dec: AwsChunkedDecoder, body: bytes, pieces: list[int] | None = None) -> bytes:
    """Feed ``body`` cut at the given sizes (cycled), then finish; return the payload."""
    out = bytearray()
    pos, i = 0, 0
    while pos < len(body):
        n = pieces[i % len(pieces)] if pieces else len(body)
        i += 1
        for piece in dec.feed(body[pos : pos + n]):
            out += piece
        pos += n
    dec.finish()
    assert dec.decoded_length == len(out)
    return bytes(out)


# --- an independent signed encoder (the SDK side of the protocol, written from the spec) ----------


def _hmac_hex(key: bytes, msg: str) -> str:
    return hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()


def encode_signed(chunks: list[bytes], seed: str, trailers: dict[str, str] | None = None) -> bytes:
    out, prev = bytearray(), seed
    for data in [*chunks, b""]:
        sts = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                DOC_DATE,
                DOC_SCOPE,
                prev,
                hashlib.sha256(b"").hexdigest(),
                hashlib.sha256(data).hexdigest(),
            ]
        )
        prev = _hmac_hex(DOC_KEY, sts)
        out += f"{len(data):x};chunk-signature={prev}\r\n".encode() + data
        if data:
            out += b"\r\n"
    if trailers is None:
        return bytes(out + b"\r\n")
    canonical = "".join(f"{k}:{v}\n" for k, v in trailers.items()).encode()
    sts = "\n".join(
        ["AWS4-HMAC-SHA256-TRAILER", DOC_DATE, DOC_SCOPE, prev, hashlib.sha256(canonical).hexdigest()]
    )
    for k, v in trailers.items():
        out += f"{k}:{v}\r\n".encode()
    out += f"x-amz-trailer-signature:{_hmac_hex(DOC_KEY, sts)}\r\n\r\n".encode()
    return bytes(out)


def boto_unsigned(
    data: bytes, chunk_size: int, checksum_cls=CrtCrc32cChecksum, name: str = CRC32C[0]
) -> bytes:
    return AwsChunkedWrapper(
        io.BytesIO(data), checksum_cls=checksum_cls, checksum_name=name, chunk_size=chunk_size
    ).read()


# --- published examples ---------------------------------------------------------------------------


def test_aws_example_signed_chunks() -> None:
    assert len(DOC_SIGNED) == 66824  # the Content-Length the AWS example states
    assert decode(doc_decoder(), DOC_SIGNED) == DOC_DATA


def test_aws_example_signed_trailer() -> None:
    dec = doc_decoder(trailer=True)
    assert decode(dec, DOC_TRAILER, [777]) == DOC_DATA
    assert dec.trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}
    h = Hasher("CRC32C")
    h.update(DOC_DATA)
    assert h.b64() == "sOO8/Q=="


@pytest.mark.parametrize("offset", [100, 88 + 65536 + 2 + 86 + 10, 88 + 65536 + 2 + 86 + 1023])
def test_aws_example_tampered_data_is_rejected(offset: int) -> None:
    body = bytearray(DOC_SIGNED)
    body[offset] = ord("b")
    with pytest.raises(ChunkedError) as err:
        decode(doc_decoder(), bytes(body))
    assert err.value.code == "SignatureDoesNotMatch"


def test_wrong_seed_signature_is_rejected() -> None:
    dec = AwsChunkedDecoder(
        STREAMING_PAYLOAD, signing_key=DOC_KEY, amz_date=DOC_DATE, scope=DOC_SCOPE, seed_signature="0" * 64
    )
    with pytest.raises(ChunkedError, match="SignatureDoesNotMatch"):
        decode(dec, DOC_SIGNED)


def test_trailer_value_and_signature_are_checked() -> None:
    forged = DOC_TRAILER.replace(b"sOO8/Q==", b"AAAAAA==")
    with pytest.raises(ChunkedError) as err:
        decode(doc_decoder(trailer=True), forged)
    assert err.value.code == "SignatureDoesNotMatch"
    unsigned = DOC_TRAILER.split(b"x-amz-trailer-signature")[0] + b"\r\n"
    with pytest.raises(ChunkedError, match="SignatureDoesNotMatch"):
        decode(doc_decoder(trailer=True), unsigned)


# --- botocore's unsigned-trailer encoder -----------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    data=st.binary(max_size=20000),
    chunk=st.integers(1, 9000),
    cuts=st.lists(st.integers(1, 5000), min_size=1),
)
def test_botocore_unsigned_trailer_bodies(data: bytes, chunk: int, cuts: list[int]) -> None:
    body = boto_unsigned(data, chunk, CrtCrc64NvmeChecksum, "x-amz-checksum-crc64nvme")
    dec = AwsChunkedDecoder(STREAMING_UNSIGNED_TRAILER, declared_trailers=("x-amz-checksum-crc64nvme",))
    assert decode(dec, body, cuts) == data
    h = Hasher("CRC64NVME")
    h.update(data)
    assert dec.trailers == {"x-amz-checksum-crc64nvme": h.b64()}


def test_unsigned_trailer_without_trailers() -> None:
    body = AwsChunkedWrapper(io.BytesIO(b"hello world"), chunk_size=4).read()
    assert decode(AwsChunkedDecoder(STREAMING_UNSIGNED_TRAILER), body, [1]) == b"hello world"


# --- properties ------------------------------------------------------------------------------------

signed_cases = st.tuples(
    st.lists(st.binary(min_size=1, max_size=3000), max_size=5),
    st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(case=signed_cases, cuts=st.lists(st.integers(1, 4000), min_size=1, max_size=8))
def test_any_split_gives_the_same_output(case: tuple[list[bytes], bool], cuts: list[int]) -> None:
    chunks, with_trailer = case
    data = b"".join(chunks)
    if with_trailer:
        h = Hasher("CRC32C")
        h.update(data)
        body = encode_signed(chunks, DOC_TRAILER_SEED, {CRC32C[0]: h.b64()})
        dec = doc_decoder(trailer=True, expected_length=len(data))
    else:
        body = encode_signed(chunks, DOC_SEED)
        dec = doc_decoder(expected_length=len(data))
    assert decode(dec, body, cuts) == data
    one_by_one = doc_decoder(trailer=with_trailer)
    assert decode(one_by_one, body, [1]) == data


@settings(max_examples=300, deadline=None)
@given(
    mode=st.sampled_from([STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_TRAILER]),
    garbage=st.one_of(
        st.binary(max_size=300),
        st.lists(
            st.sampled_from(
                [
                    b"0",
                    b"1f",
                    b";",
                    b"chunk-signature=",
                    b"\r\n",
                    b"\r",
                    b"\n",
                    b"x:y",
                    b"x-amz-checksum-crc32c:",
                    b"x-amz-trailer-signature:",
                    b"a" * 64,
                    b"zz",
                ]
            ),
            max_size=30,
        ).map(b"".join),
    ),
)
def test_garbage_only_raises_chunked_error(mode: str, garbage: bytes) -> None:
    dec = AwsChunkedDecoder(
        mode,
        signing_key=DOC_KEY,
        amz_date=DOC_DATE,
        scope=DOC_SCOPE,
        seed_signature=DOC_SEED,
        declared_trailers=CRC32C,
        max_chunk_header=64,
    )
    try:
        for i in range(0, len(garbage), 7):
            dec.feed(garbage[i : i + 7])
        dec.finish()
    except ChunkedError as exc:
        assert exc.code in {"IncompleteBody", "SignatureDoesNotMatch", "MalformedTrailerError"}


@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(st.binary(min_size=1, max_size=500), max_size=4), data=st.data())
def test_truncation_is_detected(chunks: list[bytes], data: st.DataObject) -> None:
    h = Hasher("CRC32C")
    h.update(b"".join(chunks))
    body = encode_signed(chunks, DOC_TRAILER_SEED, {CRC32C[0]: h.b64()})
    # Only the final blank line may be missing (tolerated); any shorter body must fail.
    cut = data.draw(st.integers(0, len(body) - 3))
    with pytest.raises(ChunkedError) as err:
        decode(doc_decoder(trailer=True), body[:cut], [97])
    assert err.value.code in {"IncompleteBody", "MalformedTrailerError", "SignatureDoesNotMatch"}


@settings(max_examples=80, deadline=None)
@given(chunks=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=3), data=st.data())
def test_tampering_never_yields_a_different_payload(chunks: list[bytes], data: st.DataObject) -> None:
    body = bytearray(encode_signed(chunks, DOC_SEED))
    pos = data.draw(st.integers(0, len(body) - 1))
    body[pos] ^= data.draw(st.integers(1, 255))
    try:
        out = decode(doc_decoder(), bytes(body), [50])
    except ChunkedError:
        return
    assert out == b"".join(chunks)


# --- specific rules --------------------------------------------------------------------------------


def test_size_line_is_bounded_even_when_fed_byte_by_byte() -> None:
    dec = AwsChunkedDecoder(STREAMING_UNSIGNED_TRAILER, max_chunk_header=32)
    with pytest.raises(ChunkedError, match="IncompleteBody"):
        for b in b"1" + b";ext=" + b"x" * 100:
            dec.feed(bytes([b]))
            assert len(dec._line) <= 34
    with pytest.raises(ChunkedError):  # the decoder stays failed
        dec.feed(b"\r\n")


def test_unknown_chunk_extensions_are_ignored() -> None:
    body = encode_signed([b"abc"], DOC_SEED).replace(b"3;chunk-signature", b"3;foo=bar;chunk-signature", 1)
    assert decode(doc_decoder(), body) == b"abc"
    assert decode(AwsChunkedDecoder(STREAMING_UNSIGNED_TRAILER), b"3;x=y\r\nabc\r\n0\r\n\r\n") == b"abc"


def test_missing_chunk_signature() -> None:
    with pytest.raises(ChunkedError, match="SignatureDoesNotMatch"):
        decode(doc_decoder(), b"3\r\nabc\r\n0\r\n\r\n")


@pytest.mark.parametrize(
    "body",
    [
        b"g\r\nabc\r\n0\r\n\r\n",
        b"-3\r\nabc\r\n0\r\n\r\n",
        b"3\r\nabcd\r\n0\r\n\r\n",
        b"3\nabc\r\n0\r\n\r\n",
        b"\r\n",
        b"3\r\nabc\r\n0\r\n\r\nextra",
        b"11111111111111111\r\n",
    ],
)
def test_framing_errors_are_incomplete_body(body: bytes) -> None:
    with pytest.raises(ChunkedError) as err:
        decode(AwsChunkedDecoder(STREAMING_UNSIGNED_TRAILER), body)
    assert err.value.code == "IncompleteBody"


def test_trailer_rules() -> None:
    def run(body: bytes, declared: tuple[str, ...] = CRC32C) -> AwsChunkedDecoder:
        dec = AwsChunkedDecoder(STREAMING_UNSIGNED_TRAILER, declared_trailers=declared)
        decode(dec, body)
        return dec

    assert run(b"0\r\nX-Amz-Checksum-CRC32C: abc= \r\n\r\n").trailers == {CRC32C[0]: "abc="}
    for bad in (
        b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",  # not declared
        b"0\r\n\r\n",  # declared but missing
        b"0\r\nx-amz-checksum-crc32c:a\r\nx-amz-checksum-crc32c:a\r\n\r\n",  # repeated
        b"0\r\nno-colon\r\n\r\n",
        b"0\r\nx-amz-trailer-signature:" + b"0" * 64 + b"\r\n\r\n",  # not allowed unsigned
    ):
        with pytest.raises(ChunkedError) as err:
            run(bad)
        assert err.value.code == "MalformedTrailerError", bad


def test_declared_length_and_min_chunk_size() -> None:
    body = encode_signed([b"x" * 10, b"y" * 10], DOC_SEED)
    with pytest.raises(ChunkedError, match="IncompleteBody"):
        decode(doc_decoder(expected_length=19), body)
    with pytest.raises(ChunkedError, match="IncompleteBody"):
        decode(doc_decoder(expected_length=21), body)
    with pytest.raises(ChunkedError, match="InvalidChunkSizeError"):
        decode(doc_decoder(min_chunk_size=8192), body)
    assert decode(doc_decoder(min_chunk_size=8192), DOC_SIGNED) == DOC_DATA


def test_constructor_checks() -> None:
    with pytest.raises(ValueError):
        AwsChunkedDecoder("UNSIGNED-PAYLOAD")
    with pytest.raises(ValueError):
        AwsChunkedDecoder(STREAMING_PAYLOAD)  # signed mode without a key
