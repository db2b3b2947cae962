"""A modem behind a TCP port, for pyserial's `socket://HOST:PORT` (a simulator on another host).

Like a serial-over-IP server it serves one client at a time: a new connection replaces the old.
Unplugging closes the client and the listener; replugging listens again on the same port.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from sim.fdchannel import FdChannel

if TYPE_CHECKING:
    from sim.modem import SimModem


class TcpPort:
    def __init__(self, modem: SimModem, host: str, port: int) -> None:
        self.modem = modem
        self.host = host
        self.port = port
        self._listener: socket.socket | None = None
        self._client: FdChannel | None = None
        self._client_sock: socket.socket | None = None
        self._detach: Callable[[], None] | None = None
        self.closed = False

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def open(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(4)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._listener = sock
        self.modem.loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        if self._listener is None:
            return
        try:
            conn, _addr = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        self._drop_client()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client_sock = conn
        self._client = FdChannel(conn.fileno(), self.modem.feed, self._drop_client)
        self._detach = self.modem.attach(self._client.write)

    def _drop_client(self) -> None:
        if self._detach is not None:
            self._detach()
            self._detach = None
        if self._client is not None:
            self._client.closed = True
            self.modem.loop.remove_reader(self._client.fd)
            self.modem.loop.remove_writer(self._client.fd)
            self._client = None
        if self._client_sock is not None:
            self._client_sock.close()
            self._client_sock = None

    def _shut(self) -> None:
        self._drop_client()
        if self._listener is not None:
            self.modem.loop.remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None

    def unplugged(self) -> None:
        self._shut()

    def replugged(self) -> None:
        if not self.closed:
            self.open()

    def close(self) -> None:
        self.closed = True
        self.modem.remove_port(self)
        self._shut()
