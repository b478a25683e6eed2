"""`coffer meta migrate|copy`: the metadata database's schema and moving a single-node store to PostgreSQL.

`migrate` brings a metadata database to this Coffer's schema version (PostgreSQL with --meta, or a data
folder's SQLite file with --data) and says from which version to which; a database newer than this
Coffer is refused with the reason. `copy` moves a stopped single-node store's metadata into an empty
PostgreSQL database (meta/copy.py) and binds the data folder to it, so the next `coffer serve --data DIR`
(and `coffer user --data DIR`) use PostgreSQL; the object data stays where it is.
"""

from __future__ import annotations

from pathlib import Path

import click

from coffer.server.cli import emit, json_option, wants_json
from coffer.server.config import Config


@click.group("meta")
def meta_group() -> None:
    """The metadata database: schema migrations, moving to PostgreSQL."""


def _pg_url(url: str, hint: str) -> str:
    if not url.startswith(("postgresql://", "postgres://")):
        raise click.BadParameter("a postgresql://USER@HOST:PORT/DB URL", param_hint=hint)
    return url


@meta_group.command("migrate")
@click.option("--meta", "meta_url", envvar="COFFER_META", default=None, metavar="URL",
              help="PostgreSQL metadata database to migrate.")
@click.option("--data", envvar="COFFER_DATA", default=None, help="Data folder whose SQLite metadata to migrate.")
@json_option
def migrate_cmd(meta_url: str | None, data: str | None, as_json: bool) -> None:
    """Bring the metadata database to this Coffer's schema version."""
    if bool(meta_url) == bool(data):
        raise click.UsageError("give --meta URL (PostgreSQL) or --data DIR (SQLite), one of them")
    if meta_url:
        import psycopg

        from coffer.server.meta.postgres.schema import SCHEMA_VERSION, SchemaTooNew, migrate, schema_version

        try:
            with psycopg.connect(_pg_url(meta_url, "--meta"), autocommit=True, connect_timeout=10) as conn:
                before = schema_version(conn)
                after = migrate(conn)
        except SchemaTooNew as e:
            raise click.ClickException(str(e)) from None
        except psycopg.OperationalError as e:
            raise click.ClickException(f"cannot reach the metadata database: {str(e).strip()}") from None
    else:
        from coffer.server.meta.sqlite.engine import connect
        from coffer.server.meta.sqlite.schema import SCHEMA_VERSION, SchemaTooNew, migrate, schema_version

        path = Config(data_dir=Path(data or ".")).meta_path
        if not path.exists():
            raise click.ClickException(f"no metadata database at {path}")
        conn = connect(path, synchronous="FULL", busy_timeout_ms=10000)
        try:
            before = schema_version(conn)
            after = migrate(conn)
        except SchemaTooNew as e:
            raise click.ClickException(str(e)) from None
        finally:
            conn.close()
    emit(as_json, {"before": before, "after": after, "this_coffer": SCHEMA_VERSION},
         f"schema version {before} -> {after} (this Coffer: {SCHEMA_VERSION})")


@meta_group.command("copy")
@click.option("--data", envvar="COFFER_DATA", default="./coffer-data", show_default=True,
              help="Data folder of the stopped single-node store.")
@click.option("--to", "to_url", required=True, metavar="URL", help="Empty PostgreSQL database: postgresql://...")
@json_option
def copy_cmd(data: str, to_url: str, as_json: bool) -> None:
    """Copy a stopped single-node store's metadata into an empty PostgreSQL database."""
    import psycopg

    from coffer.server.meta.copy import CopyRefused, copy_sqlite_to_postgres
    from coffer.server.meta.postgres.schema import SchemaTooNew
    from coffer.server.runner import meta_url_file, record_meta_url

    cfg = Config(data_dir=Path(data), meta_url=_pg_url(to_url, "--to"))
    if meta_url_file(cfg).exists():
        raise click.ClickException(f"{data} already uses PostgreSQL metadata ({meta_url_file(cfg)})")
    try:
        report = copy_sqlite_to_postgres(  # with --json the rows per table are in the one JSON answer
            cfg.meta_path, to_url,
            progress=None if wants_json(as_json) else (lambda table, n: click.echo(f"  {table}: {n} rows")))
    except (CopyRefused, SchemaTooNew) as e:
        raise click.ClickException(str(e)) from None
    except psycopg.OperationalError as e:
        raise click.ClickException(f"cannot reach the metadata database: {str(e).strip()}") from None
    record_meta_url(cfg)
    total = sum(report.rows.values())
    emit(as_json, {"rows": dict(report.rows), "total": total, "data": data, "meta_url_file": str(meta_url_file(cfg))},
         f"copied {total} rows; {data} now uses {meta_url_file(cfg)} (serve it with --data {data})")
