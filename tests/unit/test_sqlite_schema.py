"""The SQLite schema: shipped migrations never change, all DDL lives in schema.py, and `objects` and
`versions` are built from one column list.

fixtures/sqlite_schema_history.json is `sqlite_master` (type, name, table, CREATE text) after each
migration, as the shipped code wrote it: SQLite keeps the CREATE text verbatim, so a database created
by an older Coffer and one created now must hold the same text, byte for byte.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import coffer.server.meta.sqlite as sqlite_pkg
from coffer.server.meta.sqlite import rows, schema

HISTORY = json.loads((Path(__file__).parent / "fixtures" / "sqlite_schema_history.json").read_text())


def _master(conn: sqlite3.Connection) -> list[list]:
    return [list(r) for r in conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")]


def test_every_shipped_migration_writes_the_schema_it_always_wrote() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for version in range(1, schema.SCHEMA_VERSION + 1):
        schema.migrate(conn, version)
        if str(version) in HISTORY:
            assert _master(conn) == HISTORY[str(version)], f"migration {version} changed what it creates"
    assert set(HISTORY) <= {str(v) for v in range(1, schema.SCHEMA_VERSION + 1)}


def test_all_ddl_lives_in_schema_py() -> None:
    folder = Path(sqlite_pkg.__file__).parent
    for path in sorted(folder.glob("*.py")):
        if path.name == "schema.py":
            continue
        text = path.read_text()
        found = re.findall(r"\b(CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)|ALTER\s+TABLE|DROP\s+(?:TABLE|INDEX))\b", text)
        assert not found, f"{path.name} holds DDL ({found}): it belongs in schema.py"


def test_objects_and_versions_share_one_column_list() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    schema.migrate(conn)
    objects = [r[1] for r in conn.execute("PRAGMA table_info(objects)")]
    versions = [r[1] for r in conn.execute("PRAGMA table_info(versions)")]
    record = [name for name, _ in schema.RECORD_COLUMNS]
    identity = [name for name, _ in schema.RECORD_IDENTITY]
    extra = [name for name, _ in schema.VERSION_COLUMNS]
    assert objects == identity + record
    assert versions == identity + extra + record
    assert record[-1] == "inline"  # overflow pages are read only up to the last column asked for
    # The query column lists are the tables' columns, in table order.
    assert rows.OBJECT_COLUMNS.split(", ") == objects
    assert rows.OBJECT_SELECT.split(", ") == objects[1:]
    assert rows.VERSION_COLUMNS_LIST.split(", ") == extra + objects
    assert rows.VERSION_SELECT.split(", ") == extra + objects[1:]
    assert rows.OBJECT_SELECT_NO_INLINE.split(", ") == [*objects[1:-1], "NULL"]
    assert rows.OBJECT_PLACEHOLDERS.count("?") == len(objects)
