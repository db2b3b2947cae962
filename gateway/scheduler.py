"""The pull-based scheduler: each ready modem asks for its next job; nothing is pushed.

A modem worker's loop is::

    job = await scheduler.next_job(modem, wait=5.0)     # None: nothing for this SIM now
    if job is None: ...health poll..., continue
    for pdu in encode_job(job):                          # gateway.encoding
        try: mr = await modem.send_pdu(pdu.hex, pdu.tpdu_length)
        except SubmitOutcomeUnknown as exc: await scheduler.uncertain(job, str(exc)); break
        except ModemError as exc:
            decision = await scheduler.failed(job, SendFailure.from_exception(exc))
            if decision.take_sim_out: ...quarantine / reset this modem...
            break
        await scheduler.part_sent(job, pdu.seq, mr, pdu=pdu.hex, tpdu_length=pdu.tpdu_length)

Policy, in the order a claim applies it:

1. **Per-SIM limits** (`gateway.sim_limits`): a SIM over its per-minute or per-day limit gets
   nothing (the caller is told when to ask again by waiting); at its unique-recipients cap it only
   gets messages to recipients it already wrote to this month. Skipped, never failed.
2. **Lanes**: `otp > high > normal > bulk`. `strict` (default) always serves the highest lane
   with work; `weighted` runs smooth weighted round robin over the lanes with the configured
   weights, so bulk keeps a trickle under sustained OTP load.
3. **Routing pools** (`gateway.routing`): the SIM's own group/carrier pools first, then the open
   pool, then pools whose preferred SIMs are all unavailable, then (messages older than
   `route_fallback_after_s` only) pools whose preferred SIMs are too slow. `only:` pools never
   fall back.
4. **Fairness**: inside a lane and pool, senders (API key or campaign) take turns, round robin;
   each sender's messages are FIFO. One sender's 100,000-message campaign therefore delays
   another sender's message by at most one message per SIM.
5. **Sticky SIM**: a message to a recipient who recently talked with SIM X waits for X while X is
   available; so does a partially sent long message (all parts go through one SIM).
6. **Exclusions**: after a SIM or modem error a message is not given to that SIM again unless
   every available SIM has failed it (then attempts run out instead).

Claims from concurrent modems land in the same group commit (batched claims), and each one is
durable (`sending`, with the modem) before `next_job` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.config import LaneMode, SchedulerConfig
from gateway.numbers import reachability_from_error, redact_number
from gateway.retry import RetryDecision, RetryPolicy, SendFailure, decide
from gateway.routing import Router, is_strict, pools_served
from gateway.sim_limits import SimLimits, UsageTracker, day_key, month_key
from gateway.store.errors import StoreClosedError
from gateway.store.models import (
    LANES_BY_PRIORITY,
    ClaimRequest,
    Enqueued,
    FailureRecord,
    Job,
    Lane,
    NewMessage,
    OutcomeResult,
    StatusReportIn,
    StatusReportMatch,
)
from gateway.store.protocol import Store

_LOGGER = logging.getLogger(__name__)
Clock = Callable[[], datetime]
_POOLS_TTL = 1.0  # seconds a ready-pools answer is reused
_PRUNE_EVERY = timedelta(hours=1)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ModemInfo:
    """What the scheduler needs to know about a SIM. `modem_id` must be stable across restarts
    and re-plugs (the configured name, or one derived from the IMEI/ICCID)."""

    modem_id: str
    group: str | None = None
    operator: str | None = None  # network name as the modem reports it (AT+COPS?)
    limits: SimLimits = field(default_factory=SimLimits)


class _LaneRotation:
    """Smooth weighted round robin (nginx's) over the lanes that have work: each turn every such
    lane gains its weight, the richest is tried first and pays the sum of the weights when it is
    served. A lane found empty stops banking credit until new work arrives."""

    def __init__(self, weights: dict[Lane, int]) -> None:
        self._weights = weights
        self._current = dict.fromkeys(weights, 0)
        self._empty: set[Lane] = set()

    def order(self) -> tuple[Lane, ...]:
        active = [lane for lane in self._weights if lane not in self._empty]
        for lane in active:
            self._current[lane] += self._weights[lane]
        active.sort(key=lambda lane: (-self._current[lane], lane.rank))
        return (*active, *sorted(self._empty, key=lambda lane: lane.rank))

    def served(self, lane: Lane | None, tried: tuple[Lane, ...]) -> None:
        for other in tried:
            if other is lane:
                break
            self._empty.add(other)
            self._current[other] = 0
        if lane is not None:
            self._empty.discard(lane)
            self._current[lane] -= sum(
                w for other, w in self._weights.items() if other not in self._empty
            )

    def work_arrived(self) -> None:
        self._empty.clear()


class Scheduler:
    def __init__(
        self,
        store: Store,
        config: SchedulerConfig,
        *,
        router: Router | None = None,
        clock: Clock = _utcnow,
    ) -> None:
        self._store = store
        self.config = config
        self.router = router or Router(prefer_on_net=config.prefer_on_net)
        self._clock = clock
        retry = config.retry
        self.retry_policy = RetryPolicy(
            max_attempts=retry.max_attempts,
            backoff_initial=timedelta(seconds=retry.backoff_initial_s),
            backoff_max=timedelta(seconds=retry.backoff_max_s),
            multiplier=retry.backoff_multiplier,
            jitter=retry.jitter,
        )
        weights = config.lane_weights
        self._rotation = _LaneRotation(
            {
                Lane.OTP: weights.otp,
                Lane.HIGH: weights.high,
                Lane.NORMAL: weights.normal,
                Lane.BULK: weights.bulk,
            }
        )
        self._usage = UsageTracker(store.sim_usage)
        self._modems: dict[str, ModemInfo] = {}
        self._available: set[str] = set()
        self._takers: dict[str, set[str]] | None = None  # pool -> available modems preferring it
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._tried: dict[str, int] = {}  # modem -> work generation it last claimed against
        self._generation = 0
        self._pools: set[str] = set()
        self._pools_at = -1e9
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._housekeeper: asyncio.Task[None] | None = None
        store.add_work_listener(self._on_work)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the housekeeping task (scheduled sends, retry holds, expiry, pruning)."""
        if self._housekeeper is None:
            self._housekeeper = asyncio.create_task(self._housekeeping(), name="scheduler-upkeep")

    def stop_claiming(self) -> None:
        """Graceful shutdown, step one: every `next_job` returns None from now on."""
        self._stopping = True
        self._wake_all()

    async def close(self) -> None:
        self.stop_claiming()
        tasks = [t for t in (self._housekeeper, *self._tasks) if t is not None]
        if self._housekeeper is not None:
            self._housekeeper.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._housekeeper = None

    # -- the pool of SIMs ---------------------------------------------------------------------

    def modem_up(self, modem: ModemInfo) -> None:
        """Mark a SIM available (its supervisor says ready). `next_job` does this implicitly."""
        known = self._modems.get(modem.modem_id)
        self._modems[modem.modem_id] = modem
        if modem.modem_id not in self._available or known != modem:
            self._available.add(modem.modem_id)
            self._takers = None
            self._wake_all()  # pins and pool preferences just changed

    def modem_down(self, modem_id: str, reason: str = "") -> None:
        """The SIM is degraded, quarantined or gone: its sticky recipients and pools open up."""
        if modem_id in self._available:
            self._available.discard(modem_id)
            self._takers = None
            _LOGGER.info("scheduler: %s unavailable%s", modem_id, f" ({reason})" if reason else "")
            self._wake_all()

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def available(self) -> frozenset[str]:
        return frozenset(self._available)

    def _pool_takers(self) -> dict[str, set[str]]:
        if self._takers is None:
            takers: dict[str, set[str]] = {}
            for modem_id in self._available:
                modem = self._modems[modem_id]
                for pool in pools_served(
                    modem.group, modem.operator, on_net=self.config.prefer_on_net
                ):
                    takers.setdefault(pool, set()).add(modem_id)
            self._takers = takers
        return self._takers

    # -- accepting -----------------------------------------------------------------------------

    def route(self, to: str, carrier: str | None, sender: str) -> tuple[str, str]:
        """(pool, fairness sender) for a message: `Submitter.check` builds its message with
        them, so it is routed once and never copied to be routed (`submit(routed=True)`)."""
        return self.router.pool_for(to, carrier), self._fair_sender(sender)

    def _fair_sender(self, sender: str) -> str:
        return sender if self.config.fairness == "sender" else ""

    def prepare(self, message: NewMessage) -> NewMessage:
        """Apply routing and the fairness setting to a message about to be stored."""
        pool = message.pool or self.router.pool_for(message.to, message.carrier)
        sender = self._fair_sender(message.sender)
        if pool == message.pool and sender == message.sender:
            return message
        return replace(message, pool=pool, sender=sender)

    async def submit(self, messages: Sequence[NewMessage], *, routed: bool = False
                     ) -> list[Enqueued | Exception]:
        """Route and durably store messages (one transaction); each result or its refusal.
        `routed`: the messages were built with `route` (`Submitter.check`), so they are stored
        as they are rather than routed a second time."""
        prepared = list(messages) if routed else [self.prepare(m) for m in messages]
        self._pools.update(m.pool for m in prepared)
        return await self._store.enqueue_many(prepared)

    # -- handing out work ----------------------------------------------------------------------

    def _on_work(self, count: int) -> None:
        self._generation += 1
        self._rotation.work_arrived()
        self._wake(count)

    def _wake(self, count: int) -> None:
        for modem_id in list(self._waiters)[:count]:
            future = self._waiters.pop(modem_id)
            if not future.done():
                future.set_result(None)

    def _wake_all(self) -> None:
        self._wake(len(self._waiters))

    def _pass_baton(self) -> None:
        """A woken modem found nothing it may take: let one that has not looked yet try."""
        for modem_id in list(self._waiters):
            if self._tried.get(modem_id, -1) < self._generation:
                future = self._waiters.pop(modem_id)
                if not future.done():
                    future.set_result(None)
                return

    async def _ready_pools(self) -> set[str]:
        loop = asyncio.get_running_loop()
        if loop.time() - self._pools_at > _POOLS_TTL:
            self._pools = await self._store.ready_pools()
            self._pools_at = loop.time()
        return self._pools

    async def _request(
        self, modem: ModemInfo, now: datetime, only: frozenset[str] | None
    ) -> tuple[ClaimRequest, tuple[Lane, ...]]:
        if self.config.lanes is LaneMode.WEIGHTED:
            lanes = self._rotation.order()
        else:
            lanes = LANES_BY_PRIORITY
        own = pools_served(modem.group, modem.operator, on_net=self.config.prefer_on_net)
        free: list[str] = []
        aged: list[tuple[str, datetime]] = []
        cutoff = now - timedelta(seconds=self.config.route_fallback_after_s)
        takers = self._pool_takers()
        for pool in sorted(await self._ready_pools()):
            if pool in own or is_strict(pool):
                continue
            if takers.get(pool):
                aged.append((pool, cutoff))
            else:
                free.append(pool)
        request = ClaimRequest(
            modem_id=modem.modem_id,
            lanes=lanes,
            pools=(*own, *free),
            aged_pools=tuple(aged),
            now=now,
            healthy_others=frozenset(self._available - {modem.modem_id}),
            recipients_only=only,
            day=day_key(now),
            month=month_key(now),
        )
        return request, lanes

    async def _claim(self, request: ClaimRequest) -> Job | None:
        """Claim, and if our caller is cancelled meanwhile, give the job back."""
        task = asyncio.ensure_future(self._store.claim(request))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(self._release_orphan)
            raise

    def _release_orphan(self, task: asyncio.Future[Job | None]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        job = task.result()
        if job is not None:
            self._spawn(self._store.release(job, day=day_key(self._clock())))

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        async def run() -> None:
            with contextlib.suppress(StoreClosedError):
                await coro

        task = asyncio.create_task(run(), name="scheduler-release")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def next_job(self, modem: ModemInfo, *, wait: float = 0.0) -> Job | None:
        """The next message for this SIM, committed as `sending` on it; None if there is none
        within `wait` seconds (or the scheduler is stopping). Marks the SIM available."""
        self.modem_up(modem)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(wait, 0.0)
        woken = False
        while True:
            if self.stopping:
                return None
            now = self._clock()
            check = await self._usage.check(modem.modem_id, modem.limits, now)
            if check.blocked_until is not None:
                pause = min((check.blocked_until - now).total_seconds(), deadline - loop.time())
                if pause <= 0:
                    return None
                await asyncio.sleep(pause)
                continue
            generation = self._generation
            request, lanes = await self._request(modem, now, check.recipients_only)
            job = await self._claim(request)
            self._tried[modem.modem_id] = generation
            if self.config.lanes is LaneMode.WEIGHTED:
                self._rotation.served(job.lane if job else None, lanes)
            if job is not None:
                self._usage.record(modem.modem_id, job.to, now)
                return job
            if woken:
                self._pass_baton()
            remaining = deadline - loop.time()
            if remaining <= 0 or self.stopping:
                return None
            if self._generation != generation:
                continue  # work arrived while we were claiming
            woken = await self._wait_for_work(modem.modem_id, remaining)

    async def _wait_for_work(self, modem_id: str, within: float) -> bool:
        previous = self._waiters.get(modem_id)
        if previous is not None and not previous.done():
            previous.set_result(None)  # one waiter per modem: the newest call wins
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[modem_id] = future
        try:
            await asyncio.wait_for(future, within)
        except TimeoutError:
            return False
        finally:
            if self._waiters.get(modem_id) is future:
                del self._waiters[modem_id]
        return True

    # -- outcomes --------------------------------------------------------------------------------

    async def part_sent(
        self,
        job: Job,
        part: int,
        mr: int,
        *,
        pdu: str | None = None,
        tpdu_length: int | None = None,
    ) -> OutcomeResult:
        """Record `+CMGS: <mr>` for one part; the message is `sent` once every part is."""
        return await self._store.part_sent(job, part, mr, pdu=pdu, tpdu_length=tpdu_length)

    async def failed(self, job: Job, failure: SendFailure) -> RetryDecision:
        """File a failed attempt by its error class; see `gateway.retry` for the table. When the
        decision says `take_sim_out`, the SIM is already marked unavailable here; its supervisor
        should quarantine or reset it and call `modem_up` (or `next_job`) when it recovers."""
        now = self._clock()
        decision = decide(failure, job.attempt, self.retry_policy, now)
        record = FailureRecord(
            error_code=failure.code,
            error_class=failure.error_class.value,
            detail=decision.reason,
            retry_at=decision.retry_at if decision.retry else None,
            exclude_modem=decision.exclude_modem,
        )
        if decision.loud:
            _LOGGER.error(
                "message %s to %s failed on %s with a request bug: %s (%s)",
                job.message_id,
                redact_number(job.to),
                job.modem_id,
                failure.detail,
                failure.code,
            )
        await self._store.fail_attempt(job, record)
        if decision.take_sim_out:
            self.modem_down(job.modem_id, f"{failure.error_class} error: {failure.detail}")
        learned = reachability_from_error(failure.code)
        if learned is not None:
            await self._store.learn_reachability(job.to, *learned)
        return decision

    async def uncertain(self, job: Job, detail: str) -> OutcomeResult:
        """No `+CMGS:` after the PDU went out: flagged uncertain, then `uncertain_policy`."""
        return await self._store.mark_uncertain(
            job,
            detail,
            policy=self.config.uncertain_policy,
            max_attempts=self.config.retry.max_attempts,
        )

    async def release(self, job: Job) -> OutcomeResult:
        """Give back a job whose PDU never reached the modem (shutdown, port lost before
        AT+CMGS): no attempt is counted and its SIM slot is returned."""
        now = self._clock()
        self._usage.unrecord(job.modem_id, now)
        return await self._store.release(job, day=day_key(now))

    async def status_report(
        self,
        modem_id: str,
        mr: int,
        recipient: str,
        status: int,
        *,
        received_at: datetime | None = None,
        discharge_time: datetime | None = None,
    ) -> StatusReportMatch | None:
        """Match an SMS-STATUS-REPORT to its part (TP-MR wraps at 255; see sqlite_reports)."""
        return await self._store.status_report(
            StatusReportIn(
                modem_id=modem_id,
                mr=mr,
                recipient=recipient,
                status=status,
                received_at=received_at or self._clock(),
                discharge_time=discharge_time,
            )
        )

    # -- time ----------------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        tick = self.config.tick_s
        last_prune = self._clock()
        while True:
            try:
                result = await self._store.promote_due()
                if self._clock() - last_prune >= _PRUNE_EVERY:
                    await self._store.prune()
                    last_prune = self._clock()
            except StoreClosedError:
                return
            except Exception:
                _LOGGER.exception("scheduler housekeeping failed; retrying")
                result = None
            pause = tick
            if result is not None and result.next_due is not None:
                until = (result.next_due - self._clock()).total_seconds()
                pause = min(tick, max(until, 0.01))
            await asyncio.sleep(pause)
