"""`smsgw-sim`: run the simulated modem pool, and script it through its control API.

    smsgw-sim run --modems 4 --dir /tmp/sim [--profile mixed] [--latency realistic] [--seed 7]
    smsgw-sim modems
    smsgw-sim inject +4915112345678 modem0 "STOP"
    smsgw-sim fault modem1 hang --duration 30
    smsgw-sim inbox +4915112345678
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from sim.dialects import PROFILES
from sim.faults import FaultKind
from sim.pool import DEFAULT_CONTROL, SimPool

ENV_CONTROL = "SMSGW_SIM_CONTROL"


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SystemExit(f"{what}: expected KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smsgw-sim", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the simulated modems and network until stopped")
    run.add_argument("--modems", type=int, default=4, metavar="N")
    run.add_argument("--dir", required=True, type=Path, help="where modem0, modem1... appear")
    run.add_argument("--profile", default="generic",
                     help=f"{', '.join(PROFILES)}, or mixed (default generic)")
    run.add_argument("--latency", default="0", metavar="SPEC",
                     help="seconds per submit (0, 0.5), a range (1-3) or realistic")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--control", default=DEFAULT_CONTROL, metavar="HOST:PORT",
                     help="control API and web page ('none' to disable)")
    run.add_argument("--tcp-port", type=int, default=None, metavar="BASE",
                     help="also serve modem i on BASE+i for pyserial socket://")
    run.add_argument("--tcp-host", default="127.0.0.1")
    run.add_argument("--boot-time", type=float, default=1.0, help="seconds from RDY to SMS ready")
    run.add_argument("--report-delay", type=float, default=1.0)
    run.add_argument("--delivery-delay", type=float, default=0.0)
    run.add_argument("--absent-delay", type=float, default=30.0)
    run.add_argument("--vendor-urc-interval", type=float, default=5.0,
                     help="seconds between Huawei ^RSSI-style URCs (0: never)")
    run.add_argument("--pin", action="append", default=[], metavar="I=PIN",
                     help="SIM of modem I needs this PIN")
    run.add_argument("--balance", action="append", default=[], metavar="I=AMOUNT")
    run.add_argument("--daily-cap", action="append", default=[], metavar="I=N")
    run.add_argument("--fault-rate", action="append", default=[], metavar="KIND=PER_HOUR",
                     help="random faults per modem per hour, e.g. garbage=6")
    run.add_argument("--no-pty", action="store_true", help="TCP ports only")
    run.add_argument("-v", "--verbose", action="store_true")

    def client(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--control", default=os.environ.get(ENV_CONTROL, DEFAULT_CONTROL),
                       metavar="HOST:PORT", help=f"control API (env {ENV_CONTROL})")
        p.add_argument("--json", action="store_true", help="print the raw JSON")
        return p

    client("modems", "list the simulated modems")
    inject = client("inject", "a handset sends an SMS to a SIM")
    inject.add_argument("sender", help="the handset's number")
    inject.add_argument("to", help="a SIM's MSISDN or a modem id (modem0)")
    inject.add_argument("text")
    inject.add_argument("--encoding", choices=("gsm7", "ucs2", "8bit"))
    inject.add_argument("--order", default="in_order",
                        help="in_order, reverse, shuffle or part numbers like 2,1,3")
    inject.add_argument("--drop", default="", help="part numbers to lose, like 2")
    inject.add_argument("--part-delay", type=float, default=0.0)
    fault = client("fault", "inject (or --clear) a fault on a modem")
    fault.add_argument("modem")
    fault.add_argument("kind", nargs="?", choices=[k.value for k in FaultKind])
    fault.add_argument("--clear", action="store_true")
    fault.add_argument("--duration", type=float)
    fault.add_argument("--count", type=int)
    fault.add_argument("--code", type=int)
    fault.add_argument("--seconds", type=float)
    fault.add_argument("--rate", type=float)
    fault.add_argument("--size", type=int)
    fault.add_argument("--mode", choices=("silent", "rdy_loop"))
    inbox = client("inbox", "what the network delivered to a handset")
    inbox.add_argument("number")
    client("reset", "clear faults, storages, handsets and counters")
    rc = sub.add_parser("gammurc", help="print a gammu configuration for the modems in DIR")
    rc.add_argument("--dir", required=True, type=Path)
    return parser


async def _run(args: argparse.Namespace) -> int:
    pins = {int(k): v for k, v in _pairs(args.pin, "--pin").items()}
    balances = {int(k): Decimal(v) for k, v in _pairs(args.balance, "--balance").items()}
    caps = {int(k): int(v) for k, v in _pairs(args.daily_cap, "--daily-cap").items()}
    rates = {FaultKind(k): float(v) for k, v in _pairs(args.fault_rate, "--fault-rate").items()}
    control = None if args.control.lower() == "none" else args.control
    pool = SimPool(
        args.modems, args.dir, profile=args.profile, latency=args.latency, seed=args.seed,
        control=control, tcp_host=args.tcp_host, tcp_port=args.tcp_port, ptys=not args.no_pty,
        boot_time=args.boot_time, vendor_urc_interval=args.vendor_urc_interval,
        delivery_delay=args.delivery_delay, report_delay=args.report_delay,
        absent_delay=args.absent_delay, pins=pins, balances=balances, daily_caps=caps,
        random_faults={k.value: v for k, v in rates.items()},
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with pool:
        for modem in pool.modems:
            where = pool.paths[modem.index] if pool.ptys else pool.urls[modem.index]
            print(f"{modem.name}  {where}  {modem.dialect.name:8} {modem.sim.msisdn}  "
                  f"{modem.sim.operator.name}", flush=True)
        if pool.urls and pool.ptys:
            print("tcp: " + " ".join(pool.urls), flush=True)
        if pool.control_url:
            print(f"control: {pool.control_url}", flush=True)
        print("ready", flush=True)
        await stop.wait()
    return 0


async def _request(args: argparse.Namespace, method: str, path: str,
                   body: dict[str, Any] | None = None) -> Any:
    import aiohttp

    control = args.control if "://" in args.control else f"http://{args.control}"
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.request(
        method, control.rstrip("/") + path, json=body
    ) as response:
        data = await response.json(content_type=None)
        if response.status >= 400:
            raise SystemExit(f"error {response.status}: {data.get('error', data)}")
        return data


def _print(args: argparse.Namespace, data: Any, lines: list[str]) -> None:
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print("\n".join(lines))


async def _client(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    if args.command == "modems":
        data = await _request(args, "GET", "/modems")
        _print(args, data, [
            f"{m['id']:8} {m['state']:12} {m['profile']:8} {m['msisdn']}  {m['operator']:8} "
            f"{m['path'] or m['url']}  sent={m['counters']['submitted']} "
            f"received={m['counters']['received']}"
            for m in data
        ])
    elif args.command == "inject":
        order: Any = args.order
        if order and order[0].isdigit():
            order = [int(x) for x in order.split(",")]
        body: dict[str, Any] = {"from": args.sender, "to": args.to, "text": args.text,
                                "order": order, "part_delay": args.part_delay}
        if args.drop:
            body["drop"] = [int(x) for x in args.drop.split(",")]
        if args.encoding:
            body["encoding"] = args.encoding
        data = await _request(args, "POST", "/inbound", body)
        _print(args, data, [f"sent {data['parts']} part(s) to {data['modem']} ({data['to']})"])
    elif args.command == "fault":
        if args.clear:
            data = await _request(args, "DELETE", f"/modems/{quote(args.modem)}/faults")
            _print(args, data, [f"{data['modem']}: faults cleared, state {data['state']}"])
            return 0
        if not args.kind:
            raise SystemExit("fault: give a KIND or --clear")
        spec = {"kind": args.kind}
        for name in ("duration", "count", "code", "seconds", "rate", "size", "mode"):
            value = getattr(args, name)
            if value is not None:
                spec[name] = value
        data = await _request(args, "POST", f"/modems/{quote(args.modem)}/faults", spec)
        _print(args, data, [f"{data['modem']}: {args.kind} injected, state {data['state']}"])
    elif args.command == "inbox":
        data = await _request(args, "GET", f"/handsets/{quote(args.number)}/messages")
        _print(args, data, [
            f"{m['received_at']}  from {m['from']}  ({m['parts_received']}/{m['parts']} parts)"
            f"\n    {m['text']}" for m in data
        ] or ["(no messages)"])
    elif args.command == "reset":
        data = await _request(args, "POST", "/reset")
        _print(args, data, ["reset"])
    return 0


def gammurc(directory: Path) -> str:
    """A gammurc with one section per modem found in DIR (section 0 is modem0)."""
    paths = sorted(directory.glob("modem*"), key=lambda p: int(p.name[5:] or 0))
    sections = []
    for i, path in enumerate(paths):
        name = "gammu" if i == 0 else f"gammu{i}"
        sections.append(f"[{name}]\ndevice = {path}\nconnection = at\n")
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            import uvloop

            return int(uvloop.run(_run(args)))
        except ImportError:
            return asyncio.run(_run(args))
    if args.command == "gammurc":
        print(gammurc(args.dir), end="")
        return 0
    try:
        return asyncio.run(_client(args))
    except OSError as exc:
        print(f"cannot reach the simulator at {args.control}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
