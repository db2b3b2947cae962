"""A non-blocking file descriptor driven by the event loop (a pty master or a TCP client socket).

Reads go straight to a callback; writes go out at once and, when the kernel buffer is full, wait
in a bounded buffer for `add_writer`. Output nobody reads is eventually dropped, as a UART with
no listener drops it. No tasks, only loop reader/writer callbacks, so closing is synchronous.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Callable

MAX_PENDING = 256 * 1024


class FdChannel:
    def __init__(
        self,
        fd: int,
        on_data: Callable[[bytes], None],
        on_eof: Callable[[], None] | None = None,
    ) -> None:
        self.fd = fd
        self.loop = asyncio.get_running_loop()
        self._on_data = on_data
        self._on_eof = on_eof
        self._pending = bytearray()
        self._writing = False
        self.closed = False
        self.connected = True
        os.set_blocking(fd, False)
        self.loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            if self._on_eof is not None:
                self._on_eof()
            return
        self._on_data(data)

    def suspend(self) -> None:
        """Nobody on the other side: stop reading, and drop output until `resume`."""
        if self.closed or not self.connected:
            return
        self.connected = False
        self.loop.remove_reader(self.fd)
        if self._writing:
            self._writing = False
            self.loop.remove_writer(self.fd)
        self._pending.clear()

    def resume(self) -> None:
        if self.closed or self.connected:
            return
        self.connected = True
        self.loop.add_reader(self.fd, self._readable)

    def write(self, data: bytes) -> None:
        if self.closed or not self.connected:
            return
        if self._pending:
            if len(self._pending) + len(data) <= MAX_PENDING:
                self._pending += data
            return
        try:
            sent = os.write(self.fd, data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.EPIPE, errno.ECONNRESET, errno.EBADF):
                return  # nobody on the other side: the bytes are lost
            raise
        if sent < len(data):
            self._pending += data[sent : sent + MAX_PENDING]
            if not self._writing:
                self._writing = True
                self.loop.add_writer(self.fd, self._writable)

    def _writable(self) -> None:
        try:
            sent = os.write(self.fd, self._pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._pending.clear()
            sent = 0
        del self._pending[:sent]
        if not self._pending:
            self._writing = False
            self.loop.remove_writer(self.fd)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.connected:
            self.loop.remove_reader(self.fd)
        if self._writing:
            self.loop.remove_writer(self.fd)
        self._pending.clear()
        os.close(self.fd)
