"""AT round trips per second through the driver vs a bare request/response loop.

Both run in one process against the same simulated modems over real ptys (pyserial-asyncio-fast
on both sides of the comparison), one command in flight per modem, all modems concurrently.
The driver's path adds framing, URC routing, the per-command lock, matcher and deadline, and the
typed parser; the target is that it keeps >= 70 % of the bare loop's rate.
"""

from __future__ import annotations

import asyncio
import functools
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from serial_asyncio_fast import create_serial_connection

from drivers.at import commands as at
from drivers.config import ModemConfig
from drivers.modem import Modem
from sim.pool import SimPool

MODEMS = 4
SECONDS = 1.0
ROUNDS = 5  # alternating bare/driver windows: the machine is shared, so compare neighbours
COMMAND = b"AT+CSQ\r"


class BareLoop(asyncio.Protocol):
    """The least a client can do: write, wait until the buffer ends with OK, repeat."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.buffer.endswith(b"OK\r\n") and self.waiter and not self.waiter.done():
            self.buffer = b""
            self.waiter.set_result(None)

    async def round_trip(self) -> None:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(COMMAND)
        async with asyncio.timeout(5):
            await self.waiter


def _same(protocol: BareLoop) -> BareLoop:
    return protocol


async def bare_rate(paths: list[str]) -> float:
    loop = asyncio.get_running_loop()
    links: list[tuple[asyncio.BaseTransport, BareLoop]] = []
    for path in paths:
        protocol = BareLoop()
        link = await create_serial_connection(loop, functools.partial(_same, protocol), path,
                                              baudrate=115200)
        links.append((link[0], protocol))
    await asyncio.sleep(0.05)
    await asyncio.gather(*(p.round_trip() for _, p in links))
    count = await _count(lambda i: links[i][1].round_trip(), len(links))
    for transport, _ in links:
        transport.close()
    await asyncio.sleep(0.1)
    return count / SECONDS


async def driver_rate(paths: list[str]) -> float:
    modems = [await Modem.open(p, config=ModemConfig()) for p in paths]
    for modem in modems:
        await modem.initialize()

    async def one(i: int) -> None:
        await modems[i].execute(at.SIGNAL)

    count = await _count(one, len(modems))
    for modem in modems:
        await modem.close()
    return count / SECONDS


async def _count(step: Callable[[int], Awaitable[None]], n: int) -> int:
    done = 0
    stop = time.perf_counter() + SECONDS

    async def worker(i: int) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await step(i)
            done += 1

    async with asyncio.TaskGroup() as group:
        for i in range(n):
            group.create_task(worker(i))
    return done


async def run() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-driver-") as tmp:
        pool = SimPool(MODEMS, Path(tmp), profile="mixed", boot_time=0.05, vendor_urc_interval=0)
        await pool.start()
        try:
            # echo off once, so both sides see the same bytes per round trip
            warm = [await Modem.open(p, config=ModemConfig()) for p in pool.paths]
            for modem in warm:
                await modem.initialize()
                await modem.close()
            bare: list[float] = []
            driver: list[float] = []
            for _ in range(ROUNDS):
                bare.append(await bare_rate(pool.paths))
                driver.append(await driver_rate(pool.paths))
        finally:
            await pool.close()
    ratios = sorted(d / b for b, d in zip(bare, driver, strict=True))
    print(f"modems: {MODEMS} (mixed dialects, ptys), {SECONDS:g} s windows x {ROUNDS} each")
    print(f"bare request/response loop: best {max(bare):8.0f} AT round trips/s  (windows: "
          + ", ".join(f"{x:.0f}" for x in bare) + ")")
    print(f"through the driver:         best {max(driver):8.0f} AT round trips/s  (windows: "
          + ", ".join(f"{x:.0f}" for x in driver) + ")")
    print(f"driver / bare: median of neighbouring windows {100 * statistics.median(ratios):.0f} %,"
          f" best vs best {100 * max(driver) / max(bare):.0f} %  (target >= 70 %)")


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
