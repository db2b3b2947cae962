"""The daemon as a real process: `smsgw run`, SIGKILL mid-run and restart, SIGTERM, /healthz.

The simulated modems live in the test process on real ptys; the daemon, a separate process,
opens them by path as it would open `/dev/serial/by-id/...`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from drivers.redact import mask_number
from gateway.numbers import NumberService, policy_from_config
from gateway.scheduler import Scheduler
from gateway.store import SqliteStore
from gateway.store.models import Message, MessageQuery, MessageStatus
from gateway.submit import OutgoingMessage, Refused, Submitter
from tests.e2e.e2e_rig import FINAL, Rig, e2e_settings, eventually, numbers

CONFIG = """
[scheduler]
tick_s = 0.1
[scheduler.retry]
backoff_initial_s = 0.2
backoff_max_s = 1.0
[inbound]
reassembly_timeout_s = 2.0
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Daemon:
    """`smsgw run ...` as a child process, its stderr kept for inspection."""

    def __init__(self, args: Sequence[str], tmp: Path) -> None:
        self.port = free_port()
        self.args = [sys.executable, "-m", "gateway.cli", "run",
                     "--listen", f"127.0.0.1:{self.port}", *args]
        self.log = tmp / f"daemon-{self.port}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> Daemon:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGW_")}
        self._log_file = self.log.open("wb")
        self.process = await asyncio.create_subprocess_exec(
            *self.args, stdin=asyncio.subprocess.DEVNULL, stdout=self._log_file,
            stderr=self._log_file, env=env,
        )
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def healthz(self) -> dict[str, Any] | None:
        try:
            async with aiohttp.ClientSession() as http, http.get(self.url + "/healthz") as r:
                data: dict[str, Any] = await r.json()
                return data
        except (aiohttp.ClientError, OSError):
            return None

    async def wait_sending(self, within: float = 20.0) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            assert self.process is not None and self.process.returncode is None, self.output()
            health = await self.healthz()
            return health if health and health["can_send"] else None

        return await eventually(probe, within=within, every=0.1, what="daemon ready to send")

    async def signal(self, sig: int) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        async with asyncio.timeout(30):
            code = await self.process.wait()
        self._log_file.close()
        return code

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def close(self) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        if hasattr(self, "_log_file") and not self._log_file.closed:
            self._log_file.close()


@pytest.fixture
async def daemons(tmp_path: Path) -> AsyncIterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        await daemon.close()


async def accept(db: Path, items: list[tuple[str, str]]) -> list[str]:
    """Accept messages the way the API does (validate, plan, commit) into a stopped gateway's
    store; the daemon started afterwards finds them queued."""
    settings = e2e_settings(db)
    store = await SqliteStore.open(db, options=settings.store_options())
    scheduler = Scheduler(store, settings.scheduler)
    try:
        submitter = Submitter(scheduler, NumberService(policy_from_config(settings.numbers), store))
        results = await submitter.submit([OutgoingMessage(to=to, text=t) for to, t in items])
    finally:
        await scheduler.close()
        await store.close()
    ids = []
    for result in results:
        assert not isinstance(result, Refused), result
        ids.append(result.message.id)
    return ids


async def read_messages(db: Path) -> dict[str, Message]:
    store = await SqliteStore.open_readonly(db)
    try:
        page = await store.list_messages(MessageQuery(limit=1000))
    finally:
        await store.close()
    return {m.id: m for m in page.messages}


async def test_sigkill_mid_run_and_restart_loses_nothing(
    rig: Rig, daemons: list[Daemon], tmp_path: Path
) -> None:
    await rig.start_sim(4, latency=0.15)
    config = tmp_path / "smsgw.toml"
    config.write_text(CONFIG)
    recipients = numbers(60, start=8000)
    ids = await accept(rig.db, [(to, f"kill test {i}") for i, to in enumerate(recipients)])
    args = ["--config", str(config), "--db", str(rig.db), "--modem", str(rig.sim_dir / "modem*")]

    first = await Daemon(args, tmp_path).start()
    daemons.append(first)

    async def midway() -> bool:
        statuses = [m.status for m in (await read_messages(rig.db)).values()]
        done = sum(s is MessageStatus.DELIVERED for s in statuses)
        return done >= 10 and MessageStatus.SENDING in statuses

    await eventually(midway, within=30.0, every=0.02, what="a run half done")
    assert await first.signal(signal.SIGKILL) == -signal.SIGKILL
    killed_at = await read_messages(rig.db)
    assert not all(m.status in FINAL for m in killed_at.values())

    second = await Daemon(args, tmp_path).start()
    daemons.append(second)

    sent_at_kill = {i for i, m in killed_at.items() if m.status is MessageStatus.SENT}

    async def all_final() -> dict[str, Message] | None:
        messages = await read_messages(rig.db)
        settled = all(
            messages[i].status in FINAL
            or (i in sent_at_kill and messages[i].status is MessageStatus.SENT)
            for i in ids
        )
        return messages if settled else None

    final = await eventually(all_final, within=40.0, every=0.1, what="every message final")
    for message in killed_at.values():
        if message.status is MessageStatus.SENDING:  # cut off mid-submit: flagged, not hidden
            assert final[message.id].uncertain, final[message.id]
    for message_id, to in zip(ids, recipients, strict=True):
        message = final[message_id]
        handset = rig.sim.net.handsets.get(to)
        got = [m.text for m in handset.received] if handset is not None else []
        assert got, f"{to} never got its message"  # none lost
        if message.uncertain:
            # cut off mid-submit: resent (maybe twice on the handset) or failed by policy,
            # flagged either way, never silent
            assert message.status in (MessageStatus.DELIVERED, MessageStatus.FAILED), message
            continue
        assert got == [message.text], f"{to}: {got}"  # exactly once
        if killed_at[message_id].status is MessageStatus.SENT:
            # its status report may have come while no daemon was reading the port (+CDS is
            # not stored): `sent` is then as far as anyone can know
            assert message.status in (MessageStatus.DELIVERED, MessageStatus.SENT), message
        else:
            assert message.status is MessageStatus.DELIVERED, message
    assert await second.signal(signal.SIGTERM) == 0


async def test_smsgw_run_with_simulated_modems_serves_healthz_and_stops_on_sigterm(
    daemons: list[Daemon], tmp_path: Path
) -> None:
    control = free_port()
    daemon = await Daemon(
        ["--sim", "2", "--db", str(tmp_path / "run.db"), "--sim-control", f"127.0.0.1:{control}"],
        tmp_path,
    ).start()
    daemons.append(daemon)
    health = await daemon.wait_sending()
    assert health["status"] == "running"
    counts = (await eventually(daemon.healthz, what="healthz"))["modems"]
    assert counts["ready"] == 2
    # a customer texts one of the simulated SIMs; the daemon logs it with the number masked
    sender = "+4917699887766"
    async with aiohttp.ClientSession() as http:
        body = {"from": sender, "to": "modem0", "text": "hello gateway"}
        async with http.post(f"http://127.0.0.1:{control}/inbound", json=body) as r:
            assert r.status == 202
    await eventually(lambda: "event=inbound_message" in daemon.output(), what="inbound logged")
    assert await daemon.signal(signal.SIGTERM) == 0
    out = daemon.output()
    assert "event=stopped" in out
    assert sender not in out and "99887766" not in out
    assert "hello gateway" not in out
    assert f"sender={mask_number(sender)}" in out
