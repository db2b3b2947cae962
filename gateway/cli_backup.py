"""`smsgw backup PATH`: a consistent copy of the store, taken while the gateway runs.

    smsgw backup PATH [--config FILE | --db DB] [--force]

PATH is a file, or a directory to put `smsgw-<UTC time>.db` in (e.g. /var/backups/smsgw).
The store is the one `smsgw run` would use: `--db`, else the configuration's `[store] path`,
else /var/lib/smsgw/smsgw.db (the service's state directory). The store's keyring is copied
beside the backup as `<backup>.keyring`. Restore: stop the service, copy the backup over
smsgw.db and its keyring over smsgw.db.keyring (owned by smsgw, mode 600), remove any
smsgw.db-wal / smsgw.db-shm left from the old store, start the service.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.backup import BackupError, backup
from gateway.config import ConfigError, add_config_arguments, load_config, overrides_from_args
from gateway.service import service_environ


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "backup",
        help="take a consistent online copy of the store",
        description="Copy the store while the gateway runs (SQLite online backup), verify the"
        " copy with integrity_check, and put it at PATH.",
    )
    parser.add_argument("path", type=Path, metavar="PATH",
                        help="destination file, or a directory for a timestamped file")
    add_config_arguments(parser)
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    parser.set_defaults(func=backup_command)


def backup_command(args: argparse.Namespace) -> int:
    try:
        settings = load_config(
            args.config, overrides=overrides_from_args(args), environ=service_environ()
        )
    except ConfigError as exc:
        print(f"smsgw backup: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    try:
        result = backup(settings.db_path, args.path, overwrite=args.force)
    except BackupError as exc:
        print(f"smsgw backup: {exc}", file=sys.stderr)
        return 1
    rows = ", ".join(f"{table} {count}" for table, count in result.rows.items())
    print(
        f"{result.destination}: {result.size_bytes} bytes, schema {result.schema_version},"
        f" integrity ok ({rows or 'empty'})"
    )
    if result.keyring is not None:
        print(f"{result.keyring}: the store's keyring (restore it with the store)")
    return 0


__all__ = ["backup_command", "register"]
