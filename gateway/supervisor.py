"""One supervisor per modem port: opens it, keeps it healthy, and repairs or retires it.

The supervisor owns the port's `Modem` and the two tasks that use it while a session lasts (the
send worker and the inbound handler). Its state is explicit (`SupervisorState`) and only a
`ready` modem is offered work, so the scheduler never waits on a sick one.

Trouble climbs a ladder, one rung per incident until the modem has been stable for a while:
probe (one health poll), `AT+CFUN=1,1` (`Modem.reset`), reopen the port, then quarantine with a
capped, doubling backoff. A hang enters at the probe; a modem-class send error at the reset (the
modem answered, so probing proves nothing); a SIM-class error goes straight to quarantine (a
reset does not fix a barred SIM). A port whose device path vanishes is `gone`; when a path
appears again the pool starts a new supervisor, and the IMEI tells whether it is the same modem.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from drivers.errors import (
    CommandTimeout,
    ConnectionLost,
    ErrorClass,
    ModemError,
    SimNotReady,
)
from drivers.events import (
    ConnectionLostEvent,
    MessageReceived,
    MessageStored,
    ModemEvent,
    ModemRebooted,
    RegistrationChanged,
    ServiceReady,
    SimStateChanged,
    StatusReportReceived,
    StatusReportStored,
    StorageFull,
)
from drivers.models import ModemHealth, ModemIdentity
from drivers.modem import Modem, ModemState
from gateway.inbound import InboundHandler
from gateway.logging import log_event
from gateway.modem_status import (
    ModemCounters,
    ModemStatus,
    PoolOptions,
    PortSpec,
    StateChange,
    SupervisorState,
)
from gateway.ports import open_modem
from gateway.scheduler import ModemInfo, Scheduler
from gateway.store.models import InboundMessage
from gateway.tasks import cancel_and_wait
from gateway.worker import Worker

if TYPE_CHECKING:
    from gateway.store.protocol import Store

_LOG = logging.getLogger(__name__)

HISTORY = 32  # state changes kept per supervisor for the status page
ModemOpener = Callable[[str, str, PoolOptions, int], Awaitable[Modem]]


class DuplicatePortError(Exception):
    """This port answers with the IMEI of a modem another live port already drives."""

    def __init__(self, modem_id: str) -> None:
        super().__init__(f"second port of modem {modem_id}")
        self.modem_id = modem_id


@dataclass(slots=True)
class ModemRecord:
    """What the pool remembers about one modem (by IMEI) across re-plugs and port changes."""

    modem_id: str
    identity: ModemIdentity
    counters: ModemCounters
    path: str
    supervisor: ModemSupervisor | None = None
    quarantine_level: int = 0
    paused: bool = False  # an operator's pause outlives a re-plug


class PoolHooks(Protocol):
    """What a supervisor asks of its pool."""

    def identify(self, supervisor: ModemSupervisor, identity: ModemIdentity) -> ModemRecord: ...

    def supervisor_finished(self, supervisor: ModemSupervisor) -> None: ...

    def inbound_message(self, message: InboundMessage) -> None: ...


class _End(enum.Enum):
    """Why a session ended (a stop cancels it instead: see `stop`)."""

    LOST = "lost"
    REOPEN = "reopen"
    QUARANTINE = "quarantine"


@dataclass(frozen=True, slots=True)
class _Trouble:
    rung: int  # 0 probe, 1 reset, 2 reopen, 3 quarantine
    reason: str
    soft: bool = False  # a SIM/account error: stop sending, keep the port open for inbound
    exact: bool = False  # an operator's request: this rung, not the next one up the ladder


_PROBE, _RESET, _REOPEN, _QUARANTINE = range(4)


class ModemSupervisor:
    def __init__(
        self,
        path: str,
        spec: PortSpec,
        *,
        pool: PoolHooks,
        scheduler: Scheduler,
        store: Store,
        options: PoolOptions,
        opener: ModemOpener = open_modem,
    ) -> None:
        self.path = path
        self.spec = spec
        self.options = options
        self._pool = pool
        self.scheduler = scheduler
        self.store = store
        self._opener = opener
        self.state = SupervisorState.PROBING
        self.since = datetime.now(UTC)
        self.history: deque[StateChange] = deque(maxlen=HISTORY)
        self.record: ModemRecord | None = None
        self.health: ModemHealth | None = None
        self.last_error: str | None = None
        self.quarantined_until: datetime | None = None
        self.duplicate_of: str | None = None
        self.modem: Modem | None = None
        self.port_lock = asyncio.Lock()  # one job or one health poll / repair at a time
        self.claimable = asyncio.Event()
        self._counters_unidentified = ModemCounters()
        self._wakeup = asyncio.Event()
        self._trouble: _Trouble | None = None
        self._lost = False
        self._stopping = False
        self.paused = False  # an operator's pause: no new jobs; inbound and polls go on
        self._poll_soon = False
        self._degraded_since: float | None = None
        self._ready_since: float | None = None
        self._rung = 0  # the next rung of the escalation ladder
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._session_tasks: set[asyncio.Task[Any]] = set()
        self._worker: Worker | None = None
        self._inbound: InboundHandler | None = None

    # --- identity and views ----------------------------------------------------------------------

    @property
    def modem_id(self) -> str | None:
        return self.record.modem_id if self.record is not None else None

    @property
    def identity(self) -> ModemIdentity | None:
        return self.record.identity if self.record is not None else None

    @property
    def counters(self) -> ModemCounters:
        return self.record.counters if self.record is not None else self._counters_unidentified

    @property
    def label(self) -> str:
        return self.modem_id or self.spec.name or os.path.basename(self.path)

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def modem_info(self) -> ModemInfo:
        assert self.record is not None
        operator = self.health.operator_name if self.health is not None else None
        return ModemInfo(
            modem_id=self.record.modem_id,
            group=self.spec.group,
            operator=operator,
            limits=self.spec.limits,
        )

    def status(self) -> ModemStatus:
        return ModemStatus(
            modem_id=self.modem_id,
            path=self.path,
            state=self.state,
            since=self.since,
            identity=self.identity,
            health=self.health,
            counters=self.counters.as_dict(),
            last_error=self.last_error,
            group=self.spec.group,
            quarantined_until=self.quarantined_until,
            history=tuple(self.history),
        )

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"supervisor:{self.path}"
            )

    def stop_claiming(self) -> None:
        """Graceful shutdown, step one: finish the job in hand, take no new one."""
        self._stopping = True
        self.claimable.clear()
        if self._worker is not None:
            self._worker.stop()

    async def wait_idle(self, within: float) -> bool:
        """Wait (bounded) until no job is in flight; False if one still is."""
        worker = self._worker
        if worker is None:
            return True
        return await worker.wait_finished(within)

    async def stop(self) -> None:
        self.stop_claiming()
        self._wakeup.set()
        task = self._task
        if task is not None and not task.done():
            await cancel_and_wait(task)
        await self._end_session()

    # --- operator actions ----------------------------------------------------------------

    def pause(self) -> bool:
        """Take no new job (the one in flight finishes); inbound and health polls go on."""
        if self._stopping:
            return False
        if self.record is not None:
            self.record.paused = True
        if not self.paused:
            self.paused = True
            self.claimable.clear()
            self._note("paused by operator")
            if self.record is not None:
                self.scheduler.modem_down(self.record.modem_id, "paused")
        return True

    def resume(self) -> bool:
        """Claim jobs again (once the modem is ready)."""
        if self._stopping:
            return False
        if self.record is not None:
            self.record.paused = False
        if self.paused:
            self.paused = False
            self._note("resumed by operator")
            if self.state is SupervisorState.READY and self._trouble is None:
                self.claimable.set()
        return True

    def reset(self) -> bool:
        """`AT+CFUN=1,1` and re-initialisation now, as the escalation ladder's reset rung does;
        False when there is no open session to reset (quarantined, gone, stopping)."""
        if self._stopping or self.modem is None or self._lost:
            return False
        self.claimable.clear()
        if self.record is not None:
            self.scheduler.modem_down(self.record.modem_id, "reset requested")
        if self._trouble is None or self._trouble.rung < _RESET:
            self._trouble = _Trouble(_RESET, "reset requested by operator", exact=True)
        self._wakeup.set()
        return True

    def _note(self, reason: str) -> None:
        """A history line for an operator action that leaves the state as it is."""
        self.history.append(StateChange(datetime.now(UTC), self.state, reason))
        log_event(_LOG, "modem_action", modem=self.label, path=self.path, action=reason)

    def wake(self) -> None:
        """Try again now (a duplicate port whose twin went away; a test)."""
        self.quarantined_until = None
        self._wakeup.set()

    # --- what the worker and the modem tell us ---------------------------------------------

    def report_trouble(self, error_class: ErrorClass | str, detail: str) -> None:
        """The worker hit an error that says something about the SIM or the modem."""
        cls = ErrorClass(error_class)
        if cls is ErrorClass.SIM:
            self._flag_trouble(_QUARANTINE, f"SIM error: {detail}", soft=True)
        elif cls is ErrorClass.MODEM:
            self._flag_trouble(_RESET, f"modem error: {detail}")

    def report_hang(self, detail: str) -> None:
        """A command went unanswered (no `+CMGS` after Ctrl-Z, no prompt, a timeout)."""
        self._flag_trouble(_PROBE, f"no answer: {detail}")

    def _flag_trouble(self, rung: int, reason: str, *, soft: bool = False) -> None:
        self.claimable.clear()
        if self.record is not None:
            self.scheduler.modem_down(self.record.modem_id, reason)
        if self._trouble is None or rung > self._trouble.rung:
            self._trouble = _Trouble(rung, reason, soft)
        self._wakeup.set()

    def _on_event(self, event: ModemEvent) -> None:
        inbound = self._inbound
        if isinstance(
            event, MessageStored | MessageReceived | StatusReportReceived | StatusReportStored
        ):
            if inbound is not None:
                inbound.on_event(event)
        elif isinstance(event, StorageFull):
            if inbound is not None:
                inbound.request_drain()
        elif isinstance(event, ConnectionLostEvent):
            self._lost = True
            self.claimable.clear()
            self._wakeup.set()
        elif isinstance(event, ModemRebooted):
            # the driver re-initialises by itself; stop sending until a poll sees it ready
            self._degrade(f"modem rebooted ({event.banner})")
            self._poll_soon = True
            self._wakeup.set()
        elif isinstance(event, RegistrationChanged):
            if not event.registered and self.state is SupervisorState.READY:
                self._degrade(f"network registration lost (stat {event.stat})")
            self._poll_soon = True
            self._wakeup.set()
        elif isinstance(event, SimStateChanged | ServiceReady):
            self._poll_soon = True
            self._wakeup.set()
            if isinstance(event, ServiceReady) and inbound is not None:
                inbound.request_drain()

    # --- state -----------------------------------------------------------------------------------

    def _set(self, state: SupervisorState, reason: str | None = None) -> None:
        last = self.history[-1] if self.history else None
        step = state is SupervisorState.RESETTING and last is not None and last.reason != reason
        if state is not self.state or step:
            previous = self.state
            self.state = state
            self.since = datetime.now(UTC)
            self.history.append(StateChange(self.since, state, reason))
            level = logging.WARNING if state in (
                SupervisorState.QUARANTINED, SupervisorState.GONE, SupervisorState.RESETTING
            ) else logging.INFO
            log_event(
                _LOG, "modem_state", level=level, modem=self.label, path=self.path,
                state=state.value, previous=previous.value, reason=reason,
            )
        if reason is not None and state is not SupervisorState.READY:
            self.last_error = reason
        if state is SupervisorState.READY:
            self._degraded_since = None
            if self._ready_since is None:
                self._ready_since = time.monotonic()
            if not self._stopping and self._trouble is None and not self.paused:
                self.claimable.set()
        else:
            self._ready_since = None
            self.claimable.clear()
            if self.record is not None:
                self.scheduler.modem_down(self.record.modem_id, reason or state.value)

    def _degrade(self, reason: str) -> None:
        if self.state in (SupervisorState.READY, SupervisorState.DEGRADED):
            if self._degraded_since is None:
                self._degraded_since = time.monotonic()
            self._set(SupervisorState.DEGRADED, reason)

    # --- the main loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while not self._stopping:
                if not _present(self.path):
                    self._set(SupervisorState.GONE, "device path vanished")
                    return
                self._set(SupervisorState.PROBING)
                try:
                    async with asyncio.timeout(self.options.open_timeout):
                        modem, health = await self._open_session()
                except DuplicatePortError as exc:
                    self.duplicate_of = exc.modem_id
                    await self._quarantine(f"duplicate port of {exc.modem_id}", park=True)
                    continue
                except SimNotReady as exc:
                    await self._quarantine(str(exc))
                    continue
                except (ModemError, OSError, TimeoutError) as exc:
                    if not _present(self.path):
                        self._set(SupervisorState.GONE, f"device path vanished ({exc})")
                        return
                    await self._quarantine(f"cannot open or initialise: {_describe(exc)}")
                    continue
                end = await self._serve(modem, health)
                await self._end_session()
                if end is _End.QUARANTINE:
                    reason = self.last_error or "repair failed"
                    await self._quarantine(reason)
                elif end in (_End.LOST, _End.REOPEN):
                    if end is _End.LOST:
                        self.counters.connection_losses += 1
                    else:
                        self.counters.reopens += 1
                    await asyncio.sleep(self.options.reopen_delay)
        finally:
            self.claimable.clear()
            if self.record is not None:
                self.scheduler.modem_down(self.record.modem_id, "supervisor stopped")
            if self.state is not SupervisorState.GONE and not self._stopping:
                self._set(SupervisorState.GONE, "supervisor ended")
            self._pool.supervisor_finished(self)

    async def _open_session(self) -> tuple[Modem, ModemHealth]:
        self._lost = False
        modem = await self._opener(self.path, self.label, self.options, self.spec.baudrate)
        try:
            unsubscribe = modem.subscribe(self._on_event)
            identity = await modem.initialize()
            self.record = self._pool.identify(self, identity)
            if self.record.paused:
                self.paused = True
            self.duplicate_of = None
            health = await modem.health()
        except BaseException:
            await modem.close()
            raise
        self.modem = modem
        self._unsubscribe = unsubscribe
        log_event(
            _LOG, "modem_identified", modem=self.label, path=self.path,
            model=f"{identity.manufacturer} {identity.model}".strip(), dialect=identity.dialect,
            operator=health.operator_name, registered=health.registered,
            signal_dbm=health.signal_dbm,
        )
        return modem, health

    async def _serve(self, modem: Modem, health: ModemHealth) -> _End:
        """One session on an open, initialised modem, until it must end."""
        assert self.record is not None
        self._inbound = InboundHandler(
            self.record.modem_id, modem, store=self.store, scheduler=self.scheduler,
            counters=self.counters, on_message=self._pool.inbound_message,
        )
        self._worker = Worker(self, modem, self.scheduler,
                              metrics=getattr(self._pool, "metrics", None))
        if self._stopping:
            self._worker.stop()
        self._spawn(self._inbound.run(), "inbound")
        self._spawn(self._worker.run(), "worker")
        self._inbound.request_drain()  # whatever arrived while we were away
        self._apply_health(health)
        next_poll = time.monotonic() + self._poll_interval()
        # a graceful stop only stops claiming: the session (and the submit in flight) goes on
        # until `stop` cancels it
        while True:
            if self._lost:
                return _End.LOST
            if self._trouble is not None:
                end = await self._escalate(modem)
                if end is not None:
                    return end
                next_poll = time.monotonic() + self._poll_interval()
                continue
            now = time.monotonic()
            if self._poll_soon or now >= next_poll:
                self._poll_soon = False
                until = self.quarantined_until
                if until is None or datetime.now(UTC) >= until:
                    # (during a soft quarantine for a SIM error the session stays open for
                    # inbound, and polls wait until the quarantine is over)
                    self.quarantined_until = None
                    await self._poll(modem)
                self._check_stable()
                next_poll = time.monotonic() + self._poll_interval()
                continue
            self._wakeup.clear()
            wait = max(0.0, next_poll - now)
            if self.quarantined_until is not None:
                left = (self.quarantined_until - datetime.now(UTC)).total_seconds()
                wait = min(wait, max(left, 0.0))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wakeup.wait()

    def _poll_interval(self) -> float:
        if self.state is SupervisorState.READY:
            return self.options.health_interval
        return self.options.degraded_poll

    async def _poll(self, modem: Modem) -> None:
        self.counters.health_polls += 1
        try:
            async with self.port_lock:
                health = await modem.health()
        except ConnectionLost:
            self._lost = True
            return
        except (CommandTimeout, ModemError) as exc:
            self.counters.health_failures += 1
            self._flag_trouble(_PROBE, f"health poll failed: {_describe(exc)}")
            return
        self._apply_health(health)

    def _apply_health(self, health: ModemHealth) -> None:
        self.health = health
        modem = self.modem
        if modem is not None and modem.state is ModemState.NOT_READY:
            # the driver's re-initialisation after a reboot failed (a PIN, a dead SIM stack):
            # close the port, back off, and let a fresh open say what is wrong
            self._flag_trouble(_QUARANTINE, f"re-initialisation failed (SIM {health.sim_state})")
            return
        if modem is not None and not modem.ready:
            self._degrade("modem re-initialising")
        elif not health.sim_ready:
            self._degrade(f"SIM {health.sim_state}")
        elif not health.registered:
            self._degrade(f"not registered (stat {health.registration})")
        elif self.quarantined_until is None:
            self._set(SupervisorState.READY)
        if (
            health.storage_used
            and self._inbound is not None
            and not self._inbound.busy
        ):
            self._inbound.request_drain()
        if (
            self.state is SupervisorState.DEGRADED
            and self._degraded_since is not None
            and time.monotonic() - self._degraded_since > self.options.degraded_reset_after
            and self._trouble is None
        ):
            self._degraded_since = time.monotonic()
            self._flag_trouble(_RESET, f"degraded for too long: {self.last_error}")

    def _check_stable(self) -> None:
        if (
            self._ready_since is not None
            and time.monotonic() - self._ready_since >= self.options.stable_after
        ):
            self._rung = 0
            if self.record is not None:
                self.record.quarantine_level = 0

    # --- escalation -------------------------------------------------------------------------------

    async def _escalate(self, modem: Modem) -> _End | None:
        trouble = self._trouble
        assert trouble is not None
        rung = trouble.rung if trouble.exact else max(trouble.rung, self._rung)
        if not trouble.exact:
            self._rung = rung + 1
        self.last_error = trouble.reason
        if trouble.soft:
            # a SIM/account error: the modem is fine, keep receiving on it, stop sending
            self._trouble = None
            self._rung = rung
            self._soft_quarantine(trouble.reason)
            return None
        if rung >= _QUARANTINE:
            self._trouble = None
            return _End.QUARANTINE
        if rung == _REOPEN:
            self._trouble = None
            self._set(SupervisorState.RESETTING, f"reopening port: {trouble.reason}")
            return _End.REOPEN
        if rung == _PROBE:
            self._set(SupervisorState.RESETTING, f"probing: {trouble.reason}")
            self.counters.probes += 1
            self._trouble = None
            await self._poll(modem)
            if self._trouble is not None or self._lost:
                return None  # the probe failed: the loop climbs on
            if self.state is SupervisorState.RESETTING:
                self._set(SupervisorState.DEGRADED, "probe answered; waiting for health")
            return None
        # reset: drain storage first (a full SIM is one modem-class error a reset won't cure)
        self._set(SupervisorState.RESETTING, f"resetting (AT+CFUN=1,1): {trouble.reason}")
        self.counters.resets += 1
        self._trouble = None
        if self._inbound is not None:
            self._inbound.request_drain()
        log_event(_LOG, "modem_reset", level=logging.WARNING, modem=self.label,
                  reason=trouble.reason)
        try:
            async with self.port_lock, asyncio.timeout(self.options.repair_timeout):
                await modem.reset()
                health = await modem.health()
        except ConnectionLost:
            # real modems often re-enumerate on reset: the pool finds the new port by IMEI
            return _End.LOST
        except (ModemError, TimeoutError) as exc:
            self._flag_trouble(_REOPEN, f"reset failed: {_describe(exc)}")
            return None
        self._set(SupervisorState.PROBING, "reset done")
        self._apply_health(health)
        return None

    def _soft_quarantine(self, reason: str) -> None:
        delay = self._next_backoff()
        self.quarantined_until = datetime.now(UTC) + timedelta(seconds=delay)
        self.counters.quarantines += 1
        self._set(SupervisorState.QUARANTINED, f"{reason}; back in {delay:g} s")

    def _next_backoff(self) -> float:
        level = self.record.quarantine_level if self.record is not None else 0
        if self.record is not None:
            self.record.quarantine_level += 1
        return float(min(self.options.quarantine_initial * 2**level, self.options.quarantine_max))

    async def _quarantine(self, reason: str, *, park: bool = False) -> None:
        """Port closed, out of service for a backoff period; then probing starts over."""
        delay = self.options.quarantine_max if park else self._next_backoff()
        self.counters.quarantines += 0 if park else 1
        self.quarantined_until = datetime.now(UTC) + timedelta(seconds=delay)
        self._set(SupervisorState.QUARANTINED, f"{reason}; retry in {delay:g} s")
        self._rung = _REOPEN  # after a quarantine, the next incident quarantines again sooner
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                while self.quarantined_until is not None:
                    await self._wakeup.wait()
                    self._wakeup.clear()
                    if self._stopping:
                        return
        self.quarantined_until = None

    # --- session bookkeeping ---------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[Any], what: str) -> None:
        async def run() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOG.exception("%s: %s task failed", self.label, what)
                self._lost = True  # end the session; the loop reopens
                self._wakeup.set()

        task = asyncio.get_running_loop().create_task(run(), name=f"{what}:{self.label}")
        self._session_tasks.add(task)
        task.add_done_callback(self._session_tasks.discard)

    async def _end_session(self) -> None:
        self.claimable.clear()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()
        tasks = list(self._session_tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._inbound = None
        modem, self.modem = self.modem, None
        self._trouble = None
        if modem is not None:
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None
            await modem.close()


def _present(path: str) -> bool:
    """One stat of a device node or symlink: cheap enough for the event loop."""
    return os.path.exists(path)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = [
    "DuplicatePortError",
    "ModemOpener",
    "ModemRecord",
    "ModemSupervisor",
    "PoolHooks",
    "open_modem",
]
