"""Test clients for the simulator: a raw pyserial client on a pty and an in-process protocol.

The pty client opens the pty symlink with pyserial (as the gateway opens /dev/ttyUSB0) and reads it
with a loop reader, so a test sees exactly the bytes a driver would see, chunking included.
"""

from __future__ import annotations

import asyncio
import errno
import os
from typing import Any

import serial

from sim.link import open_in_process
from sim.modem import SimModem

FAST: dict[str, Any] = {
    "report_delay": 0.0,
    "boot_time": 0.05,
    "vendor_urc_interval": 0.0,
    "absent_delay": 0.2,
    "redelivery_delay": 0.05,
}


class SerialClient:
    """pyserial on a pty symlink; every read() chunk is kept so tests can see how bytes arrived."""

    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, 115200, timeout=0)
        self.fd = self.port.fileno()
        self.buffer = bytearray()
        self.chunks: list[bytes] = []
        self.error: OSError | None = None
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        except OSError as exc:  # the device vanished (unplug)
            self.error = exc
            self._loop.remove_reader(self.fd)
            self._changed.set()
            return
        if not data:  # hung up: what pyserial reports as "readiness to read but no data"
            self.error = OSError(errno.EIO, "device disconnected")
            self._loop.remove_reader(self.fd)
            self._changed.set()
            return
        self.chunks.append(data)
        self.buffer += data
        self._changed.set()

    def write(self, data: bytes) -> None:
        self.port.write(data)

    async def expect(self, pattern: bytes, timeout: float = 3.0) -> bytes:
        """Everything up to and including `pattern`; removed from the buffer."""

        async def wait() -> bytes:
            while pattern not in self.buffer:
                if self.error is not None:
                    raise self.error
                self._changed.clear()
                await self._changed.wait()
            end = self.buffer.index(pattern) + len(pattern)
            out = bytes(self.buffer[:end])
            del self.buffer[:end]
            return out

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"{pattern!r} not seen within {timeout}s; got {bytes(self.buffer)!r}"
            ) from None

    async def command(self, line: str | bytes, until: bytes = b"OK\r\n",
                      timeout: float = 3.0) -> bytes:
        data = line.encode() if isinstance(line, str) else line
        self.write(data if data.endswith((b"\r", b"\x1a", b"\x1b")) else data + b"\r")
        return await self.expect(until, timeout)

    async def final(self, line: str, timeout: float = 3.0) -> bytes:
        """Send a command; return its whole response up to OK or an error result."""
        self.write(line.encode() + b"\r")

        async def wait() -> bytes:
            while True:
                for end in (b"OK\r\n", b"ERROR\r\n"):
                    if end in self.buffer:
                        pos = self.buffer.index(end) + len(end)
                        tail = self.buffer[:pos]
                        if end == b"ERROR\r\n" or b"ERROR" not in tail:
                            out = bytes(tail)
                            del self.buffer[:pos]
                            return out
                err = self.buffer.find(b"ERROR: ")
                if err >= 0 and b"\r\n" in self.buffer[err:]:
                    pos = self.buffer.index(b"\r\n", err) + 2
                    out = bytes(self.buffer[:pos])
                    del self.buffer[:pos]
                    return out
                if self.error is not None:
                    raise self.error
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"no final result for {line!r}; got {bytes(self.buffer)!r}"
            ) from None

    async def silence(self, seconds: float) -> bytes:
        """Wait and return whatever arrived meanwhile (used to show that nothing did)."""
        await asyncio.sleep(seconds)
        out = bytes(self.buffer)
        self.buffer.clear()
        return out

    def drain(self) -> bytes:
        out = bytes(self.buffer)
        self.buffer.clear()
        self.chunks.clear()
        return out

    def close(self) -> None:
        if self.error is None:
            self._loop.remove_reader(self.fd)
        self.port.close()


class LinkClient(asyncio.Protocol):
    """The in-process link seen through a plain asyncio.Protocol (as the driver connects)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.lost: list[Exception | None] = []
        self.changed = asyncio.Event()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.changed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.append(exc)
        self.changed.set()

    async def expect(self, pattern: bytes, timeout: float = 3.0) -> bytes:
        async def wait() -> bytes:
            while pattern not in self.buffer:
                self.changed.clear()
                await self.changed.wait()
            end = self.buffer.index(pattern) + len(pattern)
            out = bytes(self.buffer[:end])
            del self.buffer[:end]
            return out

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"{pattern!r} not seen within {timeout}s; got {bytes(self.buffer)!r}"
            ) from None

    async def command(self, line: str | bytes, until: bytes = b"OK\r\n") -> bytes:
        assert self.transport is not None
        data = line.encode() if isinstance(line, str) else line
        self.transport.write(data if data.endswith((b"\r", b"\x1a", b"\x1b")) else data + b"\r")
        return await self.expect(until)

    async def submit_answer(self, body: bytes) -> bytes:
        """Send a PDU body (ending in Ctrl-Z); return up to `OK` or a `+CMS ERROR` line."""
        assert self.transport is not None
        self.transport.write(body)

        async def wait() -> bytes:
            while True:
                text = bytes(self.buffer)
                for marker in (b"\r\nOK\r\n", b"+CMS ERROR: "):
                    pos = text.find(marker)
                    if pos >= 0:
                        end = text.find(b"\r\n", pos + 2) + 2
                        if end > 1:
                            del self.buffer[:end]
                            return text[:end]
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(wait(), 3.0)

    async def final(self, line: str) -> bytes:
        """Response up to OK or any error final result code."""
        assert self.transport is not None
        self.transport.write(line.encode() + b"\r")

        async def wait() -> bytes:
            while True:
                text = bytes(self.buffer)
                for marker in (b"\r\nOK\r\n", b"\r\nERROR\r\n", b" ERROR: "):
                    pos = text.find(marker)
                    if pos >= 0:
                        end = text.find(b"\r\n", pos + 2) + 2 if marker == b" ERROR: " \
                            else pos + len(marker)
                        if end > 1:
                            del self.buffer[:end]
                            return text[:end]
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(wait(), 3.0)


async def connect(modem: SimModem, *, echo: bool = False) -> LinkClient:
    _transport, protocol = open_in_process(modem, LinkClient)
    assert isinstance(protocol, LinkClient)
    if not echo:
        await protocol.command("ATE0")
    await protocol.command("AT+CMEE=1")
    protocol.buffer.clear()
    return protocol


