"""Where a client's endpoint, keys, region and proxy come from: explicit values, then the environment.

The provider chain for :meth:`Client.from_env` looks, in order, at

1. ``COFFER_ENDPOINT`` / ``COFFER_ACCESS_KEY`` / ``COFFER_SECRET_KEY`` (+ ``COFFER_REGION``);
2. the AWS conventions: ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID`` /
   ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, then
   the ``AWS_PROFILE`` (or ``default``) profile of ``~/.aws/credentials`` and ``~/.aws/config``;
3. Spectra's ``DS3_ENDPOINT`` / ``DS3_ACCESS_KEY`` / ``DS3_SECRET_KEY``.

Endpoint, key pair and region are resolved independently (the first source that has each wins),
because "endpoint from one variable, keys from the shared credentials file" is the common setup; a
key pair is never split across sources. Proxies follow ``https_proxy`` / ``http_proxy`` / ``no_proxy``.
"""

from __future__ import annotations

import configparser
import os
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from coffer.sdk._errors import CofferError

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # never print a secret by accident
        return f"Credentials(access_key={self.access_key!r}, secret_key='***')"


@dataclass(frozen=True)
class Resolved:
    """What the chain found; ``sources`` names where each piece came from (for `coffer alias` output)."""

    endpoint: str
    credentials: Credentials | None
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


def _aws_profile(env: Mapping[str, str], home: Path) -> dict[str, str]:
    """Merge the profile's sections of the shared credentials and config files (credentials first)."""
    profile = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    creds_file = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
    config_file = Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    merged: dict[str, str] = {}
    if config_file.is_file():
        cfg = _read_ini(config_file)
        section = profile if profile == "default" else f"profile {profile}"
        for name in (section, profile):
            if cfg.has_section(name):
                merged.update({k: v.strip() for k, v in cfg.items(name)})
                break
    if creds_file.is_file():
        cred = _read_ini(creds_file)
        if cred.has_section(profile):
            merged.update({k: v.strip() for k, v in cred.items(profile)})
    return merged


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

    key_chain = [
        ("argument", access_key, secret_key, None),
        ("COFFER_ACCESS_KEY", env.get("COFFER_ACCESS_KEY"), env.get("COFFER_SECRET_KEY"), None),
        ("AWS_ACCESS_KEY_ID", env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY"),
         env.get("AWS_SESSION_TOKEN")),
        ("aws profile", profile.get("aws_access_key_id"), profile.get("aws_secret_access_key"),
         profile.get("aws_session_token")),
        ("DS3_ACCESS_KEY", env.get("DS3_ACCESS_KEY"), env.get("DS3_SECRET_KEY"), None),
    ]
    creds: Credentials | None = None
    for src, ak, sk, token in key_chain:
        if ak and sk:
            creds = Credentials(ak, sk, token or None)
            sources["credentials"] = src
            break
        if (ak or sk) and src == "argument":
            raise CofferError("give both access_key and secret_key, or neither", code="ConfigError")

    region_chain = [
        ("argument", region),
        ("COFFER_REGION", env.get("COFFER_REGION")),
        ("AWS_REGION", env.get("AWS_REGION")),
        ("AWS_DEFAULT_REGION", env.get("AWS_DEFAULT_REGION")),
        ("aws profile", profile.get("region")),
    ]
    found_region = next(((src, v) for src, v in region_chain if v), ("default", DEFAULT_REGION))
    sources["region"] = found_region[0]
    try:
        url = normalize_endpoint(found_endpoint[1] or "")
    except ValueError as exc:
        raise CofferError(f"{found_endpoint[0]}: {exc}", code="ConfigError") from exc
    return Resolved(url, creds, found_region[1] or DEFAULT_REGION, sources)


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
    return bool(urllib.request.proxy_bypass_environment(netloc, {"no": no_proxy}))
