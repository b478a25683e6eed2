"""Object Lock requests need an integrity header (Content-MD5 or x-amz-checksum-*), as on S3.

boto3 configured with `request_checksum_calculation="when_required"` sends no checksum on
PutObject/UploadPart, so it shows the refusal; the lock configuration/retention/legal-hold
operations are always sent with a checksum by the SDK, so raw signed requests show theirs.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from helpers import content_md5, raw_request, s3_error


def _future(seconds: int = 3600) -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=seconds)


@pytest.fixture
def lbucket(s3):
    name = f"t-li-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name  # governance/compliance versions stay: each test uses its own bucket


def test_put_with_lock_headers_needs_checksum(s3, s3_nochecksum, lbucket):
    lock = {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": _future()}
    with s3_error("InvalidRequest", 400) as ei:
        s3_nochecksum.put_object(Bucket=lbucket, Key="k", Body=b"data", **lock)
    assert "Content-MD5 OR x-amz-checksum- HTTP header is required" in ei.value.response["Error"]["Message"]
    with s3_error("InvalidRequest", 400):
        s3_nochecksum.put_object(Bucket=lbucket, Key="k", Body=b"data", ObjectLockLegalHoldStatus="ON")
    assert "Versions" not in s3.list_object_versions(Bucket=lbucket)  # nothing was stored
    # Content-MD5, or a CRC (boto3's default), is enough
    s3_nochecksum.put_object(Bucket=lbucket, Key="k", Body=b"data", ContentMD5=content_md5(b"data"), **lock)
    s3.put_object(Bucket=lbucket, Key="k2", Body=b"data", **lock)
    # no lock parameters and no default retention: no header needed
    s3_nochecksum.put_object(Bucket=lbucket, Key="plain", Body=b"data")
    assert len(s3.list_object_versions(Bucket=lbucket)["Versions"]) == 3


def test_default_retention_needs_checksum(s3, s3_nochecksum, lbucket):
    s3.put_object_lock_configuration(Bucket=lbucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    with s3_error("InvalidRequest", 400):
        s3_nochecksum.put_object(Bucket=lbucket, Key="k", Body=b"data")
    s3_nochecksum.put_object(Bucket=lbucket, Key="k", Body=b"data", ContentMD5=content_md5(b"data"))
    # multipart: each part needs it too
    up = s3_nochecksum.create_multipart_upload(Bucket=lbucket, Key="m")["UploadId"]
    with s3_error("InvalidRequest", 400):
        s3_nochecksum.upload_part(Bucket=lbucket, Key="m", UploadId=up, PartNumber=1, Body=b"part")
    etag = s3_nochecksum.upload_part(Bucket=lbucket, Key="m", UploadId=up, PartNumber=1, Body=b"part",
                                     ContentMD5=content_md5(b"part"))["ETag"]
    s3_nochecksum.complete_multipart_upload(Bucket=lbucket, Key="m", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object_retention(Bucket=lbucket, Key="m")["Retention"]["Mode"] == "GOVERNANCE"


def test_upload_with_lock_headers_needs_checksum_on_parts(s3, s3_nochecksum, lbucket):
    up = s3_nochecksum.create_multipart_upload(Bucket=lbucket, Key="m", ObjectLockMode="GOVERNANCE",
                                               ObjectLockRetainUntilDate=_future())["UploadId"]
    with s3_error("InvalidRequest", 400):
        s3_nochecksum.upload_part(Bucket=lbucket, Key="m", UploadId=up, PartNumber=1, Body=b"part")
    s3.upload_part(Bucket=lbucket, Key="m", UploadId=up, PartNumber=1, Body=b"part")  # CRC header
    s3.abort_multipart_upload(Bucket=lbucket, Key="m", UploadId=up)


@pytest.mark.parametrize("sub,doc", [
    ("object-lock", b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>"
                    b"<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule>"
                    b"</ObjectLockConfiguration>"),
    ("legal-hold", b"<LegalHold><Status>ON</Status></LegalHold>"),
    ("retention", None),
])
def test_lock_subresources_need_checksum(s3, endpoint, lbucket, sub, doc):
    s3.put_object(Bucket=lbucket, Key="k", Body=b"x")
    if doc is None:
        until = _future().strftime("%Y-%m-%dT%H:%M:%SZ")
        doc = f"<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>{until}</RetainUntilDate></Retention>".encode()
    path = f"/{lbucket}?{sub}=" if sub == "object-lock" else f"/{lbucket}/k?{sub}="
    r = raw_request(endpoint, "PUT", path, body=doc)
    assert r.status == 400 and b"<Code>InvalidRequest</Code>" in r.body and b"Content-MD5" in r.body
    r = raw_request(endpoint, "PUT", path, body=doc, headers={"Content-MD5": content_md5(doc)})
    assert r.status == 200, r.body
    if sub == "legal-hold":
        assert s3.get_object_legal_hold(Bucket=lbucket, Key="k")["LegalHold"]["Status"] == "ON"
        s3.put_object_legal_hold(Bucket=lbucket, Key="k", LegalHold={"Status": "OFF"})


def test_ibm_protected_bucket_upload_needs_integrity(s3, endpoint):
    name = f"t-lip-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    doc = (b"<ProtectionConfiguration><Status>Retention</Status><MinimumRetention><Days>1</Days></MinimumRetention>"
           b"<DefaultRetention><Days>1</Days></DefaultRetention><MaximumRetention><Days>2</Days></MaximumRetention>"
           b"</ProtectionConfiguration>")
    r = raw_request(endpoint, "PUT", f"/{name}?protection=", body=doc, headers={"Content-MD5": content_md5(doc)})
    assert r.status == 200, r.body
    # IBM: a payload signed with SigV4 is integrity enough; an unsigned one needs Content-MD5 or a checksum
    r = raw_request(endpoint, "PUT", f"/{name}/unsigned", body=b"data", payload_hash="UNSIGNED-PAYLOAD")
    assert r.status == 400 and b"<Code>InvalidRequest</Code>" in r.body
    r = raw_request(endpoint, "PUT", f"/{name}/md5", body=b"data", payload_hash="UNSIGNED-PAYLOAD",
                    headers={"Content-MD5": content_md5(b"data")})
    assert r.status == 200, r.body
    r = raw_request(endpoint, "PUT", f"/{name}/signed", body=b"data")
    assert r.status == 200, r.body
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]) == ["md5", "signed"]
