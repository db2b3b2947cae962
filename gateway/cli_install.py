"""`smsgw install`: the venv, the unit, the udev rules, the user and an example config.

    smsgw install [--root DIR] [--prefix /opt/smsgw] [--enable] [--start] [--no-venv]
                  [--package SPEC] [--wheels DIR] [--source DIR] [--dry-run]

Idempotent: run it again after `git pull` to upgrade; it reports what it created, updated or
left alone, never overwrites /etc/smsgw/smsgw.toml, and starts nothing unless told to.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.install import Action, Installer, InstallError, InstallOptions
from gateway.service import DEFAULT_PREFIX


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "install",
        help="install the service: venv, systemd unit, udev rules, user, example config",
        description="Install smsgw as a systemd service (idempotent; starts nothing unless"
        " --start).",
    )
    parser.add_argument("--root", type=Path, default=Path("/"), metavar="DIR",
                        help="install into this directory instead of / (tests, images)")
    parser.add_argument("--prefix", type=Path, default=DEFAULT_PREFIX, metavar="DIR",
                        help=f"where the virtualenv goes (default {DEFAULT_PREFIX})")
    parser.add_argument("--enable", action="store_true", help="systemctl enable smsgw.service")
    parser.add_argument("--start", action="store_true",
                        help="start it (restart when something changed); implies nothing else")
    parser.add_argument("--no-venv", dest="venv", action="store_false",
                        help="lay out the system files only (the package is installed otherwise)")
    parser.add_argument("--package", metavar="SPEC",
                        help="pip requirement to install (default: this source checkout)")
    parser.add_argument("--wheels", type=Path, metavar="DIR",
                        help="install offline from this directory of wheels")
    parser.add_argument("--pip-arg", dest="pip_args", action="append", default=[],
                        metavar="ARG", help="extra argument for pip install (repeatable)")
    parser.add_argument("--source", type=Path, metavar="DIR",
                        help="source checkout holding systemd/ (default: found from the package)")
    parser.add_argument("--dry-run", action="store_true", help="show what would change")
    parser.set_defaults(func=install_command)


def install_command(args: argparse.Namespace) -> int:
    options = InstallOptions(
        root=args.root.absolute(), prefix=args.prefix, source=args.source, venv=args.venv,
        package=args.package, wheels=args.wheels, pip_args=tuple(args.pip_args),
        enable=args.enable, start=args.start, dry_run=args.dry_run,
    )
    try:
        installer = Installer(options)
        steps = installer.install()
    except InstallError as exc:
        print(f"smsgw install: {exc}", file=sys.stderr)
        return 1
    for step in steps:
        print(step)
    changed = sum(1 for s in steps if s.action in (Action.CREATED, Action.UPDATED))
    where = "" if installer.on_system else f" under {options.root}"
    if options.dry_run:
        print(f"smsgw install: dry run, nothing changed; {changed} file(s) would be created or"
              f" updated{where}")
        return 0
    print(f"smsgw install: {changed} file(s) created or updated{where}")
    if not options.start and installer.on_system and not options.dry_run:
        print("next: edit /etc/smsgw/smsgw.toml, `smsgw doctor`, then"
              " `systemctl enable --now smsgw`")
    return 0


__all__ = ["install_command", "register"]
