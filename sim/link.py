"""An in-process asyncio Transport to a simulated modem, for fast tests of protocol code.

The driver's `asyncio.Protocol` is connected exactly as `create_serial_connection` would connect
it, so its production path runs unchanged; only the pty and the kernel are skipped. Bytes cross
on the next loop iteration in both directions (never re-entrantly inside `write()`), as on a real
transport. Unplugging the modem ends the connection with an `OSError(EIO)`.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.modem import SimModem


class InProcessTransport(asyncio.Transport):
    def __init__(self, modem: SimModem, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self._modem = modem
        self._protocol = protocol
        self._loop = modem.loop
        self._closing = False
        self._paused = False
        self._held: list[bytes] = []
        self._detach: Callable[[], None] = modem.attach(self._from_modem)
        modem.add_port(self)

    # modem -> protocol
    def _from_modem(self, data: bytes) -> None:
        self._loop.call_soon(self._deliver, data)

    def _deliver(self, data: bytes) -> None:
        if self._closing:
            return
        if self._paused:
            self._held.append(data)
            return
        self._protocol.data_received(data)

    # protocol -> modem
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            return
        self._loop.call_soon(self._modem.feed, bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("a serial line has no EOF")

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        return None

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        self._paused = False
        held, self._held = self._held, []
        for data in held:
            self._protocol.data_received(data)

    def is_reading(self) -> bool:
        return not self._paused

    def is_closing(self) -> bool:
        return self._closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "modem":
            return self._modem
        if name == "peername":
            return f"sim:{self._modem.name}"
        return default

    def _finish(self, exc: Exception | None) -> None:
        if self._closing:
            return
        self._closing = True
        self._detach()
        self._modem.remove_port(self)
        self._loop.call_soon(self._protocol.connection_lost, exc)

    def close(self) -> None:
        self._finish(None)

    def abort(self) -> None:
        self._finish(None)

    # PortHooks: the device went away under the open connection
    def unplugged(self) -> None:
        self._finish(OSError(errno.EIO, "simulated modem unplugged"))

    def replugged(self) -> None:
        return None


def open_in_process(
    modem: SimModem, protocol_factory: Callable[[], asyncio.Protocol]
) -> tuple[InProcessTransport, asyncio.Protocol]:
    """Connect a protocol to `modem` in this loop; `connection_made` runs before this returns."""
    if modem.unplugged:
        raise OSError(errno.ENOENT, f"{modem.name} is unplugged")
    protocol = protocol_factory()
    transport = InProcessTransport(modem, protocol)
    protocol.connection_made(transport)
    return transport, protocol
