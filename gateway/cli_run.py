"""`smsgw run`: the daemon in the foreground, as systemd (or `make run`) starts it.

    smsgw run [--config FILE] [--listen HOST:PORT] [--db PATH] [--modem PATH_OR_GLOB ...]
              [--sim N [--sim-process] [--sim-latency SPEC] [--sim-control HOST:PORT]]
              [--log-level LEVEL] [--log-json]

SIGTERM or SIGINT shuts down gracefully (stop accepting, stop claiming, let submits in flight
finish within a bound, commit, close ports); a second signal stops at once. uvloop runs the event
loop where it is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from gateway import heap
from gateway.config import ConfigError, Settings, add_config_arguments, load_from_args
from gateway.daemon import Gateway, RuntimeOptions, SimOptions
from gateway.logging import configure_logging, log_event
from gateway.modem_status import PoolOptions
from gateway.sdnotify import Notifier, status_line
from gateway.store import StoreLockedError

_LOG = logging.getLogger("gateway.run")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="run the gateway daemon in the foreground",
        description="Run the gateway: store, scheduler, modem pool and HTTP API.",
    )
    add_config_arguments(parser)
    parser.add_argument("--listen", metavar="HOST:PORT", help="HTTP API address")
    parser.add_argument(
        "--modem", action="extend", nargs="+", metavar="PATH_OR_GLOB",
        help="modem AT port(s), e.g. /dev/serial/by-id/usb-Quectel*-if02* (repeatable)",
    )
    parser.add_argument(
        "--sim", type=int, metavar="N", help="also start N simulated modems on ptys"
    )
    parser.add_argument(
        "--sim-process", action="store_true",
        help="run the simulated modems in a child process instead of this one",
    )
    parser.add_argument("--sim-latency", default="0", metavar="SPEC",
                        help="simulated submit latency: seconds, a range (1-3) or realistic")
    parser.add_argument("--sim-control", metavar="HOST:PORT",
                        help="serve the simulator's control API and page here")
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"),
        help="overrides [logging] level",
    )
    parser.add_argument("--log-json", action="store_true", help="one JSON object per line")
    parser.set_defaults(func=run_command)


def runtime_options(settings: Settings, args: argparse.Namespace) -> RuntimeOptions:
    sim = SimOptions(
        separate_process=bool(getattr(args, "sim_process", False)),
        latency=str(getattr(args, "sim_latency", "0") or "0"),
        control=getattr(args, "sim_control", None),
    )
    pool = PoolOptions()
    if settings.sim.count and not settings.modems:
        # simulated modems answer at once: shorter deadlines, quicker recovery
        pool = PoolOptions.fast(health_interval=15.0, quarantine_max=60.0,
                                stable_after=120.0, idle_wait=5.0)
        if sim.latency != "0":
            pool = replace(pool, modem=replace(pool.modem, submit_timeout=180.0))
    section = getattr(settings, "pool", None)  # a `[pool]` section, once configuration has one
    grace = 15.0
    if section is not None:
        pool = PoolOptions.from_config(section, pool)
        grace = float(getattr(section, "shutdown_grace_s", grace) or grace)
    return RuntimeOptions(pool=pool, sim=sim, shutdown_grace=grace)


def run_command(args: argparse.Namespace) -> int:
    try:
        settings = load_from_args(args)
    except ConfigError as exc:
        print(f"smsgw run: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    log = settings.logging
    configure_logging(
        args.log_level or log.level,
        fmt="json" if args.log_json else log.format,
        redact=log.redact,
    )
    options = runtime_options(settings, args)
    try:
        return run_loop(lambda: serve(settings, options))
    except StoreLockedError as exc:
        _LOG.error("%s", exc)
        return 1
    except OSError as exc:
        _LOG.error("cannot start: %s", exc)
        return 1


def run_loop(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run `main` on uvloop when it is installed, plain asyncio otherwise."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        factory = None
    else:
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())


async def serve(settings: Settings, options: RuntimeOptions) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = 0

    def on_signal(sig: signal.Signals) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            log_event(_LOG, "shutdown_requested", signal=sig.name)
            stop.set()
        else:
            log_event(_LOG, "shutdown_forced", level=logging.WARNING, signal=sig.name)
            main_task.cancel()

    current = asyncio.current_task()
    assert current is not None
    main_task: asyncio.Task[Any] = current
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        # systemd (Type=notify): READY=1 only once the store is open and the API listens; the
        # watchdog is fed from this loop, so a stuck loop gets the service restarted.
        async with Notifier.from_environ() as systemd:
            gateway = await Gateway.open(settings, options)
            heap.settle()  # after start-up, before traffic: see gateway.heap
            await systemd.ready(f"listening on {gateway.http_url}")
            systemd.track_status(lambda: status_line(gateway.health_summary()))
            log_event(_LOG, "started", loop=type(loop).__module__.split(".")[0],
                      listen=gateway.http_url, db=str(settings.db_path))
            try:
                await stop.wait()
            finally:
                await systemd.stopping()
                await gateway.close()
    except asyncio.CancelledError:
        return 130
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    return 0


__all__ = ["register", "run_command", "run_loop", "runtime_options", "serve"]
