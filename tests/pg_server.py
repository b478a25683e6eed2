"""PostgreSQL for the tests: the server named by COFFER_TEST_PG, and fresh databases on it.

COFFER_TEST_PG is either a DSN of a server the tests may create databases in (CI starts one, see
.ci/run), or `start`: the tests run initdb and pg_ctl themselves (a throw-away cluster under /tmp,
stopped at exit). Either way the cluster should be initialised with the ICU en-US default collation
(`initdb --locale-provider=icu --icu-locale=en-US`), as `start` does on purpose: a query that forgets
byte order then lists `B Zoo a ...` in the wrong order and fails the listing tests instead of
passing by luck on a C-collated database. Unset: the PostgreSQL cases skip.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

SKIP_REASON = ("PostgreSQL cases need COFFER_TEST_PG: a DSN of a server the tests may create databases in, "
               "or 'start' to run initdb/pg_ctl (PostgreSQL 15 binaries) for the session")
PG_BIN = Path(os.environ.get("COFFER_PG_BIN", "/usr/lib/postgresql/15/bin"))
_admin: str | None = None
_created: list[str] = []


def configured() -> bool:
    return bool(os.environ.get("COFFER_TEST_PG"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: run its tools as the postgres user then
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _start_own() -> str:
    root = Path(tempfile.mkdtemp(prefix="coffer-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data = root / "data"
    subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                 "--locale-provider=icu", "--icu-locale=en-US", "-E", "UTF8"]),
                   check=True, capture_output=True)
    port = _free_port()
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=on"
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"),
                                 "-w", "start"]), check=True, capture_output=True)

    def stop() -> None:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def admin_dsn() -> str:
    """The DSN of the test server's maintenance database (starting a server for `start`)."""
    global _admin
    if _admin is None:
        value = os.environ.get("COFFER_TEST_PG", "")
        if not value:
            raise RuntimeError(SKIP_REASON)
        _admin = _start_own() if value == "start" else value
    return _admin


def with_database(dsn: str, name: str) -> str:
    """`dsn` (a postgresql:// URL) pointing at database `name` instead."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("COFFER_TEST_PG must be a postgresql:// URL (or 'start')")
    return urlunsplit(parts._replace(path="/" + name))


def new_database(tag: str = "t") -> str:
    """A fresh, empty database on the test server; returns its DSN."""
    import psycopg

    admin = admin_dsn()
    name = f"coffer_{tag}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    if not _created:
        atexit.register(_drop_created)
    _created.append(name)
    return with_database(admin, name)


def _drop_created() -> None:
    """At exit: drop what this session created and nobody dropped (servers' databases)."""
    import psycopg

    try:
        with psycopg.connect(admin_dsn(), autocommit=True, connect_timeout=5) as conn:
            for name in _created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass


def drop_database(dsn: str) -> None:
    import psycopg
    import psycopg.conninfo

    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(admin_dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
