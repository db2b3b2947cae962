"""The webhook outbox worker: fan events out into the durable outbox, deliver, retry, give up.

One task per gateway. Each step it
1. fans new status changes (`transitions`) and received messages (`inbound_messages`) out into
   `webhook_outbox`, moving each feed's cursor in the same transaction;
2. notices modem state changes and records `modem.health` events;
3. starts deliveries that are due (bounded concurrency, a deadline on each), and records each
   outcome: 2xx delivered; 410 Gone disables the endpoint; anything else, or no answer, is
   retried on the Standard Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h,
   24 h) and then marked failed.
Everything it owes is in the outbox, so a restart resumes where the last run stopped. It wakes
on the store's transition notifications and otherwise polls the inbound feed and modem states.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp

from gateway.keys import Keyring
from gateway.logging import log_event
from gateway.metrics import GatewayMetrics
from gateway.modem_status import ModemStatus
from gateway.store.api_models import DeliveryResult, OutboxItem, WebhookEndpoint
from gateway.store.errors import StoreClosedError
from gateway.store.sqlite_api import ApiStore
from gateway.tasks import cancel_and_wait

from .events import (
    FORMAT_KANNEL,
    FORMAT_TWILIO,
    health_builder,
    inbound_builder,
    status_entries,
)
from .signing import secret_for_key, standard_headers, twilio_signature
from .targets import GuardedResolver, TargetRefusedError, check_target

_LOG = logging.getLogger(__name__)

RETRY_SCHEDULE: tuple[float, ...] = (
    5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 50400.0, 72000.0, 86400.0,
)
USER_AGENT = "smsgw-webhooks/1"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    timeout_s: float = 10.0
    allow_private_targets: bool = False
    schedule: tuple[float, ...] = RETRY_SCHEDULE  # waits after attempt 1, 2, ...
    jitter: float = 0.1
    concurrency: int = 16
    poll_interval: float = 0.5
    debounce: float = 0.05
    fanout_batch: int = 1000
    idempotency_ttl: timedelta = timedelta(hours=24)
    outbox_ttl: timedelta = timedelta(days=7)
    prune_interval: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Any) -> WebhookOptions:
        """From `[webhooks]`; fields that configuration does not have (yet) keep defaults."""
        section = settings.webhooks
        schedule = getattr(section, "retry_schedule_s", None)
        return cls(
            timeout_s=float(section.timeout_s),
            allow_private_targets=bool(section.allow_private_targets),
            schedule=tuple(float(s) for s in schedule) if schedule else RETRY_SCHEDULE,
        )


class WebhookDispatcher:
    def __init__(
        self,
        api: ApiStore,
        options: WebhookOptions,
        *,
        keyring: Keyring | None,
        modems: Callable[[], Sequence[ModemStatus]],
        metrics: GatewayMetrics | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.api = api
        self.options = options
        self._keyring = keyring
        self._modems = modems
        self._metrics = metrics
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._deliveries: dict[int, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._health_seen: dict[str, datetime] = {}
        self._started_at = clock()
        self._endpoints: dict[str, WebhookEndpoint] = {}
        self._next_prune = 0.0
        self._closing = False
        self._rng = random.Random()

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self._started_at = self._clock()
        resolver = None if self.options.allow_private_targets else GuardedResolver()
        connector = aiohttp.TCPConnector(resolver=resolver, limit=self.options.concurrency)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.options.timeout_s),
            headers={"User-Agent": USER_AGENT},
        )
        self._task = asyncio.get_running_loop().create_task(self._run(), name="webhooks")

    async def close(self) -> None:
        self._closing = True
        task, self._task = self._task, None
        await cancel_and_wait(task)
        deliveries = list(set(self._deliveries.values()))
        for delivery in deliveries:
            delivery.cancel()
        await asyncio.gather(*deliveries, return_exceptions=True)
        self._deliveries.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def notify(self, _last: int = 0) -> None:
        """Store listener: something was committed that may be an event."""
        self._wake.set()

    # --- the loop -----------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closing:
            wait = self.options.poll_interval
            try:
                wait = await self.step()
            except StoreClosedError:
                return
            except Exception:  # a bug or a full disk: keep the gateway, try again shortly
                _LOG.exception("webhook step failed")
                wait = max(wait, 1.0)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wait, 0.0)):
                    await self._wake.wait()
            await asyncio.sleep(self.options.debounce)  # let a burst of commits gather
            if self._next_prune <= loop.time():
                self._next_prune = loop.time() + self.options.prune_interval
                await self._prune()

    async def step(self) -> float:
        """One pass; returns how long to sleep before the next one (unless woken)."""
        now = self._clock()
        batch = self.options.fanout_batch
        while True:
            read, _recorded = await self.api.fanout_transitions(status_entries, batch, now)
            if read < batch:
                break
        statuses = list(self._modems())
        msisdns = {
            s.modem_id: s.identity.msisdn
            for s in statuses
            if s.modem_id is not None and s.identity is not None and s.identity.msisdn
        }
        build = inbound_builder(msisdns)
        while True:
            read, _recorded = await self.api.fanout_inbound(build, batch, now)
            if read < batch:
                break
        await self._health(statuses, now)
        return await self._start_due()

    async def _health(self, statuses: Sequence[ModemStatus], now: datetime) -> None:
        """One `modem.health` event per state change since the last look (from each
        supervisor's recent history, so a short dip between two looks is not missed)."""
        events: list[tuple[str, datetime, Mapping[str, Any]]] = []
        for status in statuses:
            if status.modem_id is None:
                continue
            seen = self._health_seen.get(status.modem_id, self._started_at)
            history = list(status.history)
            for index, change in enumerate(history):
                if change.at <= seen:
                    continue
                previous = history[index - 1].state.value if index else None
                health = status.health
                events.append((
                    f"evt_mh_{status.modem_id}_{int(change.at.timestamp() * 1000)}_"
                    f"{change.state.value}",
                    change.at,
                    {
                        "id": status.modem_id,
                        "state": change.state.value,
                        "previous_state": previous,
                        "reason": change.reason,
                        "signal_dbm": health.signal_dbm if health else None,
                        "operator": health.operator_name if health else None,
                        "at": change.at.isoformat(timespec="milliseconds"),
                    },
                ))
                self._health_seen[status.modem_id] = change.at
        if events:
            await self.api.fanout_endpoints(health_builder(events), now)

    async def _start_due(self) -> float:
        free = self.options.concurrency - len(self._deliveries)
        if free > 0:
            now = self._clock()
            due = await self.api.due_items(now, free, exclude=list(self._deliveries))
            if due and any(item.endpoint_id for item in due):
                self._endpoints = {e.id: e for e in await self.api.list_endpoints()}
            chains: dict[str, list[OutboxItem]] = {}
            for item in due:  # one chain per target: its events arrive in order
                chains.setdefault(item.target, []).append(item)
            for chain in chains.values():
                task = asyncio.get_running_loop().create_task(
                    self._deliver_chain(chain), name=f"webhook:{chain[0].id}"
                )
                for item in chain:
                    self._deliveries[item.id] = task
            if len(due) == free:
                return 0.0
        upcoming = await self.api.next_due()
        if upcoming is None:
            return self.options.poll_interval
        return min(self.options.poll_interval,
                   max((upcoming - self._clock()).total_seconds(), 0.0))

    async def _prune(self) -> None:
        now = self._clock()
        try:
            removed = await self.api.prune(
                responses_before=now - self.options.idempotency_ttl,
                outbox_before=now - self.options.outbox_ttl,
            )
        except StoreClosedError:
            return
        if any(removed.values()):
            log_event(_LOG, "webhook_prune", level=logging.DEBUG, **removed)

    # --- one delivery -------------------------------------------------------------------------

    async def _deliver_chain(self, chain: list[OutboxItem]) -> None:
        try:
            for item in chain:
                result = await self._deliver(item)
                if result is not None and result.disable_endpoint is not None:
                    break  # the rest of the chain was canceled with the endpoint
        finally:
            for item in chain:
                self._deliveries.pop(item.id, None)

    async def _deliver(self, item: OutboxItem) -> DeliveryResult | None:
        result: DeliveryResult | None = None
        try:
            result = await self.attempt(item)
            await self.api.record_results([result], self._clock())
            if self._metrics is not None:
                self._metrics.webhook_deliveries.labels(item.format, result.state).inc()
            level = logging.DEBUG if result.state == "delivered" else logging.INFO
            log_event(_LOG, "webhook_attempt", level=level, event=item.event_type,
                      endpoint=item.endpoint_id or "callback", outcome=result.state,
                      status=result.status, error=result.error, attempt=item.attempts + 1)
        except StoreClosedError:
            pass
        finally:
            self._deliveries.pop(item.id, None)
            self._wake.set()
        return result

    def _retry_or_fail(self, item: OutboxItem, status: int | None, error: str) -> DeliveryResult:
        done = item.attempts + 1
        schedule = self.options.schedule
        if done > len(schedule):
            return DeliveryResult(item.id, "failed", status, f"gave up after {done} attempts: "
                                  f"{error}")
        wait = schedule[done - 1]
        if self.options.jitter:
            wait *= 1 + self._rng.uniform(-self.options.jitter, self.options.jitter)
        return DeliveryResult(item.id, "pending", status, error,
                              next_attempt_at=self._clock() + timedelta(seconds=wait))

    async def _signing_key(self, name: str | None) -> str | None:
        if name is None or self._keyring is None:
            return None
        record = await self.api.key_by_name(name)
        return None if record is None else self._keyring.key_for(record)

    async def attempt(self, item: OutboxItem) -> DeliveryResult:
        """Make one attempt and say what it came to (does not record it)."""
        session = self._session
        assert session is not None, "start() the dispatcher first"
        try:
            check_target(item.target, allow_private=self.options.allow_private_targets)
        except TargetRefusedError as exc:
            return DeliveryResult(item.id, "failed", None, f"target refused: {exc}")
        method, body, headers = "POST", b"", {}
        if item.format == FORMAT_KANNEL:
            method = "GET"
        elif item.format == FORMAT_TWILIO:
            pairs = [(str(k), str(v)) for k, v in json.loads(item.payload)]
            token = await self._signing_key(item.signer)
            if token is None:
                return DeliveryResult(item.id, "failed", None,
                                      "cannot sign: the key is unknown or the keyring changed")
            body = urlencode(pairs).encode("utf-8")
            headers = {
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                "X-Twilio-Signature": twilio_signature(token, item.target, pairs),
                "I-Twilio-Idempotency-Token": item.event_id,
            }
        else:
            body = item.payload.encode("utf-8")
            secret: str | None = None
            if item.endpoint_id is not None:
                endpoint = self._endpoints.get(item.endpoint_id)
                secret = endpoint.secret if endpoint is not None else None
            else:
                key = await self._signing_key(item.signer)
                secret = None if key is None else secret_for_key(key)
            if secret is None:
                return DeliveryResult(item.id, "failed", None,
                                      "cannot sign: the endpoint or key is gone")
            headers = {"Content-Type": "application/json",
                       **standard_headers(secret, item.event_id, body)}
        try:
            async with session.request(method, item.target, data=body or None, headers=headers,
                                       allow_redirects=False) as response:
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return self._retry_or_fail(item, None, f"{type(exc).__name__}: {exc}"[:300])
        if 200 <= status < 300:
            return DeliveryResult(item.id, "delivered", status, None)
        if status == 410 and item.endpoint_id is not None:
            return DeliveryResult(item.id, "failed", status, "410 Gone: endpoint disabled",
                                  disable_endpoint=item.endpoint_id)
        if status == 410:
            return DeliveryResult(item.id, "failed", status, "410 Gone")
        return self._retry_or_fail(item, status, f"HTTP {status}")


__all__ = ["RETRY_SCHEDULE", "WebhookDispatcher", "WebhookOptions"]
