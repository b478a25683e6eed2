"""Integration tests for S3 bucket operations: list, create (regions, names, ownership), head, delete,
and virtual-host-style addressing. Each expected error is checked by exact S3 code and HTTP status.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import pytest
from helpers import (
    client,
    is_external,
    raw_request,
    s3_error,
    skip_if_external,
    skip_on_moto,
    unique,
)

S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _name() -> str:
    return unique("b")


def test_list_buckets_shows_owner_and_new_bucket(s3, bucket):
    resp = s3.list_buckets()
    owner = resp["Owner"]
    assert owner["ID"], owner
    assert owner.get("DisplayName"), owner
    names = [b["Name"] for b in resp["Buckets"]]
    assert bucket in names
    mine = next(b for b in resp["Buckets"] if b["Name"] == bucket)
    assert mine["CreationDate"].year >= 2024


def test_create_bucket_us_east_1_has_null_location(s3, bucket):
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None


def test_create_bucket_other_region_is_echoed(s3):
    name = _name()
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    try:
        assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
        s3.head_bucket(Bucket=name)
    finally:
        s3.delete_bucket(Bucket=name)


BAD_NAMES = [
    "ab",  # too short
    "a" * 64,  # too long
    "MyBucket",  # uppercase
    "my_bucket",  # underscore
    "192.168.5.4",  # IP-address-like
    "-leading-dash",
    "trailing-dash-",
    ".leading-dot",
    "trailing-dot.",
    "double..dot",
    "xn--punycode-prefix",
    "reserved-s3alias",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_bucket_names_are_rejected(s3, endpoint, name):
    if name not in ("ab", "a" * 64):
        skip_on_moto(endpoint, "moto checks only the length of bucket names")
    with s3_error("InvalidBucketName", 400):
        s3.create_bucket(Bucket=name)
        s3.delete_bucket(Bucket=name)  # reached only when wrongly accepted: tidy up, then fail


def test_valid_bucket_names_at_the_limits(s3):
    tag = uuid.uuid4().hex
    for name in (tag[:3], ("v" + tag * 2)[:63], f"a.b-c.{tag[:8]}", str(int(tag[:10], 16))[:10]):
        s3.create_bucket(Bucket=name)
        s3.head_bucket(Bucket=name)
        s3.delete_bucket(Bucket=name)


def test_recreate_own_bucket(s3, endpoint, bucket):
    # S3's legacy rule: in us-east-1 re-creating your own bucket answers 200; in any other region
    # BucketAlreadyOwnedByYou (409).
    s3.create_bucket(Bucket=bucket)
    skip_on_moto(endpoint, "moto has no second region here")
    with s3_error("BucketAlreadyOwnedByYou", 409):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})


def test_bucket_of_another_user_already_exists(server_factory, endpoint, tmp_path):
    skip_if_external(endpoint)
    srv = server_factory()
    # Add the second user while the server is stopped, so the test does not depend on whether
    # the server notices users added to a live data folder.
    srv.stop()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "coffer",
            "user",
            "add",
            "bob",
            "--access-key",
            "BOBACCESSKEY00000001",
            "--secret-key",
            "bob-secret-key-0123456789abcdefghijkl",
            "--data",
            str(srv.data),
        ],
        check=True,
        capture_output=True,
    )
    srv.start()
    alice = client(srv.endpoint, srv.access_key, srv.secret_key)
    bob = client(srv.endpoint, "BOBACCESSKEY00000001", "bob-secret-key-0123456789abcdefghijkl")
    name = _name()
    alice.create_bucket(Bucket=name)
    with s3_error("BucketAlreadyExists", 409):
        bob.create_bucket(Bucket=name)
    # Each user lists only their own buckets, under their own owner id.
    bob_name = _name()
    bob.create_bucket(Bucket=bob_name)
    a, b = alice.list_buckets(), bob.list_buckets()
    assert [x["Name"] for x in a["Buckets"]] == [name]
    assert [x["Name"] for x in b["Buckets"]] == [bob_name]
    assert a["Owner"]["ID"] != b["Owner"]["ID"]


def test_head_bucket(s3, bucket):
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with s3_error("404", 404):
        s3.head_bucket(Bucket=_name())


def test_delete_bucket_errors(s3, bucket):
    s3.put_object(Bucket=bucket, Key="x", Body=b"1")
    with s3_error("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=bucket)
    with s3_error("NoSuchBucket", 404):
        s3.delete_bucket(Bucket=_name())
    s3.delete_object(Bucket=bucket, Key="x")
    s3.delete_bucket(Bucket=bucket)
    with s3_error("404", 404):
        s3.head_bucket(Bucket=bucket)


def test_operations_on_missing_bucket(s3):
    name = _name()
    with s3_error("NoSuchBucket", 404):
        s3.list_objects_v2(Bucket=name)
    with s3_error("NoSuchBucket", 404):
        s3.put_object(Bucket=name, Key="k", Body=b"x")
    with s3_error("NoSuchBucket", 404):
        s3.get_object(Bucket=name, Key="k")


def test_virtual_host_raw_request(s3, endpoint, bucket):
    s3.put_object(Bucket=bucket, Key="dir/hello.txt", Body=b"hello vhost")
    port = urllib.parse.urlsplit(endpoint.url).port
    host = f"{bucket}.localhost:{port}"
    got = raw_request(endpoint, "GET", "/dir/hello.txt", host=host)
    assert got.status == 200, got.body[:300]
    assert got.body == b"hello vhost"
    # Listing the bucket through its virtual host: GET / on the bucket's host.
    listed = raw_request(endpoint, "GET", "/?list-type=2", host=host)
    assert listed.status == 200, listed.body[:300]
    keys = [e.text for e in ET.fromstring(listed.body).iter(S3NS + "Key")]
    assert keys == ["dir/hello.txt"]


def test_virtual_host_with_boto3(s3, endpoint, bucket, monkeypatch):
    if is_external(endpoint) and urllib.parse.urlsplit(endpoint.url).hostname not in ("127.0.0.1",):
        pytest.skip("virtual-host resolution trick assumes a loopback endpoint")
    # glibc's "files dns" resolver does not map *.localhost to loopback (systemd-resolved would),
    # so the test teaches this process's resolver what RFC 6761 says: *.localhost is loopback.
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    port = urllib.parse.urlsplit(endpoint.url).port
    vs3 = client(f"http://localhost:{port}", endpoint.access_key, endpoint.secret_key, addressing_style="virtual")
    sent: list[str] = []
    vs3.meta.events.register("before-send.s3", lambda request, **_: sent.append(request.url))
    vs3.put_object(Bucket=bucket, Key="v/key one", Body=b"virtual")
    assert urllib.parse.urlsplit(sent[0]).hostname == f"{bucket}.localhost", sent
    assert vs3.get_object(Bucket=bucket, Key="v/key one")["Body"].read() == b"virtual"
    assert [o["Key"] for o in vs3.list_objects_v2(Bucket=bucket)["Contents"]] == ["v/key one"]
    vs3.delete_object(Bucket=bucket, Key="v/key one")
    # The same bucket seen through path style: the virtual-host writes really went to it.
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
