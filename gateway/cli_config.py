"""`smsgw config check FILE` and `smsgw config show`: validate configuration without starting.

`check` exits 0 and prints a summary when the file, the `SMSGW_*` environment and the defaults
make a valid configuration, or exits 1 listing every problem by key and source.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.config import ConfigError, add_config_arguments, load_config, load_from_args, summary


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("config", help="check or show the gateway configuration")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check", help="validate a configuration file (plus SMSGW_* variables) without starting"
    )
    check.add_argument("file", type=Path, metavar="FILE", help="TOML configuration file")
    check.set_defaults(func=_check)
    show = sub.add_parser("show", help="print the effective configuration as JSON")
    add_config_arguments(show)
    show.set_defaults(func=_show)


def _check(args: argparse.Namespace) -> int:
    try:
        settings = load_config(args.file)
    except ConfigError as exc:
        print(f"{args.file}: {len(exc.issues)} problem(s)", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 1
    print(f"{args.file}: OK")
    for line in summary(settings):
        print(f"  {line}")
    return 0


def _show(args: argparse.Namespace) -> int:
    try:
        settings = load_from_args(args)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1
    print(json.dumps(settings.model_dump(mode="json"), indent=2))
    return 0
