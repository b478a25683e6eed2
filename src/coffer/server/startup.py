"""Start-up safety: the data-folder lock, the checks before binding, and the root user's keys.

`coffer serve` must either start or end in one clear line with a non-zero exit, and must not change
anything on the way to failing. The order in `runner.serve` is therefore:

1. `DataLock.acquire` — one server per data folder (`DATA/server.lock`, flock; holds the pid);
2. `preflight` — the metadata database opens and migrates (corrupt or newer schema: refused), the
   root-key flags agree with what the folder holds (a start never changes keys);
3. the listening sockets are bound (a busy port ends the start here);
4. `create_root` — only now, on a folder without a root user, is the root user created.

Every refusal is a `StartError` whose text is the line the operator sees.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coffer.server.config import Config
from coffer.server.meta.interface import MetaStore
from coffer.server.meta.sqlite.schema import SchemaTooNew
from coffer.server.service.access.users import add_user, random_access_key, random_secret_key

ROOT_USER = "root"
LOCK_NAME = "server.lock"


class StartError(Exception):
    """A start refused for a reason the operator can fix; str() is the one line to print."""


class DataLock:
    """An exclusive flock on DATA/server.lock, held for the server's life (workers inherit the fd).

    The kernel drops it when the last process holding the descriptor dies, kill -9 included, so a
    stale lock never blocks a restart. The file holds the holder's pid for the refusal message.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self.fd: int | None = None

    def acquire(self, *, shared: bool = False) -> None:
        """Exclusive: the one server of this folder. Shared: cluster gateways, which share the folder's
        metadata by design (docs/cluster.md), exclude a stand-alone server but not each other."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StartError(f"cannot open the data folder {self.path.parent}: {e.strerror}") from None
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                os.close(fd)
                raise StartError(f"cannot lock the data folder {self.path.parent}: {e.strerror}") from None
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StartError(f"the data folder {self.path.parent.resolve()} is in use by another Coffer server "
                             f"(pid {holder}); stop it first or give another --data") from None
        if not shared:
            os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".ljust(16).encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@dataclass(frozen=True, slots=True)
class RootPlan:
    """What the start will do about the root user once it is listening."""

    create: bool
    access_key: str | None = None
    secret_key: str | None = None
    generated: bool = False


def prepare_folder(cfg: Config) -> None:
    """The data folder exists (created if missing) and is a writable directory."""
    data = cfg.data_dir
    if data.exists() and not data.is_dir():
        raise StartError(f"the data folder {data} is not a directory")
    try:
        data.mkdir(parents=True, exist_ok=True)
        cfg.meta_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StartError(f"cannot create the data folder {data}: {e.strerror}") from None
    if not os.access(data, os.R_OK | os.W_OK | os.X_OK):
        raise StartError(f"the data folder {data} is not readable and writable by this user")


async def preflight(cfg: Config, opener: Callable[[Config], MetaStore]) -> RootPlan:
    """Open (and migrate) the metadata store and decide the root user's fate, changing no keys."""
    meta = opener(cfg)
    try:
        await meta.open()
    except SchemaTooNew as e:
        raise StartError(str(e)) from None
    except sqlite3.DatabaseError as e:
        raise StartError(f"the metadata database {cfg.meta_path} is unreadable or corrupt ({e}); "
                         f"restore it from a backup (docs/operations.md)") from None
    except OSError as e:
        raise StartError(f"cannot open the metadata database {cfg.meta_path}: {e.strerror or e}") from None
    try:
        root = await meta.get_user(ROOT_USER)
        if cfg.access_key and cfg.secret_key:
            key = await meta.get_access_key(cfg.access_key)
            if key is not None and key.user_id != ROOT_USER:
                raise StartError(f"--access-key {cfg.access_key} belongs to user {key.user_id}, not to the root user")
            if key is not None and key.secret_key == cfg.secret_key:
                return RootPlan(create=False)
            if root is not None or key is not None:
                raise StartError(
                    f"--access-key/--secret-key differ from the root user's keys in {cfg.data_dir}; a start never "
                    f"changes keys: use `coffer user add {ROOT_USER} --admin --access-key AK --secret-key SK "
                    f"--data {cfg.data_dir}` (or `coffer user key ...` on a running server)")
            return RootPlan(create=True, access_key=cfg.access_key, secret_key=cfg.secret_key)
        if root is None:
            return RootPlan(create=True, access_key=random_access_key(), secret_key=random_secret_key(),
                            generated=True)
        return RootPlan(create=False)
    finally:
        await meta.close()


async def create_root(cfg: Config, plan: RootPlan, opener: Callable[[Config], MetaStore]) -> None:
    """Create the root user decided by `preflight` (called once the server is listening)."""
    if not plan.create or not plan.access_key or not plan.secret_key:
        return
    meta = opener(cfg)
    await meta.open()
    try:
        await add_user(meta, ROOT_USER, plan.access_key, plan.secret_key, display_name=ROOT_USER, admin=True)
    finally:
        await meta.close()
    if plan.generated and cfg.log_format == "json":
        print(json.dumps({"event": "root-user-created", "access_key": plan.access_key,
                          "secret_key": plan.secret_key, "note": "keep these keys; they are not shown again"}),
              flush=True)
    elif plan.generated:
        print("Coffer created the root user. Keep these keys; they are not shown again:", flush=True)
        print(f"  access key: {plan.access_key}\n  secret key: {plan.secret_key}", flush=True)
