"""Fixtures for the driver tests: a channel wired to a scripted byte-level fake, and the
simulator connected in process."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from drivers.at.channel import AtChannel
from drivers.at.urc import Urc, UrcRouter
from drivers.config import ModemConfig
from drivers.dialects import GenericDialect
from drivers.modem import Modem
from tests.drivers.at_fakes import FakeTransport, ScriptedModem


class Wired:
    def __init__(self) -> None:
        self.urcs: list[Urc] = []
        self.lost: list[Exception] = []
        self.channel = AtChannel(
            name="fake",
            router=UrcRouter(GenericDialect().urc_patterns()),
            on_urc=self.urcs.append,
            on_lost=self.lost.append,
            sync_timeout=0.3,
        )
        self.transport = FakeTransport(self.channel)
        self.channel.connection_made(self.transport)
        self.modem = ScriptedModem(self.transport)

    @property
    def events(self) -> list[object]:
        return [u.event for u in self.urcs if u.event is not None]


@pytest.fixture
async def wired() -> AsyncIterator[Wired]:
    w = Wired()
    yield w
    w.channel.close()
    await w.channel.wait_closed(1.0)


# --- the simulator -----------------------------------------------------------

PROFILES = ("generic", "sim800", "sim7600", "ec25", "e3372")


class SimRig:
    """A simulated network with modems, and driver `Modem`s connected to them in process."""

    def __init__(self) -> None:
        from sim.network import Network

        self.network = Network(seed=1, report_delay=0.05, delivery_delay=0.0)
        self.sims: list[Any] = []
        self.modems: list[Modem] = []

    def add(self, profile: str = "generic", *, boot_time: float = 0.05, **kw: Any) -> Any:
        """A simulated modem on the network (not connected yet)."""
        from sim.dialects import dialect_for
        from sim.identity import make_sim
        from sim.modem import SimModem

        index = len(self.sims)
        card = make_sim(index, 1, self.network.operators)
        sim_modem = SimModem(
            index, dialect=dialect_for(profile), sim=card, network=self.network,
            seed=1, boot_time=boot_time, **kw,
        )
        self.network.add_modem(sim_modem)
        self.sims.append(sim_modem)
        return sim_modem

    async def connect(self, sim_modem: Any, config: ModemConfig | None = None) -> Modem:
        from sim.link import open_in_process

        modem = await Modem.connect(
            functools.partial(open_in_process, sim_modem),
            name=sim_modem.name,
            config=config or ModemConfig.fast(),
        )
        self.modems.append(modem)
        return modem

    async def ready(self, profile: str = "generic", **kw: Any) -> tuple[Modem, Any]:
        sim_modem = self.add(profile, **kw)
        modem = await self.connect(sim_modem)
        await modem.initialize()
        return modem, sim_modem

    async def close(self) -> None:
        for modem in self.modems:
            await modem.close()
        for sim_modem in self.sims:
            sim_modem.close()
        self.network.close()


@pytest.fixture
async def rig() -> AsyncIterator[SimRig]:
    r = SimRig()
    yield r
    await r.close()
