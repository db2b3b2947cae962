"""`smsgw number NUMBER`: the offline HLR-style look-up, printed as JSON.

Uses `[numbers]` from the configuration (default region, short codes) and, when the database
exists, what past sends learned about the number (read-only: safe beside a running daemon).
Exit status 0 when the number can receive SMS, 1 when it cannot, 2 on a configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from gateway.config import ConfigError, add_config_arguments, load_from_args
from gateway.numbers import NumberLookup, NumberPolicy, NumberService, policy_from_config
from gateway.store.sqlite import SqliteStore


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "number", help="look up a phone number offline (validity, type, carrier, time zones)"
    )
    parser.add_argument("number", metavar="NUMBER", help="e.g. +447911123456 or 07911 123456")
    parser.add_argument("--region", metavar="CC", help="default region, overriding the config")
    parser.add_argument(
        "--no-db", action="store_true", help="do not read learned reachability from the store"
    )
    add_config_arguments(parser)
    parser.set_defaults(func=_number)


async def _lookup(args: argparse.Namespace, policy: NumberPolicy, db: str | None) -> NumberLookup:
    if db is None:
        return await NumberService(policy).lookup(args.number)
    store = await SqliteStore.open_readonly(db)
    try:
        return await NumberService(policy, store).lookup(args.number)
    finally:
        await store.close()


def _number(args: argparse.Namespace) -> int:
    try:
        settings = load_from_args(args)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 2
    policy = policy_from_config(settings.numbers)
    if args.region:
        region = args.region.strip().upper()
        policy = NumberPolicy(region, policy.allow_short_codes, policy.allow_fixed_line)
    db = None if args.no_db or not settings.db_path.is_file() else str(settings.db_path)
    result = asyncio.run(_lookup(args, policy, db))
    print(json.dumps(result.to_json(), indent=2, sort_keys=True))
    return 0 if result.can_receive_sms else 1
