"""The health monitor: one task that samples the modem pool and follows the store's feeds.

Every `tick_s` it
1. reads new message transitions (traffic per minute, per-modem error rate and submit latency,
   recent failures) and new inbound messages;
2. takes each modem's status from the pool (the supervisor's last health poll, its state and
   counters) and turns it into a `Reading`: the alert evaluator says which alerts are raised or
   recovered; a history row is kept about once a minute per modem (and on each state change);
3. writes the rows, the alert changes and their `modem.health` webhooks in one transaction,
   and logs each change;
4. asks a SIM its balance by USSD when its scheduled check is due;
5. prunes history past its retention, once an hour.

Sampling the pool rather than being called by each supervisor keeps the supervisor free of
health bookkeeping, and also sees what no health poll reports (a quarantine, a port that is
gone). What it keeps in memory is bounded: the last hour of traffic, the sparkline window,
the last few failures and inbound messages, and a ring of recent events for `smsgw tail`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from drivers.errors import ModemError
from gateway.logging import log_event
from gateway.modem_status import ModemStatus
from gateway.sim_limits import day_key
from gateway.store.errors import StoreClosedError
from gateway.store.models import InboundMessage, Transition
from gateway.store.rows import to_ms
from gateway.store.sqlite_api import fanout_endpoints
from gateway.store.thread import UnitOfWork
from gateway.webhooks.events import health_builder

from . import history
from .alerts import Alert, AlertChange, AlertEvaluator, Reading
from .config import HealthConfig
from .history import BalanceRecord, QueueFigures, Sample
from .traffic import Traffic
from .ussd import balance_code, parse_balance

if TYPE_CHECKING:
    from gateway.supervisor import ModemSupervisor

_LOG = logging.getLogger(__name__)
T = TypeVar("T")

FEED_BATCH = 250  # each batch is handled in one go on the loop: small, so no request waits long
FEED_BATCHES_PER_TICK = 400  # 100,000 a tick (50,000/s): above the batch API's ~30,000/s
BACKFILL_MOST = 50_000  # transitions of the last hour read at start, at most
INBOUND_KEPT = 20
EVENTS_KEPT = 2000
PRUNE_EVERY = timedelta(hours=1)
QUEUE_CACHE_S = 1.0


def utcnow() -> datetime:
    return datetime.now(UTC)


class MonitorStore(Protocol):
    async def run_in_writer(self, fn: UnitOfWork[T]) -> T: ...

    async def run_in_reader(self, fn: UnitOfWork[T]) -> T: ...

    async def transitions_since(self, after_id: int, limit: int = 500) -> list[Transition]: ...


class PoolView(Protocol):
    def statuses(self) -> list[ModemStatus]: ...

    def supervisor(self, modem_id: str) -> ModemSupervisor | None: ...


class BalanceUnavailableError(Exception):
    """This SIM cannot be asked now (no code configured, modem not connected)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One line of `smsgw tail`: `type` is message.status, message.inbound, modem.state,
    modem.alert or modem.balance."""

    seq: int
    at: datetime
    type: str
    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at.isoformat(timespec="milliseconds"),
                "type": self.type, "data": self.data}


class HealthMonitor:
    def __init__(
        self,
        store: MonitorStore,
        pool: PoolView,
        config: HealthConfig | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.pool = pool
        self.config = config or HealthConfig()
        self._clock = clock
        self.alerts = AlertEvaluator(self.config.alerts)
        self.traffic = Traffic(error_window=timedelta(seconds=self.config.alerts.error_window_s))
        self.inbound: deque[InboundMessage] = deque(maxlen=INBOUND_KEPT)
        self.last_inbound: dict[str, datetime] = {}
        self.balances: dict[str, BalanceRecord] = {}  # latest answer (or failure) per modem
        self.amounts: dict[str, BalanceRecord] = {}  # latest answer with an amount per modem
        self._spark: dict[str, deque[tuple[datetime, int]]] = {}
        self._written: dict[str, tuple[datetime, str]] = {}  # last history row: when, state
        self._state_seen: dict[str, datetime] = {}  # newest state change announced per modem
        self._started_at = clock()
        self._events: deque[Event] = deque(maxlen=EVENTS_KEPT)
        self._event_seq = 0
        self._cursor = 0
        self._inbound_seq = 0
        self._queue: tuple[float, QueueFigures] | None = None
        self._ussd_locks: dict[str, asyncio.Lock] = {}
        self._next_prune: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._checks: set[asyncio.Task[Any]] = set()
        self._started = False

    # --- lifecycle ------------------------------------------------------------------------------

    async def load(self) -> None:
        """Pick up where the last run left: open alerts, balances, the sparkline window, the
        last hour of transitions and the newest inbound messages."""
        now = self._clock()
        spark_from = now - timedelta(hours=self.config.sparkline_hours)
        traffic_from = now - timedelta(hours=1)

        def unit(conn: Any) -> tuple[Any, ...]:
            return (
                history.open_alerts(conn),
                history.latest_balances(conn),
                history.signal_since(conn, spark_from),
                history.transition_cursor(conn, traffic_from, BACKFILL_MOST),
                history.recent_inbound(conn, INBOUND_KEPT),
            )

        alerts, (latest, amounts), signal, cursor, inbound = await self.store.run_in_reader(unit)
        self.alerts.restore(alerts)
        self.balances = {b.modem_id: b for b in latest}
        self.amounts = {b.modem_id: b for b in amounts}
        for modem_id, at, dbm in signal:
            self._spark.setdefault(modem_id, deque()).append((at, dbm))
        self._cursor = cursor
        while await self._follow_transitions(announce=False):
            pass
        for seq, message in inbound:
            self._add_inbound(seq, message, announce=False)
        self._started = True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="health")

    async def close(self) -> None:
        tasks = [t for t in (self._task, *self._checks) if t is not None]
        self._task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self) -> None:
        if not self._started:
            await self.load()
        while True:
            try:
                await self.tick()
            except StoreClosedError:
                return
            except Exception:  # a bug or a full disk: keep the gateway, try again next tick
                _LOG.exception("health tick failed")
            await asyncio.sleep(self.config.tick_s)

    # --- one pass -------------------------------------------------------------------------------

    async def tick(self) -> list[AlertChange]:
        """Follow the feeds, sample every modem, persist and announce; returns alert changes."""
        await self._follow_transitions(announce=True)
        for _ in range(FEED_BATCHES_PER_TICK):
            batch = await self.store.run_in_reader(
                partial(history.inbound_after, seq=self._inbound_seq, limit=FEED_BATCH)
            )
            for seq, message in batch:
                self._add_inbound(seq, message, announce=True)
            if len(batch) < FEED_BATCH:
                break
        now = self._clock()
        samples: list[Sample] = []
        changes: list[AlertChange] = []
        states: dict[str, str] = {}
        for status in self.pool.statuses():
            modem_id = status.modem_id
            if modem_id is None:
                continue
            states[modem_id] = status.state.value
            self._announce_states(status)
            changes += self.alerts.update(self._reading(status, now), now)
            sample = self._sample_due(status, now)
            if sample is not None:
                samples.append(sample)
        if samples or changes:
            await self.store.run_in_writer(self._persist(samples, changes, states, now))
        for change in changes:
            self._log_change(change)
        self._schedule_balances(now)
        if self._next_prune is None or now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY
            before = now - timedelta(hours=self.config.retention_hours)
            removed = await self.store.run_in_writer(lambda c: history.prune(c, before))
            if any(removed.values()):
                log_event(_LOG, "health_prune", level=logging.DEBUG, **removed)
        return changes

    async def _follow_transitions(self, *, announce: bool) -> bool:
        """Read up to `FEED_BATCHES_PER_TICK` batches; True when more are waiting."""
        for _ in range(FEED_BATCHES_PER_TICK):
            batch = await self.store.transitions_since(self._cursor, FEED_BATCH)
            if not batch:
                return False
            self.traffic.ingest(batch)
            self._cursor = batch[-1].id
            if announce:
                for t in batch:
                    self._announce("message.status", {
                        "id": t.message_id, "status": t.to_status.value,
                        "previous": t.from_status.value if t.from_status else None,
                        "modem_id": t.modem_id, "error_class": t.error_class,
                        "detail": t.detail,
                    }, at=t.at)
            if len(batch) < FEED_BATCH:
                return False
        return True

    def _announce_states(self, status: ModemStatus) -> None:
        """Each state change since the last look, from the supervisor's recent history (a short
        dip between two ticks is not missed)."""
        assert status.modem_id is not None
        seen = self._state_seen.get(status.modem_id, self._started_at)
        changes = list(status.history)
        for index, change in enumerate(changes):
            if change.at <= seen:
                continue
            self._announce("modem.state", {
                "modem_id": status.modem_id, "state": change.state.value,
                "previous": changes[index - 1].state.value if index else None,
                "reason": change.reason,
            }, at=change.at)
            self._state_seen[status.modem_id] = change.at

    def _add_inbound(self, seq: int, message: InboundMessage, *, announce: bool) -> None:
        self._inbound_seq = max(self._inbound_seq, seq)
        self.inbound.appendleft(message)
        last = self.last_inbound.get(message.modem_id)
        if last is None or message.received_at > last:
            self.last_inbound[message.modem_id] = message.received_at
        if announce:
            self._announce("message.inbound", {
                "id": message.id, "modem_id": message.modem_id, "from": message.sender,
                "text": message.text, "complete": message.complete,
            }, at=message.received_at)

    def _reading(self, status: ModemStatus, now: datetime) -> Reading:
        assert status.modem_id is not None
        health = status.health
        figures = self.traffic.modem(status.modem_id, now)
        amount = self.amounts.get(status.modem_id)
        return Reading(
            modem_id=status.modem_id,
            state=status.state.value,
            sim_state=str(health.sim_state) if health else None,
            registration=health.registration if health else None,
            signal_dbm=health.signal_dbm if health else None,
            storage_used=health.storage_used if health else None,
            storage_total=health.storage_total if health else None,
            balance=amount.amount if amount else None,
            attempts=figures.attempts,
            errors=figures.errors,
        )

    def _sample_due(self, status: ModemStatus, now: datetime) -> Sample | None:
        assert status.modem_id is not None
        state = status.state.value
        last = self._written.get(status.modem_id)
        interval = timedelta(seconds=self.config.history_interval_s)
        if last is not None and now - last[0] < interval and last[1] == state:
            return None
        self._written[status.modem_id] = (now, state)
        health = status.health
        current = health is not None and state in ("ready", "degraded")
        sample = Sample(
            modem_id=status.modem_id,
            at=now,
            state=state,
            sim_state=str(health.sim_state) if health else None,
            registration=health.registration if health else None,
            operator=health.operator_name if health else None,
            signal_dbm=health.signal_dbm if health and current else None,
            storage_used=health.storage_used if health else None,
            storage_total=health.storage_total if health else None,
        )
        if sample.signal_dbm is not None:
            kept = self._spark.setdefault(status.modem_id, deque())
            kept.append((now, sample.signal_dbm))
            horizon = now - timedelta(hours=self.config.sparkline_hours)
            while kept and kept[0][0] < horizon:
                kept.popleft()
        return sample

    def _persist(self, samples: Sequence[Sample], changes: Sequence[AlertChange],
                 states: dict[str, str], now: datetime) -> UnitOfWork[None]:
        events = [_webhook(c, states.get(c.alert.modem_id)) for c in changes]

        def unit(conn: Any) -> None:
            history.record(conn, samples, changes)
            if events:
                fanout_endpoints(conn, health_builder(events), to_ms(now))

        return unit

    def _log_change(self, change: AlertChange) -> None:
        alert = change.alert
        if change.raised:
            log_event(_LOG, "health_alert", level=logging.WARNING, modem=alert.modem_id,
                      alert=alert.kind.value, value=alert.value, threshold=alert.threshold,
                      detail=alert.detail)
        else:
            log_event(_LOG, "health_recovered", modem=alert.modem_id, alert=alert.kind.value,
                      since=alert.raised_at.isoformat(timespec="seconds"))
        self._announce("modem.alert", {
            "modem_id": alert.modem_id, "kind": alert.kind.value,
            "status": "raised" if change.raised else "recovered", "detail": alert.detail,
        }, at=change.at)

    def _announce(self, kind: str, data: dict[str, Any], at: datetime | None = None) -> None:
        self._event_seq += 1
        self._events.append(Event(self._event_seq, at or self._clock(), kind, data))

    # --- reads for the API and the status page ----------------------------------------------

    def now(self) -> datetime:
        return self._clock()

    def events_after(self, seq: int, limit: int = 200) -> tuple[list[Event], int, int]:
        """(events after `seq`, the newest seq, how many were already dropped from the ring)."""
        kept = self._events
        oldest = kept[0].seq if kept else self._event_seq + 1
        missed = max(0, oldest - seq - 1) if seq < self._event_seq else 0
        out = [e for e in kept if e.seq > seq][:limit]
        return out, self._event_seq, missed

    def sparkline(self, modem_id: str, now: datetime, points: int = 120) -> list[int | None]:
        """The sparkline window in `points` buckets (mean dBm, None where nothing was seen)."""
        window = timedelta(hours=self.config.sparkline_hours)
        start = now - window
        sums = [0] * points
        counts = [0] * points
        for at, dbm in self._spark.get(modem_id, ()):
            index = int((at - start) / window * points)
            if 0 <= index < points:
                sums[index] += dbm
                counts[index] += 1
        return [round(s / c) if c else None for s, c in zip(sums, counts, strict=True)]

    async def queue_figures(self) -> QueueFigures:
        """Queue depth per lane and pool and SIM usage today, shared for a second between
        viewers of the status page."""
        loop = asyncio.get_running_loop()
        cached = self._queue
        if cached is not None and loop.time() - cached[0] < QUEUE_CACHE_S:
            return cached[1]
        day = day_key(self._clock())
        figures = await self.store.run_in_reader(lambda c: history.queue_figures(c, day))
        self._queue = (loop.time(), figures)
        return figures

    async def history(self, modem_id: str, hours: float, limit: int = 2000) -> list[Sample]:
        since = self._clock() - timedelta(hours=hours)
        return await self.store.run_in_reader(
            lambda c: history.samples(c, modem_id, since, limit)
        )

    def active_alerts(self, modem_id: str | None = None) -> list[Alert]:
        return self.alerts.active if modem_id is None else self.alerts.active_for(modem_id)

    # --- balance --------------------------------------------------------------------------------

    def _code_for(self, supervisor: ModemSupervisor, modem_id: str) -> str | None:
        identity = supervisor.identity
        health = supervisor.health
        return balance_code(
            self.config.balance,
            modem_id=modem_id,
            iccid=identity.iccid if identity else None,
            operator_numeric=health.operator_numeric if health else None,
            operator_name=health.operator_name if health else None,
        )

    async def check_balance(self, modem_id: str) -> BalanceRecord:
        """Ask this SIM its balance now. A failed attempt is recorded (and returned) with its
        error; a SIM that cannot be asked raises BalanceUnavailableError."""
        supervisor = self.pool.supervisor(modem_id)
        if supervisor is None:
            raise BalanceUnavailableError(f"modem {modem_id} is not connected")
        code = self._code_for(supervisor, modem_id)
        if code is None:
            raise BalanceUnavailableError(
                f"no USSD balance code for {modem_id}: set [health.balance] codes or default_code"
            )
        lock = self._ussd_locks.setdefault(modem_id, asyncio.Lock())
        async with lock:
            record = await self._ask(supervisor, modem_id, code)
        await self.store.run_in_writer(lambda c: history.insert_balance(c, record))
        self.balances[modem_id] = record
        if record.amount is not None:
            self.amounts[modem_id] = record
        log_event(_LOG, "balance_checked", level=logging.INFO if record.error is None
                  else logging.WARNING, modem=modem_id,
                  amount=None if record.amount is None else str(record.amount),
                  currency=record.currency, error=record.error)
        self._announce("modem.balance", record.as_json())
        return record

    async def _ask(self, supervisor: ModemSupervisor, modem_id: str, code: str
                   ) -> BalanceRecord:
        identity = supervisor.identity
        iccid = identity.iccid if identity else None
        timeout = self.config.balance.timeout_s
        error: str | None = None
        text: str | None = None
        modem = supervisor.modem
        if modem is None or not modem.ready:
            error = "modem not ready"
        else:
            try:
                async with asyncio.timeout(timeout + 5), supervisor.port_lock:
                    result = await modem.ussd(code, timeout=timeout)
            except (ModemError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                text = result.text
                if not result.ok:
                    error = f"USSD status {int(result.status)}"
                elif text is None:
                    error = "the network sent no text"
        parsed = parse_balance(text, self.config.balance.pattern) if error is None else None
        if error is None and parsed is None:
            error = "no amount found in the answer"
        return BalanceRecord(
            modem_id=modem_id,
            iccid=iccid,
            at=self._clock(),
            code=code,
            amount=parsed.amount if parsed else None,
            currency=parsed.currency if parsed else None,
            answer=text,
            error=error,
        )

    def _schedule_balances(self, now: datetime) -> None:
        hours = self.config.balance.interval_h
        if not hours or self._checks:
            return  # off, or a check is running: one USSD session at a time
        every = timedelta(hours=hours)
        for status in self.pool.statuses():
            modem_id = status.modem_id
            if modem_id is None or status.state.value != "ready":
                continue
            last = self.balances.get(modem_id)
            if last is not None and now - last.at < every:
                continue
            supervisor = self.pool.supervisor(modem_id)
            if supervisor is None or self._code_for(supervisor, modem_id) is None:
                continue
            task = asyncio.get_running_loop().create_task(
                self._scheduled_check(modem_id), name=f"balance:{modem_id}"
            )
            self._checks.add(task)
            task.add_done_callback(self._checks.discard)
            return

    async def _scheduled_check(self, modem_id: str) -> None:
        with contextlib.suppress(BalanceUnavailableError, StoreClosedError):
            await self.check_balance(modem_id)


def _webhook(change: AlertChange, state: str | None) -> tuple[str, datetime, dict[str, Any]]:
    alert = change.alert
    status = "raised" if change.raised else "recovered"
    event_id = (f"evt_mha_{alert.modem_id}_{alert.kind.value}_"
                f"{to_ms(alert.raised_at)}_{status}")
    data = {
        "id": alert.modem_id,
        "alert": alert.kind.value,
        "status": status,
        "state": state,
        "value": alert.value,
        "threshold": alert.threshold,
        "detail": alert.detail,
        "raised_at": alert.raised_at.isoformat(timespec="milliseconds"),
        "at": change.at.isoformat(timespec="milliseconds"),
    }
    return event_id, change.at, data


__all__ = ["BalanceUnavailableError", "Event", "HealthMonitor", "MonitorStore", "PoolView"]
