"""Encryption at rest through boto3: SSE-S3, SSE-C, SSE-KMS (keys made with `coffer kms key create`),
bucket default encryption, Key Protect-style buckets, range reads, multipart uploads, copies between
modes, refusals with S3's errors, tampering, and a scan proving no plaintext reaches the disk.

One server of the module's own (its data folder is inspected and its key store edited).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from helpers import MiB, client, data, s3_error
from sse_support import KEY_A, ssec

KEY_B = bytes(range(1, 33))
MARKER = b"PLAINTEXT-MARKER-7b:"  # repeated through every body the disk scan looks for


@dataclass
class Endpoint:
    url: str
    access_key: str
    secret_key: str
    server: Any


def ep_of(srv) -> Endpoint:
    return Endpoint(srv.endpoint, srv.access_key, srv.secret_key, srv)


def client_of(srv):
    return client(srv.endpoint, srv.access_key, srv.secret_key)


@pytest.fixture
def bkt(c):
    name = f"sse-{uuid.uuid4().hex[:16]}"
    c.create_bucket(Bucket=name)
    return name


def kms(srv, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "coffer", "kms", "key", *args, "--data", str(srv.data)],
                         capture_output=True, text=True, check=True)
    return out.stdout


def new_kms_key(srv, alias: str = "") -> dict:
    return json.loads(kms(srv, "create", "--json", *(["--alias", alias] if alias else [])))


def marked(size: int, seed: int = 0) -> bytes:
    """Incompressible bytes with the marker every 4 KiB: any plaintext block on disk would show it."""
    body = bytearray(data(size, seed))
    for off in range(0, max(0, size - len(MARKER)), 4096):
        body[off : off + len(MARKER)] = MARKER
    return bytes(body)


# -- SSE-S3 -------------------------------------------------------------------------------------------
def test_sse_s3_roundtrip_and_headers(c, bkt):
    body = marked(300 * 1024 + 7)
    put = c.put_object(Bucket=bkt, Key="o", Body=body, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    assert put["ETag"].strip('"') == hashlib.md5(body).hexdigest()  # SSE-S3 ETags are the MD5, as in S3
    got = c.get_object(Bucket=bkt, Key="o")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["ContentLength"] == len(body)
    assert got["Body"].read() == body
    assert c.head_object(Bucket=bkt, Key="o")["ServerSideEncryption"] == "AES256"


@pytest.mark.parametrize("size", [0, 1, 65536, 65537, 200_000])
def test_sse_s3_small_and_block_edges(c, bkt, size):
    body = data(size, size)
    c.put_object(Bucket=bkt, Key="e", Body=body, ServerSideEncryption="AES256")
    assert c.get_object(Bucket=bkt, Key="e")["Body"].read() == body


@pytest.mark.parametrize("rng", [(0, 0), (65535, 65536), (65536, 65536), (100, 200_000), (2 * MiB - 5, None),
                                 (None, 70_000), (1_000_003, 1_500_000)])
def test_sse_range_reads(c, bkt, rng):
    body = data(2 * MiB + 123, 9)
    c.put_object(Bucket=bkt, Key="r", Body=body, ServerSideEncryption="AES256")
    a, b = rng
    header = f"bytes={'' if a is None else a}-{'' if b is None else b}"
    got = c.get_object(Bucket=bkt, Key="r", Range=header)
    want = body[-b:] if a is None else body[a : (b + 1 if b is not None else None)]
    assert got["Body"].read() == want
    assert got["ContentLength"] == len(want)


def test_invalid_sse_header(c, bkt):
    with s3_error("InvalidArgument", 400):
        c.put_object(Bucket=bkt, Key="x", Body=b"x", ServerSideEncryption="aws:kms:dsse")


# -- SSE-C --------------------------------------------------------------------------------------------
def test_sse_c_requires_the_key_on_every_read(c, bkt):
    body = marked(150_000)
    put = c.put_object(Bucket=bkt, Key="c", Body=body, **ssec(KEY_A))
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"] == base64.b64encode(hashlib.md5(KEY_A).digest()).decode()
    assert put["ETag"].strip('"') != hashlib.md5(body).hexdigest()  # no MD5 of the plaintext leaks
    assert c.get_object(Bucket=bkt, Key="c", **ssec(KEY_A))["Body"].read() == body
    got = c.get_object(Bucket=bkt, Key="c", Range="bytes=70000-80000", **ssec(KEY_A))
    assert got["Body"].read() == body[70000:80001]
    with s3_error("InvalidRequest", 400):
        c.get_object(Bucket=bkt, Key="c")
    with s3_error("InvalidRequest", 400):
        c.get_object(Bucket=bkt, Key="c", **ssec(KEY_B))
    with s3_error("400", 400):
        c.head_object(Bucket=bkt, Key="c")
    assert c.head_object(Bucket=bkt, Key="c", **ssec(KEY_A))["ContentLength"] == len(body)


def test_sse_c_key_not_applicable_to_plain_object(c, bkt):
    c.put_object(Bucket=bkt, Key="p", Body=b"plain")
    with s3_error("InvalidRequest", 400):
        c.get_object(Bucket=bkt, Key="p", **ssec(KEY_A))


def test_sse_c_bad_md5_and_bad_key(c, bkt, srv):
    from helpers import raw_request

    ep = ep_of(srv)
    k = base64.b64encode(KEY_A).decode()
    hdrs = {"x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key": k,
            "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(b"0" * 16).decode()}
    r = raw_request(ep, "PUT", f"/{bkt}/m", headers=hdrs, body=b"abc")
    assert r.status == 400 and b"<Code>InvalidArgument</Code>" in r.body
    hdrs["x-amz-server-side-encryption-customer-key"] = base64.b64encode(b"short").decode()
    r = raw_request(ep, "PUT", f"/{bkt}/m", headers=hdrs, body=b"abc")
    assert r.status == 400 and b"secret key was invalid" in r.body
    hdrs["x-amz-server-side-encryption-customer-algorithm"] = "AES128"
    r = raw_request(ep, "PUT", f"/{bkt}/m", headers=hdrs, body=b"abc")
    assert r.status == 400 and b"InvalidEncryptionAlgorithmError" in r.body
    with pytest.raises(ClientError):
        c.head_object(Bucket=bkt, Key="m")  # nothing was stored


# -- SSE-KMS ------------------------------------------------------------------------------------------
def test_sse_kms_with_cli_key(c, bkt, srv):
    key = new_kms_key(srv, alias=f"photos-{uuid.uuid4().hex[:6]}")
    body = marked(100_000, 3)
    put = c.put_object(Bucket=bkt, Key="k", Body=body, ServerSideEncryption="aws:kms",
                       SSEKMSKeyId="alias/" + key["alias"])
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == key["arn"]
    got = c.get_object(Bucket=bkt, Key="k")
    assert got["SSEKMSKeyId"] == key["arn"] and got["Body"].read() == body
    listed = kms(srv, "list", "--json")
    assert key["id"] in listed and "material" not in listed
    kms(srv, "disable", key["id"])
    with s3_error("KMS.DisabledException", 400):
        c.get_object(Bucket=bkt, Key="k")
    with s3_error("KMS.DisabledException", 400):
        c.put_object(Bucket=bkt, Key="k2", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["id"])
    kms(srv, "enable", key["id"])
    assert c.get_object(Bucket=bkt, Key="k")["Body"].read() == body


def test_sse_kms_unknown_key_and_default_key(c, bkt):
    with s3_error("KMS.NotFoundException", 400):
        c.put_object(Bucket=bkt, Key="u", Body=b"x", ServerSideEncryption="aws:kms",
                     SSEKMSKeyId=str(uuid.uuid4()))
    put = c.put_object(Bucket=bkt, Key="d", Body=b"default key", ServerSideEncryption="aws:kms")
    assert put["SSEKMSKeyId"].startswith("arn:aws:kms:")
    assert c.get_object(Bucket=bkt, Key="d")["Body"].read() == b"default key"


# -- bucket default encryption and Key Protect ------------------------------------------------------
def test_bucket_default_encryption(c, bkt, srv):
    with s3_error("ServerSideEncryptionConfigurationNotFoundError", 404):
        c.get_bucket_encryption(Bucket=bkt)
    key = new_kms_key(srv)
    c.put_bucket_encryption(Bucket=bkt, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["id"]},
        "BucketKeyEnabled": True}]})
    rule = c.get_bucket_encryption(Bucket=bkt)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["arn"]}
    assert rule["BucketKeyEnabled"] is True
    put = c.put_object(Bucket=bkt, Key="o", Body=b"defaulted")
    assert put["SSEKMSKeyId"] == key["arn"]
    # an explicit request wins over the default
    assert c.put_object(Bucket=bkt, Key="s", Body=b"x", ServerSideEncryption="AES256")["ServerSideEncryption"] \
        == "AES256"
    c.delete_bucket_encryption(Bucket=bkt)
    assert "ServerSideEncryption" not in c.put_object(Bucket=bkt, Key="p", Body=b"plain")
    assert c.get_object(Bucket=bkt, Key="o")["Body"].read() == b"defaulted"


def test_bucket_encryption_refusals(c, bkt):
    with s3_error("InvalidArgument", 400):
        c.put_bucket_encryption(Bucket=bkt, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": "x"}}]})
    with s3_error("KMS.NotFoundException", 400):
        c.put_bucket_encryption(Bucket=bkt, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/none"}}]})


def test_key_protect_bucket(srv):
    """IBM's own SDK (ibm_boto3) creates a Key Protect bucket tied to a named root key of the local store."""
    ibm_boto3 = pytest.importorskip("ibm_boto3")
    from ibm_botocore.client import Config
    from ibm_botocore.exceptions import ClientError as IbmClientError

    cos = ibm_boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=srv.access_key,
                           aws_secret_access_key=srv.secret_key, config=Config(signature_version="s3v4"),
                           region_name="us-east-1")
    key = new_kms_key(srv, alias=f"root-{uuid.uuid4().hex[:6]}")
    crn = f"crn:v1:bluemix:public:kms:us-south:a/0000:0000:key:{key['id']}"
    name = f"kp-{uuid.uuid4().hex[:12]}"
    cos.create_bucket(Bucket=name, IBMSSEKPEncryptionAlgorithm="AES256", IBMSSEKPCustomerRootKeyCrn=crn)
    head = cos.head_bucket(Bucket=name)
    assert head["IBMSSEKPEnabled"] is True and head["IBMSSEKPCrkId"] == crn
    assert cos.put_object(Bucket=name, Key="o", Body=b"kp")["SSEKMSKeyId"] == key["arn"]
    assert cos.get_object(Bucket=name, Key="o")["Body"].read() == b"kp"
    # the root key by alias works too; an unknown root key creates no bucket
    cos.create_bucket(Bucket=name + "-a", IBMSSEKPEncryptionAlgorithm="AES256",
                      IBMSSEKPCustomerRootKeyCrn="alias/" + key["alias"])
    with pytest.raises(IbmClientError) as ei:
        cos.create_bucket(Bucket=name + "-x", IBMSSEKPEncryptionAlgorithm="AES256",
                          IBMSSEKPCustomerRootKeyCrn="crn:v1:x:key:" + str(uuid.uuid4()))
    assert ei.value.response["Error"]["Code"] == "KMS.NotFoundException"
    with pytest.raises(IbmClientError):
        cos.head_bucket(Bucket=name + "-x")


# -- multipart and copies -----------------------------------------------------------------------------
def _multipart(c, bkt, key, parts, **sse):
    up = c.create_multipart_upload(Bucket=bkt, Key=key, **sse)
    done = []
    for i, p in enumerate(parts, 1):
        extra = {k: v for k, v in sse.items() if k.startswith("SSECustomer")}
        r = c.upload_part(Bucket=bkt, Key=key, UploadId=up["UploadId"], PartNumber=i, Body=p, **extra)
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    return up, c.complete_multipart_upload(Bucket=bkt, Key=key, UploadId=up["UploadId"],
                                           MultipartUpload={"Parts": done}, **{
                                               k: v for k, v in sse.items() if k.startswith("SSECustomer")})


@pytest.mark.parametrize("mode", ["AES256", "SSE-C"])
def test_multipart_encrypted(c, bkt, mode):
    sse = ssec(KEY_A) if mode == "SSE-C" else {"ServerSideEncryption": "AES256"}
    parts = [marked(5 * MiB, 1), marked(5 * MiB + 11, 2), marked(1000, 3)]
    whole = b"".join(parts)
    _multipart(c, bkt, "mp", parts, **sse)
    reads = {k: v for k, v in sse.items() if k.startswith("SSECustomer")}
    assert c.get_object(Bucket=bkt, Key="mp", **reads)["Body"].read() == whole
    a, b = 5 * MiB - 100, 10 * MiB + 20  # crosses both part boundaries
    got = c.get_object(Bucket=bkt, Key="mp", Range=f"bytes={a}-{b}", **reads)["Body"].read()
    assert got == whole[a : b + 1]
    part2 = c.get_object(Bucket=bkt, Key="mp", PartNumber=2, **reads)["Body"].read()
    assert part2 == parts[1]


def test_multipart_sse_c_part_without_key_refused(c, bkt):
    up = c.create_multipart_upload(Bucket=bkt, Key="m", **ssec(KEY_A))
    with s3_error("InvalidRequest", 400):
        c.upload_part(Bucket=bkt, Key="m", UploadId=up["UploadId"], PartNumber=1, Body=b"x")
    with s3_error("InvalidRequest", 400):
        c.upload_part(Bucket=bkt, Key="m", UploadId=up["UploadId"], PartNumber=1, Body=b"x", **ssec(KEY_B))
    c.abort_multipart_upload(Bucket=bkt, Key="m", UploadId=up["UploadId"])


def test_copies_between_modes(c, bkt, srv):
    body = marked(200_000, 5)
    c.put_object(Bucket=bkt, Key="plain", Body=body)
    src = {"Bucket": bkt, "Key": "plain"}
    r = c.copy_object(Bucket=bkt, Key="s3", CopySource=src, ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256"
    r = c.copy_object(Bucket=bkt, Key="c", CopySource={"Bucket": bkt, "Key": "s3"}, **ssec(KEY_A))
    assert r["SSECustomerKeyMD5"]
    key = new_kms_key(srv)
    r = c.copy_object(Bucket=bkt, Key="k", CopySource={"Bucket": bkt, "Key": "c"}, ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=key["id"], CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=KEY_A)
    assert r["SSEKMSKeyId"] == key["arn"]
    r = c.copy_object(Bucket=bkt, Key="back", CopySource={"Bucket": bkt, "Key": "k"})
    assert "ServerSideEncryption" not in r
    for k, extra in [("s3", {}), ("c", ssec(KEY_A)), ("k", {}), ("back", {})]:
        assert c.get_object(Bucket=bkt, Key=k, **extra)["Body"].read() == body, k
    with s3_error("InvalidRequest", 400):  # the SSE-C source needs its key
        c.copy_object(Bucket=bkt, Key="x", CopySource={"Bucket": bkt, "Key": "c"})
    # in place: change SSE-S3 -> SSE-C (a re-wrap of the data key)
    c.copy_object(Bucket=bkt, Key="s3", CopySource={"Bucket": bkt, "Key": "s3"}, **ssec(KEY_B))
    assert c.get_object(Bucket=bkt, Key="s3", **ssec(KEY_B))["Body"].read() == body


def test_copy_of_encrypted_multipart_and_part_copy(c, bkt):
    parts = [marked(5 * MiB, 7), marked(300_000, 8)]
    whole = b"".join(parts)
    _multipart(c, bkt, "mp", parts, ServerSideEncryption="AES256")
    c.copy_object(Bucket=bkt, Key="mp-c", CopySource={"Bucket": bkt, "Key": "mp"}, **ssec(KEY_A))
    assert c.get_object(Bucket=bkt, Key="mp-c", Range="bytes=5242000-5243000", **ssec(KEY_A))["Body"].read() \
        == whole[5242000:5243001]
    c.copy_object(Bucket=bkt, Key="mp-p", CopySource={"Bucket": bkt, "Key": "mp"})
    assert c.get_object(Bucket=bkt, Key="mp-p")["Body"].read() == whole
    up = c.create_multipart_upload(Bucket=bkt, Key="pc", ServerSideEncryption="AES256")
    r = c.upload_part_copy(Bucket=bkt, Key="pc", UploadId=up["UploadId"], PartNumber=1,
                           CopySource={"Bucket": bkt, "Key": "mp-c"}, CopySourceRange="bytes=100-5242979",
                           CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=KEY_A)
    c.complete_multipart_upload(Bucket=bkt, Key="pc", UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": r["CopyPartResult"]["ETag"]}]})
    assert c.get_object(Bucket=bkt, Key="pc")["Body"].read() == whole[100:5242980]


def test_reencrypting_copy_shares_data_and_outlives_its_source(c, bkt, srv):
    body = marked(400_000, 11)
    c.put_object(Bucket=bkt, Key="src", Body=body, **ssec(KEY_A))
    before = set(_segment_files(srv))
    c.copy_object(Bucket=bkt, Key="dst", CopySource={"Bucket": bkt, "Key": "src"}, ServerSideEncryption="AES256",
                  CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=KEY_A)
    assert set(_segment_files(srv)) == before  # only the data key was re-wrapped
    c.delete_object(Bucket=bkt, Key="src")
    assert c.get_object(Bucket=bkt, Key="dst")["Body"].read() == body
    assert c.get_object(Bucket=bkt, Key="dst", Range="bytes=131000-131100")["Body"].read() == body[131000:131101]


def test_reuploaded_part_number_reads_back_the_new_part(c, bkt):
    up = c.create_multipart_upload(Bucket=bkt, Key="re", ServerSideEncryption="AES256")
    uid = up["UploadId"]
    c.upload_part(Bucket=bkt, Key="re", UploadId=uid, PartNumber=1, Body=data(5 * MiB, 1))
    second = data(5 * MiB, 2)
    e1 = c.upload_part(Bucket=bkt, Key="re", UploadId=uid, PartNumber=1, Body=second)["ETag"]
    e2 = c.upload_part(Bucket=bkt, Key="re", UploadId=uid, PartNumber=2, Body=b"tail")["ETag"]
    c.complete_multipart_upload(Bucket=bkt, Key="re", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert c.get_object(Bucket=bkt, Key="re")["Body"].read() == second + b"tail"
    attrs = c.get_object_attributes(Bucket=bkt, Key="re", ObjectAttributes=["ObjectSize"])
    assert attrs["ObjectSize"] == len(second) + 4


def test_appends_refused_for_encryption(c, bkt, srv):
    from helpers import raw_request

    ep = ep_of(srv)
    c.put_bucket_encryption(Bucket=bkt, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    r = raw_request(ep, "PUT", f"/{bkt}/a?append", body=b"piece")
    assert r.status == 400 and b"InvalidRequest" in r.body


# -- master key from the environment -----------------------------------------------------------------
def test_master_key_from_env(server_factory, monkeypatch):
    """COFFER_MASTER_KEY replaces DATA/keys/master.key; after a restart with another key the objects are
    refused (never garbage), and a malformed key stops the start."""
    monkeypatch.setenv("COFFER_MASTER_KEY", base64.b64encode(b"m" * 32).decode())
    srv = server_factory()
    cl = client_of(srv)
    cl.create_bucket(Bucket="envkey")
    cl.put_object(Bucket="envkey", Key="o", Body=b"sealed by the env key", ServerSideEncryption="AES256")
    assert cl.get_object(Bucket="envkey", Key="o")["Body"].read() == b"sealed by the env key"
    assert not (srv.data / "keys" / "master.key").exists()
    srv.stop()
    monkeypatch.setenv("COFFER_MASTER_KEY", (b"n" * 32).hex())
    srv.start()
    with s3_error("InternalError", 500):
        cl.get_object(Bucket="envkey", Key="o")
    srv.stop()
    monkeypatch.setenv("COFFER_MASTER_KEY", "too-short")
    with pytest.raises(RuntimeError, match="bad master key"):
        srv.start()


def test_encrypted_objects_survive_kill_9(server_factory):
    """The master key, the KMS store and acknowledged encrypted objects are durable: kill -9, restart,
    every object reads back (an interrupted upload leaves nothing visible)."""
    srv = server_factory()
    cl = client_of(srv)
    cl.create_bucket(Bucket="crash")
    key = new_kms_key(srv)
    bodies = {"s3": marked(300_000, 1), "kms": marked(20_000, 2), "c": marked(200_000, 3)}
    cl.put_object(Bucket="crash", Key="s3", Body=bodies["s3"], ServerSideEncryption="AES256")
    cl.put_object(Bucket="crash", Key="kms", Body=bodies["kms"], ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=key["id"])
    cl.put_object(Bucket="crash", Key="c", Body=bodies["c"], **ssec(KEY_A))
    up = cl.create_multipart_upload(Bucket="crash", Key="half", ServerSideEncryption="AES256")
    cl.upload_part(Bucket="crash", Key="half", UploadId=up["UploadId"], PartNumber=1, Body=marked(5 * MiB, 4))
    srv.kill()
    srv.start()
    for k, body in bodies.items():
        extra = ssec(KEY_A) if k == "c" else {}
        assert cl.get_object(Bucket="crash", Key=k, **extra)["Body"].read() == body, k
    with s3_error("NoSuchKey", 404):
        cl.get_object(Bucket="crash", Key="half")


# -- tampering and the disk scan ----------------------------------------------------------------------
def _segment_files(srv) -> list[Path]:
    return [p for p in (srv.data / "objects").rglob("*") if p.is_file()]


def test_tampered_block_is_an_error_not_bytes(c, srv):
    name = f"tamper-{uuid.uuid4().hex[:8]}"
    c.create_bucket(Bucket=name)
    before = set(_segment_files(srv))
    c.put_object(Bucket=name, Key="t", Body=data(400_000, 4), ServerSideEncryption="AES256")
    (seg,) = set(_segment_files(srv)) - before
    raw = bytearray(seg.read_bytes())
    raw[10] ^= 1
    seg.write_bytes(bytes(raw))
    with s3_error("InternalError", 500):
        c.get_object(Bucket=name, Key="t", Range="bytes=0-100")
    # blocks after the damaged one are still served (each block is authenticated on its own)
    assert c.get_object(Bucket=name, Key="t", Range="bytes=300000-300010")["Body"].read() == \
        data(400_000, 4)[300000:300011]


def test_no_plaintext_on_disk(server_factory):
    """Every encrypted write path, then every file of the data folder (segments, SQLite db and WAL,
    temporary files) is searched for the marker that every 4 KiB of plaintext carries."""
    srv = server_factory()
    cl = client_of(srv)
    name = f"disk-{uuid.uuid4().hex[:8]}"
    cl.create_bucket(Bucket=name)
    cl.put_object(Bucket=name, Key="inline", Body=marked(10_000, 1), ServerSideEncryption="AES256")
    cl.put_object(Bucket=name, Key="big", Body=marked(3 * MiB, 2), ServerSideEncryption="AES256")
    cl.put_object(Bucket=name, Key="c", Body=marked(500_000, 3), **ssec(KEY_A))
    cl.put_object(Bucket=name, Key="k", Body=marked(200_000, 4), ServerSideEncryption="aws:kms")
    _multipart(cl, name, "mp", [marked(5 * MiB, 5), marked(70_000, 6)], **ssec(KEY_B))
    cl.copy_object(Bucket=name, Key="cp", CopySource={"Bucket": name, "Key": "c"}, ServerSideEncryption="AES256",
                   CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=KEY_A)
    assert cl.get_object(Bucket=name, Key="cp")["Body"].read() == marked(500_000, 3)
    hits = []
    for root, _dirs, files in os.walk(srv.data):
        for f in files:
            p = Path(root) / f
            if MARKER in p.read_bytes():
                hits.append(p)
    assert hits == [], f"plaintext found in {hits}"
    # the scan can fail: a plaintext object in the same folder is found
    cl.put_object(Bucket=name, Key="plain", Body=marked(200_000, 9))
    assert any(MARKER in p.read_bytes() for p in _segment_files(srv))
    cl.delete_object(Bucket=name, Key="plain")
