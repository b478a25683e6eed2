"""The bucket configuration documents in their stored (dictionary) form, as the console edits them:
whatever the S3 API's XML parsers accept is accepted unchanged, and what they refuse is refused with
the same error code."""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coffer.protocol import xmlutil
from coffer.protocol.errors import S3Error
from coffer.server.http.s3.bucket_config import CORS_METHODS, parse_cors, parse_encryption, parse_website
from coffer.server.service.objects.bucket_config import check_cors_doc, check_encryption_doc, check_website_doc

word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.:/*", min_size=1, max_size=12)


def _xml(s: str):
    return xmlutil.parse(s.encode())


def _code(fn, arg) -> str:
    with pytest.raises(S3Error) as ei:
        fn(arg)
    return ei.value.code


@given(st.lists(st.tuples(st.lists(word, min_size=1, max_size=3), st.lists(st.sampled_from(CORS_METHODS),
                                                                           min_size=1, max_size=3, unique=True),
                          st.lists(word, max_size=2), st.one_of(st.none(), st.integers(0, 10 ** 6))),
                min_size=1, max_size=4))
def test_cors_stored_form_agrees_with_the_xml_parser(rules):
    body = "".join(
        "<CORSRule>" + "".join(f"<AllowedOrigin>{escape(o)}</AllowedOrigin>" for o in origins)
        + "".join(f"<AllowedMethod>{m}</AllowedMethod>" for m in methods)
        + "".join(f"<AllowedHeader>{escape(h)}</AllowedHeader>" for h in headers)
        + (f"<MaxAgeSeconds>{age}</MaxAgeSeconds>" if age is not None else "") + "</CORSRule>"
        for origins, methods, headers, age in rules)
    try:
        parsed = parse_cors(_xml(f"<CORSConfiguration>{body}</CORSConfiguration>"))
    except S3Error as e:  # two wildcards in one origin or header
        doc = {"rules": [{"AllowedOrigin": o, "AllowedMethod": m, "AllowedHeader": h} for o, m, h, _ in rules]}
        assert _code(check_cors_doc, doc) == e.code
        return
    assert check_cors_doc(parsed) == parsed


def test_cors_refusals_match():
    assert _code(check_cors_doc, {"rules": [{"AllowedOrigin": ["*"]}]}) == "MalformedXML"
    assert _code(check_cors_doc, {"rules": [{"AllowedOrigin": ["*"], "AllowedMethod": ["TRACE"]}]}) == \
        _code(parse_cors, _xml("<C><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>TRACE</AllowedMethod>"
                               "</CORSRule></C>"))
    assert _code(check_cors_doc, {"rules": []}) == "MalformedXML"
    assert _code(check_cors_doc, {"rules": [{"AllowedOrigin": ["*"], "AllowedMethod": ["GET"],
                                             "MaxAgeSeconds": -1}]}) == "MalformedXML"


def test_website_and_encryption_agree_with_the_xml_parsers():
    for xml in ("<W><IndexDocument><Suffix>i.html</Suffix></IndexDocument><ErrorDocument><Key>e.html</Key>"
                "</ErrorDocument><RoutingRules><RoutingRule><Condition><KeyPrefixEquals>a/</KeyPrefixEquals>"
                "</Condition><Redirect><ReplaceKeyPrefixWith>b/</ReplaceKeyPrefixWith><HttpRedirectCode>301"
                "</HttpRedirectCode></Redirect></RoutingRule></RoutingRules></W>",
                "<W><RedirectAllRequestsTo><HostName>example.com</HostName><Protocol>https</Protocol>"
                "</RedirectAllRequestsTo></W>"):
        parsed = parse_website(_xml(xml))
        assert check_website_doc(parsed) == parsed
    for bad, xml in (({"IndexDocument": {"Suffix": "a/b"}},
                      "<W><IndexDocument><Suffix>a/b</Suffix></IndexDocument></W>"),
                     ({}, "<W></W>"),
                     ({"RedirectAllRequestsTo": {"HostName": "h", "Protocol": "ftp"}},
                      "<W><RedirectAllRequestsTo><HostName>h</HostName><Protocol>ftp</Protocol>"
                      "</RedirectAllRequestsTo></W>"),
                     ({"IndexDocument": {"Suffix": "i"},
                       "RoutingRules": [{"Redirect": {"HttpRedirectCode": "200"}}]},
                      "<W><IndexDocument><Suffix>i</Suffix></IndexDocument><RoutingRules><RoutingRule><Redirect>"
                      "<HttpRedirectCode>200</HttpRedirectCode></Redirect></RoutingRule></RoutingRules></W>")):
        assert _code(check_website_doc, bad) == _code(parse_website, _xml(xml))
    for alg, key, bucket_key in (("AES256", None, False), ("aws:kms", "alias/x", True), ("aws:kms", None, False)):
        xml = ("<S><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>" + alg + "</SSEAlgorithm>"
               + (f"<KMSMasterKeyID>{key}</KMSMasterKeyID>" if key else "") + "</ApplyServerSideEncryptionByDefault>"
               + f"<BucketKeyEnabled>{str(bucket_key).lower()}</BucketKeyEnabled></Rule></S>")
        parsed = parse_encryption(_xml(xml))
        assert check_encryption_doc(parsed) == parsed
    assert _code(check_encryption_doc, {"algorithm": "DES"}) == "InvalidArgument"
    assert _code(check_encryption_doc, {"algorithm": "AES256", "kms_key_id": "k"}) == "InvalidArgument"
