"""The S3 error catalogue and S3Error bodies, checked against botocore's own error parser."""

from __future__ import annotations

import botocore.parsers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.protocol import xmlutil
from coffer.protocol.errors import ERRORS, REQUEST_EXPIRED, S3Error, error_status, parse_error_xml

# Status codes fixed by the S3 API reference for the codes the rest of Coffer relies on.
REQUIRED = {
    "AccessDenied": 403,
    "BadDigest": 400,
    "BucketAlreadyExists": 409,
    "BucketAlreadyOwnedByYou": 409,
    "BucketNotEmpty": 409,
    "EntityTooSmall": 400,
    "EntityTooLarge": 400,
    "IncompleteBody": 400,
    "InvalidArgument": 400,
    "InvalidBucketName": 400,
    "InvalidDigest": 400,
    "InvalidPart": 400,
    "InvalidPartOrder": 400,
    "InvalidRange": 416,
    "InvalidRequest": 400,
    "KeyTooLongError": 400,
    "MalformedXML": 400,
    "MethodNotAllowed": 405,
    "MissingContentLength": 411,
    "NoSuchBucket": 404,
    "NoSuchKey": 404,
    "NoSuchUpload": 404,
    "NotImplemented": 501,
    "PreconditionFailed": 412,
    "RequestTimeTooSkewed": 403,
    "SignatureDoesNotMatch": 403,
    "InvalidAccessKeyId": 403,
    "AuthorizationHeaderMalformed": 400,
    "AuthorizationQueryParametersError": 400,
    "ExpiredToken": 400,
    "XAmzContentSHA256Mismatch": 400,
    "MetadataTooLarge": 400,
    "RequestHeaderSectionTooLarge": 400,
    "InternalError": 500,
    "SlowDown": 503,
    "ServiceUnavailable": 503,
    "InvalidObjectState": 403,
    "ConditionalRequestConflict": 409,
    "NoSuchVersion": 404,
    "InvalidStorageClass": 400,
    "IllegalLocationConstraintException": 400,
    "InvalidLocationConstraint": 400,
    "MaxMessageLengthExceeded": 400,
    "UnexpectedContent": 400,
    "InvalidEncryptionAlgorithmError": 400,
    "NoSuchBucketPolicy": 404,
    "NoSuchCORSConfiguration": 404,
    "NoSuchLifecycleConfiguration": 404,
    "NoSuchTagSet": 404,
    "NoSuchWebsiteConfiguration": 404,
    "ObjectLockConfigurationNotFoundError": 404,
    "InvalidTag": 400,
    "InvalidRetentionPeriod": 400,
    "MalformedTrailerError": 400,
    "InvalidChunkSizeError": 400,
    "NotModified": 304,
    "RequestTimeout": 400,
    "MissingRequestBodyError": 400,
}


def test_catalogue_has_the_required_codes_and_statuses() -> None:
    for code, status in REQUIRED.items():
        assert code in ERRORS, code
        assert ERRORS[code].status == status, code
        assert ERRORS[code].code == code and ERRORS[code].message
    assert len(ERRORS) > 120  # the whole published list, not just what we use today


def test_s3error_defaults_and_overrides() -> None:
    e = S3Error("NoSuchKey", resource="/b/k", Key="k", VersionId=None)
    assert (e.code, e.status, e.message) == ("NoSuchKey", 404, "The specified key does not exist.")
    assert e.extra == {"Key": "k"}  # None extras are dropped
    expired = S3Error("AccessDenied", REQUEST_EXPIRED, Expires="x")
    assert expired.status == 403 and expired.message == "Request has expired"
    assert S3Error("SomethingNew").status == 500
    assert S3Error("SomethingNew", status=418).status == 418
    assert error_status("NoSuchUpload") == 404 and error_status("nope") == 500
    assert "NoSuchKey" in str(e) and "NoSuchKey" in repr(e)


def test_to_xml_layout() -> None:
    e = S3Error(
        "EntityTooSmall",
        resource="/b/k",
        ProposedSize=1,
        MinSizeAllowed=5242880,
        PartNumber=1,
        ETag='"abc"',
        UploadId="u",
    )
    out = e.to_xml("REQ", "HOST")
    root = xmlutil.parse(out)
    assert [xmlutil.local_name(c) for c in root] == [
        "Code",
        "Message",
        "Resource",
        "UploadId",
        "PartNumber",
        "ETag",
        "MinSizeAllowed",
        "ProposedSize",
        "RequestId",
        "HostId",
    ]
    assert out.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>EntityTooSmall</Code>')


def test_botocore_reads_our_error_bodies() -> None:
    e = S3Error("BadDigest", "digest <mismatch> & more", resource="/b/k\x01", ExpectedDigest="a", Flag=True)
    parsed = botocore.parsers.RestXMLParser().parse(
        {"body": e.to_xml("R1", "H1"), "headers": {}, "status_code": e.status}, None
    )
    assert parsed["Error"]["Code"] == "BadDigest"
    assert parsed["Error"]["Message"] == "digest <mismatch> & more"
    assert parsed["Error"]["ExpectedDigest"] == "a"
    assert parsed["Error"]["Flag"] == "true"


@settings(max_examples=200, deadline=None)
@given(
    code=st.sampled_from(sorted(ERRORS)),
    message=st.text(max_size=60),
    extra=st.dictionaries(
        st.sampled_from(["Key", "BucketName", "ArgumentValue", "Custom"]), st.text(max_size=30)
    ),
)
def test_round_trip_through_parse_error_xml(code: str, message: str, extra: dict[str, str]) -> None:
    body = S3Error(code, message, resource="/x", **extra).to_xml("rid", "hid")
    got_code, got_message, fields = parse_error_xml(body)
    assert got_code == code
    assert got_message == "".join("\ufffd" if xmlutil.has_invalid_chars(c) else c for c in message)
    assert fields["RequestId"] == "rid" and fields["HostId"] == "hid" and fields["Resource"] == "/x"
    assert set(extra) <= set(fields)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", ("", "", {})),
        (b"<html><body>502 Bad Gateway</body></html>", ("", "", {})),
        (b"Service Unavailable", ("", "", {"Body": "Service Unavailable"})),
        (b"<Error><Code>SlowDown</Code></Error>", ("SlowDown", "", {})),
        (
            b'<Error xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Code>X</Code><Message>m</Message>'
            b"<Key>k</Key></Error>",
            ("X", "m", {"Key": "k"}),
        ),
    ],
)
def test_parse_error_xml_cases(body: bytes, expected: tuple) -> None:
    assert parse_error_xml(body) == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_parse_error_xml_never_raises(body: bytes) -> None:
    code, message, fields = parse_error_xml(body)
    assert isinstance(code, str) and isinstance(message, str) and isinstance(fields, dict)
