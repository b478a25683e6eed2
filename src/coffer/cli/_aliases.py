"""Aliases: short names for (endpoint, keys) so paths read ``NAME/bucket/key``.

Aliases live in ``$COFFER_CONFIG_DIR/aliases.json`` (default ``~/.config/coffer``), written with mode
0600 since they hold secret keys. The environment can define more without touching disk, as mc does:
``COFFER_HOST_<NAME>=https://ACCESS:SECRET@host:port`` (percent-encode special characters); these win
over the file; mc's ``MC_HOST_<name>`` variables are read too (the file wins over them).
``coffer alias import mc|rclone`` copies mc's and rclone's (type s3) remotes into the file. Path
parsing lives here too, because whether ``x/y`` is remote depends on the aliases.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from coffer import Client
from coffer.cli._output import UsageError
from coffer.sdk._config import ClientConfig, normalize_endpoint

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ENV_PREFIX = "COFFER_HOST_"
MC_ENV_PREFIX = "MC_HOST_"


@dataclass(frozen=True)
class Alias:
    name: str
    url: str
    access_key: str | None
    secret_key: str | None
    region: str = "us-east-1"
    source: str = "file"

    def client(self) -> Client:
        return Client(self.url, self.access_key, self.secret_key, self.region, config=tls_config())

    def public(self) -> dict[str, str | None]:
        """What `alias ls` shows: never the secret."""
        return {"name": self.name, "url": self.url, "access_key": self.access_key, "region": self.region,
                "source": self.source}


def tls_config(base: ClientConfig | None = None) -> ClientConfig:
    """HTTPS certificate checks from `coffer --ca-bundle FILE` / `--insecure` (or COFFER_CA_BUNDLE /
    COFFER_INSECURE=1): a private CA's file to trust, or no check at all (never the default)."""
    base = base or ClientConfig()
    if os.environ.get("COFFER_INSECURE", "").lower() in ("1", "true", "yes"):
        return base.with_(verify_tls=False)
    bundle = os.environ.get("COFFER_CA_BUNDLE")
    return base.with_(ca_bundle=bundle) if bundle else base


def config_dir() -> Path:
    explicit = os.environ.get("COFFER_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "coffer"


def _file() -> Path:
    return config_dir() / "aliases.json"


def _read_file() -> dict[str, dict]:
    path = _file()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    return data if isinstance(data, dict) else {}


def parse_env_alias(name: str, value: str) -> Alias:
    """``https://AK:SK@host:9000`` -> Alias (keys percent-decoded); ValueError when malformed."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{ENV_PREFIX}{name} must look like http(s)://ACCESS:SECRET@host:port")
    netloc = parts.netloc.rpartition("@")[2]
    url = normalize_endpoint(f"{parts.scheme}://{netloc}")
    ak = unquote(parts.username) if parts.username else None
    sk = unquote(parts.password) if parts.password else None
    return Alias(name, url, ak, sk, source="env")


def load() -> dict[str, Alias]:
    out: dict[str, Alias] = {}
    for name, row in _read_file().items():
        if isinstance(row, dict) and row.get("url"):
            out[name] = Alias(name, row["url"], row.get("access_key"), row.get("secret_key"),
                              row.get("region") or "us-east-1", "file")
    for key, value in os.environ.items():  # mc's variables too, so `MC_HOST_x=... coffer ls x` works
        if key.startswith(MC_ENV_PREFIX) and value and NAME_RE.match(key[len(MC_ENV_PREFIX):]):
            name = key[len(MC_ENV_PREFIX):]
            a = parse_env_alias(name, value)
            out.setdefault(name, Alias(name, a.url, a.access_key, a.secret_key, source="mc-env"))
    for key, value in os.environ.items():
        if key.startswith(ENV_PREFIX) and value:
            name = key[len(ENV_PREFIX):].lower()
            if NAME_RE.match(name):
                out[name] = parse_env_alias(name, value)
    return out


def save(alias: Alias) -> Path:
    if not NAME_RE.match(alias.name):
        raise ValueError(f"invalid alias name {alias.name!r}: letters, digits, - and _ only")
    data = _read_file()
    row = asdict(alias)
    row.pop("name")
    row.pop("source")
    data[alias.name] = row
    _write(data)
    return _file()


def remove(name: str) -> bool:
    data = _read_file()
    if name not in data:
        return False
    del data[name]
    _write(data)
    return True


def _write(data: dict) -> None:
    path = _file()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write-then-rename so a crash never leaves half a file; 0600 because it holds secrets.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".aliases-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Remote:
    alias: Alias
    bucket: str | None
    key: str  # "" for a bucket root; may end with "/" (a folder)

    @property
    def bucket_name(self) -> str:
        """The bucket, for a target that must name one (a UsageError when it names an alias alone)."""
        if not self.bucket:
            raise UsageError(f"{self}: name a bucket")
        return self.bucket

    def __str__(self) -> str:
        out = self.alias.name
        if self.bucket:
            out += "/" + self.bucket
            if self.key:
                out += "/" + self.key
        return out


def parse_target(arg: str, aliases: dict[str, Alias]) -> Remote | Path:
    """``NAME[/bucket[/key]]`` with a known alias NAME is remote; anything else is a local path.

    A local file that happens to start with an alias name can be written ``./NAME/...``.
    """
    if arg.startswith(("./", "/", "../", "~")):
        return Path(arg).expanduser()
    head, _, rest = arg.partition("/")
    alias = aliases.get(head)
    if alias is None:
        return Path(arg)
    bucket, _, key = rest.partition("/")
    return Remote(alias, bucket or None, key)


# --- import from mc and rclone ---------------------------------------------------------------------


def mc_aliases(config_file: Path | None = None, environ: dict[str, str] | None = None) -> list[Alias]:
    """mc's aliases: ``~/.mc/config.json`` (``aliases``, or ``hosts`` in version 9 files) and
    ``MC_HOST_<alias>=https://ACCESS:SECRET@host`` variables (these win, as in mc)."""
    env = os.environ if environ is None else environ
    path = config_file or Path(env.get("MC_CONFIG_DIR") or Path.home() / ".mc") / "config.json"
    found: dict[str, Alias] = {}
    if path.exists():
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read {path}: {exc}") from exc
        rows = doc.get("aliases") or doc.get("hosts") or {}
        for name, row in rows.items():
            if isinstance(row, dict) and row.get("url") and NAME_RE.match(name):
                found[name] = Alias(name, normalize_endpoint(row["url"]), row.get("accessKey") or None,
                                    row.get("secretKey") or None, row.get("region") or "us-east-1", "mc")
    for key, value in env.items():
        if key.startswith(MC_ENV_PREFIX) and value:
            name = key[len(MC_ENV_PREFIX):]
            if NAME_RE.match(name):
                a = parse_env_alias(name, value)
                found[name] = Alias(name, a.url, a.access_key, a.secret_key, source="mc-env")
    return sorted(found.values(), key=lambda a: a.name)


def rclone_aliases(config_file: Path | None = None, environ: dict[str, str] | None = None) -> list[Alias]:
    """rclone remotes of ``type = s3`` from rclone.conf (``RCLONE_CONFIG`` or
    ``~/.config/rclone/rclone.conf``); an AWS remote without ``endpoint`` gets AWS's regional URL."""
    import configparser

    env = os.environ if environ is None else environ
    path = config_file or Path(env.get("RCLONE_CONFIG") or Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
                               / "rclone" / "rclone.conf")
    if not path.exists():
        return []
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    out = []
    for name in parser.sections():
        sec = parser[name]
        if sec.get("type") != "s3" or not NAME_RE.match(name):
            continue
        region = sec.get("region") or "us-east-1"
        endpoint = sec.get("endpoint") or (f"https://s3.{region}.amazonaws.com"
                                           if sec.get("provider", "AWS") == "AWS" else "")
        if not endpoint:
            continue
        out.append(Alias(name, normalize_endpoint(endpoint), sec.get("access_key_id") or None,
                         sec.get("secret_access_key") or None, region, "rclone"))
    return out


def remote(arg: str, need_bucket: bool = True, need_key: bool = False) -> Remote:
    """``arg`` as a remote target, or a UsageError that says what was expected."""
    aliases = load()
    target = parse_target(arg, aliases)
    if not isinstance(target, Remote):
        known = ", ".join(sorted(aliases)) or "none yet: coffer alias set NAME URL ACCESS SECRET"
        raise UsageError(f"{arg!r} is not ALIAS/bucket[/key] (aliases: {known})")
    if need_bucket and not target.bucket:
        raise UsageError(f"{arg!r} names no bucket: use {target.alias.name}/BUCKET")
    if need_key and not target.key:
        raise UsageError(f"{arg!r} names no object: use {target.alias.name}/{target.bucket}/KEY")
    return target
