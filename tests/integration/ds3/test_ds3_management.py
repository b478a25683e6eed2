"""What the ds3 SDK's helpers and tests call beyond bulk jobs, through its exact wire format
(ds3_wire): listings signed with `?versions=V`, DS3 bucket names, multi-object delete without
Content-MD5, and the management calls (spectra buckets with a data policy, forced bucket deletes,
data policies, object details, system information and health, capacity, physical placement).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import pytest
from ds3_wire import Ds3Failed, Ds3WireClient, _model
from helpers import s3_error


@pytest.fixture
def ds3(endpoint) -> Ds3WireClient:
    return Ds3WireClient(endpoint.url, endpoint.access_key, endpoint.secret_key)


def _put(ds3: Ds3WireClient, bucket: str, key: str, body: bytes) -> None:
    ds3.call("PUT", f"/{bucket}/{key}", (200,), None, {"Content-Length": len(body)}, body=body)


def test_get_bucket_with_versions_is_signed_as_the_sdk_signs(ds3):
    bucket = f"v-{uuid.uuid4().hex[:10]}"
    ds3.put_bucket(bucket)
    _put(ds3, bucket, "a.txt", b"alpha")
    listing = ds3.get_bucket(bucket, versions="true")  # versions come as <Version> (IsLatest)
    assert [(v["Key"], v["IsLatest"]) for v in listing["VersionList"]] == [("a.txt", "true")]
    assert [c["Key"] for c in ds3.get_bucket(bucket, versions="false")["ContentsList"]] == ["a.txt"]
    _, _, sts = ds3.prepare("GET", "/" + bucket, {"versions": "true"}, None, False, date="d")
    assert sts.endswith(f"/{bucket}?versions=true")


def test_ds3_bucket_names_and_s3_path_style(ds3, s3):
    name = f"TestBucket_{uuid.uuid4().hex[:8]}"
    ds3.put_bucket(name)
    _put(ds3, name, "x", b"from ds3")
    assert s3.get_object(Bucket=name, Key="x")["Body"].read() == b"from ds3"
    s3.put_object(Bucket=name, Key="y", Body=b"from s3")
    assert sorted(c["Key"] for c in ds3.get_bucket(name)["ContentsList"]) == ["x", "y"]
    # S3 clients still get S3's naming rules
    with s3_error("InvalidBucketName", 400):
        s3.create_bucket(Bucket=f"Upper{uuid.uuid4().hex[:8]}")


def test_multi_object_delete_without_content_md5(ds3):
    bucket = f"d-{uuid.uuid4().hex[:10]}"
    ds3.put_bucket(bucket)
    for k in ("a", "b", "c"):
        _put(ds3, bucket, k, k.encode())
    doc = b"<Delete>" + b"".join(f"<Object><Key>{k}</Key></Object>".encode() for k in ("a", "b")) + b"</Delete>"
    r = ds3.call("POST", "/" + bucket, (200,), {"delete": None}, body=doc)
    deleted = [d["Key"] for d in _model(ET.fromstring(r.body)).get("DeletedList", [])]
    assert sorted(deleted) == ["a", "b"]
    assert [c["Key"] for c in ds3.get_bucket(bucket)["ContentsList"]] == ["c"]


def test_spectra_bucket_with_data_policy_and_forced_delete(ds3):
    policies = ds3.parsed(ds3.call("GET", "/_rest_/data_policy", (200,)))["DataPolicyList"]
    names = [p["Name"] for p in policies]
    assert "SINGLE" in names
    assert ds3.parsed(ds3.call("GET", "/_rest_/data_policy/SINGLE", (200,)))["Name"] == "SINGLE"
    with pytest.raises(Ds3Failed) as ei:
        ds3.call("GET", "/_rest_/data_policy/NO-SUCH", (200,))
    assert ei.value.http_code == 404
    name = f"Spectra_{uuid.uuid4().hex[:8]}"
    made = ds3.parsed(ds3.call("PUT", "/_rest_/bucket/", (201,), {"name": name, "data_policy_id": "SINGLE"}))
    assert made["Name"] == name and made["DataPolicyId"] == "SINGLE"
    _put(ds3, name, "obj", b"held")
    details = ds3.parsed(ds3.call("GET", "/_rest_/object/obj", (200,), {"bucket_id": name}))
    assert details["Name"] == "obj" and details["BucketId"] == name and details["Type"] == "DATA"
    placement = ds3.call("PUT", f"/_rest_/bucket/{name}", (200,), {"operation": "get_physical_placement"},
                         body=b'<Objects><Object Name="obj"/></Objects>')
    assert ET.fromstring(placement.body).find("Pools") is not None
    with pytest.raises(Ds3Failed) as ei:
        ds3.call("DELETE", f"/_rest_/bucket/{name}", (204,))
    assert ei.value.code == "BucketNotEmpty"
    ds3.call("DELETE", f"/_rest_/bucket/{name}", (204,), {"force": None})
    assert name not in [b["Name"] for b in ds3.get_service()["BucketList"]]


def test_system_information_health_and_capacity(ds3):
    info = ds3.parsed(ds3.call("GET", "/_rest_/system_information", (200,)))
    assert info["BuildInformation"]["Version"] and info["SerialNumber"]
    health = ds3.parsed(ds3.call("GET", "/_rest_/system_health", (200,)))
    assert int(health["MsRequiredToVerifyDataPlannerHealth"]) >= 0
    cap = ds3.parsed(ds3.call("GET", "/_rest_/capacity_summary", (200,)))
    assert int(cap["Pool"]["PhysicalAllocated"]) > 0
