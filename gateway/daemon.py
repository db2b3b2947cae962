"""The running gateway: configuration in, a store, a scheduler, a modem pool and an HTTP server.

Start order is the order of trust: the store opens first (and recovers whatever an unclean stop
left in `sending`), then the scheduler, then the pool starts probing modems, and the HTTP server
opens last, so nothing is accepted before it can be committed. Shutdown runs the other way:
stop accepting, stop claiming, give the submits in flight a bounded time to finish, file what
did not, commit, close the ports, close the store.

`--sim N` starts N simulated modems on pseudo-terminals, in this process or a child process, and
the pool opens them by path exactly as it opens `/dev/serial/by-id/...`: the same code path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import ssl
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from gateway.config import Settings
from gateway.http.app import build_app
from gateway.inbound import ReassemblyJanitor
from gateway.logging import log_event
from gateway.lookup_pool import LookupPool, auto_count
from gateway.messaging import Messaging, secret_for_database
from gateway.metrics import GatewayMetrics
from gateway.modem_status import PoolOptions, PortSpec
from gateway.numbers import NumberService, policy_from_config
from gateway.pool import DEFAULT_GLOB, ModemPool
from gateway.ports import raise_open_file_limit
from gateway.routing import Router
from gateway.scheduler import Scheduler
from gateway.sim_limits import SimLimits
from gateway.store import SqliteStore
from gateway.submit import OutgoingMessage, SubmitResult, Submitter

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SimOptions:
    """How `--sim N` runs its simulated modems (see `smsgw-sim run` for the meaning)."""

    separate_process: bool = False
    latency: str = "0"
    profile: str = "generic"
    report_delay: float = 1.0
    boot_time: float = 1.0
    control: str | None = None  # HOST:PORT of the simulator's control API, None: off
    seed: int = 0


@dataclass(frozen=True, slots=True)
class RuntimeOptions:
    """What is not (yet) in the configuration file: supervision timings and shutdown bounds."""

    pool: PoolOptions = field(default_factory=PoolOptions)
    shutdown_grace: float = 15.0  # in-flight submits get this long to finish on shutdown
    http: bool = True
    sim: SimOptions = field(default_factory=SimOptions)
    store_readers: int = 2


class SimHandle(Protocol):
    paths: list[str]
    control_url: str | None

    async def close(self) -> None: ...


class _InProcessSim:
    """The simulator on this event loop (the default for `make run`)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self.paths: list[str] = list(pool.paths)
        self.control_url: str | None = pool.control_url

    @classmethod
    async def start(cls, count: int, options: SimOptions) -> _InProcessSim:
        from sim.pool import SimPool

        pool = SimPool(
            count, None, profile=options.profile, latency=options.latency, seed=options.seed,
            control=options.control, report_delay=options.report_delay,
            boot_time=options.boot_time,
        )
        await pool.start()
        return cls(pool)

    @property
    def pool(self) -> Any:
        return self._pool

    async def close(self) -> None:
        await self._pool.close()


class ChildSim:
    """The simulator as `smsgw-sim run` in a child process, so its CPU is not ours."""

    def __init__(self, process: asyncio.subprocess.Process, directory: Path, count: int,
                 control_url: str | None) -> None:
        self._process = process
        self._directory = directory
        self.paths = [str(directory / f"modem{i}") for i in range(count)]
        self.control_url = control_url

    @classmethod
    async def start(cls, count: int, options: SimOptions, *, ready_within: float = 60.0
                    ) -> ChildSim:
        directory = Path(tempfile.mkdtemp(prefix="smsgw-sim-"))
        args = [
            sys.executable, "-c", "from sim.cli import main; raise SystemExit(main())", "run",
            "--modems", str(count), "--dir", str(directory), "--latency", options.latency,
            "--profile", options.profile, "--report-delay", str(options.report_delay),
            "--boot-time", str(options.boot_time), "--seed", str(options.seed),
            "--control", options.control or "none", "--vendor-urc-interval", "0",
        ]
        process = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE
        )
        control_url = None
        try:
            assert process.stdout is not None
            async with asyncio.timeout(ready_within):
                while True:
                    line = (await process.stdout.readline()).decode(errors="replace").strip()
                    if not line:
                        raise RuntimeError("the simulator exited before it was ready")
                    if line.startswith("control: "):
                        control_url = line.removeprefix("control: ")
                    if line == "ready":
                        break
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return cls(process, directory, count, control_url)

    async def close(self) -> None:
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.terminate()
            try:
                async with asyncio.timeout(10):
                    await self._process.wait()
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        shutil.rmtree(self._directory, ignore_errors=True)


def port_specs(settings: Settings) -> list[PortSpec]:
    """`[[modems]]` entries as the pool takes them."""
    return [
        PortSpec(
            path=modem.path,
            name=modem.name,
            group=modem.group,
            limits=SimLimits.from_config(modem.limits),
            smsc=modem.smsc,
            baudrate=modem.baudrate,
        )
        for modem in settings.modems
    ]


class Gateway:
    """One running gateway. Build it with `await Gateway.open(settings)`; stop with `close()`.

    What the HTTP API uses: `submit`, `store`, `scheduler`, `pool` (`pool.statuses()` for each
    modem's state, identity, health and counters) and `numbers`.
    """

    def __init__(
        self,
        settings: Settings,
        options: RuntimeOptions,
        *,
        store: SqliteStore,
        scheduler: Scheduler,
        pool: ModemPool,
        numbers: NumberService,
        janitor: ReassemblyJanitor,
        sim: SimHandle | None,
        messaging: Messaging | None = None,
    ) -> None:
        self.settings = settings
        self.options = options
        self.store = store
        self.scheduler = scheduler
        self.pool = pool
        self.numbers = numbers
        # one registry per gateway: the workers observe submit times, `/metrics` shows them
        self.metrics = GatewayMetrics()
        pool.metrics = self.metrics
        self.submitter = Submitter(
            scheduler,
            numbers,
            max_segments=settings.api.max_segments,
            request_status_report=settings.scheduler.request_status_report,
            policy=messaging.policy if messaging is not None else None,
        )
        self.messaging = messaging
        if messaging is not None:
            messaging.bind(self.submit)  # its own texts come through the same door
        self.janitor = janitor
        self.sim = sim
        self.http_runner: web.AppRunner | None = None
        self.http_url: str | None = None
        self.closing = False
        self._closed = asyncio.Event()

    # --- start ------------------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        settings: Settings,
        options: RuntimeOptions | None = None,
        *,
        specs: Sequence[PortSpec] | None = None,
    ) -> Gateway:
        """Start everything. `specs` replaces the configured modems (tests, benchmarks)."""
        options = options or RuntimeOptions()
        soft, _hard = raise_open_file_limit()
        if soft < 8 * (len(specs or settings.modems) + settings.sim.count) + 64:
            _LOG.warning("open file limit %d is low for this many modems", soft)
        store = await SqliteStore.open(
            settings.db_path, options=settings.store_options(), readers=options.store_readers
        )
        recovery = store.recovery
        log_event(
            _LOG, "store_open", path=str(settings.db_path), uncertain=len(recovery.uncertain),
            requeued=recovery.requeued, failed=recovery.failed,
        )
        sim: SimHandle | None = None
        scheduler: Scheduler | None = None
        pool: ModemPool | None = None
        janitor: ReassemblyJanitor | None = None
        messaging: Messaging | None = None
        lookups: LookupPool | None = None
        try:
            scheduler = Scheduler(
                store,
                settings.scheduler,
                router=Router.from_config(
                    settings.routing, prefer_on_net=settings.scheduler.prefer_on_net
                ),
            )
            scheduler.start()
            all_specs = list(specs) if specs is not None else port_specs(settings)
            if settings.sim.count:
                sim = await cls._start_sim(settings.sim.count, options.sim)
                limits = SimLimits.from_config(settings.sim.limits)
                all_specs += [
                    PortSpec(path=path, name=os.path.basename(path), group=settings.sim.group,
                             limits=limits)
                    for path in sim.paths
                ]
                log_event(_LOG, "sim_started", modems=len(sim.paths),
                          separate_process=options.sim.separate_process,
                          control=sim.control_url)
            if not all_specs:
                all_specs = [PortSpec(path=DEFAULT_GLOB)]
            pool = ModemPool(
                all_specs, scheduler=scheduler, store=store, options=options.pool,
            )
            janitor = ReassemblyJanitor(store, settings.inbound.reassembly_timeout_s)
            processes = settings.numbers.lookup_processes
            if processes is None:
                processes = auto_count()
            if processes:
                lookups = LookupPool(processes)  # spawned by the first big batch
            numbers = NumberService(policy_from_config(settings.numbers), store, lookups)
            messaging = Messaging(store, settings.messaging, numbers=numbers.policy,
                                  secret=secret_for_database(settings.db_path))
            # keyword handling (STOP/START/HELP) hears about an inbound message at its commit
            pool.inbound_listeners.append(messaging.notify_inbound)
            janitor.on_message = messaging.notify_inbound
            gateway = cls(
                settings, options, store=store, scheduler=scheduler, pool=pool,
                numbers=numbers, janitor=janitor, sim=sim, messaging=messaging,
            )
            await pool.start()
            janitor.start()
            messaging.start()
            if options.http:
                await gateway._start_http()
        except BaseException:
            if messaging is not None:
                await messaging.close()
            if pool is not None:
                await pool.close()
            if janitor is not None:
                await janitor.close()
            if scheduler is not None:
                await scheduler.close()
            if lookups is not None:
                await lookups.close()
            await store.close()
            if sim is not None:
                await sim.close()
            raise
        return gateway

    @staticmethod
    async def _start_sim(count: int, options: SimOptions) -> SimHandle:
        if options.separate_process:
            return await ChildSim.start(count, options)
        return await _InProcessSim.start(count, options)

    async def _start_http(self) -> None:
        server = self.settings.server
        runner = web.AppRunner(build_app(self), access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        context: ssl.SSLContext | None = None
        if server.tls_cert is not None and server.tls_key is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(server.tls_cert, server.tls_key)
        site = web.TCPSite(runner, server.host, server.port, ssl_context=context)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.http_runner = runner
        addresses = runner.addresses
        port = addresses[0][1] if addresses else server.port
        scheme = "https" if context else "http"
        host = server.host if ":" not in server.host else f"[{server.host}]"
        self.http_url = f"{scheme}://{host}:{port}"
        log_event(_LOG, "http_listening", url=self.http_url)

    # --- what the API uses ------------------------------------------------------------------------

    async def submit(self, messages: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        """Validate, plan, commit; each result is `Enqueued` or `Refused`, in order."""
        if self.closing:
            raise RuntimeError("the gateway is shutting down")
        return await self.submitter.submit(messages)

    def health_summary(self) -> dict[str, Any]:
        counts = self.pool.count_by_state()
        return {
            "ok": not self.closing,
            "status": "stopping" if self.closing else "running",
            "can_send": counts.get("ready", 0) > 0,
            "modems": counts,
            "recovered_uncertain": len(self.store.recovery.uncertain),
        }

    # --- stop -------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Graceful shutdown; safe to call twice."""
        if self.closing:
            await self._closed.wait()
            return
        self.closing = True
        try:
            if self.http_runner is not None:
                await self.http_runner.cleanup()  # no new submits; answers in progress finish
                self.http_runner = None
            self.scheduler.stop_claiming()
            self.pool.stop_claiming()
            grace = self.options.shutdown_grace
            if not await self.pool.wait_idle(grace):
                _LOG.warning(
                    "submits still in flight after %.0f s; they are filed as uncertain", grace
                )
            await self.pool.close()
            if self.messaging is not None:
                await self.messaging.close()
            await self.janitor.close()
            await self.scheduler.close()
            if self.numbers.workers is not None:
                await self.numbers.workers.close()
            await self.store.close()
            if self.sim is not None:
                await self.sim.close()
            log_event(_LOG, "stopped")
        finally:
            self._closed.set()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


__all__ = ["ChildSim", "Gateway", "RuntimeOptions", "SimHandle", "SimOptions", "port_specs"]
