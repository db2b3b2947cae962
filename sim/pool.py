"""The simulated modem pool: N modems with SIMs on one network, their ports, and the control API.

Embeddable (`async with SimPool(n=4, directory=tmp) as pool: pool.paths`) and what
`smsgw-sim run` runs. Everything it starts (ptys, TCP listeners, timers, the HTTP server) is
stopped by `close()`.
"""

from __future__ import annotations

import logging
import random
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from sim.dialects import PROFILES, dialect_for
from sim.faults import RANDOM_DURATIONS, FaultKind, FaultSpec
from sim.identity import DEFAULT_OPERATORS, Operator, make_sim
from sim.latency import Latency
from sim.modem import SimModem
from sim.network import Network
from sim.ptyport import PtyPort
from sim.tcpport import TcpPort

log = logging.getLogger(__name__)

DEFAULT_CONTROL = "127.0.0.1:8025"


def parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class SimPool:
    """N simulated modems on one simulated network.

    `profile` is a dialect name, `mixed` (all dialects in turn) or a list with one per modem.
    `control` is `HOST:PORT` for the JSON control API and web page (None: not started; port 0:
    any free port, see `control_url`). `tcp_port` > 0 also serves modem i on `tcp_port + i`
    for pyserial's `socket://`; `ptys=False` skips the pseudo-terminals (in-process links only).
    """

    def __init__(
        self,
        n: int = 4,
        directory: str | Path | None = None,
        *,
        profile: str | Sequence[str] = "generic",
        latency: str | float = 0,
        seed: int = 0,
        control: str | None = None,
        tcp_host: str = "127.0.0.1",
        tcp_port: int | None = None,
        ptys: bool = True,
        boot_time: float = 1.0,
        vendor_urc_interval: float = 5.0,
        delivery_delay: float = 0.0,
        report_delay: float = 1.0,
        absent_delay: float = 30.0,
        redelivery_delay: float = 5.0,
        operators: tuple[Operator, ...] = DEFAULT_OPERATORS,
        pins: Mapping[int, str] | None = None,
        balances: Mapping[int, Decimal] | None = None,
        daily_caps: Mapping[int, int] | None = None,
        random_faults: Mapping[FaultKind | str, float] | None = None,
    ) -> None:
        if n < 1:
            raise ValueError("a pool needs at least one modem")
        if isinstance(profile, str):
            if profile == "mixed":
                names = list(PROFILES)
                self.profiles = [names[i % len(names)] for i in range(n)]
            else:
                dialect_for(profile)
                self.profiles = [profile] * n
        else:
            self.profiles = list(profile)
            if len(self.profiles) != n:
                raise ValueError("one profile per modem")
            for p in self.profiles:
                dialect_for(p)
        self.n = n
        self._own_dir = directory is None
        self.directory = Path(directory) if directory is not None else Path(
            tempfile.mkdtemp(prefix="smsgw-sim-"))
        self.latency = Latency.parse(latency)
        self.seed = seed
        self.control = control
        self.tcp_host = tcp_host
        self.tcp_port = tcp_port
        self.ptys = ptys
        self.boot_time = boot_time
        self.vendor_urc_interval = vendor_urc_interval
        self._network_args: dict[str, Any] = {
            "delivery_delay": delivery_delay,
            "report_delay": report_delay,
            "absent_delay": absent_delay,
            "redelivery_delay": redelivery_delay,
            "operators": operators,
        }
        self.pins = dict(pins or {})
        self.balances = dict(balances or {})
        self.daily_caps = dict(daily_caps or {})
        self.random_faults = {FaultKind(k): v for k, v in (random_faults or {}).items()}
        self.network: Network | None = None
        self.modems: list[SimModem] = []
        self.pty_ports: list[PtyPort] = []
        self.tcp_ports: list[TcpPort] = []
        self.control_url: str | None = None
        self._control_runner: Any = None
        self._random_timer: Any = None
        self._rng = random.Random(f"faults:{seed}")

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> SimPool:
        try:
            self._start_modems()
            if self.control is not None:
                from sim.control import start_control

                host, port = parse_hostport(self.control)
                self._control_runner, self.control_url = await start_control(self, host, port)
        except BaseException:
            await self.close()
            raise
        self._schedule_random_fault()
        return self

    def _start_modems(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        net = Network(latency=self.latency, seed=self.seed, **self._network_args)
        self.network = net
        for i in range(self.n):
            sim = make_sim(i, self.seed, net.operators)
            if i in self.pins:
                sim.pin = self.pins[i]
                sim.locked = True
            if i in self.balances:
                sim.balance = Decimal(self.balances[i])
            if i in self.daily_caps:
                sim.daily_cap = self.daily_caps[i]
            modem = SimModem(
                i,
                dialect=dialect_for(self.profiles[i]),
                sim=sim,
                network=net,
                seed=self.seed,
                boot_time=self.boot_time,
                vendor_urc_interval=self.vendor_urc_interval,
            )
            if sim.locked:
                modem.sms_ready = False
                modem.sim_ready = False
            net.add_modem(modem)
            self.modems.append(modem)
            if self.ptys:
                port = PtyPort(modem, self.directory / modem.name)
                port.open()
                modem.add_port(port)
                self.pty_ports.append(port)
            if self.tcp_port is not None:
                tcp = TcpPort(modem, self.tcp_host, self.tcp_port + i if self.tcp_port else 0)
                tcp.open()
                modem.add_port(tcp)
                self.tcp_ports.append(tcp)

    async def close(self) -> None:
        if self._random_timer is not None:
            self._random_timer.cancel()
            self._random_timer = None
        if self._control_runner is not None:
            runner, self._control_runner = self._control_runner, None
            await runner.cleanup()
        for port in self.pty_ports:
            port.close()
        for tcp in self.tcp_ports:
            tcp.close()
        for modem in self.modems:
            modem.close()
        if self.network is not None:
            self.network.close()
        self.pty_ports.clear()
        self.tcp_ports.clear()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    async def __aenter__(self) -> SimPool:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ---- access -------------------------------------------------------------------------------

    @property
    def net(self) -> Network:
        if self.network is None:
            raise RuntimeError("the pool is not started")
        return self.network

    @property
    def paths(self) -> list[str]:
        """The stable device paths, `DIR/modem0`... (what the gateway opens)."""
        return [str(self.directory / m.name) for m in self.modems]

    @property
    def urls(self) -> list[str]:
        """`socket://HOST:PORT` per modem when TCP ports are served."""
        return [t.url for t in self.tcp_ports]

    def modem(self, ident: str | int) -> SimModem:
        found = self.net.modem_for(str(ident))
        if found is None:
            raise KeyError(f"no modem {ident!r}")
        return found

    def inject(self, ident: str | int, spec: FaultSpec | Mapping[str, Any]) -> None:
        if not isinstance(spec, FaultSpec):
            spec = FaultSpec.from_json(dict(spec))
        self.modem(ident).inject(spec)

    def reset(self) -> None:
        """Back to a fresh network: no faults, empty storages and handsets, counters at zero."""
        net = self.net
        net.reset()
        for modem in self.modems:
            modem.clear_faults()
            for store in modem.stores.values():
                store.clear()
            modem.counters = type(modem.counters)()
            modem.sim.sent_today = 0

    # ---- random faults ------------------------------------------------------------------------

    def _schedule_random_fault(self) -> None:
        total = sum(self.random_faults.values())  # faults per modem per hour
        if total <= 0 or self.network is None:
            return
        rate_per_s = total * self.n / 3600.0
        delay = self._rng.expovariate(rate_per_s)
        loop = self.net.loop
        self._random_timer = loop.call_later(delay, self._random_fault)

    def _random_fault(self) -> None:
        self._random_timer = None
        kinds = list(self.random_faults)
        weights = [self.random_faults[k] for k in kinds]
        kind = self._rng.choices(kinds, weights)[0]
        modem = self._rng.choice(self.modems)
        spec = random_spec(kind, self._rng)
        log.info("random fault %s on %s", kind.value, modem.name)
        modem.inject(spec)
        self._schedule_random_fault()


def random_spec(kind: FaultKind, rng: random.Random) -> FaultSpec:
    duration = RANDOM_DURATIONS.get(kind)
    if kind is FaultKind.CMS_ERROR:
        return FaultSpec(kind, code=rng.choice((38, 42, 331, 500, 512)), count=1)
    if kind is FaultKind.CME_ERROR:
        return FaultSpec(kind, code=rng.choice((14, 100)), count=1)
    if kind is FaultKind.SLOW_SUBMIT:
        return FaultSpec(kind, seconds=rng.uniform(15, 60), count=1)
    if kind is FaultKind.UNPLUG:
        return FaultSpec(kind, seconds=duration)
    if kind in (FaultKind.REBOOT, FaultKind.LOST_SUBMIT_ANSWER, FaultKind.PIN_REQUIRED,
                FaultKind.INCOMING_CALL):
        return FaultSpec(kind)
    return FaultSpec(kind, duration=duration)
