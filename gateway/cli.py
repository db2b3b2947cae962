"""The `smsgw` command line: one entry point, one module per command family.

Each family registers its own sub-commands (`register(subparsers)`) so this file stays a table of
contents and the command modules can be tested on their own.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

# Command families in help order; each module exposes `register(subparsers) -> None` and sets
# `func` on its parsers (a callable taking the parsed namespace and returning an exit status).
COMMAND_MODULES: tuple[str, ...] = (
    "gateway.cli_run",
    "gateway.cli_config",
    "gateway.cli_number",
    "gateway.cli_keys",
    "gateway.cli_ops",
    "gateway.cli_install",
    "gateway.cli_doctor",
    "gateway.cli_backup",
    "gateway.cli_pdu",
    "gateway.cli_campaign",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smsgw",
        description="Self-hosted SMS gateway for a pool of USB GSM/LTE modems.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Handler | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `smsgw ... | head` closed the pipe: not an error worth a traceback.
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
