"""How the pool opens a modem's tty: exclusively, and with a read path that scales past 1,024
file descriptors.

pyserial's default `Serial.read` waits with `select()`, which cannot watch a descriptor numbered
1,024 or above; each open port costs five descriptors (the tty and two wake-up pipes), so a pool
of about two hundred modems crosses that line and every read fails with "filedescriptor out of
range in select()". pyserial's `PosixPollSerial` reads with `poll()` instead (and reports a
vanished USB device as an error rather than as silence). The port is opened on the default
executor, as `serial_asyncio_fast.create_serial_connection` does, because opening a tty may
block. Everything above the transport is the driver's ordinary `Modem.connect`.
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Callable

import serial
from serial.serialposix import PosixPollSerial
from serial_asyncio_fast import connection_for_serial

from drivers.errors import PortOpenError
from drivers.modem import Modem
from gateway.modem_status import PoolOptions

BAUDRATE = 115200  # ignored by USB CDC-ACM modems; what UART-attached ones default to


async def open_modem(path: str, name: str, options: PoolOptions) -> Modem:
    """The production opener for real and simulated modems alike (a tty path)."""

    async def opener(
        factory: Callable[[], asyncio.Protocol],
    ) -> tuple[asyncio.BaseTransport, asyncio.BaseProtocol]:
        loop = asyncio.get_running_loop()

        def open_port() -> serial.Serial:
            return PosixPollSerial(path, baudrate=BAUDRATE, exclusive=True)

        try:
            port = await loop.run_in_executor(None, open_port)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortOpenError(f"cannot open {path}: {exc}") from exc
        transport, protocol = await connection_for_serial(loop, factory, port)
        return transport, protocol

    return await Modem.connect(opener, name=name, config=options.modem)


def raise_open_file_limit() -> tuple[int, int]:
    """Lift the soft RLIMIT_NOFILE to the hard limit (systemd's default soft limit is 1,024,
    about two hundred modems); returns the (soft, hard) now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft, hard
        return target, hard
    return soft, hard


__all__ = ["open_modem", "raise_open_file_limit"]
