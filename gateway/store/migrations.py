"""Numbered schema migrations: `migrations/NNNN_name.sql`, applied in order, each in one
transaction, recorded in `schema_version`.

To change the schema, add the next numbered file; never edit one that has shipped. A database
whose version is newer than the files this code knows is refused rather than guessed at.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from importlib import resources

from .errors import SchemaError

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> tuple[Migration, ...]:
    found: list[Migration] = []
    for entry in resources.files("gateway.store").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise SchemaError(f"migration numbers must run 1, 2, 3...: {migration.version} found")
    return tuple(found)


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
    )
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: sqlite3.Connection, migrations: tuple[Migration, ...] | None = None) -> int:
    """Bring the schema up to date; returns the version now in force."""
    migrations = load_migrations() if migrations is None else migrations
    version = current_version(conn)
    latest = migrations[-1].version if migrations else 0
    if version > latest:
        raise SchemaError(
            f"database schema version {version} is newer than this smsgw ({latest}); "
            "upgrade smsgw or restore a matching backup"
        )
    for migration in migrations:
        if migration.version <= version:
            continue
        try:
            # executescript commits any open transaction first, so BEGIN/COMMIT are in the script.
            conn.executescript(
                "BEGIN IMMEDIATE;\n"
                f"{migration.sql}\n;"
                f"INSERT INTO schema_version (version, name, applied_at) VALUES "
                f"({migration.version}, '{migration.name}', {int(time.time() * 1000)});\n"
                "COMMIT;"
            )
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise SchemaError(
                f"migration {migration.version:04d}_{migration.name} failed: {exc}"
            ) from exc
        version = migration.version
    return version
