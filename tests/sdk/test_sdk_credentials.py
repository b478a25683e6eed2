"""The credential chain: credential_process (and its refresh before expiry), session tokens, and
clear errors for half key pairs and for sources the SDK cannot use (SSO). Assume-role and web identity
against a real STS are in test_sdk_sts.py."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coffer import AsyncClient, Client, CofferError

SCRIPT = """
import json, pathlib, sys
count = pathlib.Path(sys.argv[1])
n = int(count.read_text()) + 1 if count.exists() else 1
count.write_text(str(n))
doc = json.loads(pathlib.Path(sys.argv[2]).read_text())
if doc.get("fail"):
    sys.stderr.write(doc["fail"])
    sys.exit(3)
print(doc["raw"] if "raw" in doc else json.dumps(doc))
"""


def _setup(tmp_path: Path, answer: dict, extra_profile: str = "") -> tuple[dict[str, str], Path]:
    script = tmp_path / "creds.py"
    script.write_text(SCRIPT)
    (tmp_path / "answer.json").write_text(json.dumps(answer))
    count = tmp_path / "count"
    config = tmp_path / "config"
    config.write_text(f"[profile dev]\ncredential_process = {sys.executable} {script} {count} "
                      f"{tmp_path / 'answer.json'}\n{extra_profile}")
    env = {"AWS_PROFILE": "dev", "AWS_CONFIG_FILE": str(config),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "COFFER_ENDPOINT": "http://127.0.0.1:1"}
    return env, count


def test_credential_process_feeds_a_working_client(tmp_path, coffer_target, coffer_bkt):
    env, count = _setup(tmp_path, {"Version": 1, "AccessKeyId": coffer_target.access_key,
                                   "SecretAccessKey": coffer_target.secret_key})
    env["COFFER_ENDPOINT"] = coffer_target.url
    client = Client.from_env(environ=env, home=tmp_path, proxy="")
    assert client.sources["credentials"] == "aws profile credential_process"
    assert client.access_key == coffer_target.access_key
    client.bucket(coffer_bkt.name).object("via-process").put(b"x")
    client.bucket(coffer_bkt.name).object("via-process").read()
    assert count.read_text() == "1"  # no Expiration: run once

    async def main() -> None:
        async with AsyncClient.from_env(environ=env, home=tmp_path, proxy="") as ac:
            assert await ac.bucket(coffer_bkt.name).object("via-process").read() == b"x"

    asyncio.run(main())


def test_expiring_keys_are_fetched_again(tmp_path, coffer_target, coffer_bkt):
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
    env, count = _setup(tmp_path, {"Version": 1, "AccessKeyId": coffer_target.access_key,
                                   "SecretAccessKey": coffer_target.secret_key, "SessionToken": "tok-1",
                                   "Expiration": soon})
    env["COFFER_ENDPOINT"] = coffer_target.url
    client = Client.from_env(environ=env, home=tmp_path, proxy="")
    obj = client.bucket(coffer_bkt.name).object("refresh")
    obj.put(b"x")  # expiry within the 5-minute margin: every signature refreshes first
    obj.head()
    assert int(count.read_text()) >= 3
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    (tmp_path / "answer.json").write_text(json.dumps({
        "Version": 1, "AccessKeyId": coffer_target.access_key, "SecretAccessKey": coffer_target.secret_key,
        "SessionToken": "tok-2", "Expiration": later}))
    obj.head()
    settled = int(count.read_text())
    obj.head()
    obj.head()
    assert int(count.read_text()) == settled  # fresh keys are kept until they near expiry
    assert "X-Amz-Security-Token=tok-2" in obj.presign()


@pytest.mark.parametrize(("answer", "message"), [
    ({"fail": "no such role"}, "exited with 3: no such role"),
    ({"raw": "not json"}, "did not print a JSON object"),
    ({"Version": 2, "AccessKeyId": "a", "SecretAccessKey": "b"}, "unsupported Version 2"),
    ({"Version": 1, "AccessKeyId": "a"}, "lacks AccessKeyId or SecretAccessKey"),
    ({"Version": 1, "AccessKeyId": "a", "SecretAccessKey": "b", "Expiration": "soon"}, "not an ISO 8601"),
])
def test_credential_process_failures_are_clear(tmp_path, answer, message):
    env, _count = _setup(tmp_path, answer)
    with pytest.raises(CofferError) as e:
        Client.from_env(environ=env, home=tmp_path)
    assert e.value.code == "ConfigError"
    assert "AWS profile 'dev' credential_process" in e.value.message and message in e.value.message


def test_missing_command_is_clear(tmp_path):
    config = tmp_path / "config"
    config.write_text("[default]\ncredential_process = /nonexistent/helper --json\n")
    env = {"AWS_CONFIG_FILE": str(config), "COFFER_ENDPOINT": "http://127.0.0.1:1"}
    with pytest.raises(CofferError, match="command not found: /nonexistent/helper"):
        Client.from_env(environ=env, home=tmp_path)


@pytest.mark.parametrize("setting", ["sso_start_url = https://x", "sso_session = corp"])
def test_sso_profiles_are_refused_by_name(tmp_path, setting):
    config = tmp_path / "config"
    config.write_text(f"[profile ops]\n{setting}\n")
    env = {"AWS_PROFILE": "ops", "AWS_CONFIG_FILE": str(config), "COFFER_ENDPOINT": "http://127.0.0.1:1"}
    with pytest.raises(CofferError) as e:
        Client.from_env(environ=env, home=tmp_path)
    assert e.value.code == "ConfigError" and setting.split(" =")[0] in e.value.message


def test_half_pairs_and_web_identity_env_are_errors(tmp_path):
    base = {"COFFER_ENDPOINT": "http://127.0.0.1:1", "AWS_CONFIG_FILE": str(tmp_path / "none")}
    with pytest.raises(CofferError, match="AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"):
        Client.from_env(environ={**base, "AWS_ACCESS_KEY_ID": "ak"}, home=tmp_path)
    with pytest.raises(CofferError, match="COFFER_SECRET_KEY is set but COFFER_ACCESS_KEY is not"):
        Client.from_env(environ={**base, "COFFER_SECRET_KEY": "sk"}, home=tmp_path)
    with pytest.raises(CofferError, match="cannot read the web identity token file /t"):
        Client.from_env(environ={**base, "AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "arn"}, home=tmp_path)
    # an earlier complete source wins; later ones are not even looked at
    client = Client.from_env(environ={**base, "COFFER_ACCESS_KEY": "a", "COFFER_SECRET_KEY": "b",
                                      "AWS_ACCESS_KEY_ID": "half"}, home=tmp_path)
    assert client.sources["credentials"] == "COFFER_ACCESS_KEY"
    # nothing at all: anonymous
    assert Client.from_env(environ=base, home=tmp_path).access_key is None


def test_session_token_is_signed_and_sent(coffer_target, coffer_bkt):
    client = Client(coffer_target.url, coffer_target.access_key, coffer_target.secret_key, proxy="",
                    session_token="session-token-value")
    obj = client.bucket(coffer_bkt.name).object("with-token")
    obj.put(b"x")  # the token is a signed header (x-amz-security-token); Coffer accepts it
    assert obj.read() == b"x"
    assert "X-Amz-Security-Token=session-token-value" in obj.presign()
