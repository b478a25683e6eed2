"""The batch GET endpoint (`POST /_coffer/batch/v1/get`, docs/batch-get.md) on a real server, read with
Python's own tarfile: bytes and pax records per member, per-key errors (missing, denied, SSE-C,
unknown version), versions by id, an object larger than inline, and bad requests."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from typing import Any

import pytest
from access_users import new_user
from helpers import skip_if_external

from coffer import Client, CofferError


def _post(url: str, ak: str, sk: str, doc: Any, raw: bytes | None = None) -> bytes:
    """The answer's bytes (the SDK's transport signs like any Coffer client; errors raise CofferError)."""
    c = Client(url, ak, sk)
    body = raw if raw is not None else json.dumps(doc).encode()
    resp = c._transport.request("POST", "_coffer", "batch/v1/get", body=body,
                                headers={"Content-Type": "application/json"}, retries=False)
    assert resp.headers["Content-Type"] == "application/x-tar"
    return resp.data or b""


def _members(answer: bytes) -> list[tuple[tarfile.TarInfo, bytes]]:
    assert answer.endswith(b"\0" * 1024)  # the end-of-archive blocks: nothing was cut
    with tarfile.open(fileobj=io.BytesIO(answer), mode="r:") as tar:
        return [(m, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]


def test_objects_come_back_in_order_with_their_records_and_errors_per_key(endpoint, s3, bucket):
    skip_if_external(endpoint, "the batch GET is Coffer's")
    small = b"hello batch\n"
    big = os.urandom(300 * 1024)  # larger than inline: the verified data path, streamed
    s3.put_object(Bucket=bucket, Key="dir/a.txt", Body=small, ContentType="text/plain", Metadata={"k": "v"},
                  ChecksumAlgorithm="CRC32C")
    s3.put_object(Bucket=bucket, Key="big.bin", Body=big)
    s3.put_object(Bucket=bucket, Key="enc", Body=b"secret", ServerSideEncryption="AES256")
    customer_key = os.urandom(32)
    s3.put_object(Bucket=bucket, Key="ssec", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=customer_key)
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    doc = {"bucket": bucket, "continue_on_error": True,
           "objects": [{"key": "dir/a.txt"}, "big.bin", {"key": "nope"}, {"key": "enc"}, {"key": "ssec"},
                       {"key": "empty"}]}
    got = _members(_post(endpoint.url, endpoint.access_key, endpoint.secret_key, doc))
    assert [m.name for m, _ in got] == ["dir/a.txt", "big.bin", "nope", "enc", "ssec", "empty"]
    (a, a_data), (b, b_data), (nope, _), (enc, enc_data), (ssec, _), (empty, empty_data) = got
    head = s3.head_object(Bucket=bucket, Key="dir/a.txt", ChecksumMode="ENABLED")
    assert a_data == small and a.size == len(small)
    assert a.pax_headers["COFFER.etag"] == head["ETag"].strip('"') == hashlib.md5(small).hexdigest()
    assert a.pax_headers["COFFER.checksum-crc32c"] == head["ChecksumCRC32C"]
    assert a.pax_headers["COFFER.content-type"] == "text/plain" and a.pax_headers["COFFER.meta-k"] == "v"
    assert int(a.mtime) == int(head["LastModified"].timestamp())
    assert "COFFER.error-code" not in a.pax_headers
    assert b_data == big and b.pax_headers["COFFER.etag"] == hashlib.md5(big).hexdigest()
    assert nope.size == 0 and nope.pax_headers["COFFER.error-code"] == "NoSuchKey"
    assert nope.pax_headers["COFFER.error-status"] == "404" and nope.pax_headers["COFFER.error-message"]
    assert enc_data == b"secret" and enc.size == 6  # SSE-S3: decrypted as for a GET
    assert ssec.size == 0 and ssec.pax_headers["COFFER.error-code"] == "InvalidRequest"  # needs its key
    assert empty.size == 0 and empty_data == b"" and "COFFER.error-code" not in empty.pax_headers


def test_without_continue_on_error_the_archive_ends_at_the_first_failed_key(endpoint, s3, bucket):
    skip_if_external(endpoint, "the batch GET is Coffer's")
    s3.put_object(Bucket=bucket, Key="a", Body=b"1")
    s3.put_object(Bucket=bucket, Key="c", Body=b"3")
    got = _members(_post(endpoint.url, endpoint.access_key, endpoint.secret_key,
                         {"bucket": bucket, "objects": ["a", "b", "c"]}))
    assert [(m.name, m.pax_headers.get("COFFER.error-code")) for m, _ in got] == [("a", None), ("b", "NoSuchKey")]


def test_a_version_by_its_id(endpoint, s3, bucket):
    skip_if_external(endpoint, "the batch GET is Coffer's")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"first")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"second")["VersionId"]
    doc = {"bucket": bucket, "continue_on_error": True,
           "objects": [{"key": "k", "version_id": v1}, {"key": "k"}, {"key": "k", "version_id": "nosuchversion"}]}
    (old, old_data), (cur, cur_data), (missing, _) = _members(
        _post(endpoint.url, endpoint.access_key, endpoint.secret_key, doc))
    assert old_data == b"first" and old.pax_headers["COFFER.version-id"] == v1
    assert cur_data == b"second" and cur.pax_headers["COFFER.version-id"] == v2
    assert missing.pax_headers["COFFER.error-code"] == "NoSuchVersion"
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])


def test_each_key_is_authorized_on_its_own(endpoint, s3, bucket):
    user = new_user(endpoint)
    s3.put_object(Bucket=bucket, Key="pub/a", Body=b"readable")
    s3.put_object(Bucket=bucket, Key="priv/b", Body=b"hidden")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": [user.id]}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/pub/*"}]}))
    doc = {"bucket": bucket, "continue_on_error": True, "objects": ["pub/a", "priv/b", "pub/missing"]}
    (a, a_data), (b, _), (missing, _) = _members(_post(endpoint.url, user.access_key, user.secret_key, doc))
    assert a_data == b"readable" and "COFFER.error-code" not in a.pax_headers
    assert b.pax_headers["COFFER.error-code"] == "AccessDenied" and b.pax_headers["COFFER.error-status"] == "403"
    # not allowed to list the bucket: a missing key's absence does not leak (as for a single GET)
    assert missing.pax_headers["COFFER.error-code"] == "AccessDenied"
    s3.delete_bucket_policy(Bucket=bucket)


@pytest.mark.parametrize(("raw", "status", "code"), [
    (b"{not json", 400, "MalformedJSON"),
    (b'{"bucket": "b", "objects": "k"}', 400, "InvalidArgument"),
    (b'{"objects": []}', 400, "InvalidArgument"),
    (b'{"bucket": "b", "objects": [{"key": ""}]}', 400, "InvalidArgument"),
    (b'{"bucket": "no-such-bucket-for-batch", "objects": ["k"]}', 404, "NoSuchBucket"),
])
def test_a_bad_request_gets_the_precise_error_before_any_byte(endpoint, raw, status, code):
    skip_if_external(endpoint, "the batch GET is Coffer's")
    with pytest.raises(CofferError) as e:
        _post(endpoint.url, endpoint.access_key, endpoint.secret_key, None, raw=raw)
    assert (e.value.status, e.value.code) == (status, code)


def test_other_methods_and_operations_are_refused(endpoint):
    skip_if_external(endpoint, "the batch GET is Coffer's")
    c = Client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    with pytest.raises(CofferError) as e:
        c._transport.request("GET", "_coffer", "batch/v1/get", retries=False)
    assert e.value.code == "MethodNotAllowed"
    with pytest.raises(CofferError) as e:
        c._transport.request("POST", "_coffer", "batch/v1/put", body=b"{}", retries=False)
    assert e.value.code == "NotImplemented"


def test_an_anonymous_caller_reads_nothing_of_a_private_bucket(endpoint, s3, bucket):
    skip_if_external(endpoint, "the batch GET is Coffer's")
    s3.put_object(Bucket=bucket, Key="k", Body=b"private")
    c = Client(endpoint.url, None, None)
    resp = c._transport.request("POST", "_coffer", "batch/v1/get", body=json.dumps(
        {"bucket": bucket, "objects": ["k"], "continue_on_error": True}).encode(), retries=False)
    ((m, data),) = _members(resp.data or b"")
    assert data == b"" and m.pax_headers["COFFER.error-code"] == "AccessDenied"


def test_a_client_that_goes_away_mid_answer_leaves_nothing_behind(endpoint, s3, bucket):
    skip_if_external(endpoint, "the batch GET is Coffer's")
    big = os.urandom(3 * 1024 * 1024)
    for i in range(4):
        s3.put_object(Bucket=bucket, Key=f"big{i}", Body=big)
    c = Client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    for _ in range(3):
        resp = c._transport.request("POST", "_coffer", "batch/v1/get", stream=True, body=json.dumps(
            {"bucket": bucket, "objects": [f"big{i}" for i in range(4)]}).encode(), retries=False)
        assert len(resp.raw.read(100_000)) == 100_000
        resp.discard()  # the connection closes with most of the answer unsent
    # the server goes on answering, and logged no stray task or traceback for the abandoned answers
    ((_m, data),) = _members(_post(endpoint.url, endpoint.access_key, endpoint.secret_key,
                                   {"bucket": bucket, "objects": ["big3"]}))
    assert data == big
    if endpoint.server is not None:
        log = endpoint.server.log_text()
        assert "never retrieved" not in log and "Traceback" not in log, log
