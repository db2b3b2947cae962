"""gateway.sdnotify against a real AF_UNIX datagram socket standing in for systemd: READY,
STATUS, STOPPING, and WATCHDOG keep-alives sent from the event loop; silence without systemd."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop

from gateway.sdnotify import Notifier, status_line, watchdog_interval


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[socket.socket]:
    """The listening end of $NOTIFY_SOCKET."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.setblocking(False)
    yield sock
    sock.close()


async def receive(sock: socket.socket, timeout: float = 10.0) -> str:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        return (await loop.sock_recv(sock, 4096)).decode()


def env(sock: socket.socket, **extra: str) -> dict[str, str]:
    return {"NOTIFY_SOCKET": sock.getsockname(), **extra}


async def test_without_systemd_everything_is_a_no_op() -> None:
    notifier = Notifier.from_environ({})
    assert not notifier.enabled and notifier.watchdog is None
    async with notifier:
        await notifier.ready("up")
        await notifier.stopping()
        assert await notifier.send("WATCHDOG=1") is False


async def test_ready_status_and_stopping_reach_systemd(systemd: socket.socket) -> None:
    async with Notifier.from_environ(env(systemd)) as notifier:
        await notifier.ready("listening on http://127.0.0.1:8080")
        assert await receive(systemd) == "READY=1\nSTATUS=listening on http://127.0.0.1:8080"
        await notifier.status("3 of 4 modems\nready")  # one line, whatever it is given
        assert await receive(systemd) == "STATUS=3 of 4 modems ready"
        await notifier.status("3 of 4 modems\nready")  # unchanged: not sent again
        await notifier.stopping()
        assert await receive(systemd) == "STOPPING=1\nSTATUS=stopping"


async def test_an_abstract_socket_name_works() -> None:
    name = f"smsgw-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.setblocking(False)
        async with Notifier.from_environ({"NOTIFY_SOCKET": f"@{name}"}) as notifier:
            await notifier.ready()
            assert await receive(sock) == "READY=1"


async def test_the_event_loop_feeds_the_watchdog_with_status_changes(
    systemd: socket.socket,
) -> None:
    states = iter(["0 of 1 modems ready", "1 of 1 modems ready"])
    current = {"text": next(states)}
    notifier = Notifier.from_environ(env(systemd, WATCHDOG_USEC="100000"))
    assert notifier.watchdog == pytest.approx(0.05)
    notifier.track_status(lambda: current["text"])
    async with notifier:
        assert await receive(systemd) == "WATCHDOG=1\nSTATUS=0 of 1 modems ready"
        assert await receive(systemd) == "WATCHDOG=1"
        current["text"] = next(states)
        seen = [await receive(systemd) for _ in range(3)]
        assert "WATCHDOG=1\nSTATUS=1 of 1 modems ready" in seen
        assert all(m.startswith("WATCHDOG=1") for m in seen)
    # closed: no keep-alive task is left behind (the suite-wide fixture checks it too)
    assert notifier._task is None


def test_the_watchdog_is_for_the_process_systemd_named() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, pid=2) is None
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) \
        == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None


async def test_a_vanished_systemd_is_logged_once_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    with caplog.at_level(logging.INFO, logger="gateway.sdnotify"):
        assert await notifier.send("WATCHDOG=1") is False
        assert await notifier.send("WATCHDOG=1") is False
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "cannot notify systemd" in warnings[0].getMessage()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(tmp_path / "gone"))  # systemd is back (re-executed)
        sock.setblocking(False)
        try:
            assert await notifier.send("WATCHDOG=1") is True
            assert await receive(sock) == "WATCHDOG=1"
        finally:
            sock.close()
    assert "notifying systemd again" in caplog.text
    await notifier.close()


def test_it_works_on_uvloop_as_the_daemon_runs_it(systemd: socket.socket) -> None:
    async def main() -> str:
        async with Notifier.from_environ(env(systemd, WATCHDOG_USEC="200000")) as notifier:
            await notifier.ready("up")
            first = await receive(systemd)
            second = await receive(systemd)
            return first + "|" + second

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        got = set(runner.run(main()).split("|"))
    assert got == {"READY=1\nSTATUS=up", "WATCHDOG=1"}


def test_status_line_summarises_the_pool() -> None:
    summary = {"status": "running", "modems": {"ready": 2, "probing": 1, "failed": 0}}
    assert status_line(summary) == "2/3 modems ready (1 probing)"
    assert status_line({"status": "stopping", "modems": {"ready": 0}}) == \
        "stopping; 0/0 modems ready"
