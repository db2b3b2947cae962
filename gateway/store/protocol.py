"""The store interface the rest of the gateway is written against.

Narrow on purpose: each method is one durable decision or one read, expressed in the models'
terms, never in SQL. `SqliteStore` implements it with one group-commit writer; a PostgreSQL
store for a fleet of gateways can implement the same methods (a claim there would be
`SELECT ... FOR UPDATE SKIP LOCKED`). Every write method returns only after its commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from .models import (
    ClaimRequest,
    Enqueued,
    FailureRecord,
    Housekeeping,
    InboundMessage,
    InboundPart,
    InboundQuery,
    InboundResult,
    Job,
    Lane,
    LearnedReachability,
    Message,
    MessageDetail,
    MessagePage,
    MessageQuery,
    NewMessage,
    OutcomeResult,
    Reachability,
    RecoveryReport,
    SimUsage,
    StatusReportIn,
    StatusReportMatch,
    Transition,
)
from .options import UncertainPolicy

WorkListener = Callable[[int], None]
"""Called on the event loop after a commit that made `n` messages ready to claim."""

TransitionListener = Callable[[int], None]
"""Called on the event loop after a commit that recorded transitions up to this id."""


class Store(Protocol):
    @property
    def recovery(self) -> RecoveryReport:
        """What opening the store found in `sending` and did about it."""
        ...

    async def close(self) -> None: ...

    # -- accepting and reading messages
    async def enqueue(self, message: NewMessage) -> Enqueued:
        """Durably accept one message. Raises IdempotencyConflictError, InvalidMessageError."""
        ...

    async def enqueue_many(self, messages: Sequence[NewMessage]) -> list[Enqueued | Exception]:
        """Accept many in one transaction; each entry is its result or the error refusing it."""
        ...

    async def get_message(self, message_id: str) -> MessageDetail | None: ...

    async def list_messages(self, query: MessageQuery) -> MessagePage: ...

    async def cancel(self, message_id: str) -> Message:
        """Raises NotFoundError, or NotCancelableError unless queued or scheduled."""
        ...

    # -- the scheduler's side
    async def claim(self, request: ClaimRequest) -> Job | None:
        """Commit the next eligible message as `sending` on this modem, or None."""
        ...

    async def part_sent(
        self,
        job: Job,
        part: int,
        mr: int,
        *,
        pdu: str | None = None,
        tpdu_length: int | None = None,
    ) -> OutcomeResult: ...

    async def fail_attempt(self, job: Job, record: FailureRecord) -> OutcomeResult: ...

    async def mark_uncertain(
        self, job: Job, detail: str, *, policy: UncertainPolicy, max_attempts: int
    ) -> OutcomeResult: ...

    async def release(self, job: Job, *, day: str = "") -> OutcomeResult: ...

    async def status_report(self, report: StatusReportIn) -> StatusReportMatch | None: ...

    async def promote_due(self) -> Housekeeping:
        """Start scheduled sends that are due, end retry holds, expire what is past validity."""
        ...

    async def prune(self) -> dict[str, int]:
        """Drop bookkeeping that has aged out; returns rows removed per table."""
        ...

    async def ready_pools(self) -> set[str]: ...

    async def queue_depth(self) -> dict[Lane, int]: ...

    async def counts_by_status(self) -> dict[str, int]: ...

    async def sim_usage(self, modem_id: str, day: str, month: str) -> SimUsage: ...

    def add_work_listener(self, listener: WorkListener) -> None: ...

    # -- feeds for webhooks and metrics
    async def transitions_since(self, after_id: int, limit: int = 500) -> list[Transition]: ...

    def add_transition_listener(self, listener: TransitionListener) -> None: ...

    # -- inbound
    async def store_inbound(self, part: InboundPart) -> InboundResult:
        """Durably store a received part; only after this returns may the SIM copy be deleted."""
        ...

    async def expire_reassembly(self, older_than: datetime) -> list[InboundMessage]: ...

    async def get_inbound(self, message_id: str) -> InboundMessage | None: ...

    async def list_inbound(self, query: InboundQuery) -> list[InboundMessage]: ...

    # -- numbers
    async def reachability(self, number: str) -> LearnedReachability | None: ...

    async def learn_reachability(self, number: str, state: Reachability, reason: str) -> None: ...
