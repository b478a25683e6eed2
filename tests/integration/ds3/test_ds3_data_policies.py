"""DS3 data policies made by their users, through the ds3 SDK's wire form (ds3_wire):
put_data_policy_spectra_s3 (`POST /_rest_/data_policy?name=N`), modify (`PUT .../ID`) and delete
(`DELETE .../ID`), each mapped onto a storage policy (Coffer's `storage_policy` parameter, or the
name when it is one); buckets made with one write under its storage policy, a modified policy
changes what their new objects get, a policy in use cannot be deleted, built-in ones cannot change.
"""

from __future__ import annotations

import uuid

import pytest
from ds3_wire import Ds3Failed, Ds3WireClient

from coffer.compat.oio import ObjectStorageApi

PAYLOAD = bytes(range(256)) * 2048  # 512 KiB: stored in the volumes, not inline


@pytest.fixture(scope="module")
def srv(module_server_factory, tmp_path_factory):
    base = tmp_path_factory.mktemp("ds3-vols")
    args: list[str] = []
    for i in range(6):
        args += ["--volume", str(base / f"vol{i}")]
    return module_server_factory(extra_args=[*args, "--heal-interval", "0"])


@pytest.fixture
def ds3(srv) -> Ds3WireClient:
    return Ds3WireClient(srv.endpoint, srv.access_key, srv.secret_key)


@pytest.fixture
def oio(srv) -> ObjectStorageApi:
    return ObjectStorageApi(endpoint=srv.endpoint, access_key=srv.access_key, secret_key=srv.secret_key)


def _policy_of(oio: ObjectStorageApi, bucket: str, key: str) -> str:
    return oio.object_show("acct", bucket, key)["chunk_method"]


def test_put_get_list_modify_delete(ds3, oio):
    name = f"dual-{uuid.uuid4().hex[:6]}"
    made = ds3.parsed(ds3.call("POST", "/_rest_/data_policy", (201,),
                               {"name": name, "storage_policy": "REPLICA-2", "checksum_type": "CRC_32"}))
    pid = made["Id"]
    assert made["Name"] == name and made["StoragePolicy"] == "REPLICA-2" and made["ChecksumType"] == "CRC_32"
    assert str(uuid.UUID(pid)) == pid
    with pytest.raises(Ds3Failed) as ei:  # names are unique
        ds3.call("POST", "/_rest_/data_policy", (201,), {"name": name})
    assert ei.value.http_code == 409
    assert ds3.parsed(ds3.call("GET", f"/_rest_/data_policy/{pid}", (200,)))["Name"] == name
    assert ds3.parsed(ds3.call("GET", f"/_rest_/data_policy/{name}", (200,)))["Id"] == pid
    listed = ds3.parsed(ds3.call("GET", "/_rest_/data_policy", (200,)))["DataPolicyList"]
    assert pid in [p["Id"] for p in listed] and "SINGLE" in [p["Id"] for p in listed]

    bucket = f"Policy_{uuid.uuid4().hex[:8]}"
    b = ds3.parsed(ds3.call("PUT", "/_rest_/bucket/", (201,), {"name": bucket, "data_policy_id": pid}))
    assert b["DataPolicyId"] == pid
    ds3.call("PUT", f"/{bucket}/before", (200,), None, {"Content-Length": len(PAYLOAD)}, body=PAYLOAD)
    assert _policy_of(oio, bucket, "before") == "plain/nb_copy=2"

    changed = ds3.parsed(ds3.call("PUT", f"/_rest_/data_policy/{pid}", (200,),
                                  {"storage_policy": "EC-4+2", "name": name + "-ec"}))
    assert changed["StoragePolicy"] == "EC-4+2" and changed["Name"] == name + "-ec" and changed["Id"] == pid
    ds3.call("PUT", f"/{bucket}/after", (200,), None, {"Content-Length": len(PAYLOAD)}, body=PAYLOAD)
    assert _policy_of(oio, bucket, "after") == "ec/algo=isa_l_rs_cauchy,k=4,m=2"
    assert _policy_of(oio, bucket, "before") == "plain/nb_copy=2"  # existing objects keep theirs

    with pytest.raises(Ds3Failed) as ei:  # still used by the bucket
        ds3.call("DELETE", f"/_rest_/data_policy/{pid}", (204,))
    assert ei.value.http_code == 409
    ds3.call("DELETE", f"/_rest_/bucket/{bucket}", (204,), {"force": None})
    ds3.call("DELETE", f"/_rest_/data_policy/{pid}", (204,))
    with pytest.raises(Ds3Failed) as ei:
        ds3.call("GET", f"/_rest_/data_policy/{pid}", (200,))
    assert ei.value.http_code == 404


def test_name_maps_onto_a_storage_policy(ds3):
    made = ds3.parsed(ds3.call("POST", "/_rest_/data_policy", (201,), {"name": "EC-2+1"}))
    assert made["StoragePolicy"] == "EC-2+1" and made["Id"] != "EC-2+1"
    other = ds3.parsed(ds3.call("POST", "/_rest_/data_policy", (201,), {"name": f"tape-{uuid.uuid4().hex[:6]}"}))
    assert other["StoragePolicy"]  # not a storage policy name: the server's default
    for bad in ({"name": "x-" + uuid.uuid4().hex[:6], "storage_policy": "EC-9+9"}, {"name": ""}):
        with pytest.raises(Ds3Failed) as ei:
            ds3.call("POST", "/_rest_/data_policy", (201,), bad)
        assert ei.value.http_code == 400
    for p in (made, other):
        ds3.call("DELETE", f"/_rest_/data_policy/{p['Id']}", (204,))


def test_built_in_policies_cannot_change(ds3):
    for verb, expected in (("PUT", (200,)), ("DELETE", (204,))):
        with pytest.raises(Ds3Failed) as ei:
            ds3.call(verb, "/_rest_/data_policy/SINGLE", expected, {"name": "renamed"} if verb == "PUT" else None)
        assert ei.value.http_code == 403
    with pytest.raises(Ds3Failed) as ei:
        ds3.call("PUT", "/_rest_/data_policy/no-such-policy", (200,), {"name": "x"})
    assert ei.value.http_code == 404
