"""`smsgw doctor`: check this box for what would stop the gateway, and print what to fix.

    smsgw doctor [--config FILE] [--user NAME] [--port PATH ...] [--quick] [--json]

Exit status 0 when nothing is wrong (warnings allowed), 1 when something must be fixed.
Run it as root to see everything (other users' open ports, the service's store).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gateway.doctor import DoctorOptions, examine, problems, render
from gateway.service import SERVICE_USER


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "doctor",
        help="check serial ports, ModemManager, the store, the clock and the configuration",
        description="Check this box for what would stop the gateway and print what to fix."
        " Exit status 1 when something is wrong.",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE",
        help="TOML configuration (default: $SMSGW_CONFIG, else /etc/smsgw/smsgw.toml)",
    )
    parser.add_argument(
        "--user", default=SERVICE_USER, metavar="NAME",
        help=f"service user whose access to ports and files is checked (default {SERVICE_USER})",
    )
    parser.add_argument(
        "--port", action="append", default=[], metavar="PATH",
        help="also check this serial port (repeatable)",
    )
    parser.add_argument(
        "--quick", action="store_true",
        help="PRAGMA quick_check instead of the full integrity_check of the store",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.set_defaults(func=doctor_command)


def doctor_command(args: argparse.Namespace) -> int:
    options = DoctorOptions(
        config=args.config, user=args.user, ports=tuple(args.port), quick=args.quick
    )
    findings = examine(options)
    if args.json:
        print(json.dumps(
            {"ok": problems(findings) == 0, "findings": [asdict(f) for f in findings]},
            indent=2,
        ))
    else:
        print("\n".join(render(findings)))
    return 1 if problems(findings) else 0


__all__ = ["doctor_command", "register"]
