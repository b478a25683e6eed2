"""Temporary keys from AWS STS (or any STS-compatible service): assume-role and web identity.

As botocore does it:

- ``AWS_ROLE_ARN`` + ``AWS_WEB_IDENTITY_TOKEN_FILE`` (+ ``AWS_ROLE_SESSION_NAME``), or a profile with
  ``role_arn`` + ``web_identity_token_file``: ``AssumeRoleWithWebIdentity``, an unsigned POST whose
  token is read from the file again at every refresh (Kubernetes rotates it);
- a profile with ``role_arn`` + ``source_profile`` (keys, a credential_process, or another role:
  chains are followed, loops refused) or ``credential_source = Environment``: ``AssumeRole`` signed
  with SigV4 (service ``sts``) by the source keys, with ``external_id``, ``duration_seconds`` and
  ``role_session_name``. ``mfa_serial`` is refused (no prompt for a code in a library).

The keys come back as :class:`RefreshingCredentials` (session token included), fetched again before
they expire. The STS endpoint is ``AWS_ENDPOINT_URL_STS``, else ``AWS_ENDPOINT_URL``, else the
profile's ``endpoint_url``, else AWS's regional endpoint (``sts_regional_endpoints`` /
``AWS_STS_REGIONAL_ENDPOINTS`` = ``legacy`` picks the global one). Every misconfiguration and STS
refusal is a ``CofferError`` that names the setting, or carries STS's own error code and message.
"""

from __future__ import annotations

import hashlib
import time
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import urllib3

from coffer.protocol import sigv4, xmlutil
from coffer.sdk._credentials import Fetched, RefreshingCredentials, config_error
from coffer.sdk._errors import CofferError

STS_VERSION = "2011-06-15"
STS_TIMEOUT = 30.0
# Sources a profile's credential_source may name; only the environment is reachable from here.
CREDENTIAL_SOURCES = ("Environment", "Ec2InstanceMetadata", "EcsContainer")
MAX_CHAIN = 10


class KeySource(Protocol):
    """Anything that hands out (access key, secret key, session token) to sign with."""

    def snapshot(self) -> tuple[str, str, str | None]: ...


ProxyFor = Callable[[str], "str | None"]


def sts_endpoint(env: Mapping[str, str], profile: Mapping[str, str], region: str) -> str:
    """Where STS calls go (see the module docstring for the order)."""
    for value in (env.get("AWS_ENDPOINT_URL_STS"), env.get("AWS_ENDPOINT_URL"), profile.get("endpoint_url")):
        if value:
            return value.rstrip("/")
    mode = (env.get("AWS_STS_REGIONAL_ENDPOINTS") or profile.get("sts_regional_endpoints") or "regional").lower()
    if mode not in ("regional", "legacy"):
        raise config_error(f"sts_regional_endpoints must be 'regional' or 'legacy', not {mode!r}")
    if mode == "legacy" or not region:
        return "https://sts.amazonaws.com"
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://sts.{region}.{suffix}"


def _pool(proxy: str | None) -> urllib3.PoolManager:
    timeout = urllib3.Timeout(connect=10.0, read=STS_TIMEOUT)
    if proxy:
        return urllib3.ProxyManager(proxy, timeout=timeout, retries=False)
    return urllib3.PoolManager(timeout=timeout, retries=False)


def _call(endpoint: str, params: dict[str, str], region: str, signer: KeySource | None, what: str,
          proxy_for: ProxyFor | None) -> Fetched:
    """POST one STS action; its Credentials, or a CofferError with STS's code and message."""
    body = urllib.parse.urlencode({"Version": STS_VERSION, **params}).encode()
    url = endpoint + "/"
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    if signer is not None:
        ak, sk, token = signer.snapshot()
        if token:
            headers["X-Amz-Security-Token"] = token
        headers.update(sigv4.sign_headers("POST", url, headers, hashlib.sha256(body).hexdigest(), ak, sk,
                                          region, service="sts"))
    attempts = 3
    for attempt in range(1, attempts + 1):
        try:
            resp = _pool(proxy_for(url) if proxy_for else None).request("POST", url, body=body, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            if attempt == attempts:
                raise CofferError(f"{what}: cannot reach STS at {endpoint}: {exc}", code="ConnectionFailed") from exc
            time.sleep(0.2 * attempt)
            continue
        if resp.status >= 500 and attempt < attempts:
            time.sleep(0.2 * attempt)
            continue
        return _parse(resp.status, resp.data or b"", what, endpoint)
    raise AssertionError("unreachable")


def _parse(status: int, data: bytes, what: str, endpoint: str) -> Fetched:
    try:
        root = xmlutil.parse(data)
    except xmlutil.XmlError as exc:
        raise CofferError(f"{what}: STS at {endpoint} answered HTTP {status} without XML: {data[:200]!r}",
                          code="ProtocolError", status=status) from exc
    if status >= 300 or xmlutil.local_name(root) == "ErrorResponse":
        # AWS answers <ErrorResponse><Error>; some STS servers wrap it in <Errors> too.
        err = next((el for el in root.iter() if xmlutil.local_name(el) == "Error"), None)
        code = (xmlutil.child_text(err, "Code") if err is not None else None) or f"HTTP{status}"
        message = (xmlutil.child_text(err, "Message") if err is not None else None) or ""
        raise CofferError(f"{what}: STS refused: {code}: {message}", code=code, status=status,
                          request_id=xmlutil.child_text(root, "RequestId"))
    result = next(iter(root), None)
    creds = xmlutil.find(result, "Credentials") if result is not None else None
    if creds is None:
        raise CofferError(f"{what}: STS answer has no Credentials", code="ProtocolError", status=status)
    ak, sk = xmlutil.child_text(creds, "AccessKeyId"), xmlutil.child_text(creds, "SecretAccessKey")
    token, exp = xmlutil.child_text(creds, "SessionToken"), xmlutil.child_text(creds, "Expiration")
    if not ak or not sk:
        raise CofferError(f"{what}: STS answer lacks AccessKeyId or SecretAccessKey", code="ProtocolError")
    expires = None
    if exp:
        try:
            expires = datetime.fromisoformat(exp.replace("Z", "+00:00"))
        except ValueError as exc:
            raise CofferError(f"{what}: STS Expiration is not a time: {exp!r}", code="ProtocolError") from exc
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
    return ak, sk, token or None, expires


def _duration(value: str | None, where: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        seconds = int(value)
    except ValueError as exc:
        raise config_error(f"{where}: duration_seconds must be a number of seconds, not {value!r}") from exc
    if not 900 <= seconds <= 43200:
        raise config_error(f"{where}: duration_seconds must be between 900 and 43200, not {seconds}")
    return str(seconds)


def _session_name(value: str | None) -> str:
    return value or f"coffer-session-{int(time.time())}"


def web_identity(role_arn: str, token_file: str, session_name: str | None, endpoint: str, where: str,
                 proxy_for: ProxyFor | None = None, duration: str | None = None) -> RefreshingCredentials:
    """Keys from AssumeRoleWithWebIdentity; the token file is read again at each refresh."""
    path = Path(token_file).expanduser()
    name = _session_name(session_name)

    def fetch() -> Fetched:
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise config_error(f"{where}: cannot read the web identity token file {path}: "
                               f"{exc.strerror or exc}") from exc
        if not token:
            raise config_error(f"{where}: the web identity token file {path} is empty")
        params = {"Action": "AssumeRoleWithWebIdentity", "RoleArn": role_arn, "RoleSessionName": name,
                  "WebIdentityToken": token}
        if duration:
            params["DurationSeconds"] = duration
        return _call(endpoint, params, "", None, f"{where}: AssumeRoleWithWebIdentity {role_arn}", proxy_for)

    return RefreshingCredentials(fetch, where)


def assume_role(role_arn: str, source: KeySource, endpoint: str, region: str, where: str, *,
                session_name: str | None = None, external_id: str | None = None, duration: str | None = None,
                proxy_for: ProxyFor | None = None) -> RefreshingCredentials:
    """Keys from AssumeRole, signed by ``source`` (read again at each refresh: it may refresh too)."""
    name = _session_name(session_name)

    def fetch() -> Fetched:
        params = {"Action": "AssumeRole", "RoleArn": role_arn, "RoleSessionName": name}
        if external_id:
            params["ExternalId"] = external_id
        if duration:
            params["DurationSeconds"] = duration
        return _call(endpoint, params, region or "us-east-1", source, f"{where}: AssumeRole {role_arn}", proxy_for)

    return RefreshingCredentials(fetch, where)


ProfileLoader = Callable[[str], "dict[str, str] | None"]
StaticKeys = Callable[[str, str, "str | None"], Any]


def env_web_identity(env: Mapping[str, str], profile: Mapping[str, str], region: str,
                     proxy_for: ProxyFor | None) -> RefreshingCredentials | None:
    """AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, or None when neither is set."""
    arn, token_file = env.get("AWS_ROLE_ARN"), env.get("AWS_WEB_IDENTITY_TOKEN_FILE")
    if not arn and not token_file:
        return None
    if not token_file:
        raise config_error("environment: AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not")
    if not arn:
        raise config_error("environment: AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not")
    return web_identity(arn, token_file, env.get("AWS_ROLE_SESSION_NAME"), sts_endpoint(env, profile, region),
                        "environment web identity", proxy_for)


def profile_role(
    pname: str,
    profile: Mapping[str, str],
    env: Mapping[str, str],
    region: str,
    load_profile: ProfileLoader,
    static_keys: StaticKeys,
    process_keys: Callable[[str, str], Any],
    proxy_for: ProxyFor | None,
    seen: tuple[str, ...] = (),
) -> Any:
    """The keys a profile with ``role_arn`` stands for (assume-role or web identity), or None when it
    has no role_arn. ``static_keys`` / ``process_keys`` build the SDK's credential objects for a
    source profile; ``load_profile`` reads another profile by name (None when there is none)."""
    where = f"AWS profile {pname!r}"
    arn = profile.get("role_arn")
    if not arn:
        if profile.get("web_identity_token_file"):
            raise config_error(f"{where}: web_identity_token_file is set but role_arn is not")
        return None
    if profile.get("mfa_serial"):
        raise config_error(f"{where}: mfa_serial is set: the Coffer SDK cannot prompt for an MFA code; use a "
                           "role without an MFA condition, or get keys with the AWS CLI and pass them in the "
                           "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)")
    duration = _duration(profile.get("duration_seconds"), where)
    endpoint = sts_endpoint(env, profile, region)
    source_name, cred_source = profile.get("source_profile"), profile.get("credential_source")
    if source_name and cred_source:
        raise config_error(f"{where}: set source_profile or credential_source, not both")
    if not source_name and not cred_source:
        token_file = profile.get("web_identity_token_file")
        if not token_file:
            raise config_error(f"{where}: role_arn needs source_profile, credential_source or "
                               "web_identity_token_file to say which keys assume the role")
        return web_identity(arn, token_file, profile.get("role_session_name"), endpoint, f"{where} web identity",
                            proxy_for, duration)
    source: Any
    if cred_source:
        if cred_source not in CREDENTIAL_SOURCES:
            raise config_error(f"{where}: credential_source {cred_source!r} is not one of "
                               f"{', '.join(CREDENTIAL_SOURCES)}")
        if cred_source != "Environment":
            raise config_error(f"{where}: credential_source {cred_source} needs the cloud's metadata service, "
                               "which the Coffer SDK does not call; use credential_source = Environment or a "
                               "source_profile")
        ak, sk = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        if not ak or not sk:
            raise config_error(f"{where}: credential_source = Environment but AWS_ACCESS_KEY_ID and "
                               "AWS_SECRET_ACCESS_KEY are not both set")
        source = static_keys(ak, sk, env.get("AWS_SESSION_TOKEN") or None)
    else:
        assert source_name is not None
        if source_name in seen or len(seen) >= MAX_CHAIN:
            raise config_error(f"{where}: source_profile chain loops or is too long: "
                               f"{' -> '.join((*seen, pname, source_name))}")
        src = load_profile(source_name)
        if src is None:
            raise config_error(f"{where}: source_profile {source_name!r} is not a profile in the AWS config "
                               "or credentials file")
        sak, ssk = src.get("aws_access_key_id"), src.get("aws_secret_access_key")
        if source_name != pname and src.get("role_arn"):
            source = profile_role(source_name, src, env, region, load_profile, static_keys, process_keys, proxy_for,
                                  (*seen, pname))
        elif sak and ssk:
            source = static_keys(sak, ssk, src.get("aws_session_token") or None)
        elif src.get("credential_process"):
            source = process_keys(src["credential_process"], f"AWS profile {source_name!r} credential_process")
        elif src.get("web_identity_token_file"):
            raise config_error(f"AWS profile {source_name!r}: web_identity_token_file is set but role_arn is not")
        else:
            raise config_error(f"{where}: source_profile {source_name!r} has no keys (aws_access_key_id and "
                               "aws_secret_access_key), credential_process or role_arn")
    return assume_role(arn, source, endpoint, region, where, session_name=profile.get("role_session_name"),
                       external_id=profile.get("external_id"), duration=duration, proxy_for=proxy_for)
