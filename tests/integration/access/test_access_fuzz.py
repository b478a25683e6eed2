"""Hostile input to the access-control endpoints: random documents and headers never cause a server
error, and a refused document never changes what was stored before."""

from __future__ import annotations

import json
import uuid

import pytest
import urllib3
from helpers import raw_request, skip_if_external
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                           lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
                           max_leaves=20)


@pytest.fixture(scope="module")
def fuzz_bucket(endpoint):
    skip_if_external(endpoint)
    name = f"fz-{uuid.uuid4().hex[:16]}"
    assert raw_request(endpoint, "PUT", f"/{name}").status == 200
    good = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                       "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/public/*"}]})
    assert raw_request(endpoint, "PUT", f"/{name}?policy", body=good.encode()).status == 204
    yield name, good
    raw_request(endpoint, "DELETE", f"/{name}?policy")
    raw_request(endpoint, "DELETE", f"/{name}")


def _doc(draw_value) -> bytes:
    return json.dumps(draw_value).encode()


@PROPERTY
@given(body=st.one_of(st.binary(max_size=300), json_values.map(_doc),
                      st.fixed_dictionaries({"Version": st.sampled_from(["2012-10-17", "2008-10-17", "x"]),
                                             "Statement": json_values}).map(_doc)))
def test_random_policies(endpoint, fuzz_bucket, body):
    name, good = fuzz_bucket
    r = raw_request(endpoint, "PUT", f"/{name}?policy", body=body)
    assert r.status < 500, r.body[:300]
    if r.status != 204:
        assert b"<Code>MalformedPolicy</Code>" in r.body, r.body[:300]
        got = raw_request(endpoint, "GET", f"/{name}?policy")
        assert got.body.decode() == good  # a refused policy leaves the old one in place
    else:
        raw_request(endpoint, "PUT", f"/{name}?policy", body=good.encode())


@PROPERTY
@given(body=st.binary(max_size=300), sub=st.sampled_from(["acl", "publicAccessBlock", "ownershipControls"]))
def test_random_settings_documents(endpoint, fuzz_bucket, body, sub):
    name, _ = fuzz_bucket
    r = raw_request(endpoint, "PUT", f"/{name}?{sub}", body=body)
    assert r.status < 500 and r.status != 200, r.body[:300]


@PROPERTY
@given(name=st.sampled_from(["x-amz-acl", "x-amz-grant-read", "x-amz-grant-full-control", "x-amz-object-ownership"]),
       value=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60))
def test_random_acl_headers(endpoint, fuzz_bucket, name, value):
    bucket, _ = fuzz_bucket
    r = raw_request(endpoint, "PUT", f"/{bucket}/fuzz-object", headers={name: value}, body=b"x")
    assert r.status < 500, r.body[:300]


@PROPERTY
@given(body=st.one_of(st.binary(max_size=200), json_values.map(_doc)),
       path=st.sampled_from(["quotas/nobody", "users/fuzz-user", "keys", "keys/NOKEY", "buckets/none"]),
       method=st.sampled_from(["PUT", "POST", "DELETE", "GET"]))
def test_random_admin_requests(endpoint, body, path, method):
    skip_if_external(endpoint)
    r = raw_request(endpoint, method, f"/_coffer/admin/v1/{path}", body=body)
    assert r.status < 500, r.body[:300]
    if path == "users/fuzz-user" and r.status == 200:
        raw_request(endpoint, "DELETE", "/_coffer/admin/v1/users/fuzz-user")


@PROPERTY
@given(fields=st.lists(st.tuples(st.sampled_from(["key", "policy", "x-amz-signature", "x-amz-credential",
                                                  "x-amz-algorithm", "signature", "AWSAccessKeyId", "acl",
                                                  "success_action_status", "Content-Type"]),
                                 st.text(max_size=40)), max_size=8),
       file=st.booleans())
def test_random_post_forms(endpoint, fuzz_bucket, fields, file):
    bucket, _ = fuzz_bucket
    items: list = list(fields) + ([("file", ("f", b"data"))] if file else [])
    body, ctype = urllib3.encode_multipart_formdata(items)
    r = urllib3.request("POST", f"{endpoint.url}/{bucket}", body=body, headers={"Content-Type": ctype}, timeout=30)
    assert r.status < 500, r.data[:300]
    assert r.status >= 400  # no valid signature, private bucket: never accepted
