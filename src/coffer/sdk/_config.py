"""Client configuration: the tunables (:class:`ClientConfig`, :class:`TransferConfig`) and where an
endpoint, keys, region and proxy come from when they are not given explicitly.

Both config classes are frozen dataclasses validated on construction so a bad value fails where it
is written, not deep inside a worker thread. Defaults follow s3transfer where users already have
expectations (8 MiB threshold and parts, 10 workers) and S3's hard limits where the protocol imposes
them.

The provider chain for :meth:`Client.from_env` looks, in order, at

1. ``COFFER_ENDPOINT`` / ``COFFER_ACCESS_KEY`` / ``COFFER_SECRET_KEY`` (+ ``COFFER_REGION``);
2. the AWS conventions: ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID`` /
   ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, then
   the ``AWS_PROFILE`` (or ``default``) profile of ``~/.aws/credentials`` and ``~/.aws/config``
   (keys, ``credential_process``, or a ``role_arn`` assumed through STS: see ``_sts``), and web
   identity (``AWS_ROLE_ARN`` + ``AWS_WEB_IDENTITY_TOKEN_FILE``);
3. Spectra's ``DS3_ENDPOINT`` / ``DS3_ACCESS_KEY`` / ``DS3_SECRET_KEY``.

Endpoint, key pair and region are resolved independently (the first source that has each wins),
because "endpoint from one variable, keys from the shared credentials file" is the common setup; a
key pair is never split across sources. Proxies follow ``https_proxy`` / ``http_proxy`` / ``no_proxy``.
"""

from __future__ import annotations

import configparser
import os
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from coffer.sdk import _sts
from coffer.sdk._credentials import (
    RefreshingCredentials,
    check_pair,
    check_profile_supported,
)
from coffer.sdk._errors import CofferError
from coffer.sdk._tracing import RequestRecord

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

# S3 protocol limits every server enforces.
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
MAX_SINGLE_COPY = 5 * GiB
MAX_DOWNLOAD_RANGE = 64 * MiB  # what one GET of a big download asks for at most (TransferConfig.range_size_for)

APPEND_MODES = ("auto", "native", "multipart")
# CRCs combine across parts, so the server can keep one checksum of the whole object (FULL_OBJECT).
FULL_OBJECT_ALGORITHMS = ("CRC32C", "CRC32", "CRC64NVME")


@dataclass(frozen=True)
class ClientConfig:
    """How the client talks HTTP.

    ``max_attempts`` counts the first try: 5 means up to four retries, each after a jittered
    exponential backoff (``backoff_base`` doubled per attempt, capped at ``backoff_max``).
    ``signed_payload_limit`` is the largest in-memory body whose SHA-256 is signed over plain HTTP;
    bigger or streamed bodies go UNSIGNED-PAYLOAD with Content-MD5 (see docs/sdk.md, "Integrity").
    ``append_mode`` picks Coffer's native append sessions or the multipart fallback; "auto" uses the
    native protocol only against a server that identifies itself as Coffer.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    max_attempts: int = 5
    backoff_base: float = 0.05
    backoff_max: float = 8.0
    max_pool_connections: int = 64
    signed_payload_limit: int = 1 * MiB
    append_mode: str = "auto"
    verify_tls: bool | str = True  # False: no certificate check (--insecure); a path: that CA file
    ca_bundle: str | None = None  # PEM file of the CAs to trust instead of the system's (--ca-bundle)
    user_agent: str = "coffer-sdk/0.1"
    # Called with a RequestRecord after every HTTP attempt (see _tracing.py); never sees secrets.
    on_request: Callable[[RequestRecord], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_pool_connections < 1:
            raise ValueError("max_pool_connections must be at least 1")
        if self.append_mode not in APPEND_MODES:
            raise ValueError(f"append_mode must be one of {APPEND_MODES}")
        if self.signed_payload_limit < 0:
            raise ValueError("signed_payload_limit must be >= 0")

    def with_(self, **changes: object) -> ClientConfig:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class TransferConfig:
    """How the transfer manager splits and schedules work.

    Files at or above ``multipart_threshold`` move in ``multipart_chunksize`` parts, up to
    ``max_concurrency`` at a time; memory stays within ``max_concurrency * multipart_chunksize``.
    ``max_bandwidth`` (bytes/s, None: unlimited) is shared by every transfer of one manager.
    ``resume`` lets an upload continue a pending multipart upload of the same key (ListParts) instead
    of starting over; the parts already stored are checked against the local data before reuse.
    ``copy_threshold``: objects up to this size are copied with one CopyObject (no data moves through
    the client; on Coffer not even on the server), bigger ones part by part.
    ``checksum_algorithm`` (a CRC: CRC32C, CRC32, CRC64NVME; None to leave integrity to the
    transport's Content-MD5) gives every uploaded part an ``x-amz-checksum-*`` the server checks, and
    asks for a FULL_OBJECT checksum that later downloads verify without re-reading the file. CRCs
    cost a fraction of MD5's CPU, which is what lets uploads outrun s3transfer.
    ``num_download_attempts``: tries per download part (or whole small download) before giving up.
    ``download_range_size``: the byte range each parallel GET of a big download asks for; None (the
    default) sizes ranges to the object: about two per concurrent request, between the part size and
    ``MAX_DOWNLOAD_RANGE`` (see ``range_size_for``).
    """

    multipart_threshold: int = 8 * MiB
    multipart_chunksize: int = 8 * MiB
    max_concurrency: int = 10
    max_bandwidth: int | None = None
    num_download_attempts: int = 5
    resume: bool = True
    verify: bool = True
    copy_threshold: int = MAX_SINGLE_COPY
    io_chunksize: int = 256 * KiB
    checksum_algorithm: str | None = "CRC32C"
    download_range_size: int | None = None

    def __post_init__(self) -> None:
        if self.checksum_algorithm is not None and self.checksum_algorithm.upper() not in FULL_OBJECT_ALGORITHMS:
            raise ValueError(f"checksum_algorithm must be one of {FULL_OBJECT_ALGORITHMS} or None")
        if self.multipart_threshold < 1:
            raise ValueError("multipart_threshold must be positive")
        if not MIN_PART_SIZE <= self.multipart_chunksize <= MAX_PART_SIZE:
            raise ValueError(f"multipart_chunksize must be between {MIN_PART_SIZE} and {MAX_PART_SIZE} bytes")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if self.max_bandwidth is not None and self.max_bandwidth <= 0:
            raise ValueError("max_bandwidth must be positive or None")
        if self.num_download_attempts < 1:
            raise ValueError("num_download_attempts must be at least 1")
        if not 1 <= self.copy_threshold <= MAX_SINGLE_COPY:
            raise ValueError(f"copy_threshold must be between 1 and {MAX_SINGLE_COPY}")
        if self.io_chunksize < 4 * KiB:
            raise ValueError("io_chunksize must be at least 4 KiB")
        if self.download_range_size is not None and self.download_range_size < 1:
            raise ValueError("download_range_size must be positive or None")

    def range_size_for(self, size: int) -> int:
        """The byte range of each parallel GET when downloading ``size`` bytes.

        Ranges are not parts: nothing caps their count, and a range costs a request (and, on the
        server, a lookup and a file open) whatever its length. With the 8 MiB part size a 1 GiB
        download took 128 GETs; about two ranges per concurrent request (51 MiB each at the default
        concurrency of 10) measured 1.05-1.42 s against 1.57-2.52 s, with a third less CPU on each side
        (bench/RESULTS.md, "Big downloads in fewer ranges"). Two per request rather than one keeps every
        stream busy when one range finishes early."""
        if self.download_range_size is not None:
            return self.download_range_size
        want = -(-size // (2 * self.max_concurrency))  # ceiling division
        want = -(-want // MiB) * MiB  # whole MiB
        return max(self.multipart_chunksize, min(want, MAX_DOWNLOAD_RANGE))

    def part_size_for(self, size: int) -> int:
        """The part size to use for ``size`` bytes: the configured one, grown to fit in 10,000 parts."""
        part = self.multipart_chunksize
        while part * MAX_PARTS < size:
            part *= 2
        return min(part, MAX_PART_SIZE)


# --- the environment provider chain ------------------------------------------------------------

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # never print a secret by accident
        return f"Credentials(access_key={self.access_key!r}, secret_key='***')"

    def refresh_if_needed(self) -> None:
        """Static keys never expire (see RefreshingCredentials for those that do)."""

    def snapshot(self) -> tuple[str, str, str | None]:
        """(access key, secret key, session token) to sign one request with."""
        return self.access_key, self.secret_key, self.session_token


@dataclass(frozen=True)
class Resolved:
    """What the chain found; ``sources`` names where each piece came from (for `coffer alias` output)."""

    endpoint: str
    credentials: Credentials | RefreshingCredentials | None
    region: str
    sources: dict[str, str]


def normalize_endpoint(url: str) -> str:
    """Accept ``host:port`` (Spectra style) as well as URLs; refuse paths, queries and odd schemes."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"endpoint must be http:// or https://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"endpoint has no host: {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"endpoint must not have a path or query: {url!r}")
    if parts.username or parts.password:
        raise ValueError("put keys in access_key/secret_key, not in the endpoint URL")
    parts.port  # noqa: B018 - raises ValueError on a malformed port
    return f"{parts.scheme}://{parts.netloc}"


def _read_ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise CofferError(f"cannot read {path}: {exc}", code="ConfigError") from exc
    return parser


def _profile_files(env: Mapping[str, str], home: Path) -> tuple[Path, Path]:
    creds_file = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
    config_file = Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    return creds_file, config_file


def _load_profile(env: Mapping[str, str], home: Path, profile: str) -> dict[str, str] | None:
    """Merge one profile's sections of the shared credentials and config files (credentials first);
    None when neither file has it."""
    creds_file, config_file = _profile_files(env, home)
    merged: dict[str, str] = {}
    found = False
    if config_file.is_file():
        cfg = _read_ini(config_file)
        section = profile if profile == "default" else f"profile {profile}"
        for name in (section, profile):
            if cfg.has_section(name):
                merged.update({k: v.strip() for k, v in cfg.items(name)})
                found = True
                break
    if creds_file.is_file():
        cred = _read_ini(creds_file)
        if cred.has_section(profile):
            merged.update({k: v.strip() for k, v in cred.items(profile)})
            found = True
    return merged if found else None


def _aws_profile(env: Mapping[str, str], home: Path) -> dict[str, str]:
    """The ``AWS_PROFILE`` (or ``default``) profile; empty when there is none."""
    profile = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    return _load_profile(env, home, profile) or {}


def resolve(
    endpoint: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    region: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Resolved:
    """Run the provider chain; explicit arguments win over every environment source."""
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home()) if home is None else home
    profile = _aws_profile(env, home)
    sources: dict[str, str] = {}

    endpoint_chain = [
        ("argument", endpoint),
        ("COFFER_ENDPOINT", env.get("COFFER_ENDPOINT")),
        ("AWS_ENDPOINT_URL_S3", env.get("AWS_ENDPOINT_URL_S3")),
        ("AWS_ENDPOINT_URL", env.get("AWS_ENDPOINT_URL")),
        ("aws profile", profile.get("endpoint_url")),
        ("DS3_ENDPOINT", env.get("DS3_ENDPOINT")),
    ]
    found_endpoint = next(((src, v) for src, v in endpoint_chain if v), None)
    if found_endpoint is None:
        raise CofferError(
            "no endpoint: pass one, or set COFFER_ENDPOINT (or AWS_ENDPOINT_URL, or DS3_ENDPOINT)",
            code="ConfigError",
        )
    sources["endpoint"] = found_endpoint[0]

    region_chain = [
        ("argument", region),
        ("COFFER_REGION", env.get("COFFER_REGION")),
        ("AWS_REGION", env.get("AWS_REGION")),
        ("AWS_DEFAULT_REGION", env.get("AWS_DEFAULT_REGION")),
        ("aws profile", profile.get("region")),
    ]
    found_region = next(((src, v) for src, v in region_chain if v), ("default", DEFAULT_REGION))
    sources["region"] = found_region[0]
    pname = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    found_creds = _find_credentials(env, profile, pname, access_key, secret_key,
                                    region=found_region[1] or DEFAULT_REGION, home=home)
    creds: Credentials | RefreshingCredentials | None = None
    if found_creds is not None:
        sources["credentials"], creds = found_creds

    try:
        url = normalize_endpoint(found_endpoint[1] or "")
    except ValueError as exc:
        raise CofferError(f"{found_endpoint[0]}: {exc}", code="ConfigError") from exc
    return Resolved(url, creds, found_region[1] or DEFAULT_REGION, sources)


def _find_credentials(
    env: Mapping[str, str], profile: Mapping[str, str], pname: str, access_key: str | None, secret_key: str | None,
    *, region: str = DEFAULT_REGION, home: Path | None = None,
) -> tuple[str, Credentials | RefreshingCredentials] | None:
    """The first source that gives a key pair; a half pair or an unusable source is a ConfigError.

    The order follows botocore: environment keys, then a profile's role (assume-role), then web
    identity (environment, then profile), then the profile's keys or credential_process. One
    difference: a profile whose role names ``credential_source = Environment`` is used before the
    ``AWS_ACCESS_KEY_ID`` keys, which it turns into the role's keys.
    """
    if access_key or secret_key:
        if not (access_key and secret_key):
            raise CofferError("give both access_key and secret_key, or neither", code="ConfigError")
        return "argument", Credentials(access_key, secret_key)
    home = Path(env.get("HOME") or Path.home()) if home is None else home

    def proxies(url: str) -> str | None:
        return proxy_for(url, env)

    def role() -> Credentials | RefreshingCredentials:
        return _sts.profile_role(pname, profile, env, region, lambda name: _load_profile(env, home, name),
                                 Credentials, RefreshingCredentials.from_process, proxies)

    ak, sk = env.get("COFFER_ACCESS_KEY"), env.get("COFFER_SECRET_KEY")
    check_pair("environment", ak, sk, ("COFFER_ACCESS_KEY", "COFFER_SECRET_KEY"))
    if ak and sk:
        return "COFFER_ACCESS_KEY", Credentials(ak, sk)
    if profile.get("role_arn") and profile.get("credential_source"):
        # The chosen profile says "assume this role with the environment's keys": those keys are
        # the role's source, not the answer (so this comes before AWS_ACCESS_KEY_ID).
        return "aws profile assume-role", role()
    ak, sk = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    check_pair("environment", ak, sk, ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))
    if ak and sk:
        return "AWS_ACCESS_KEY_ID", Credentials(ak, sk, env.get("AWS_SESSION_TOKEN") or None)
    if profile.get("role_arn") and profile.get("source_profile"):
        return "aws profile assume-role", role()
    env_role = _sts.env_web_identity(env, profile, region, proxies)
    if env_role is not None:
        return "AWS_WEB_IDENTITY_TOKEN_FILE", env_role
    if profile.get("role_arn") or profile.get("web_identity_token_file"):
        return "aws profile web identity", role()
    ak, sk = profile.get("aws_access_key_id"), profile.get("aws_secret_access_key")
    check_pair(f"AWS profile {pname!r}", ak, sk, ("aws_access_key_id", "aws_secret_access_key"))
    if ak and sk:
        return "aws profile", Credentials(ak, sk, profile.get("aws_session_token") or None)
    if profile.get("credential_process"):
        where = f"AWS profile {pname!r} credential_process"
        return "aws profile credential_process", RefreshingCredentials.from_process(
            profile["credential_process"], where)
    check_profile_supported(pname, profile)
    ak, sk = env.get("DS3_ACCESS_KEY"), env.get("DS3_SECRET_KEY")
    check_pair("environment", ak, sk, ("DS3_ACCESS_KEY", "DS3_SECRET_KEY"))
    if ak and sk:
        return "DS3_ACCESS_KEY", Credentials(ak, sk)
    return None


def proxy_for(endpoint: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy URL the environment asks for to reach ``endpoint``, honouring ``no_proxy``.

    Lower-case variables win over upper-case ones, as in curl and urllib.
    """
    env = os.environ if environ is None else environ
    parts = urlsplit(endpoint)
    scheme = parts.scheme
    proxy = None
    for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY"):
        if env.get(name):
            proxy = env[name]
            break
    if not proxy:
        return None
    no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
    if no_proxy and _bypassed(parts.hostname or "", parts.port, no_proxy):
        return None
    return proxy if "://" in proxy else "http://" + proxy


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    if no_proxy.strip() == "*":
        return True
    # urllib's matcher handles suffixes, leading dots and host:port entries; it reads the
    # environment itself, so hand it ours through a scoped dict rather than touching os.environ.
    netloc = f"{host}:{port}" if port else host
    bypass = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009 - not in typeshed
    return bool(bypass(netloc, {"no": no_proxy}))
