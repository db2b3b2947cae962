"""A modem as a real pseudo-terminal behind a stable symlink (`DIR/modem0`), like a USB modem.

Clients open the symlink with pyserial exactly like `/dev/ttyUSB0`. While no client has the port
open, output is discarded (as a USB CDC-ACM device drops it when nobody reads), so a client that
opens the port later does not read a backlog of stale URCs. Unplugging closes the pty (an open
client sees EIO, as with a vanished USB device) and removes the symlink; replugging makes a new
pty and points the same name at it, as udev's `/dev/serial/by-id` links do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import tty
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sim.fdchannel import FdChannel

if TYPE_CHECKING:
    from sim.modem import SimModem

IDLE_POLL_SECONDS = 0.02


class _IdleWatch:
    """One poll() over every pty master whose slave nobody has open; a POLLHUP means still idle.

    A single timer per loop serves every port, so hundreds of idle modems cost one syscall per
    tick instead of a busy reader each (a master without a slave is always 'readable').
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.poll = select.poll()
        self.waiting: dict[int, Callable[[], None]] = {}
        self.timer: asyncio.TimerHandle | None = None

    def add(self, fd: int, on_open: Callable[[], None]) -> None:
        self.waiting[fd] = on_open
        self.poll.register(fd, select.POLLIN)
        if self.timer is None:
            self.timer = self.loop.call_later(IDLE_POLL_SECONDS, self._tick)

    def remove(self, fd: int) -> None:
        if self.waiting.pop(fd, None) is not None:
            self.poll.unregister(fd)
        if not self.waiting and self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _tick(self) -> None:
        self.timer = None
        hung_up = {fd for fd, ev in self.poll.poll(0) if ev & select.POLLHUP}
        for fd in [fd for fd in self.waiting if fd not in hung_up]:
            on_open = self.waiting[fd]
            self.remove(fd)
            on_open()
        if self.waiting and self.timer is None:
            self.timer = self.loop.call_later(IDLE_POLL_SECONDS, self._tick)


_WATCHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _IdleWatch] = (
    weakref.WeakKeyDictionary())


def _watch() -> _IdleWatch:
    loop = asyncio.get_running_loop()
    watch = _WATCHES.get(loop)
    if watch is None:
        watch = _WATCHES[loop] = _IdleWatch(loop)
    return watch


class PtyPort:
    def __init__(self, modem: SimModem, path: Path) -> None:
        self.modem = modem
        self.path = path
        self.device: str | None = None
        self._channel: FdChannel | None = None
        self._detach: Callable[[], None] | None = None
        self.closed = False

    @property
    def client_connected(self) -> bool:
        return self._channel is not None and self._channel.connected

    def open(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no line discipline: bytes pass as a UART would pass them
        self.device = os.ttyname(slave)
        os.close(slave)  # the terminal settings stay with the pty
        self._channel = FdChannel(master, self.modem.feed, self._hung_up)
        self._channel.suspend()  # nobody has it open yet
        _watch().add(master, self._opened)
        self._detach = self.modem.attach(self._channel.write)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(self.device, tmp)
        os.replace(tmp, self.path)

    def _hung_up(self) -> None:
        """The last client closed the port: go idle until someone opens it again."""
        channel = self._channel
        if channel is None or not channel.connected:
            return
        channel.suspend()
        _watch().add(channel.fd, self._opened)

    def _opened(self) -> None:
        if self._channel is not None:
            self._channel.resume()

    def _shut(self) -> None:
        if self._detach is not None:
            self._detach()
            self._detach = None
        if self._channel is not None:
            _watch().remove(self._channel.fd)
            self._channel.close()
            self._channel = None
        with contextlib.suppress(OSError):
            if self.device is not None and os.readlink(self.path) == self.device:
                self.path.unlink()
        self.device = None

    # PortHooks
    def unplugged(self) -> None:
        self._shut()

    def replugged(self) -> None:
        if not self.closed:
            self.open()

    def close(self) -> None:
        self.closed = True
        self.modem.remove_port(self)
        self._shut()
