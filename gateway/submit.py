"""Accepting messages: validate each number, plan its encoding, commit, and only then answer.

This is the one door every message comes through (HTTP API, CLI, tests, benchmarks). A message
the gateway would not be able to send is refused here with the reason, before anything is
stored: a number that cannot receive SMS, an empty text, more segments than allowed. What passes
is committed by the scheduler in one transaction per batch; `submit` returns only after that
commit, so an accepted message survives a crash that follows the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from gateway.encoding import plan_text
from gateway.messaging.lookups import lookup_many
from gateway.numbers import NumberLookup, NumberService
from gateway.scheduler import Scheduler
from gateway.store.errors import IdempotencyConflictError, InvalidMessageError
from gateway.store.models import Category, Enqueued, Lane, NewMessage

MAX_TEXT_CHARS = 10_000  # far above any allowed segment count; bounds the work per request


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """What a caller asks to send. `to` is as the caller wrote it; it is normalised here."""

    to: str
    text: str
    lane: Lane = Lane.NORMAL
    sender: str = ""
    api_key: str = ""
    category: Category | None = None
    send_at: datetime | None = None
    expires_at: datetime | None = None
    status_callback: str | None = None
    metadata: Mapping[str, Any] | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    request_status_report: bool | None = None  # None: the configured default


@dataclass(frozen=True, slots=True)
class Refused:
    """A message not accepted; `code` is stable for clients, `reason` is for people."""

    code: str  # invalid_number | empty_text | too_long | idempotency_conflict | invalid
    #            opted_out | no_consent | frequency_capped (the policy gate)
    reason: str
    lookup: NumberLookup | None = field(default=None)
    existing_id: str | None = None


SubmitResult = Enqueued | Refused


class PolicyGate(Protocol):
    """Consent, opt-out, quiet hours and caps (`gateway.messaging.policy.PolicyGate`)."""

    async def review(self, messages: Sequence[NewMessage], max_segments: int
                     ) -> list[NewMessage | Refused]:
        """One verdict per message, in order: the message to store (maybe rewritten: opt-out
        instruction appended, `send_at` moved out of quiet hours) or why it is refused."""
        ...


ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class Coalescer(Generic[ItemT, ResultT]):
    """Concurrent calls made in the same loop turn run as one call of `fn` over all their
    items, each caller getting its own slice of the answer.

    Thousands of single-message requests a second would otherwise each pay a store round trip
    for reachability and another for the consent check; joined, a turn's worth of requests
    pays one. The first caller of a turn leads: it yields once so the others can join, then
    runs `fn` in its own task (no task of ours outlives a call). A leader cancelled before its
    answer releases the others to run their own items.
    """

    def __init__(self, fn: Callable[[list[ItemT]], Awaitable[Sequence[ResultT]]]) -> None:
        self._fn = fn
        self._pending: list[tuple[list[ItemT], asyncio.Future[list[ResultT] | None]]] | None \
            = None

    async def __call__(self, items: Sequence[ItemT]) -> list[ResultT]:
        mine = list(items)
        if self._pending is not None:  # a leader is gathering this turn's calls: join it
            future: asyncio.Future[list[ResultT] | None] = (
                asyncio.get_running_loop().create_future())
            self._pending.append((mine, future))
            answer = await future
            return answer if answer is not None else list(await self._fn(mine))
        pending: list[tuple[list[ItemT], asyncio.Future[list[ResultT] | None]]] = []
        self._pending = pending
        try:
            try:
                await asyncio.sleep(0)
            finally:
                self._pending = None
            if not pending:
                return list(await self._fn(mine))
            results = list(await self._fn(mine + [x for joined, _f in pending for x in joined]))
        except asyncio.CancelledError:
            for _joined, future in pending:
                if not future.done():
                    future.set_result(None)
            raise
        except Exception as exc:
            for _joined, future in pending:
                if not future.done():
                    future.set_exception(exc)
            raise
        start = len(mine)
        for joined, future in pending:
            end = start + len(joined)
            if not future.done():
                future.set_result(results[start:end])
            start = end
        return results[: len(mine)]


class Submitter:
    def __init__(
        self,
        scheduler: Scheduler,
        numbers: NumberService,
        *,
        max_segments: int = 10,
        request_status_report: bool = True,
        policy: PolicyGate | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.numbers = numbers
        self.max_segments = max_segments
        self.request_status_report = request_status_report
        self.policy = policy
        self._lookups: Coalescer[str, NumberLookup] = Coalescer(self._lookup_many)
        self._reviews: Coalescer[NewMessage, NewMessage | Refused] = Coalescer(self._review)

    async def _lookup_many(self, numbers: list[str]) -> Sequence[NumberLookup]:
        return await lookup_many(numbers, self.numbers.policy, self.numbers.store)

    async def _review(self, messages: list[NewMessage]) -> list[NewMessage | Refused]:
        if self.policy is None:
            return list(messages)
        return await self.policy.review(messages, self.max_segments)

    async def check(self, message: OutgoingMessage, lookup: NumberLookup | None = None
                    ) -> NewMessage | Refused:
        """Everything short of storing: the number, the text, the encoding plan. `lookup` is
        the number's look-up when the caller made it already (a batch: `lookup_many`)."""
        if not message.text:
            return Refused("empty_text", "the message text is empty")
        if len(message.text) > MAX_TEXT_CHARS:
            return Refused("too_long", f"text longer than {MAX_TEXT_CHARS} characters")
        if lookup is None:
            lookup = await self.numbers.lookup(message.to)
        if not lookup.can_receive_sms or lookup.e164 is None:
            return Refused("invalid_number", lookup.reason, lookup=lookup)
        plan = plan_text(message.text)
        if plan.segments > self.max_segments:
            return Refused(
                "too_long",
                f"{plan.segments} segments ({plan.encoding.value}); at most {self.max_segments}",
                lookup=lookup,
            )
        report = message.request_status_report
        return NewMessage(
            to=lookup.e164,
            text=message.text,
            encoding=plan.encoding.value,
            segments=plan.segments,
            lane=message.lane,
            sender=message.sender,
            api_key=message.api_key,
            category=message.category,
            send_at=message.send_at,
            expires_at=message.expires_at,
            status_callback=message.status_callback,
            metadata=message.metadata,
            idempotency_key=message.idempotency_key,
            request_hash=message.request_hash,
            carrier=lookup.carrier,
            request_status_report=self.request_status_report if report is None else report,
        )

    async def submit(self, messages: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        """One result per message, in order; the accepted ones are durable when this returns."""
        results: list[SubmitResult | None] = [None] * len(messages)
        accepted: list[tuple[int, NewMessage]] = []
        # one store read for the learned reachability of the batch, and of the single
        # messages submitted at the same time (messages refused for their text need none)
        wanted = [i for i, m in enumerate(messages) if m.text and len(m.text) <= MAX_TEXT_CHARS]
        lookups: list[NumberLookup | None] = [None] * len(messages)
        if wanted:
            found = await self._lookups([messages[i].to for i in wanted])
            for i, one in zip(wanted, found, strict=True):
                lookups[i] = one
        for i, message in enumerate(messages):
            checked = await self.check(message, lookups[i])
            if isinstance(checked, Refused):
                results[i] = checked
            else:
                accepted.append((i, checked))
        if accepted and self.policy is not None:
            verdicts = await self._reviews([new for _, new in accepted])
            kept: list[tuple[int, NewMessage]] = []
            for (i, _new), verdict in zip(accepted, verdicts, strict=True):
                if isinstance(verdict, Refused):
                    results[i] = verdict
                else:
                    kept.append((i, verdict))
            accepted = kept
        if accepted:
            stored = await self.scheduler.submit([new for _, new in accepted])
            for (i, _new), outcome in zip(accepted, stored, strict=True):
                results[i] = _result(outcome)
        return [r for r in results if r is not None]


def _result(outcome: Enqueued | Exception) -> SubmitResult:
    if isinstance(outcome, Enqueued):
        return outcome
    if isinstance(outcome, IdempotencyConflictError):
        return Refused("idempotency_conflict", str(outcome), existing_id=outcome.message_id)
    if isinstance(outcome, InvalidMessageError | ValueError):
        return Refused("invalid", str(outcome))
    raise outcome


__all__ = ["Coalescer", "OutgoingMessage", "PolicyGate", "Refused", "SubmitResult", "Submitter"]
