"""S3's answers to encryption parameters a read cannot use, and KMS keys named by the operator:
SSE-C GET/HEAD/copy without the key or with another key are 400 (not 403), SSE-S3 or SSE-KMS headers
on GET/HEAD are 400 InvalidArgument, an SSE-KMS PUT naming no usable key is 400, and
`coffer kms key create --id NAME` makes a key that requests name by NAME or by its ARN.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from helpers import s3_error
from sse_support import KEY_A, ssec

KEY_B = bytes(range(1, 33))


@pytest.fixture
def bkt(c):
    name = f"sse-{uuid.uuid4().hex[:16]}"
    c.create_bucket(Bucket=name)
    return name


def test_sse_c_reads_without_or_with_another_key_are_400(c, bkt):
    c.put_object(Bucket=bkt, Key="c", Body=b"secret", **ssec(KEY_A))
    for kw in ({}, ssec(KEY_B)):
        with s3_error("InvalidRequest", 400):
            c.get_object(Bucket=bkt, Key="c", **kw)
        with s3_error("400", 400):  # HEAD: no body, the status alone
            c.head_object(Bucket=bkt, Key="c", **kw)
        with s3_error("InvalidRequest", 400):
            c.copy_object(Bucket=bkt, Key="c2", CopySource={"Bucket": bkt, "Key": "c"},
                          **{"CopySource" + k: v for k, v in kw.items()})
    assert c.get_object(Bucket=bkt, Key="c", **ssec(KEY_A))["Body"].read() == b"secret"


@pytest.mark.parametrize("sse", ["AES256", "aws:kms"])
def test_sse_headers_on_reads_are_400(c, bkt, sse):
    c.put_object(Bucket=bkt, Key="o", Body=b"x", ServerSideEncryption="AES256")

    def add_header(request, **_):
        request.headers["x-amz-server-side-encryption"] = sse

    c.meta.events.register_first("before-sign.s3.GetObject", add_header)
    c.meta.events.register_first("before-sign.s3.HeadObject", add_header)
    try:
        with s3_error("InvalidArgument", 400):
            c.get_object(Bucket=bkt, Key="o")
        with s3_error("400", 400):
            c.head_object(Bucket=bkt, Key="o")
    finally:
        c.meta.events.unregister("before-sign.s3.GetObject", add_header)
        c.meta.events.unregister("before-sign.s3.HeadObject", add_header)
    assert c.get_object(Bucket=bkt, Key="o")["Body"].read() == b"x"


def test_sse_kms_put_without_a_usable_key_is_400(c, bkt):
    with s3_error("KMS.NotFoundException", 400):
        c.put_object(Bucket=bkt, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="no-such-key")
    with s3_error("404", 404):
        c.head_object(Bucket=bkt, Key="k")  # nothing stored


def _kms(srv, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "coffer", "kms", "key", *args, "--data", str(srv.data)],
                          capture_output=True, text=True)


def test_kms_key_with_operator_chosen_id(c, bkt, srv):
    name = f"legacy-vault-{uuid.uuid4().hex[:6]}"
    made = json.loads(_kms(srv, "create", "--id", name, "--json").stdout)
    assert made["id"] == name and made["arn"].endswith(":key/" + name)
    assert _kms(srv, "create", "--id", name).returncode != 0  # ids are unique
    assert _kms(srv, "create", "--id", "arn:aws:kms:x").returncode != 0
    for key_ref, obj in ((name, "by-id"), (made["arn"], "by-arn")):
        put = c.put_object(Bucket=bkt, Key=obj, Body=b"kms", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_ref)
        assert put["SSEKMSKeyId"] == made["arn"]
        got = c.get_object(Bucket=bkt, Key=obj)
        assert got["SSEKMSKeyId"] == made["arn"] and got["Body"].read() == b"kms"
    assert name in _kms(srv, "list").stdout
