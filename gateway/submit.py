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

from drivers.pdu.errors import EncodeArgumentError
from gateway.encoding import plan_text
from gateway.messaging.lookups import lookup_many
from gateway.numbers import NumberLookup, NumberService
from gateway.record import record
from gateway.scheduler import Scheduler
from gateway.store.errors import (
    IdempotencyConflictError,
    InvalidMessageError,
    StoreClosedError,
)
from gateway.store.models import Category, Enqueued, Lane, NewMessage

MAX_TEXT_CHARS = 10_000  # far above any allowed segment count; bounds the work per request


@record
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

    @property
    def default_category(self) -> Category:
        """The category of a message that names none."""
        ...

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

    Thousands of single-message requests a second would otherwise each pay for their own
    look-ups, policy read and store unit; joined, a turn's worth of requests pays once. The
    first caller of a turn leads: it yields once so the others can join. Alone, it calls `fn`
    itself. With company, `fn` runs in a task of its own (kept until done) that answers every
    caller, so a leader cancelled mid-way (a client gone) neither strands the others nor makes
    them run their items a second time: the store may already have committed them.
    """

    def __init__(self, fn: Callable[[list[ItemT]], Awaitable[Sequence[ResultT]]]) -> None:
        self._fn = fn
        self._pending: list[tuple[list[ItemT], asyncio.Future[list[ResultT]]]] | None = None
        self._running: set[asyncio.Task[list[ResultT]]] = set()

    async def __call__(self, items: Sequence[ItemT]) -> list[ResultT]:
        mine = list(items)
        if self._pending is not None:  # a leader is gathering this turn's calls: join it
            future: asyncio.Future[list[ResultT]] = asyncio.get_running_loop().create_future()
            self._pending.append((mine, future))
            return await future
        pending: list[tuple[list[ItemT], asyncio.Future[list[ResultT]]]] = []
        self._pending = pending
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            self._pending = None
            if pending:  # the others still get their answer, without the leader's items
                self._launch([], pending)
            raise
        self._pending = None
        if not pending:
            return list(await self._fn(mine))
        task = self._launch(mine, pending)
        results = await asyncio.shield(task)
        return results[: len(mine)]

    def _launch(self, mine: list[ItemT],
                pending: list[tuple[list[ItemT], asyncio.Future[list[ResultT]]]]
                ) -> asyncio.Task[list[ResultT]]:
        async def run() -> list[ResultT]:
            return list(await self._fn(mine + [x for joined, _f in pending for x in joined]))

        task = asyncio.get_running_loop().create_task(run(), name="coalesced-call")
        self._running.add(task)

        def answer(done: asyncio.Task[list[ResultT]]) -> None:
            self._running.discard(done)
            if done.cancelled():
                for _joined, future in pending:
                    if not future.done():
                        future.cancel()
                return
            exc = done.exception()
            start = len(mine)
            for joined, future in pending:
                end = start + len(joined)
                if not future.done():
                    if exc is not None:
                        future.set_exception(exc)
                    else:
                        future.set_result(done.result()[start:end])
                start = end

        task.add_done_callback(answer)
        return task


class Submitter:
    """Every submit made in the same loop turn runs as one: one pass of number look-ups, one
    policy review, one store unit. Under load that is what turns thousands of single-message
    requests a second into a few dozen group commits of a few hundred statements."""

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
        self._turns: Coalescer[OutgoingMessage, SubmitResult | BaseException] = Coalescer(
            self._submit_turn)

    async def check(self, message: OutgoingMessage, lookup: NumberLookup | None = None
                    ) -> NewMessage | Refused:
        """Everything short of storing: the number, the text, the encoding plan. `lookup` is
        the number's look-up when the caller made it already (a batch: `lookup_many`)."""
        refused = _text_refusal(message)
        if refused is not None:
            return refused
        if lookup is None:
            lookup = await self.numbers.lookup(message.to)
        return self._checked(message, lookup)

    def _checked(self, message: OutgoingMessage, lookup: NumberLookup) -> NewMessage | Refused:
        """`check` once the text has passed `_text_refusal` and the number is looked up:
        plain, not a coroutine, as a turn runs it for thousands of messages."""
        if not lookup.can_receive_sms or lookup.e164 is None:
            return Refused("invalid_number", lookup.reason, lookup=lookup)
        try:
            plan = plan_text(message.text)
        except EncodeArgumentError as exc:  # a lone surrogate: no SMS can carry it
            return Refused("invalid", f"text: {exc}", lookup=lookup)
        if plan.segments > self.max_segments:
            return Refused(
                "too_long",
                f"{plan.segments} segments ({plan.encoding.value}); at most {self.max_segments}",
                lookup=lookup,
            )
        report = message.request_status_report
        category = message.category
        if category is None and self.policy is not None:
            category = self.policy.default_category
        pool, sender = self.scheduler.route(lookup.e164, lookup.carrier, message.sender)
        return NewMessage(
            to=lookup.e164,
            text=message.text,
            encoding=plan.encoding.value,
            segments=plan.segments,
            lane=message.lane,
            sender=sender,
            pool=pool,
            api_key=message.api_key,
            category=category,
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
        results: list[SubmitResult] = []
        for result in await self._turns(messages):
            if isinstance(result, BaseException):
                raise result  # a bug met by this caller's own message (see _store)
            results.append(result)
        return results

    async def _submit_turn(self, messages: list[OutgoingMessage]
                           ) -> list[SubmitResult | BaseException]:
        results: list[SubmitResult | BaseException | None] = [None] * len(messages)
        accepted: list[tuple[int, NewMessage]] = []
        # one look-up pass (learned reachability: one indexed read) for the whole turn;
        # messages refused for their text need none
        refusals = [_text_refusal(m) for m in messages]
        wanted = [i for i, refused in enumerate(refusals) if refused is None]
        lookups: list[NumberLookup | None] = [None] * len(messages)
        if wanted:
            found = await lookup_many([messages[i].to for i in wanted], self.numbers.policy,
                                      self.numbers.store, self.numbers.workers)
            for i, one in zip(wanted, found, strict=True):
                lookups[i] = one
        for i, message in enumerate(messages):
            looked_up = lookups[i]
            checked = refusals[i] if looked_up is None else self._checked(message, looked_up)
            assert checked is not None  # no look-up: refused for its text
            if isinstance(checked, Refused):
                results[i] = checked
            else:
                accepted.append((i, checked))
        if accepted and self.policy is not None:
            verdicts = await self.policy.review([new for _, new in accepted], self.max_segments)
            kept: list[tuple[int, NewMessage]] = []
            for (i, _new), verdict in zip(accepted, verdicts, strict=True):
                if isinstance(verdict, Refused):
                    results[i] = verdict
                else:
                    kept.append((i, verdict))
            accepted = kept
        if accepted:
            stored = await self._store([new for _, new in accepted])
            for (i, _new), outcome in zip(accepted, stored, strict=True):
                results[i] = _result(outcome)
        return [r for r in results if r is not None]

    async def _store(self, messages: list[NewMessage]) -> list[Enqueued | BaseException]:
        """One store unit for the turn. Should it fail as a whole (an SQL error: a bug, not a
        refusal), each message is tried in a unit of its own, so one caller's bad message
        fails that caller's request only."""
        try:
            return list(await self.scheduler.submit(messages, routed=True))
        except StoreClosedError:
            raise
        except Exception:
            if len(messages) == 1:
                raise
        alone: list[Enqueued | BaseException] = []
        for message in messages:
            try:
                alone.extend(await self.scheduler.submit([message], routed=True))
            except StoreClosedError:
                raise
            except Exception as exc:
                alone.append(exc)
        return alone


def _text_refusal(message: OutgoingMessage) -> Refused | None:
    """What refuses a message for its text alone, before its number is looked up."""
    if not message.text:
        return Refused("empty_text", "the message text is empty")
    if len(message.text) > MAX_TEXT_CHARS:
        return Refused("too_long", f"text longer than {MAX_TEXT_CHARS} characters")
    return None


def _result(outcome: Enqueued | BaseException) -> SubmitResult | BaseException:
    if isinstance(outcome, Enqueued):
        return outcome
    if isinstance(outcome, IdempotencyConflictError):
        return Refused("idempotency_conflict", str(outcome), existing_id=outcome.message_id)
    if isinstance(outcome, InvalidMessageError | ValueError):
        return Refused("invalid", str(outcome))
    return outcome


__all__ = ["Coalescer", "OutgoingMessage", "PolicyGate", "Refused", "SubmitResult", "Submitter"]
