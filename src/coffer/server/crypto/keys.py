"""Key custody for encryption at rest: the master key and the local KMS key store (SSE-KMS).

This module owns the two key files of the data folder (formats in docs/encryption.md):
``DATA/keys/master.key`` (or env COFFER_MASTER_KEY / COFFER_MASTER_KEY_FILE) and ``DATA/keys/kms.json``.
Both are created 0600 in a 0700 directory, written atomically, and refused when readable by others.
KMS key material is itself wrapped by the master key, so the key store file alone decrypts nothing.
The ciphers and formats of object data are in :mod:`crypto`.

With a ``KeyVault`` (PostgreSQL metadata: ``MetaStore.key_vault()``, table ``shared_keys``) the keys are
in the shared database instead, so every gateway of a cluster encrypts and decrypts with the same ones:
created once (``INSERT ... ON CONFLICT DO NOTHING``, then read back: gateways starting together agree),
and a data folder's existing key files are imported on first use (a folder whose master key differs
from the cluster's is refused, never silently switched). Without one (SQLite) the files stay.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import re
import secrets
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from coffer.protocol.errors import S3Error
from coffer.server.crypto.envelope import KEY_SIZE, key_fingerprint, new_data_key, unwrap_key, wrap_key
from coffer.server.data.durable import fsync_dir

MASTER_KEY_ENV = "COFFER_MASTER_KEY"
MASTER_KEY_FILE_ENV = "COFFER_MASTER_KEY_FILE"
KMS_STATES = ("Enabled", "Disabled", "PendingDeletion")
_ALIAS = re.compile(r"[A-Za-z0-9/_-]{1,250}")


class KeyVault(Protocol):
    """Named secrets in the shared metadata (meta/postgres/coordination.py implements it)."""

    def get_or_create(self, name: str, value: bytes) -> bytes:
        """The stored value of ``name``; if there is none, ``value`` is stored first (once: a concurrent
        creator's value wins for everyone)."""
        ...

    def update(self, name: str, fn: Callable[[bytes | None], bytes]) -> bytes:
        """Replace ``name``'s value by ``fn(old)`` atomically (concurrent updates serialise)."""
        ...

    def read(self, name: str) -> bytes | None: ...


# -- master key ----------------------------------------------------------------------------------------
def _decode_key(text: str, where: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text) if len(text) == 2 * KEY_SIZE else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != KEY_SIZE:
        raise ValueError(f"{where}: the master key must be 32 bytes, base64 or hex encoded")
    return key


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 atomically (tmp + fsync + rename + fsync of the directory)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _read_private(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & 0o077:
        # Like ssh with private keys: a key readable by others is refused rather than silently used.
        raise PermissionError(f"{path} is accessible by group/others (mode {mode & 0o777:o}); chmod 600 it")
    return path.read_text()


def sse_s3_key_id(master: bytes) -> str:
    """Wrap id of SSE-S3 data keys: names the master key, so a changed master key is reported as such."""
    return "sse-s3:" + key_fingerprint(master)


def master_key_path(data_dir: Path) -> Path:
    return data_dir / "keys" / "master.key"


def load_master_key(data_dir: Path, env: Mapping[str, str] | None = None, vault: KeyVault | None = None) -> bytes:
    """The master key: env COFFER_MASTER_KEY, else the file named by COFFER_MASTER_KEY_FILE, else the
    shared metadata's (with a ``vault``: DATA/keys/master.key imported if the cluster has none yet),
    else DATA/keys/master.key, created (0600, random) on first use.  Creation takes a lock so that
    workers starting together agree on one key."""
    env = os.environ if env is None else env
    if env.get(MASTER_KEY_ENV):
        return _decode_key(env[MASTER_KEY_ENV], MASTER_KEY_ENV)
    if env.get(MASTER_KEY_FILE_ENV):
        path = Path(env[MASTER_KEY_FILE_ENV])
        return _decode_key(_read_private(path), str(path))
    path = master_key_path(data_dir)
    if vault is not None:
        local = _decode_key(_read_private(path), str(path)) if path.exists() else None
        shared = _decode_key(vault.get_or_create("master", base64.b64encode(local or new_data_key())).decode("ascii"),
                             "the cluster's master key")
        if local is not None and local != shared:
            raise ValueError(f"{path} holds another master key than the cluster's (in the shared metadata): "
                             "objects this folder encrypted need it; move them or set COFFER_MASTER_KEY")
        return shared
    if not path.exists():
        with _locked(path.parent / ".master.lock"):
            if not path.exists():
                _write_private(path, base64.b64encode(new_data_key()) + b"\n")
    return _decode_key(_read_private(path), str(path))


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# -- local KMS key store -------------------------------------------------------------------------------
@dataclass(frozen=True)
class KmsKey:
    id: str  # a UUID, as AWS KMS key ids are
    arn: str
    created: str  # ISO 8601 UTC
    state: str  # Enabled | Disabled | PendingDeletion
    description: str
    material: str  # base64 of the 32-byte key wrapped by the master key (wrap_key format)
    alias: str = ""  # a name ("photos-root"): the "named root key" of Key Protect-style buckets

    @property
    def data_key_id(self) -> str:
        """Wrap id of the data keys this KMS key protects (distinct from the id wrapping its material)."""
        return "sse-kms:" + self.id

    def key(self, master: bytes) -> bytes:
        return unwrap_key(base64.b64decode(self.material), master, "kms:" + self.id)


class KmsStore:
    """Keys of SSE-KMS in DATA/keys/kms.json (0600): create, list, get, enable/disable.

    Key material is stored wrapped by the master key, so the file alone decrypts nothing.  Writers take
    a file lock and replace the file atomically, so concurrent workers never lose a key.
    """

    def __init__(self, data_dir: Path, master: bytes, region: str = "us-east-1",
                 vault: KeyVault | None = None) -> None:
        self.path = data_dir / "keys" / "kms.json"
        self.master = master
        self.region = region
        self.vault = vault  # the shared metadata's key store (a cluster), else the file

    def _parse(self, raw: bytes | str | None) -> list[KmsKey]:
        if not raw:
            return []
        doc = json.loads(raw)
        if doc.get("format") != "coffer-kms-v1":
            raise ValueError(f"{self.path}: unknown key store format")
        return [KmsKey(**k) for k in doc["keys"]]

    @staticmethod
    def _dump(keys: list[KmsKey]) -> bytes:
        return (json.dumps({"format": "coffer-kms-v1", "keys": [asdict(k) for k in keys]}, indent=1) + "\n").encode()

    def _load(self) -> list[KmsKey]:
        if self.vault is not None:
            raw = self.vault.read("kms")
            if raw is None and self.path.exists():  # a folder's key store, imported on first use
                raw = self.vault.get_or_create("kms", _read_private(self.path).encode())
            return self._parse(raw)
        if not self.path.exists():
            return []
        return self._parse(_read_private(self.path))

    def _modify(self, fn: Callable[[list[KmsKey]], list[KmsKey]]) -> None:
        """Replace the key list by ``fn(keys)`` atomically (the vault's row lock, or the file's flock)."""
        if self.vault is not None:
            self._load()  # imports the folder's file first, if any
            self.vault.update("kms", lambda raw: self._dump(fn(self._parse(raw))))
            return
        with _locked(self.path.parent / ".kms.lock"):
            _write_private(self.path, self._dump(fn(self._load())))

    def create(self, description: str = "", alias: str = "", key_id: str = "") -> KmsKey:
        """A new key; `key_id` chosen by the operator (as RGW's static key map and Vault's named keys allow,
        so a migration keeps its key names) or a UUID."""
        if alias and (not _ALIAS.fullmatch(alias) or alias.startswith("aws/")):
            raise ValueError("alias: 1-250 of A-Z a-z 0-9 / _ -, not starting with aws/")
        if key_id and (not _ALIAS.fullmatch(key_id) or key_id.startswith(("alias/", "arn"))):
            raise ValueError("id: 1-250 of A-Z a-z 0-9 / _ -, not starting with alias/ or arn")
        key_id = key_id or str(uuid.uuid4())
        wrapped = wrap_key(new_data_key(), self.master, "kms:" + key_id)
        key = KmsKey(
            id=key_id,
            arn=f"arn:aws:kms:{self.region}:000000000000:key/{key_id}",
            created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            state="Enabled",
            description=description,
            material=base64.b64encode(wrapped).decode(),
            alias=alias,
        )

        def add(keys: list[KmsKey]) -> list[KmsKey]:
            if alias and any(k.alias == alias for k in keys):
                raise ValueError(f"alias {alias!r} already names a key")
            if any(k.id == key_id for k in keys):
                raise ValueError(f"a key with id {key_id!r} exists")
            return [*keys, key]

        self._modify(add)
        return key

    def list(self) -> list[KmsKey]:
        return self._load()

    def get(self, key_id: str) -> KmsKey:
        """A key by id, key ARN, ``alias/<name>`` or alias ARN; S3's KMS.NotFoundException when unknown."""
        return _find(self._load(), key_id)

    def usable(self, key_id: str) -> tuple[KmsKey, bytes]:
        """The key and its material for encrypting/decrypting; a disabled key is refused as S3 does."""
        k = self.get(key_id)
        if k.state == "Disabled":
            raise S3Error("KMS.DisabledException", f"{k.arn} is disabled.")
        if k.state != "Enabled":
            raise S3Error("KMS.KMSInvalidStateException", f"{k.arn} is pending deletion.")
        return k, k.key(self.master)

    def set_state(self, key_id: str, state: str) -> KmsKey:
        if state not in KMS_STATES:
            raise ValueError(f"state must be one of {KMS_STATES}")
        changed: list[KmsKey] = []

        def change(keys: list[KmsKey]) -> list[KmsKey]:
            changed[:] = [replace(_find(keys, key_id), state=state)]
            return [changed[0] if k.id == changed[0].id else k for k in keys]

        self._modify(change)
        return changed[0]


def _find(keys: list[KmsKey], key_id: str) -> KmsKey:
    name = key_id.split(":alias/", 1)[1] if ":alias/" in key_id else key_id.removeprefix("alias/")
    by_alias = key_id.startswith("alias/") or ":alias/" in key_id
    for k in keys:
        if key_id in (k.id, k.arn) or (by_alias and k.alias and k.alias == name):
            return k
    raise S3Error("KMS.NotFoundException", f"Invalid keyId '{key_id}'")
