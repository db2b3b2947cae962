"""`smsgw keys create|list|revoke`: manage API keys, beside a running daemon or without one.

    smsgw keys create NAME [--scopes send,read,admin] [--rate-limit N] [--db PATH] [--config FILE]
    smsgw keys list [--all]
    smsgw keys revoke NAME

`create` prints the new key once, alone on the last line (scripts take `| tail -n1`). The
command writes with a connection of its own (SQLite WAL lets it work while the daemon runs;
the daemon sees a new or revoked key within a few seconds).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, add_config_arguments, load_from_args
from gateway.keys import DEFAULT_SCOPES, KeyInputError, Keyring, create_key, parse_scopes
from gateway.store.migrations import migrate
from gateway.store.rows import to_ms
from gateway.store.sqlite_api import KeyNameTakenError, list_keys, revoke_key


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "keys", help="create, list and revoke API keys",
        description="API keys for the HTTP API (Bearer), Twilio (Basic) and Kannel endpoints.",
    )
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    create = sub.add_parser("create", help="create a key and print it once")
    create.add_argument("name", metavar="NAME",
                        help="key name (also the Twilio AccountSid and Kannel username)")
    create.add_argument(
        "--scopes", default=",".join(sorted(DEFAULT_SCOPES)), metavar="LIST",
        help="comma separated: send, read, admin (default: send,read)",
    )
    create.add_argument("--rate-limit", type=float, metavar="PER_SECOND",
                        help="requests per second for this key (default: [api] setting)")
    add_config_arguments(create)
    create.set_defaults(func=_create)

    listing = sub.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    add_config_arguments(listing)
    listing.set_defaults(func=_list)

    revoke = sub.add_parser("revoke", help="revoke the active key of that name")
    revoke.add_argument("name", metavar="NAME")
    add_config_arguments(revoke)
    revoke.set_defaults(func=_revoke)


@contextmanager
def _database(args: argparse.Namespace) -> Iterator[tuple[sqlite3.Connection, Path]]:
    settings = load_from_args(args)
    path = settings.db_path
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        migrate(conn)
        yield conn, path
    finally:
        conn.close()


def _fail(message: str, status: int = 2) -> int:
    print(f"smsgw keys: {message}", file=sys.stderr)
    return status


def _create(args: argparse.Namespace) -> int:
    try:
        scopes = parse_scopes(args.scopes)
        with _database(args) as (conn, path):
            keyring = Keyring.for_database(path)
            conn.execute("BEGIN IMMEDIATE")
            try:
                new = create_key(conn, keyring, args.name, scopes, rate_limit=args.rate_limit)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
    except ConfigError as exc:
        return _fail(f"invalid configuration:\n{exc}")
    except (KeyInputError, KeyNameTakenError) as exc:
        return _fail(str(exc))
    except (OSError, sqlite3.Error, ValueError) as exc:
        return _fail(str(exc), 1)
    record = new.record
    print(f"created API key {record.name!r} with scopes {','.join(sorted(record.scopes))}")
    print("store it now: it is shown only this once")
    print(new.key)
    return 0


def _list(args: argparse.Namespace) -> int:
    try:
        with _database(args) as (conn, _path):
            records = list_keys(conn, include_revoked=args.all)
    except ConfigError as exc:
        return _fail(f"invalid configuration:\n{exc}")
    except (OSError, sqlite3.Error) as exc:
        return _fail(str(exc), 1)
    if not records:
        print("no API keys (create one with: smsgw keys create NAME)")
        return 0
    print(f"{'NAME':<24} {'SCOPES':<16} {'KEY':<28} {'RATE/S':>7}  CREATED")
    for r in records:
        rate = "-" if r.rate_limit is None else f"{r.rate_limit:g}"
        state = "" if r.active else f"  revoked {r.revoked_at:%Y-%m-%d %H:%M}"
        print(f"{r.name:<24} {','.join(sorted(r.scopes)):<16} {r.hint:<28} {rate:>7}  "
              f"{r.created_at:%Y-%m-%d %H:%M}{state}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    try:
        with _database(args) as (conn, _path):
            record = revoke_key(conn, args.name, to_ms(datetime.now(UTC)))
    except ConfigError as exc:
        return _fail(f"invalid configuration:\n{exc}")
    except (OSError, sqlite3.Error) as exc:
        return _fail(str(exc), 1)
    if record is None:
        return _fail(f"no active key named {args.name!r}", 1)
    print(f"revoked API key {record.name!r} ({record.hint})")
    return 0


__all__ = ["register"]
