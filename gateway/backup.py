"""A consistent copy of the live store, taken while the gateway keeps running.

SQLite's online backup API copies the database page by page inside one read transaction; with
the store in WAL mode that transaction sees one committed snapshot and never blocks the daemon's
writer, so the copy holds every message that was committed before it started and nothing half
written. (A `cp` of the file would miss what still sits in the `-wal` file and could catch a
checkpoint halfway.) This runs outside the daemon, in its own short-lived process, so it uses
the standard `sqlite3` module directly rather than the daemon's aiosqlite connections, and it
takes neither the daemon's lock nor a write transaction.

The copy is written beside its destination under a temporary name, switched to a rollback
journal so that it is one self-contained file, checked with `PRAGMA integrity_check`, made
readable by its owner only (it holds phone numbers and message text), flushed to disk and only
then renamed into place: a failed backup never leaves a file that looks like a good one.

The store's keyring (`<db>.keyring`, the secret API keys and OTP codes are derived from) is
copied beside the backup as `<backup>.keyring`, 0600: a store restored without it keeps its
messages but loses the keys' secrets. Restore both, or neither.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final
from urllib.parse import quote

from gateway.keys import KEYRING_SUFFIX

BUSY_TIMEOUT_S: Final = 30.0
SUMMARY_TABLES: Final = ("messages", "parts", "transitions", "inbound_messages")


class BackupError(Exception):
    """The backup was not made (the message says why); no destination file was left behind."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    source: Path
    destination: Path
    size_bytes: int
    schema_version: int
    rows: dict[str, int]  # row counts of the main tables, as found in the copy
    keyring: Path | None = None  # the keyring copied beside it, when the store has one


def destination_for(path: Path, now: datetime | None = None) -> Path:
    """A directory gets a timestamped file name inside it; anything else is the file itself."""
    if path.is_dir():
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        return path / f"smsgw-{stamp}.db"
    return path


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _schema_version(conn: sqlite3.Connection) -> int:
    with contextlib.suppress(sqlite3.Error):
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        if row is not None and row[0] is not None:
            return int(row[0])
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return {
        table: int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
        for table in SUMMARY_TABLES
        if table in names
    }


def verify(path: Path) -> tuple[int, dict[str, int]]:
    """`integrity_check` the copy; returns (schema version, row counts) or raises BackupError."""
    conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    try:
        result = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
        if result != ["ok"]:
            raise BackupError(f"the copy fails integrity_check: {'; '.join(result[:3])}")
        return _schema_version(conn), _row_counts(conn)
    finally:
        conn.close()


def backup(source: Path, destination: Path, *, overwrite: bool = False) -> BackupResult:
    """Copy the store at `source` to `destination` (a file, or a directory to put one in)."""
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    target = destination_for(destination)
    if target.exists() and not overwrite:
        raise BackupError(f"{target} exists (use --force to replace it)")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent}: no such directory")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    keyring_source = source.with_name(source.name + KEYRING_SUFFIX)
    keyring_target = target.with_name(target.name + KEYRING_SUFFIX)
    keyring_partial = target.with_name(f".{keyring_target.name}.partial-{os.getpid()}")
    has_keyring = keyring_source.is_file()
    try:
        _copy(source, partial)
        version, rows = verify(partial)
        os.chmod(partial, 0o600)
        with partial.open("rb+") as handle:
            os.fsync(handle.fileno())
        if has_keyring:
            _copy_secret(keyring_source, keyring_partial)
            os.replace(keyring_partial, keyring_target)
        os.replace(partial, target)
        _fsync_directory(target.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"{source}: {exc}") from exc
    except OSError as exc:
        raise BackupError(f"{exc.filename or target}: {exc.strerror or exc}") from exc
    finally:
        for leftover in (partial, Path(f"{partial}-journal"), keyring_partial):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return BackupResult(source, target, target.stat().st_size, version, rows,
                        keyring_target if has_keyring else None)


def _copy_secret(source: Path, target: Path) -> None:
    data = source.read_bytes()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _copy(source: Path, partial: Path) -> None:
    # mode=ro: never create, migrate or checkpoint the live database from here.
    src = sqlite3.connect(
        f"file:{quote(str(source))}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S
    )
    try:
        old_umask = os.umask(0o077)
        try:
            dst = sqlite3.connect(partial)
        finally:
            os.umask(old_umask)
        try:
            # pages=-1: the whole database in one step, i.e. in one read transaction, so
            # the copy is one snapshot even while the daemon commits.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode = DELETE")
            dst.commit()
        finally:
            dst.close()
    finally:
        src.close()


__all__ = ["BackupError", "BackupResult", "backup", "destination_for", "verify"]
