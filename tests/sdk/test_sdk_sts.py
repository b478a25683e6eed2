"""Assume-role and web identity against a real STS (moto_server on a free port): the SDK gets
temporary keys, signs S3 requests with them (session token included) and fetches new ones before
they expire; misconfigurations and STS refusals are clear errors.

moto checks signatures and tokens once "auth" is switched on (POST /moto-api/reset-auth), so a
request signed with wrong keys, or without the session token, really fails here. moto also checks
the signature of AssumeRoleWithWebIdentity, which real STS does not ask for, so web identity keys
are fetched while auth is off and used while it is on.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from coffer import AccessDenied, AsyncClient, Client, CofferError
from ports import free_port

ROLE_ARN = "arn:aws:iam::123456789012:role/coffer-app"
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"]}]})


@dataclass
class Moto:
    url: str
    user_key: str
    user_secret: str

    def auth(self, on: bool) -> None:
        req = urllib.request.Request(f"{self.url}/moto-api/reset-auth", data=b"0" if on else b"inf", method="POST",
                                     headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and "proxy" not in k.lower()}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/moto-api/", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="setup",
                           aws_secret_access_key="setup")
        iam.create_user(UserName="source")
        iam.put_user_policy(UserName="source", PolicyName="all", PolicyDocument=ALLOW_ALL)
        key = iam.create_access_key(UserName="source")["AccessKey"]
        iam.create_role(RoleName="coffer-app", AssumeRolePolicyDocument=TRUST)
        iam.put_role_policy(RoleName="coffer-app", PolicyName="all", PolicyDocument=ALLOW_ALL)
        yield Moto(url, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _base_env(moto: Moto, tmp_path: Path) -> dict[str, str]:
    return {"COFFER_ENDPOINT": moto.url, "AWS_ENDPOINT_URL_STS": moto.url, "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}


def _roundtrip(client: Client) -> None:
    bucket = client.bucket(f"sts-{uuid.uuid4().hex[:12]}").create()
    bucket.object("k").put(b"through a role")
    assert bucket.object("k").read() == b"through a role"


def test_web_identity_from_the_environment(moto, tmp_path):
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n")
    env = {**_base_env(moto, tmp_path), "AWS_ROLE_ARN": ROLE_ARN, "AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
           "AWS_ROLE_SESSION_NAME": "ci-job"}
    moto.auth(False)
    client = Client.from_env(environ=env, home=tmp_path, proxy="")
    creds = client._transport.credentials
    assert client.sources["credentials"] == "AWS_WEB_IDENTITY_TOKEN_FILE"
    assert creds is not None and creds.session_token and client.access_key != moto.user_key
    moto.auth(True)
    try:
        _roundtrip(client)
        stripped = Client(moto.url, creds.access_key, creds.secret_key, proxy="")  # the same keys, no token
        with pytest.raises(AccessDenied):
            stripped.list_buckets()

        async def main() -> None:
            async with AsyncClient.from_env(environ=env, home=tmp_path, proxy="") as ac:
                assert ac.access_key and ac.access_key.startswith("ASIA")

        moto.auth(False)  # fetching web identity keys is unsigned; see the module docstring
        asyncio.run(main())
        old = client.access_key
        assert creds.expires is not None
        creds.refresh_if_needed(now=creds.expires - timedelta(minutes=1))  # within the refresh margin
        assert creds.refreshes == 1 and client.access_key != old
        moto.auth(True)
        _roundtrip(client)
    finally:
        moto.auth(False)


def test_assume_role_from_a_source_profile_refreshes_before_expiry(moto, tmp_path):
    (tmp_path / "config").write_text(
        "[profile base]\n"
        f"aws_access_key_id = {moto.user_key}\naws_secret_access_key = {moto.user_secret}\n"
        "[profile app]\n"
        f"role_arn = {ROLE_ARN}\nsource_profile = base\nexternal_id = ext-42\nduration_seconds = 900\n"
        "role_session_name = coffer-test\n")
    env = {**_base_env(moto, tmp_path), "AWS_PROFILE": "app"}
    moto.auth(True)  # AssumeRole itself must carry a valid SigV4 signature (service sts)
    try:
        client = Client.from_env(environ=env, home=tmp_path, proxy="")
        creds = client._transport.credentials
        assert client.sources["credentials"] == "aws profile assume-role"
        assert creds is not None and creds.session_token and creds.access_key.startswith("ASIA")
        assert creds.expires is not None
        left = creds.expires - datetime.now(UTC)
        assert timedelta(seconds=800) < left <= timedelta(seconds=900)  # duration_seconds reached STS
        _roundtrip(client)
        first = client.access_key
        # Four minutes before expiry (inside the five-minute margin) the next request refreshes
        # first and is signed with the new keys.
        at = creds.expires - timedelta(minutes=4)
        real_clock = creds.clock
        creds.clock = lambda: at
        assert client.list_buckets()
        assert creds.refreshes == 1 and client.access_key != first
        creds.clock = real_clock  # back to now: the new keys are good for another 15 minutes
        _roundtrip(client)
        assert creds.refreshes == 1
    finally:
        moto.auth(False)


def test_assume_role_with_environment_keys_and_sts_errors(moto, tmp_path):
    (tmp_path / "config").write_text(
        f"[profile env-role]\nrole_arn = {ROLE_ARN}\ncredential_source = Environment\n"
        f"[profile bad]\naws_access_key_id = {moto.user_key}\naws_secret_access_key = wrong\n"
        f"[profile bad-role]\nrole_arn = {ROLE_ARN}\nsource_profile = bad\n")
    env = {**_base_env(moto, tmp_path), "AWS_ACCESS_KEY_ID": moto.user_key,
           "AWS_SECRET_ACCESS_KEY": moto.user_secret, "AWS_PROFILE": "env-role"}
    moto.auth(True)
    try:
        client = Client.from_env(environ=env, home=tmp_path, proxy="")
        assert client.sources["credentials"] == "aws profile assume-role"
        assert client.access_key != moto.user_key
        _roundtrip(client)
        with pytest.raises(CofferError) as e:
            Client.from_env(environ={**_base_env(moto, tmp_path), "AWS_PROFILE": "bad-role"}, home=tmp_path,
                            proxy="")
        assert e.value.code == "SignatureDoesNotMatch" and e.value.status == 403
        assert "AssumeRole" in e.value.message and "STS refused" in e.value.message
    finally:
        moto.auth(False)


@pytest.mark.parametrize(("config", "env", "message"), [
    ("[profile p]\nrole_arn = r\nsource_profile = nowhere\n", {}, "source_profile 'nowhere' is not a profile"),
    ("[profile p]\nrole_arn = r\nsource_profile = p\n", {}, "source_profile 'p' has no keys"),
    ("[profile p]\nrole_arn = r\nsource_profile = q\n[profile q]\nrole_arn = r\nsource_profile = p\n", {},
     "chain loops"),
    ("[profile p]\nrole_arn = r\n", {}, "role_arn needs source_profile, credential_source or web_identity"),
    ("[profile p]\nweb_identity_token_file = /t\n", {}, "web_identity_token_file is set but role_arn is not"),
    ("[profile p]\nrole_arn = r\nweb_identity_token_file = /nonexistent/token\n", {},
     "cannot read the web identity token file /nonexistent/token"),
    ("[profile p]\nrole_arn = r\nsource_profile = q\nmfa_serial = arn:mfa\n[profile q]\naws_access_key_id = a\n"
     "aws_secret_access_key = b\n", {}, "mfa_serial is set"),
    ("[profile p]\nrole_arn = r\ncredential_source = Ec2InstanceMetadata\n", {}, "metadata service"),
    ("[profile p]\nrole_arn = r\ncredential_source = Environment\n", {}, "AWS_ACCESS_KEY_ID and"),
    ("[profile p]\nrole_arn = r\ncredential_source = Environment\nsource_profile = p\n", {}, "not both"),
    ("[profile p]\nrole_arn = r\nsource_profile = q\nduration_seconds = 60\n[profile q]\naws_access_key_id = a\n"
     "aws_secret_access_key = b\n", {}, "between 900 and 43200"),
    ("", {"AWS_ROLE_ARN": "r"}, "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not"),
    ("[profile p]\nrole_arn = r\nsource_profile = q\nsts_regional_endpoints = sideways\n[profile q]\n"
     "aws_access_key_id = a\naws_secret_access_key = b\n", {"AWS_ENDPOINT_URL_STS": ""}, "sts_regional_endpoints"),
])
def test_misconfigured_roles_are_clear_errors(tmp_path, config, env, message):
    (tmp_path / "config").write_text(config)
    environ = {"COFFER_ENDPOINT": "http://127.0.0.1:1", "AWS_CONFIG_FILE": str(tmp_path / "config"),
               "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_PROFILE": "p", **env}
    with pytest.raises(CofferError) as e:
        Client.from_env(environ=environ, home=tmp_path)
    assert e.value.code == "ConfigError" and message in e.value.message
