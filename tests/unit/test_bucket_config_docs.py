"""Unit and property tests of the bucket configuration documents: the CORS pattern matcher and rule choice,
the XML parsers of BucketEncryption/BucketCors/BucketWebsite (with S3's errors), the Key Protect header
mapping, the website Host-header parser and the per-part stream keys of encrypted multipart uploads.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coffer.protocol import xmlutil
from coffer.protocol.errors import S3Error
from coffer.server.http.common.cors import match_rule, pattern_match, rule_headers
from coffer.server.http.s3.bucket_config import parse_cors, parse_encryption, parse_website
from coffer.server.http.website import bucket_for_host
from coffer.server.service.crypto.sse import response_headers, stream_key
from coffer.server.service.objects.bucket_config import key_protect_doc

text = st.text(alphabet=st.characters(blacklist_characters="*", blacklist_categories=("Cs",)), max_size=20)


@given(text)
def test_literal_pattern_matches_only_itself(s):
    assert pattern_match(s, s)
    assert not pattern_match(s, s + "x")


@given(text, text, text)
def test_wildcard_matches_any_middle(head, mid, tail):
    assert pattern_match(head + "*" + tail, head + mid + tail)
    assert pattern_match("*", head + mid + tail)


@given(text, text, text)
def test_wildcard_agrees_with_a_regex(head, tail, value):
    import re

    want = re.fullmatch(re.escape(head) + ".*" + re.escape(tail), value, re.S) is not None
    assert pattern_match(head + "*" + tail, value) == want


def test_rule_choice_first_match_wins():
    rules = [{"AllowedOrigin": ["https://a.test"], "AllowedMethod": ["PUT"], "AllowedHeader": []},
             {"AllowedOrigin": ["https://*.test"], "AllowedMethod": ["GET", "PUT"], "AllowedHeader": ["x-amz-*"]}]
    assert match_rule(rules, "https://a.test", "PUT") is rules[0]
    assert match_rule(rules, "https://a.test", "PUT", ["x-amz-date"]) is rules[1]  # rule 0 allows no header
    assert match_rule(rules, "https://a.test", "DELETE") is None
    assert match_rule(rules, "http://a.test", "GET") is None
    h = rule_headers(rules[1], "https://b.test", preflight=True, requested_headers=["x-amz-date"])
    assert h["Access-Control-Allow-Origin"] == "https://b.test"
    assert h["Access-Control-Allow-Headers"] == "x-amz-date"


def _xml(s: str):
    return xmlutil.parse(s.encode())


def _code(fn, doc: str) -> str:
    with pytest.raises(S3Error) as ei:
        fn(_xml(doc))
    return ei.value.code


def test_parse_encryption():
    doc = parse_encryption(_xml(
        "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        "<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>alias/x</KMSMasterKeyID>"
        "</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule>"
        "</ServerSideEncryptionConfiguration>"))
    assert doc == {"algorithm": "aws:kms", "kms_key_id": "alias/x", "bucket_key": True}
    assert _code(parse_encryption, "<S><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES"
                 "</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></S>") == "InvalidArgument"
    assert _code(parse_encryption, "<S></S>") == "MalformedXML"


def test_parse_cors():
    doc = parse_cors(_xml("<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
                          "<AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>5</MaxAgeSeconds></CORSRule>"
                          "</CORSConfiguration>"))
    assert doc["rules"][0]["MaxAgeSeconds"] == 5 and doc["rules"][0]["AllowedMethod"] == ["GET"]
    assert _code(parse_cors, "<C><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></C>") == "MalformedXML"
    assert _code(parse_cors, "<C><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>TRACE"
                 "</AllowedMethod></CORSRule></C>") == "InvalidRequest"
    assert _code(parse_cors, "<C><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
                 "<MaxAgeSeconds>-1</MaxAgeSeconds></CORSRule></C>") == "MalformedXML"


def test_parse_website():
    doc = parse_website(_xml(
        "<WebsiteConfiguration><IndexDocument><Suffix>i.html</Suffix></IndexDocument><RoutingRules>"
        "<RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>"
        "<Redirect><ReplaceKeyWith>x</ReplaceKeyWith></Redirect></RoutingRule></RoutingRules>"
        "</WebsiteConfiguration>"))
    assert doc["RoutingRules"][0]["Condition"] == {"HttpErrorCodeReturnedEquals": "404"}
    assert _code(parse_website, "<W><IndexDocument><Suffix>i</Suffix></IndexDocument><RoutingRules><RoutingRule>"
                 "<Condition><HttpErrorCodeReturnedEquals>200</HttpErrorCodeReturnedEquals></Condition>"
                 "<Redirect/></RoutingRule></RoutingRules></W>") == "InvalidArgument"
    assert _code(parse_website, "<W><IndexDocument><Suffix>i</Suffix></IndexDocument><RoutingRules><RoutingRule>"
                 "<Redirect><ReplaceKeyWith>a</ReplaceKeyWith><ReplaceKeyPrefixWith>b</ReplaceKeyPrefixWith>"
                 "</Redirect></RoutingRule></RoutingRules></W>") == "InvalidArgument"
    assert _code(parse_website, "<W><RedirectAllRequestsTo><Protocol>http</Protocol></RedirectAllRequestsTo>"
                 "</W>") == "MalformedXML"


def test_key_protect_headers():
    assert key_protect_doc(None, None) is None
    doc = key_protect_doc("AES256", "crn:v1:bluemix:public:kms:us-south:a/1:2:key:abc-123")
    assert doc is not None and doc["kms_key_id"] == "abc-123" and doc["algorithm"] == "aws:kms"
    with pytest.raises(S3Error):
        key_protect_doc("AES256", None)
    with pytest.raises(S3Error):
        key_protect_doc("DES", "alias/x")


def test_website_host():
    d = ("s3-website.localhost",)
    assert bucket_for_host("blog.s3-website.localhost:9000", d) == "blog"
    assert bucket_for_host("my.site.s3-website.localhost", d) == "my.site"
    assert bucket_for_host("s3-website.localhost", d) is None
    assert bucket_for_host("blog.localhost", d) is None
    assert bucket_for_host(None, d) is None


def test_stream_keys_differ_per_segment_and_headers():
    dk = bytes(32)
    assert stream_key(dk, "a" * 32) != stream_key(dk, "b" * 32)
    assert stream_key(dk, "a" * 32) != stream_key(bytes([1]) * 32, "a" * 32)
    assert response_headers(None) == {}
    assert response_headers({"mode": "aws:kms", "kms_arn": "arn:x"}) == {
        "x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": "arn:x"}
    assert response_headers({"mode": "SSE-C", "customer_md5": "m"})[
        "x-amz-server-side-encryption-customer-key-MD5"] == "m"
