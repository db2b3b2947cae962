"""Tell systemd how the daemon is doing: readiness, status, stopping and the watchdog.

The unit is `Type=notify` with `WatchdogSec=`: systemd starts the clients' clock only when we say
READY=1 (after the store is open and the HTTP API listens), shows STATUS= in `systemctl status`,
and kills and restarts the daemon when WATCHDOG=1 stops arriving. The keep-alive is sent by a task
on the event loop itself, so a loop blocked by a stuck call misses it and gets restarted; a
thread would keep a dead daemon alive.

The protocol is one datagram per message to the AF_UNIX socket named by `$NOTIFY_SOCKET` (a path,
or an abstract name written with a leading `@`), as sd_notify(3) describes. Without that
variable (a terminal, a test, `make run`) every method is a no-op. Sending never raises: a
daemon must not fail because its supervisor went away.

    async with Notifier.from_environ() as systemd:    # feeds the watchdog from now on
        gateway = await Gateway.open(settings, options)
        await systemd.ready(f"listening on {gateway.http_url}")
        systemd.track_status(lambda: status_line(gateway.health_summary()))
        await stop.wait()
        await systemd.stopping()                      # before the graceful close
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Final

from gateway.tasks import cancel_and_wait

_LOG = logging.getLogger(__name__)

SEND_TIMEOUT: Final = 1.0  # a full receive queue must not stall the daemon for longer
_MAX_STATUS: Final = 200  # `systemctl status` shows one line


def _address(name: str) -> str:
    """`@name` is an abstract socket (leading NUL); anything else is a filesystem path."""
    return "\0" + name[1:] if name.startswith("@") else name


def watchdog_interval(environ: Mapping[str, str], pid: int | None = None) -> float | None:
    """Seconds between keep-alives (half of `$WATCHDOG_USEC`), or None when not asked for.

    `$WATCHDOG_PID`, when set, names the process the watchdog is meant for: a child that
    inherited the variables must not answer for its parent.
    """
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None
    return int(usec) / 1_000_000 / 2


def status_line(summary: Mapping[str, Any]) -> str:
    """`Gateway.health_summary()` as one STATUS= line: "2/3 modems ready (1 probing)"."""
    modems: Mapping[str, int] = summary.get("modems") or {}
    total = sum(modems.values())
    ready = modems.get("ready", 0)
    others = ", ".join(f"{n} {state}" for state, n in sorted(modems.items())
                       if state != "ready" and n)
    line = f"{ready}/{total} modems ready" + (f" ({others})" if others else "")
    if summary.get("status") == "stopping":
        line = "stopping; " + line
    return line


class Notifier:
    """sd_notify over asyncio. Build it with `from_environ()`; all methods are safe to call
    whether or not systemd is listening."""

    def __init__(
        self,
        address: str | None,
        *,
        watchdog: float | None = None,
        status: Callable[[], str | None] | None = None,
    ) -> None:
        self.address = address
        self.watchdog = watchdog
        self._status_source = status
        self._last_status: str | None = None
        self._sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self._failed = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        name = env.get("NOTIFY_SOCKET") or None
        return cls(_address(name) if name else None, watchdog=watchdog_interval(env))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    # -- messages -------------------------------------------------------------------------------

    async def ready(self, status: str | None = None) -> None:
        """READY=1: the store is open and the API listens (systemd's start job completes)."""
        await self.send("READY=1", *self._status_line(status))

    async def status(self, text: str) -> None:
        """STATUS=: one line for `systemctl status` (sent only when it changed)."""
        if text != self._last_status:
            await self.send(*self._status_line(text))

    async def stopping(self, status: str | None = "stopping") -> None:
        """STOPPING=1: the graceful shutdown has begun (systemd stops expecting keep-alives)."""
        await self.send("STOPPING=1", *self._status_line(status))

    async def ping(self) -> None:
        """WATCHDOG=1, plus STATUS= when the status source has something new."""
        extra: list[str] = []
        if self._status_source is not None:
            try:
                text = self._status_source()
            except Exception:  # a status line is never worth a missed keep-alive
                _LOG.debug("status source failed", exc_info=True)
                text = None
            if text is not None and text != self._last_status:
                extra = self._status_line(text)
        await self.send("WATCHDOG=1", *extra)

    def track_status(self, source: Callable[[], str | None]) -> None:
        """Send `source()` as STATUS= with the keep-alives whenever it changes."""
        self._status_source = source

    def _status_line(self, text: str | None) -> list[str]:
        if text is None:
            return []
        line = " ".join(text.split())[:_MAX_STATUS]
        self._last_status = text
        return [f"STATUS={line}"]

    async def send(self, *assignments: str) -> bool:
        """One datagram of `KEY=value` lines; False when systemd is not there to hear it."""
        if self.address is None or not assignments:
            return False
        payload = "\n".join(assignments).encode()
        loop = asyncio.get_running_loop()
        try:
            sock = self._socket()
            async with asyncio.timeout(SEND_TIMEOUT):
                await loop.sock_sendall(sock, payload)
        except (OSError, TimeoutError) as exc:
            self._close_socket()  # reconnect next time: systemd may have been re-executed
            if not self._failed:
                _LOG.warning("cannot notify systemd at %s: %s", self._printable(), exc)
                self._failed = True
            return False
        if self._failed:
            _LOG.info("notifying systemd again")
            self._failed = False
        return True

    def _socket(self) -> socket.socket:
        if self._sock is None:
            assert self.address is not None
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            try:
                sock.setblocking(False)
                sock.connect(self.address)
            except OSError:
                sock.close()
                raise
            self._sock = sock
        return self._sock

    def _close_socket(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _printable(self) -> str:
        address = self.address or ""
        return "@" + address[1:] if address.startswith("\0") else address

    # -- the watchdog task ----------------------------------------------------------------------

    def start(self) -> None:
        """Start feeding the watchdog (no-op unless systemd asked for it)."""
        if self.watchdog is None or self.address is None or self._task is not None:
            return
        self._task = asyncio.get_running_loop().create_task(
            self._feed(self.watchdog), name="sd-watchdog"
        )

    async def _feed(self, interval: float) -> None:
        while True:
            await self.ping()
            await asyncio.sleep(interval)

    async def close(self) -> None:
        """Stop the keep-alives and close the socket (safe to call twice)."""
        task, self._task = self._task, None
        await cancel_and_wait(task)
        self._close_socket()

    async def __aenter__(self) -> Notifier:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


__all__ = ["SEND_TIMEOUT", "Notifier", "status_line", "watchdog_interval"]
