"""DS3 bulk PUT jobs onto WORM-locked keys (IBM COS protection: an existing object under retention
cannot be overwritten): the refused blob fails clearly and the job never claims COMPLETED."""

from __future__ import annotations

import io
import os
import uuid

import pytest
from ds3_wire import Ds3Failed, Ds3WireClient

ibm_boto3 = pytest.importorskip("ibm_boto3")
from ibm_botocore.client import Config  # noqa: E402


def _blobs(result: dict) -> list[dict]:
    return [b for ch in result["ObjectsList"] for b in ch["ObjectList"]]


def test_locked_keys_fail_their_blobs_and_the_job_stays_in_progress(endpoint):
    cos = ibm_boto3.client("s3", aws_access_key_id=endpoint.access_key, aws_secret_access_key=endpoint.secret_key,
                           endpoint_url=endpoint.url, region_name="us-east-1",
                           config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    bucket = f"ds3-lock-{uuid.uuid4().hex[:12]}"
    cos.create_bucket(Bucket=bucket)
    cos.put_bucket_protection_configuration(Bucket=bucket, ProtectionConfiguration={
        "Status": "Retention", "MinimumRetention": {"Days": 0}, "DefaultRetention": {"Days": 1},
        "MaximumRetention": {"Days": 10}})
    for key in ("big", "small"):
        cos.put_object(Bucket=bucket, Key=key, Body=b"original")  # under the default retention: locked
    c = Ds3WireClient(endpoint.url, endpoint.access_key, endpoint.secret_key)
    data = {"big": os.urandom(5000), "small": b"s" * 100, "free": b"f" * 10}
    job = c.put_bulk_job(bucket, [(k, len(v)) for k, v in data.items()], max_upload_size=2048)
    job_id = job["JobId"]
    blobs = _blobs(job)
    refused = []
    for b in sorted(blobs, key=lambda b: (b["Name"], int(b["Offset"]))):
        off = int(b["Offset"])
        try:
            c.put_object(bucket, b["Name"], b["Length"], io.BytesIO(data[b["Name"]][off:]), job=job_id, offset=off)
        except Ds3Failed as e:
            refused.append((b["Name"], off, e.status, e.code))
    last_big = max(int(b["Offset"]) for b in blobs if b["Name"] == "big")
    assert sorted(refused) == [("big", last_big, 403, "AccessDenied"), ("small", 0, 403, "AccessDenied")]
    state = c.get_job(job_id)
    assert state["Status"] == "IN_PROGRESS"  # never COMPLETED with objects that were not stored
    pending = {(b["Name"], int(b["Offset"])) for b in _blobs(state) if b["InCache"] == "false"}
    assert pending == {("big", last_big), ("small", 0)}
    assert int(state["CompletedSizeInBytes"]) < int(state["OriginalSizeInBytes"])
    for key in ("big", "small"):  # the locked objects are untouched
        assert cos.get_object(Bucket=bucket, Key=key)["Body"].read() == b"original"
    assert cos.get_object(Bucket=bucket, Key="free")["Body"].read() == data["free"]
    # a resend is refused the same way (no silent success on a second try)
    with pytest.raises(Ds3Failed) as e:
        c.put_object(bucket, "big", len(data["big"]) - last_big, io.BytesIO(data["big"][last_big:]), job=job_id,
                     offset=last_big)
    assert e.value.status == 403
    assert c.get_job(job_id)["Status"] == "IN_PROGRESS"
    c.cancel_job(job_id)

    # a job whose only object is locked: every blob sent, the last one refused -> not COMPLETED
    only = c.put_bulk_job(bucket, [("big", len(data["big"]))], max_upload_size=2048)
    errors = []
    for b in sorted(_blobs(only), key=lambda b: int(b["Offset"])):
        off = int(b["Offset"])
        try:
            c.put_object(bucket, "big", b["Length"], io.BytesIO(data["big"][off:]), job=only["JobId"], offset=off)
        except Ds3Failed as e:
            errors.append(e)
    assert len(errors) == 1 and "'big'" in str(errors[0]) and only["JobId"] in str(errors[0])
    assert c.get_job(only["JobId"])["Status"] == "IN_PROGRESS"
    c.cancel_job(only["JobId"])
