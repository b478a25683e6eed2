"""Aliases: short names for (endpoint, keys) so paths read ``NAME/bucket/key``.

Aliases live in ``$COFFER_CONFIG_DIR/aliases.json`` (default ``~/.config/coffer``), written with mode
0600 since they hold secret keys. The environment can define more without touching disk, as mc does:
``COFFER_HOST_<NAME>=https://ACCESS:SECRET@host:port`` (percent-encode special characters); these win
over the file. Path parsing lives here too, because whether ``x/y`` is remote depends on the aliases.
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
from coffer.sdk._config import ClientConfig, normalize_endpoint

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ENV_PREFIX = "COFFER_HOST_"


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
