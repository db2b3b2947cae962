"""The other ways in: pyserial's socket:// to a TCP port, the in-process link, the pool API."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import pytest
import serial

from sim.faults import FaultKind
from sim.link import open_in_process
from sim.pool import SimPool, random_spec
from tests.sim.simclient import FAST, LinkClient


async def read_until(port: serial.Serial, marker: bytes, timeout: float = 3.0) -> bytes:
    """Poll a non-blocking pyserial port without blocking the loop the simulator runs on."""
    out = b""
    deadline = asyncio.get_running_loop().time() + timeout
    while marker not in out:
        out += port.read(4096)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{marker!r} not seen; got {out!r}")
        await asyncio.sleep(0.005)
    return out


async def test_pyserial_socket_url(tmp_path: Path) -> None:
    async with SimPool(2, tmp_path / "d", tcp_port=0, ptys=False, **FAST) as pool:
        assert pool.paths and all(u.startswith("socket://127.0.0.1:") for u in pool.urls)
        port = serial.serial_for_url(pool.urls[1], timeout=0)
        try:
            port.write(b"ATE0\r")
            await read_until(port, b"OK\r\n")
            port.write(b"AT+CGSN\r")
            reply = await read_until(port, b"OK\r\n")
            assert reply == f"\r\n{pool.modem(1).imei}\r\n\r\nOK\r\n".encode()
            # a second client replaces the first, like a serial-over-IP server
            second = serial.serial_for_url(pool.urls[1], timeout=0)
            await asyncio.sleep(0.05)
            second.write(b"AT\r")
            assert await read_until(second, b"OK\r\n") == b"\r\nOK\r\n"
            second.close()
        finally:
            port.close()


async def test_tcp_port_disappears_while_unplugged(tmp_path: Path) -> None:
    async with SimPool(1, tmp_path / "d", tcp_port=0, **FAST) as pool:
        url = pool.urls[0]
        pool.inject(0, {"kind": "unplug", "seconds": 0.2})
        with pytest.raises(serial.SerialException):
            serial.serial_for_url(url, timeout=0)
        await asyncio.sleep(0.3)
        port = serial.serial_for_url(url, timeout=0)
        try:
            port.write(b"AT\r")  # a fresh boot: echo is on again
            assert await read_until(port, b"OK\r\n") == b"AT\r\r\nOK\r\n"
        finally:
            port.close()


async def test_in_process_link_unplug_is_connection_lost(tmp_path: Path) -> None:
    async with SimPool(1, tmp_path / "d", ptys=False, **FAST) as pool:
        transport, proto = open_in_process(pool.modem(0), LinkClient)
        assert isinstance(proto, LinkClient)
        assert transport.get_extra_info("modem") is pool.modem(0)
        assert await proto.command("AT") == b"AT\r\r\nOK\r\n"
        pool.modem(0).unplug(0.1)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert len(proto.lost) == 1 and isinstance(proto.lost[0], OSError)
        assert proto.lost[0].errno == errno.EIO
        assert transport.is_closing()
        with pytest.raises(OSError):
            open_in_process(pool.modem(0), LinkClient)
        await asyncio.sleep(0.15)
        _t, again = open_in_process(pool.modem(0), LinkClient)
        assert isinstance(again, LinkClient)
        assert await again.command("AT") == b"AT\r\r\nOK\r\n"  # booted again: echo on


async def test_in_process_link_pause_and_close(tmp_path: Path) -> None:
    async with SimPool(1, tmp_path / "d", ptys=False, **FAST) as pool:
        transport, proto = open_in_process(pool.modem(0), LinkClient)
        assert isinstance(proto, LinkClient)
        transport.pause_reading()
        transport.write(b"AT\r")
        await asyncio.sleep(0.01)
        assert proto.buffer == b""
        transport.resume_reading()
        assert proto.buffer == b"AT\r\r\nOK\r\n"
        transport.close()
        await asyncio.sleep(0)
        assert proto.lost == [None]


async def test_pool_profiles_pins_and_paths(tmp_path: Path) -> None:
    async with SimPool(3, tmp_path / "d", profile=["ec25", "e3372", "sim7600"], pins={1: "1111"},
                       **FAST) as pool:
        assert [m.dialect.name for m in pool.modems] == ["ec25", "e3372", "sim7600"]
        assert pool.paths == [str(tmp_path / "d" / f"modem{i}") for i in range(3)]
        assert pool.modem(1).state.value == "pin_required"
        assert pool.modem("modem2") is pool.modem(2)
        assert pool.modem(pool.modem(2).sim.msisdn) is pool.modem(2)
    assert not (tmp_path / "d" / "modem0").exists()
    with pytest.raises(ValueError, match="unknown profile"):
        SimPool(1, tmp_path / "e", profile="nokia")


async def test_random_faults_fire_on_their_own(tmp_path: Path) -> None:
    async with SimPool(2, tmp_path / "d", random_faults={"urc_storm": 36000.0}, seed=1,
                       **FAST) as pool:
        for _ in range(100):
            if sum(m.counters.faults for m in pool.modems):
                break
            await asyncio.sleep(0.01)
        assert sum(m.counters.faults for m in pool.modems) >= 1


def test_random_specs_are_complete() -> None:
    import random

    rng = random.Random(0)
    for kind in FaultKind:
        spec = random_spec(kind, rng)
        assert spec.kind is kind
        if kind in (FaultKind.CMS_ERROR, FaultKind.CME_ERROR):
            assert spec.code is not None
