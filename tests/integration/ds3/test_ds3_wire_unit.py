"""Pure checks of the DS3 wire pieces (no server): the server's string-to-sign is the ds3 SDK's for
any key, query and header set; DS3 request documents parse or fail with MalformedXML."""

from __future__ import annotations

import pytest
from ds3_wire import Ds3WireClient
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from coffer.protocol.errors import S3Error
from coffer.protocol.sigv4 import parse_query
from coffer.server.http.ds3 import auth as ds3_auth
from coffer.server.http.ds3 import documents as ds3_xml
from coffer.server.http.ds3.front import claims

keys = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=40)
meta = st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}", fullmatch=True),
                       st.from_regex(r"[ -~]{0,20}", fullmatch=True).map(str.strip), max_size=3)


@settings(max_examples=200, deadline=None)
@given(key=keys, extra=meta, body=st.booleans(), checksum=st.sampled_from([None, "Content-MD5", "Content-CRC32"]),
       q=st.sampled_from([{}, {"job": "j-1", "offset": 7}, {"delete": None}, {"uploads": None},
                          {"versioning": "x", "name": "a b&c"}, {"bucket_id": "b", "recursive": None}]))
def test_server_string_to_sign_is_the_sdks(key, extra, body, checksum, q):
    c = Ds3WireClient("http://127.0.0.1:9", "AK", "SK")
    headers = dict(extra)
    if checksum:
        headers[checksum] = "q1w2e3=="
    target, sent, sts = c.prepare("PUT", "/bkt/" + key, q, headers, body, date="Mon, 30 Nov 2026 21:06:23 -0000")
    raw_path, _, raw_query = target.partition("?")
    query: dict[str, str] = {}
    for k, v in parse_query(raw_query):
        query.setdefault(k, v)
    got = ds3_auth.string_to_sign("PUT", raw_path, query, CIMultiDict(sent))
    assert got == sts
    assert sent["Authorization"] == "AWS AK:" + ds3_auth.sign("SK", got)


def test_claims():
    assert claims("GET", "/_rest_/job_chunk", {"job": "x"})
    assert claims("PUT", "/b/k", {"job": "x", "offset": "0"})
    assert claims("GET", "/b", {"versions": "False", "max_keys": "1000"})
    assert not claims("GET", "/b", {"versions": ""})  # S3's ListObjectVersions
    assert not claims("GET", "/b", {})
    assert not claims("PUT", "/b/k", {"uploadId": "u"})
    ds3_sdk = {"Authorization": "AWS AK:sig", "Date": "x"}  # the SDK sends no User-Agent
    boto = {**ds3_sdk, "User-Agent": "Boto3/1.35"}
    assert claims("GET", "/", {}, ds3_sdk) and claims("GET", "/b", {"prefix": "p"}, ds3_sdk)
    assert not claims("GET", "/", {}, boto) and not claims("GET", "/b", {"prefix": "p"}, boto)
    assert not claims("GET", "/b", {"location": ""}, ds3_sdk)


def test_parse_objects():
    objs = ds3_xml.parse_objects(b'<Objects><Object Name="a" Size="3"/><Object Name="b/c" Offset="1"/></Objects>',
                                 1000)
    assert objs == [{"Name": "a", "Size": "3"}, {"Name": "b/c", "Offset": "1"}]
    for bad in (b"<Objects><Object Size='3'/></Objects>", b"<Other/>", b"<Objects>", b"",
                b'<!DOCTYPE x [<!ENTITY a "b">]><Objects/>'):
        with pytest.raises(S3Error) as e:
            ds3_xml.parse_objects(bad, 1000)
        assert e.value.code == "MalformedXML"
