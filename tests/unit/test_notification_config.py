"""Parsing, validation, rendering and matching of notification configurations (pure functions)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coffer.protocol.errors import S3Error
from coffer.server.service.events.notifications import matches, parse_config, render_config, webhook_url

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def doc(inner: str) -> bytes:
    return f"<NotificationConfiguration {NS}>{inner}</NotificationConfiguration>".encode()


def test_queue_topic_lambda_and_webhook_forms():
    configs = parse_config(doc(
        "<QueueConfiguration><Id>q</Id><Queue>arn:coffer:webhook:::http://h:1/a</Queue>"
        "<Event>s3:ObjectCreated:*</Event></QueueConfiguration>"
        "<TopicConfiguration><Topic>arn:coffer:webhook:us-east-1:acct:https://h/b?x=1</Topic>"
        "<Event>s3:ObjectRemoved:Delete</Event></TopicConfiguration>"
        "<CloudFunctionConfiguration><CloudFunction>arn:coffer:webhook:::http://h/c</CloudFunction>"
        "<Event>s3:ObjectCreated:Put</Event></CloudFunctionConfiguration>"
        "<WebhookConfiguration><Url>http://h/d</Url><Event>s3:ObjectCreated:Copy</Event>"
        "<Filter><S3Key><FilterRule><Name>Prefix</Name><Value>p/</Value></FilterRule>"
        "<FilterRule><Name>suffix</Name><Value>.x</Value></FilterRule></S3Key></Filter></WebhookConfiguration>"))
    assert [webhook_url(c["kind"], c["target"]) for c in configs] == \
        ["http://h:1/a", "https://h/b?x=1", "http://h/c", "http://h/d"]
    assert configs[1]["id"] == "coffer-2"  # ids are given when missing
    assert configs[3]["filter"] == [["prefix", "p/"], ["suffix", ".x"]]
    assert parse_config(render_config(configs)) == configs


@pytest.mark.parametrize("inner, code", [
    ("<QueueConfiguration><Queue>arn:aws:sqs:us-east-1:1:q</Queue><Event>s3:ObjectCreated:*</Event>"
     "</QueueConfiguration>", "InvalidArgument"),
    ("<WebhookConfiguration><Url>file:///etc/passwd</Url><Event>s3:ObjectCreated:*</Event>"
     "</WebhookConfiguration>", "InvalidArgument"),
    ("<WebhookConfiguration><Url>http://h/</Url><Event>s3:Nope</Event></WebhookConfiguration>", "InvalidArgument"),
    ("<WebhookConfiguration><Url>http://h/</Url></WebhookConfiguration>", "InvalidArgument"),
    ("<WebhookConfiguration><Id>a</Id><Url>http://h/</Url><Event>s3:ObjectCreated:*</Event>"
     "</WebhookConfiguration><WebhookConfiguration><Id>a</Id><Url>http://h/</Url>"
     "<Event>s3:ObjectCreated:*</Event></WebhookConfiguration>", "InvalidArgument"),
    ("<WebhookConfiguration><Url>http://h/</Url><Event>s3:ObjectCreated:*</Event><Filter><S3Key>"
     "<FilterRule><Name>prefix</Name><Value>a</Value></FilterRule><FilterRule><Name>prefix</Name>"
     "<Value>b</Value></FilterRule></S3Key></Filter></WebhookConfiguration>", "InvalidArgument"),
    ("<WebhookConfiguration><Url>http://h/</Url><Event>s3:ObjectCreated:*</Event><Filter><S3Key>"
     "<FilterRule><Name>middle</Name><Value>a</Value></FilterRule></S3Key></Filter></WebhookConfiguration>",
     "InvalidArgument"),
    ("<EventBridgeConfiguration/>", "InvalidArgument"),
    ("<Bogus/>", "MalformedXML"),
])
def test_invalid_documents(inner, code):
    with pytest.raises(S3Error) as e:
        parse_config(doc(inner))
    assert e.value.code == code and e.value.status == 400


def test_at_most_100_configurations():
    one = "<WebhookConfiguration><Url>http://h/</Url><Event>s3:ObjectCreated:*</Event></WebhookConfiguration>"
    assert len(parse_config(doc(one * 100))) == 100
    with pytest.raises(S3Error) as e:
        parse_config(doc(one * 101))
    assert e.value.code == "InvalidArgument"


@pytest.mark.parametrize("url", ["http://", "http://h:99999/", "http://h:x/", "https:///path", "http://h /",
                                 "gopher://h/", "http://[::1/"])
def test_unusable_urls_are_refused(url):
    assert webhook_url("Url", url) is None
    assert webhook_url("Queue", "arn:coffer:webhook:::" + url) is None


def test_usable_urls():
    for url in ("http://h/", "https://h:8443/x?y=1", "http://[::1]:9000/hook", "http://127.0.0.1:1/"):
        assert webhook_url("Url", url) == url
        assert webhook_url("Topic", "arn:coffer:webhook:eu:123:" + url) == url


def test_malformed_and_empty():
    assert parse_config(b"") == [] and parse_config(doc("")) == []
    with pytest.raises(S3Error) as e:
        parse_config(b"<NotificationConfiguration><unclosed>")
    assert e.value.code == "MalformedXML"


def test_matching():
    c = {"events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"], "filter": [["prefix", "logs/"],
                                                                                 ["suffix", ".gz"]]}
    assert matches(c, "s3:ObjectCreated:Put", "logs/a.gz")
    assert matches(c, "s3:ObjectCreated:CompleteMultipartUpload", "logs/b.gz")
    assert matches(c, "s3:ObjectRemoved:Delete", "logs/.gz")
    assert not matches(c, "s3:ObjectRemoved:DeleteMarkerCreated", "logs/a.gz")
    assert not matches(c, "s3:ObjectCreated:Put", "logs/a.txt")
    assert not matches(c, "s3:ObjectCreated:Put", "other/a.gz")


@given(st.text(min_size=0, max_size=40), st.text(min_size=0, max_size=10), st.text(min_size=0, max_size=10))
def test_filter_is_prefix_and_suffix(key, prefix, suffix):
    c = {"events": ["s3:ObjectCreated:*"], "filter": [["prefix", prefix], ["suffix", suffix]]}
    assert matches(c, "s3:ObjectCreated:Put", key) == (key.startswith(prefix) and key.endswith(suffix))
