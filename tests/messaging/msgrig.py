"""The messaging test rig: a real SQLite store in tmp_path, the scheduler, the one door
(`Submitter`) with the policy gate in front of the commit, and `Messaging` bound to it.

`GatedSubmitter` is `Submitter` with the gate call the lead is asked to put into
`gateway/submit.py` (see the report of issue 9); once that is in, it is `Submitter` itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.config import SchedulerConfig
from gateway.messaging import Messaging, MessagingConfig
from gateway.messaging.lookups import lookup_many
from gateway.numbers import NumberLookup, NumberPolicy, NumberService
from gateway.scheduler import Scheduler
from gateway.store import SqliteStore
from gateway.store.models import InboundPart, NewMessage
from gateway.submit import OutgoingMessage, Refused, SubmitResult, Submitter

HAS_GATE = "policy" in inspect.signature(Submitter.__init__).parameters


class GatedSubmitter(Submitter):
    """`Submitter.submit` with the policy gate between the checks and the commit."""

    policy_gate: Any = None
    batched = True  # the number look-ups of a batch in one store read (gateway.messaging.lookups)

    async def submit(self, messages: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        if HAS_GATE:
            return await super().submit(messages)
        results: list[SubmitResult | None] = [None] * len(messages)
        accepted: list[tuple[int, NewMessage]] = []
        prepared = None
        if self.batched and len(messages) > 1:
            prepared = await lookup_many([m.to for m in messages], self.numbers.policy,
                                         self.numbers._store)
        for i, message in enumerate(messages):
            if prepared is not None:
                checked = await self._check_with(message, prepared[i])
            else:
                checked = await self.check(message)
            if isinstance(checked, Refused):
                results[i] = checked
            else:
                accepted.append((i, checked))
        if accepted and self.policy_gate is not None:
            verdicts = await self.policy_gate.review([new for _, new in accepted],
                                                     self.max_segments)
            kept: list[tuple[int, NewMessage]] = []
            for (i, _new), verdict in zip(accepted, verdicts, strict=True):
                if isinstance(verdict, Refused):
                    results[i] = verdict
                else:
                    kept.append((i, verdict))
            accepted = kept
        if accepted:
            stored = await self.scheduler.submit([new for _, new in accepted])
            from gateway.submit import _result

            for (i, _new), outcome in zip(accepted, stored, strict=True):
                results[i] = _result(outcome)
        return [r for r in results if r is not None]


    async def _check_with(self, message: OutgoingMessage, found: NumberLookup
                          ) -> NewMessage | Refused:
        """`check` with the look-up already made (the same answer, without the round trip)."""
        numbers = self.numbers

        class _Known:
            policy = numbers.policy

            async def lookup(self, _number: str) -> NumberLookup:
                return found

        self.numbers = _Known()  # type: ignore[assignment]
        try:
            return await self.check(message)
        finally:
            self.numbers = numbers


def make_submitter(scheduler: Scheduler, numbers: NumberService, messaging: Messaging,
                   max_segments: int = 10) -> Submitter:
    if HAS_GATE:
        return Submitter(scheduler, numbers, max_segments=max_segments,  # type: ignore[call-arg]
                         policy=messaging.policy)
    sub = GatedSubmitter(scheduler, numbers, max_segments=max_segments)
    sub.policy_gate = messaging.policy
    return sub


class Clock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2025, 3, 10, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class MessagingRig:
    def __init__(self, tmp: Path, clock: Clock) -> None:
        self.tmp = tmp
        self.clock = clock
        self.store: SqliteStore | None = None
        self.scheduler: Scheduler | None = None
        self.messaging: Messaging | None = None
        self.submitter: Submitter | None = None

    async def start(self, config: MessagingConfig | None = None, **fields: Any
                    ) -> MessagingRig:
        self.store = await SqliteStore.open(self.tmp / "smsgw.db", clock=self.clock)
        self.scheduler = Scheduler(self.store, SchedulerConfig(), clock=self.clock)
        policy = NumberPolicy()
        numbers = NumberService(policy, self.store)
        cfg = config or MessagingConfig(**fields)
        self.messaging = Messaging(self.store, cfg, numbers=policy, secret=b"s" * 32,
                                   clock=self.clock)
        self.submitter = make_submitter(self.scheduler, numbers, self.messaging)
        self.messaging.bind(self.submitter.submit)
        return self

    @property
    def m(self) -> Messaging:
        assert self.messaging is not None
        return self.messaging

    @property
    def s(self) -> SqliteStore:
        assert self.store is not None
        return self.store

    async def send(self, to: str, text: str, **kwargs: Any) -> SubmitResult:
        assert self.submitter is not None
        (result,) = await self.submitter.submit([OutgoingMessage(to=to, text=text, **kwargs)])
        return result

    async def receive(self, sender: str, text: str, modem: str = "modem0") -> None:
        """A message arrives on a SIM; the processor handles it."""
        await self.s.store_inbound(InboundPart(
            modem_id=modem, sender=sender, text=text, encoding="gsm7",
            smsc_timestamp=self.clock(), received_at=self.clock()))
        self.clock.advance(1)  # distinct SMSC timestamps: never deduplicated as a re-read
        await self.m.processor.step()

    async def close(self) -> None:
        if self.messaging is not None:
            await self.messaging.close()
        if self.scheduler is not None:
            await self.scheduler.close()
        if self.store is not None:
            await self.store.close()
