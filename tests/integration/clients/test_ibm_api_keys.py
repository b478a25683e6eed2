"""ibm_boto3 as IBM's documentation sets it up: an API key, a service instance id and
`Config(signature_version="oauth")`, with `ibm_auth_endpoint` pointed at Coffer's `/identity/token`.
The API key comes from the admin API (what `coffer user key create ALIAS USER --type apikey` calls).
"""

from __future__ import annotations

import uuid

import pytest
import requests
from access_users import admin_for, new_user
from helpers import skip_if_external, wait_for

ibm_boto3 = pytest.importorskip("ibm_boto3")
from ibm_botocore.client import Config  # noqa: E402
from ibm_botocore.exceptions import ClientError  # noqa: E402

APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"


def _cos(url: str, api_key: str, instance: str):
    return ibm_boto3.client("s3", ibm_api_key_id=api_key, ibm_service_instance_id=instance,
                            ibm_auth_endpoint=url + "/identity/token", config=Config(signature_version="oauth"),
                            endpoint_url=url)


def test_ibm_boto3_with_an_api_key(endpoint):
    skip_if_external(endpoint)
    user = new_user(endpoint)
    made = admin_for(endpoint).create_key(user.id, "apikey")
    assert made["service_instance_id"] == user.id and len(made["api_key"]) >= 40
    cos = _cos(endpoint.url, made["api_key"], made["service_instance_id"])
    bucket = f"ibm-key-{uuid.uuid4().hex[:10]}"
    cos.create_bucket(Bucket=bucket)
    cos.put_object(Bucket=bucket, Key="doc.txt", Body=b"through a bearer token")
    assert cos.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"through a bearer token"
    assert bucket in [b["Name"] for b in cos.list_buckets()["Buckets"]]
    # the bucket belongs to the API key's user
    assert bucket in [b["Name"] for b in user.s3.list_buckets()["Buckets"]]
    # another account's service instance id is refused to a user who is not an admin
    other = _cos(endpoint.url, made["api_key"], "someone-else")
    with pytest.raises(ClientError) as ei:
        other.list_buckets()
    assert ei.value.response["Error"]["Code"] == "AccessDenied"
    cos.delete_object(Bucket=bucket, Key="doc.txt")
    cos.delete_bucket(Bucket=bucket)


def test_token_endpoint_wire(endpoint):
    skip_if_external(endpoint)
    user = new_user(endpoint)
    api_key = admin_for(endpoint).create_key(user.id, "apikey")["api_key"]
    headers = {"Authorization": "Basic Yng6Yng=", "Accept": "application/json"}
    r = requests.post(endpoint.url + "/identity/token", headers=headers,
                      data={"grant_type": APIKEY_GRANT, "apikey": api_key, "response_type": "cloud_iam"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert {"access_token", "refresh_token", "token_type", "expires_in", "expiration"} <= set(doc)
    assert doc["token_type"] == "Bearer" and doc["expires_in"] == 3600
    bearer = {"Authorization": "Bearer " + doc["access_token"]}
    assert requests.get(endpoint.url + "/", headers=bearer).status_code == 200
    # the refresh grant gives a new access token; a refresh token is not a bearer
    r2 = requests.post(endpoint.url + "/identity/token", headers=headers,
                       data={"grant_type": "refresh_token", "refresh_token": doc["refresh_token"]})
    assert r2.status_code == 200 and r2.json()["access_token"] != doc["access_token"]
    assert requests.get(endpoint.url + "/", headers={"Authorization": "Bearer " + doc["refresh_token"]}
                        ).status_code == 403
    # an unknown key, a forged token, an access token used as a refresh token
    bad = requests.post(endpoint.url + "/identity/token", headers=headers,
                        data={"grant_type": APIKEY_GRANT, "apikey": "not-a-key"})
    assert bad.status_code == 400 and bad.json()["errorCode"] == "BXNIM0415E"
    assert requests.get(endpoint.url + "/", headers={"Authorization": "Bearer x.y.z"}).status_code == 403
    assert requests.post(endpoint.url + "/identity/token", headers=headers,
                         data={"grant_type": "refresh_token", "refresh_token": doc["access_token"]}
                         ).status_code == 400
    # deleting the key stops new tokens
    admin = admin_for(endpoint)
    key_id = next(k["access_key"] for k in admin.list_keys(user.id) if k["access_key"].startswith("APIKEY"))
    admin.delete_key(key_id)
    # (every worker forgets the key within its credential cache's lifetime, 2 s)
    wait_for(lambda: requests.post(endpoint.url + "/identity/token", headers=headers,
                                   data={"grant_type": APIKEY_GRANT, "apikey": api_key}).status_code == 400,
             10, "the deleted API key to be refused")


def test_fasp_connection_info_is_not_implemented(endpoint, s3, bucket):
    from helpers import raw_request

    r = raw_request(endpoint, "GET", f"/{bucket}?faspConnectionInfo")
    assert r.status == 501
    assert b"faspConnectionInfo" in r.body


def test_cli_creates_an_api_key_for_ibm_boto3(endpoint, tmp_path):
    import os
    import subprocess
    import sys

    skip_if_external(endpoint)
    user = new_user(endpoint)
    env = {**os.environ, "COFFER_CONFIG_DIR": str(tmp_path), "HOME": str(tmp_path)}

    def cli(*args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "coffer", *args], capture_output=True, text=True, env=env,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout

    cli("alias", "set", "adm", endpoint.url, endpoint.access_key, endpoint.secret_key)
    line = cli("user", "key", "create", "adm", user.id, "--type", "apikey")
    assert "shown once" in line
    api_key = line.split()[2]
    bucket = f"ibm-cli-{uuid.uuid4().hex[:10]}"
    cos = _cos(endpoint.url, api_key, user.id)
    cos.create_bucket(Bucket=bucket)
    assert [b["Name"] for b in cos.list_buckets()["Buckets"]] == [bucket]
    cos.delete_bucket(Bucket=bucket)
