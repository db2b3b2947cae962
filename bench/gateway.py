"""The gateway core under load, each figure printed beside its physical limit.

- saturation: 16 modems whose network takes 1 s per submit, 2,000 messages: the rate achieved
  against 16/s, the most those modems can do.
- ceiling: 8 modems answering at once: messages per second from `queued` to `sent`, every one
  committed (`synchronous=FULL`); the modems are not the limit, the gateway is.
- scale: 256 modems at the simulator's realistic latency (1-4 s, a tail to 60 s): the rate
  against 256 / mean latency, and the daemon's CPU (the simulator runs in its own process, so
  its CPU is not counted).
- million: 1,000,000 queued messages: the daemon's resident memory while it works through them,
  and the time from starting the daemon to its first `AT+CMGS`.

The simulated modems always run in a child process (`smsgw-sim run`) on real ptys; the gateway
opens them by path exactly as it would open real modems.

Sizes come from the environment so `make bench` stays bounded (defaults in brackets):
    BENCH_GATEWAY=saturation,ceiling,scale,million   which scenarios to run
    BENCH_GATEWAY_SMALL=1                            small sizes for a quick look
    BENCH_GATEWAY_SATURATION_MESSAGES [2000]   BENCH_GATEWAY_CEILING_MESSAGES [20000]
    BENCH_GATEWAY_SCALE_MODEMS [256]           BENCH_GATEWAY_SCALE_SECONDS [60]
    BENCH_GATEWAY_MILLION [1000000]
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import functools
import os
import random
import resource
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from drivers.config import ModemConfig
from drivers.modem import Modem
from gateway.cli_run import run_loop
from gateway.config import Settings, load_config
from gateway.daemon import ChildSim, Gateway, RuntimeOptions, SimOptions
from gateway.logging import configure_logging
from gateway.modem_status import PoolOptions, PortSpec
from gateway.numbers import NumberService, policy_from_config
from gateway.scheduler import Scheduler
from gateway.store import SqliteStore
from gateway.store.models import MessageStatus, NewMessage
from gateway.submit import OutgoingMessage, Refused, Submitter
from sim.latency import Latency

SMALL = os.environ.get("BENCH_GATEWAY_SMALL") == "1"
SCENARIO_LIMIT_S = 600.0


def _size(name: str, default: int, small: int) -> int:
    return int(os.environ.get(f"BENCH_GATEWAY_{name}", small if SMALL else default))


def _recipients(count: int, seed: int = 1) -> Iterator[str]:
    """Distinct valid German mobile numbers the simulator delivers (none ends in 099x)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    while len(seen) < count:
        number = f"+4915{rng.choice('127')}{rng.randrange(10**7, 10**8)}"
        if number[-4:-1] != "099" and number not in seen:
            seen.add(number)
            yield number


def _settings(directory: Path) -> Settings:
    return load_config(
        overrides={"store": {"path": str(directory / "smsgw.db")}},
        environ={},
        use_default_file=False,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _ready(gateway: Gateway, count: int, within: float = 120.0) -> float:
    started = time.perf_counter()
    async with asyncio.timeout(within):
        await _until(lambda: len(gateway.pool.ready) >= count, 0.05)
    return time.perf_counter() - started


def _disk_mb(directory: Path) -> float:
    return sum(f.stat().st_size for f in directory.iterdir()) / 1e6


async def _until(probe: Callable[[], bool], every: float) -> None:
    while True:
        if probe():
            return
        await asyncio.sleep(every)


async def _until_count(
    gateway: Gateway, statuses: tuple[str, ...], at_least: int, every: float
) -> None:
    while True:
        if await _count(gateway, *statuses) >= at_least:
            return
        await asyncio.sleep(every)


async def _span(gateway: Gateway) -> float:
    """Seconds from the first `sending` to the last `sent`, from the recorded transitions
    (exact to the millisecond, unlike the polling that waits for the end)."""
    first: datetime | None = None
    last: datetime | None = None
    after = 0
    while True:
        page = await gateway.store.transitions_since(after, 2000)
        if not page:
            break
        for change in page:
            if change.to_status is MessageStatus.SENDING and first is None:
                first = change.at
            elif change.to_status is MessageStatus.SENT:
                last = change.at if last is None else max(last, change.at)
        after = page[-1].id
    assert first is not None and last is not None
    return (last - first).total_seconds()


async def _count(gateway: Gateway, *statuses: str) -> int:
    counts = await gateway.store.counts_by_status()
    return sum(counts.get(s, 0) for s in statuses)


async def _submit(gateway: Gateway, count: int, text: str, *, report: bool = True) -> float:
    """Through the API's door (number check, encoding plan, commit); returns seconds taken."""
    started = time.perf_counter()
    numbers = list(_recipients(count))
    for i in range(0, count, 1000):
        batch = [
            OutgoingMessage(to=to, text=f"{text} {i + j}", request_status_report=report)
            for j, to in enumerate(numbers[i : i + 1000])
        ]
        for result in await gateway.submit(batch):
            assert not isinstance(result, Refused), result
    return time.perf_counter() - started


def _pool_options(fast_modem: bool) -> PoolOptions:
    modem = ModemConfig.fast(submit_timeout=180.0, prompt_timeout=15.0) if fast_modem \
        else ModemConfig()
    return replace(PoolOptions(), scan_interval=5.0, modem=modem)


async def _open(sim: ChildSim, directory: Path, *, fast_modem: bool = True) -> Gateway:
    specs = [PortSpec(path=p, name=Path(p).name) for p in sim.paths]
    options = RuntimeOptions(pool=_pool_options(fast_modem), http=False, store_readers=2)
    return await Gateway.open(_settings(directory), options, specs=specs)


# --- scenarios ---------------------------------------------------------------------------------


async def saturation() -> None:
    modems, latency = 16, 1.0
    messages = _size("SATURATION_MESSAGES", 2000, 240)
    directory = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    sim = await ChildSim.start(modems, SimOptions(latency=str(latency), boot_time=0.2))
    try:
        gateway = await _open(sim, directory)
        async with gateway:
            await _ready(gateway, modems)
            with BusyMeter() as meter:
                await _submit(gateway, messages, "saturation")
                await _until_count(gateway, ("sent", "delivered"), messages, 0.5)
                elapsed = await _span(gateway)
                first = min(a for a, _ in meter.calls)
                busy = meter.busy(first, first + elapsed) / (modems * elapsed)
    finally:
        await sim.close()
        shutil.rmtree(directory, ignore_errors=True)
    rate, limit = messages / elapsed, modems / latency
    print(f"saturation: {messages} messages on {modems} modems at {latency:g} s/submit: "
          f"{rate:.2f} msg/s vs physical limit {limit:.0f}/s = {rate / limit:.1%} "
          f"(target >= 97%); modems busy submitting {busy:.1%} of the run", flush=True)


async def _accept(directory: Path, count: int, text: str, *, report: bool) -> float:
    """Accept messages into a gateway's store before it starts; returns messages per second."""
    settings = _settings(directory)
    store = await SqliteStore.open(settings.db_path, options=settings.store_options())
    scheduler = Scheduler(store, settings.scheduler)
    submitter = Submitter(scheduler, NumberService(policy_from_config(settings.numbers), store))
    numbers = list(_recipients(count))
    started = time.perf_counter()
    try:
        for i in range(0, count, 1000):
            batch = [
                OutgoingMessage(to=to, text=f"{text} {i + j}", request_status_report=report)
                for j, to in enumerate(numbers[i : i + 1000])
            ]
            for result in await submitter.submit(batch):
                assert not isinstance(result, Refused), result
        return count / (time.perf_counter() - started)
    finally:
        await scheduler.close()
        await store.close()


async def ceiling() -> None:
    modems = 8
    messages = _size("CEILING_MESSAGES", 20000, 4000)
    directory = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    accepted = await _accept(directory, messages, "ceiling", report=False)
    sim = await ChildSim.start(modems, SimOptions(latency="0", boot_time=0.2))
    try:
        gateway = await _open(sim, directory)
        async with gateway:
            await _until_count(gateway, ("sending", "sent"), 1, 0.001)
            cpu0, started = _cpu(), time.perf_counter()
            # polled slowly: a status count is a scan, and the gateway shares its CPU with us
            await _until_count(gateway, ("sent",), messages, 0.5)
            cpu = (_cpu() - cpu0) / (time.perf_counter() - started)
            elapsed = await _span(gateway)
    finally:
        await sim.close()
        shutil.rmtree(directory, ignore_errors=True)
    rate = messages / elapsed
    print(f"ceiling: {messages} messages on {modems} zero-latency modems: {rate:.0f} msg/s "
          f"queued->sent, each committed (target >= 1,500/s; zero-latency modems set no "
          f"limit); gateway CPU {cpu:.2f} cores; accepted through the API path at "
          f"{accepted:.0f} msg/s", flush=True)


def _mean_latency(spec: str, samples: int = 200_000) -> float:
    latency, rng = Latency.parse(spec), random.Random(7)
    return sum(latency.sample(rng) for _ in range(samples)) / samples


class BusyMeter:
    """How much of a window the modems spent inside `AT+CMGS` (the submit latency the network
    imposes): 100% means the gateway never kept a modem waiting. Measured by wrapping
    `Modem.send_pdu` for the benchmark's duration."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, float]] = []
        self.open: dict[object, float] = {}
        self._original = Modem.send_pdu

    def __enter__(self) -> BusyMeter:
        original, meter = self._original, self

        async def send_pdu(modem: Modem, hex_pdu: str, tpdu_length: int) -> int:
            started = time.perf_counter()
            key = object()
            meter.open[key] = started
            try:
                return await original(modem, hex_pdu, tpdu_length)
            finally:
                del meter.open[key]
                meter.calls.append((started, time.perf_counter()))

        Modem.send_pdu = send_pdu  # type: ignore[method-assign, assignment]
        return self

    def __exit__(self, *exc_info: object) -> None:
        Modem.send_pdu = self._original  # type: ignore[method-assign]

    def busy(self, start: float, end: float) -> float:
        total = sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.calls)
        return total + sum(max(0.0, end - max(a, start)) for a in self.open.values())


async def scale() -> None:
    modems = _size("SCALE_MODEMS", 256, 64)
    seconds = _size("SCALE_SECONDS", 60, 20)
    mean = _mean_latency("realistic")
    limit = modems / mean
    directory = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    sim = await ChildSim.start(
        modems, SimOptions(latency="realistic", boot_time=0.5), ready_within=300.0
    )
    try:
        gateway = await _open(sim, directory)
        async with gateway:
            await _ready(gateway, modems, within=300.0)
            with BusyMeter() as meter:
                await _submit(gateway, int(limit * (seconds + 40) * 1.3), "scale")
                await asyncio.sleep(20.0)  # past the start, when every modem began at once
                sent0 = await _count(gateway, "sent", "delivered", "undelivered")
                cpu0, started = _cpu(), time.perf_counter()
                await asyncio.sleep(seconds)
                sent = await _count(gateway, "sent", "delivered", "undelivered") - sent0
                ended = time.perf_counter()
                cpu = _cpu() - cpu0
                busy = meter.busy(started, ended)
    finally:
        await sim.close()
        shutil.rmtree(directory, ignore_errors=True)
    elapsed = ended - started
    rate = sent / elapsed
    print(f"scale: {modems} modems at realistic latency (mean {mean:.2f} s): {rate:.1f} msg/s "
          f"beside the physical limit {limit:.1f}/s (modems / mean latency; a {seconds} s "
          f"window of a long-tailed latency wanders around it); saturation, the share of the "
          f"window the modems spent submitting: {busy / (modems * elapsed):.1%} (target >= "
          f"95%); daemon CPU {cpu / elapsed:.2f} cores (target < 0.5)", flush=True)


def _rss_mb(pid: int) -> tuple[float, float]:
    fields: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


async def _first_submit(control: str, daemon: asyncio.subprocess.Process,
                        within: float = 120.0) -> None:
    async with aiohttp.ClientSession() as http, asyncio.timeout(within):
        while True:
            if daemon.returncode is not None:
                raise RuntimeError(f"the daemon exited ({daemon.returncode}) before sending")
            async with http.get(f"{control}/modems") as response:
                modems: list[dict[str, Any]] = await response.json()
            if any(m["counters"]["submitted"] for m in modems):
                return
            await asyncio.sleep(0.01)


async def million() -> None:
    count = _size("MILLION", 1_000_000, 100_000)
    directory = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    db = directory / "smsgw.db"
    store = await SqliteStore.open(db, options=_settings(directory).store_options())
    started = time.perf_counter()
    numbers = list(_recipients(20_000, seed=3))
    try:
        for i in range(0, count, 10_000):
            batch = [
                NewMessage(to=numbers[(i + j) % len(numbers)], text=f"million {i + j}",
                           encoding="gsm7", segments=1, sender=f"campaign{(i + j) % 7}")
                for j in range(min(10_000, count - i))
            ]
            for result in await store.enqueue_many(batch):
                assert not isinstance(result, Exception), result
    finally:
        await store.close()
    enqueue_s = time.perf_counter() - started
    size_mb = _disk_mb(directory)
    control = f"127.0.0.1:{_free_port()}"
    sim = await ChildSim.start(4, SimOptions(latency="0.2", boot_time=0.2, control=control))
    process: asyncio.subprocess.Process | None = None
    try:
        args = [sys.executable, "-m", "gateway.cli", "run", "--db", str(db),
                "--listen", f"127.0.0.1:{_free_port()}", "--log-level", "warning",
                "--modem", *sim.paths]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGW_")}
        spawned = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, env=env
        )
        await _first_submit(f"http://{control}", process)
        first_submit = time.perf_counter() - spawned
        await asyncio.sleep(10.0)  # working through the queue
        rss, peak = _rss_mb(process.pid)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            code = await process.wait()
    finally:
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        await sim.close()
        shutil.rmtree(directory, ignore_errors=True)
    print(f"million: {count:,} queued ({count / enqueue_s:,.0f} msg/s to enqueue, "
          f"{size_mb:,.0f} MB on disk): daemon RSS {rss:.0f} MB, peak {peak:.0f} MB "
          f"(target < 250 MB); start to first submit {first_submit:.2f} s (target < 5 s); "
          f"SIGTERM exit {code}", flush=True)


SCENARIOS = {"saturation": saturation, "ceiling": ceiling, "scale": scale, "million": million}


def main() -> None:
    configure_logging("error")
    wanted = os.environ.get("BENCH_GATEWAY", ",".join(SCENARIOS)).split(",")
    for name in (w.strip() for w in wanted if w.strip()):
        scenario = SCENARIOS[name]
        began = time.perf_counter()
        run_loop(functools.partial(_run, scenario))
        print(f"  ({name} took {time.perf_counter() - began:.0f} s)", flush=True)


async def _run(scenario: Callable[[], Awaitable[None]]) -> int:
    # a bound, so a regression shows as a traceback rather than a `make bench` that never ends
    faulthandler.dump_traceback_later(SCENARIO_LIMIT_S + 60, exit=True)
    try:
        async with asyncio.timeout(SCENARIO_LIMIT_S):
            await scenario()
    finally:
        faulthandler.cancel_dump_traceback_later()
    return 0


if __name__ == "__main__":
    main()
