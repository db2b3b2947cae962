"""The production path on real pseudo-terminals: pyserial-asyncio-fast, exclusive open, EIO on
unplug, the same modem found again by IMEI under its stable name, and discovery that skips
silent and binary ports without hanging."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.config import ModemConfig
from drivers.discovery import FoundModem, candidate_paths, discover, group_by_imei, probe_all
from drivers.errors import ConnectionLost, PortOpenError
from drivers.events import ConnectionLostEvent, ModemEvent
from drivers.modem import Modem
from drivers.pdu import encode_submit
from sim.pool import SimPool

CONFIG = ModemConfig.fast()


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[SimPool]:
    p = SimPool(2, tmp_path / "ports", profile=["ec25", "generic"], boot_time=0.05,
                vendor_urc_interval=0)
    (tmp_path / "ports").mkdir()
    await p.start()
    yield p
    await p.close()


@pytest.fixture
def silent_pty() -> Iterator[str]:
    master, slave = os.openpty()
    try:
        yield os.ttyname(slave)
    finally:
        os.close(slave)
        os.close(master)


@pytest.fixture
async def binary_pty() -> AsyncIterator[str]:
    """A DIAG-like port: answers every write with a burst of binary."""
    master, slave = os.openpty()
    loop = asyncio.get_running_loop()
    rng = random.Random(5)

    def answer() -> None:
        try:
            os.read(master, 1024)
            os.write(master, bytes(rng.randrange(256) for _ in range(200)))
        except OSError:
            loop.remove_reader(master)

    loop.add_reader(master, answer)
    try:
        yield os.ttyname(slave)
    finally:
        loop.remove_reader(master)
        os.close(slave)
        os.close(master)


async def test_open_initialise_send_over_pty(pool: SimPool) -> None:
    a = await Modem.open(pool.paths[0], config=CONFIG)
    b = await Modem.open(pool.paths[1], config=CONFIG)
    try:
        identity = await a.initialize()
        assert identity.imei == pool.modems[0].imei and identity.dialect == "quectel"
        await b.initialize()
        (part,) = encode_submit(pool.modems[1].sim.msisdn, "over a pty")
        assert 0 <= await a.send_pdu(part.hex, part.tpdu_length) <= 255
        assert (await b.health()).registered
    finally:
        await a.close()
        await b.close()


@pytest.fixture
def high_descriptors() -> Iterator[int]:
    """Hold enough descriptors that the next ones opened are numbered above 1,024, as in a
    pool of two hundred modems (five descriptors each)."""
    held: list[int] = []
    try:
        while not held or held[-1] < 1100:
            held.append(os.open(os.devnull, os.O_RDONLY))
        yield held[-1]
    finally:
        for fd in held:
            os.close(fd)


async def test_open_works_past_descriptor_1024(pool: SimPool, high_descriptors: int) -> None:
    """`select()` cannot watch descriptor 1,024 or above: reads must poll."""
    modem = await Modem.open(pool.paths[0], config=CONFIG)
    try:
        serial_port = serial_of(modem)
        assert serial_port.fileno() > high_descriptors > 1024
        identity = await modem.initialize()
        assert identity.imei == pool.modems[0].imei
        assert (await modem.health()).registered
    finally:
        await modem.close()


@pytest.mark.parametrize("baudrate", [9600, 115200])
async def test_open_sets_the_baudrate(pool: SimPool, baudrate: int) -> None:
    """UART modules (a SIM800 on a header) need their rate; the tty must be set to it."""
    import termios

    modem = await Modem.open(pool.paths[0], config=CONFIG, baudrate=baudrate)
    try:
        serial_port = serial_of(modem)
        assert serial_port.baudrate == baudrate
        speed = termios.tcgetattr(serial_port.fileno())[5]  # ospeed as the kernel holds it
        assert speed == getattr(termios, f"B{baudrate}")
        await modem.initialize()
    finally:
        await modem.close()


async def test_open_is_exclusive(pool: SimPool) -> None:
    first = await Modem.open(pool.paths[0], config=CONFIG)
    try:
        with pytest.raises(PortOpenError):
            await Modem.open(pool.paths[0], config=CONFIG)
    finally:
        await first.close()
    again = await Modem.open(pool.paths[0], config=CONFIG)  # released on close
    await again.close()


async def test_unplug_then_same_modem_again_by_imei(pool: SimPool) -> None:
    modem = await Modem.open(pool.paths[0], config=CONFIG)
    events: list[ModemEvent] = []
    modem.subscribe(events.append)
    identity = await modem.initialize()
    pool.modems[0].unplug(0.3)
    async with asyncio.timeout(3):
        while modem.channel.lost is None:
            await asyncio.sleep(0.01)
    with pytest.raises(ConnectionLost):
        await modem.health()
    assert [type(e) for e in events] == [ConnectionLostEvent]
    await modem.close()
    async with asyncio.timeout(3):  # the by-id style name comes back
        while not os.path.exists(pool.paths[0]):
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # let it boot
    again = await Modem.open(pool.paths[0], config=CONFIG)
    try:
        assert (await again.initialize()).imei == identity.imei
    finally:
        await again.close()


async def test_discovery_skips_silent_and_binary_ports(
    pool: SimPool, tmp_path: Path, silent_pty: str, binary_pty: str
) -> None:
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    os.symlink(os.path.realpath(pool.paths[0]), by_id / "usb-Quectel_EC25-if02-port0")
    os.symlink(silent_pty, by_id / "usb-Quectel_EC25-if00-port0")
    os.symlink(binary_pty, by_id / "usb-Quectel_EC25-if01-port0")
    explicit = [str(tmp_path / "ports" / "modem*"), pool.paths[0]]
    names = candidate_paths(explicit, by_id_dir=str(by_id))
    assert len(names) == 4  # modem0 appears once, under its by-id name
    outcomes = await probe_all(explicit, by_id_dir=str(by_id), probe_timeout=0.3)
    answered = {o.path for o in outcomes if o.modem is not None}
    assert answered == {str(by_id / "usb-Quectel_EC25-if02-port0"), pool.paths[1]}
    found = await discover(explicit, by_id_dir=str(by_id), probe_timeout=0.3)
    assert sorted(m.imei for m in found) == sorted(m.imei for m in pool.modems)
    assert {m.dialect for m in found} == {"quectel", "generic"}


def test_ports_of_one_modem_are_grouped_by_imei() -> None:
    ports = [
        FoundModem("/dev/serial/by-id/usb-Quectel_EG25-if03-port0", "1", "Quectel", "EG25",
                   "quectel"),
        FoundModem("/dev/serial/by-id/usb-Quectel_EG25-if02-port0", "1", "Quectel", "EG25",
                   "quectel"),
        FoundModem("/dev/ttyACM0", "2", "x", "y", "generic"),
    ]
    grouped = group_by_imei(ports)
    assert [m.path for m in grouped] == ["/dev/serial/by-id/usb-Quectel_EG25-if02-port0",
                                         "/dev/ttyACM0"]
    assert grouped[0].other_paths == ("/dev/serial/by-id/usb-Quectel_EG25-if03-port0",)


def serial_of(modem: Modem) -> Any:
    transport = modem.channel._transport
    assert transport is not None
    return transport.get_extra_info("serial")
