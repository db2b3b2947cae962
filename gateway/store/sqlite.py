"""SQLite implementation of `Store`: WAL, one group-commit writer, separate readers.

Opening the store takes an exclusive lock file (one daemon per database: crash recovery would
otherwise mistake another live daemon's sends for a crash), applies migrations, then recovers
messages left in `sending`. Writes go through `GroupCommitWriter` with `synchronous=FULL`, so a
caller's await returns only once its change is on disk. Reads use their own connection and
never wait for the writer (WAL).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from . import sqlite_inbound as inbound
from . import sqlite_outbound as outbound
from . import sqlite_queries as queries
from . import sqlite_reports as reports
from .errors import StoreClosedError, StoreError
from .migrations import migrate
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
from .options import StoreOptions, UncertainPolicy
from .protocol import TransitionListener, WorkListener
from .rows import to_ms
from .thread import SqliteThread, UnitOfWork
from .writer import GroupCommitWriter
from .writer_state import WriterState

T = TypeVar("T")
Clock = Callable[[], datetime]
_LOGGER = logging.getLogger(__name__)

WRITER_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",  # every commit that acknowledges a caller is on disk
    "PRAGMA busy_timeout = 5000",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -16000",  # 16 MB: the hot indexes, not the whole queue
    "PRAGMA foreign_keys = OFF",
)
READER_PRAGMAS = (
    "PRAGMA busy_timeout = 5000",
    "PRAGMA query_only = ON",
    "PRAGMA cache_size = -8000",
)
INLINE_PRAGMAS = (
    "PRAGMA busy_timeout = 250",  # it blocks the event loop: fail rather than wait long
    "PRAGMA query_only = ON",
    "PRAGMA cache_size = -8000",
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class StoreLockedError(StoreError):
    """Another process holds this database."""


def _lock(path: Path) -> int:
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreLockedError(f"{path} is in use by another smsgw process") from None
    return fd


class SqliteStore:
    """See `Store` for the contract of each method."""

    def __init__(
        self,
        path: Path,
        *,
        writer: SqliteThread,
        readers: list[SqliteThread],
        options: StoreOptions,
        clock: Clock,
        lock_fd: int | None,
        max_batch: int,
    ) -> None:
        self.path = path
        self.options = options
        self._clock = clock
        self._writer_thread = writer
        self._readers = readers
        self._next_reader = 0
        self._lock_fd = lock_fd
        self._state = WriterState()
        self._writer = GroupCommitWriter(writer, max_batch=max_batch, after_commit=self._committed)
        self._work_listeners: list[WorkListener] = []
        self._transition_listeners: list[TransitionListener] = []
        self._last_notified_transition = 0
        self._recovery = RecoveryReport((), 0, 0)
        self._closed = False
        self._inline: sqlite3.Connection | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        path: Path | str,
        *,
        options: StoreOptions | None = None,
        clock: Clock = utcnow,
        readers: int = 1,
        max_batch: int = 512,
    ) -> SqliteStore:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = _lock(path)
        threads: list[SqliteThread] = []
        try:
            writer = await SqliteThread.open(path, name="writer", pragmas=WRITER_PRAGMAS)
            threads.append(writer)
            await writer.run(migrate)
            for n in range(readers):
                threads.append(
                    await SqliteThread.open(path, name=f"reader{n}", pragmas=READER_PRAGMAS)
                )
        except BaseException:
            for thread in threads:
                await thread.close()
            os.close(lock_fd)
            raise
        store = cls(
            path,
            writer=writer,
            readers=threads[1:],
            options=options or StoreOptions(),
            clock=clock,
            lock_fd=lock_fd,
            max_batch=max_batch,
        )
        store._writer.start()
        try:
            await store._recover()
        except BaseException:
            await store.close()
            raise
        return store

    @classmethod
    async def open_readonly(cls, path: Path | str, *, clock: Clock = utcnow) -> SqliteStore:
        """Readers only, no lock, no migration, no recovery: for CLI look-ups beside a daemon."""
        reader = await SqliteThread.open(
            path, name="reader0", readonly=True, pragmas=("PRAGMA busy_timeout = 5000",)
        )
        return cls(
            Path(path),
            writer=reader,
            readers=[reader],
            options=StoreOptions(),
            clock=clock,
            lock_fd=None,
            max_batch=1,
        )

    async def _recover(self) -> None:
        policy = self.options.uncertain_policy
        now_ms = self._now_ms()
        report = await self._write(lambda c: outbound.recover(c, self._state, policy, now_ms))
        self._recovery = report
        if report.uncertain:
            _LOGGER.warning(
                "found %d message(s) in 'sending' after an unclean stop: marked uncertain, "
                "%d requeued, %d failed (uncertain_policy=%s)",
                len(report.uncertain),
                report.requeued,
                report.failed,
                policy,
            )

    @property
    def recovery(self) -> RecoveryReport:
        return self._recovery

    @property
    def commits(self) -> int:
        return self._writer.batches

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._writer.close()
        closed: set[int] = set()
        for thread in [*self._readers, self._writer_thread]:
            if id(thread) not in closed:
                closed.add(id(thread))
                await thread.close()
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- plumbing -----------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock()

    def _now_ms(self) -> int:
        return to_ms(self._clock())

    async def _write(self, fn: UnitOfWork[T]) -> T:
        return await self._writer.submit(fn)

    async def _read(self, fn: UnitOfWork[T]) -> T:
        if self._closed:
            raise StoreClosedError("the store is closed")
        reader = self._readers[self._next_reader % len(self._readers)]
        self._next_reader += 1
        return await reader.run(fn)

    def read_inline(self, fn: UnitOfWork[T]) -> T:
        """Run a small read on the event loop's own thread, without a round trip.

        For the API's hot path only: point look-ups by primary key or index over a bounded set
        of keys (a batch's numbers), which SQLite answers in microseconds from its page cache.
        A trip to a reader thread costs more than the query (a future, a thread wake-up, the
        GIL handed back and forth), and under load those trips were a fifth of the gateway's
        CPU. Anything that scans (lists, reports, exports) stays on `run_in_reader`. WAL gives
        this connection the last committed state, as it does the readers.
        """
        if self._closed:
            raise StoreClosedError("the store is closed")
        conn = self._inline
        if conn is None:
            conn = self._inline = sqlite3.connect(
                f"file:{quote(str(self.path))}?mode=ro", uri=True, isolation_level=None)
            for pragma in INLINE_PRAGMAS:
                conn.execute(pragma)
        return fn(conn)

    def _committed(self) -> None:
        ready, self._state.made_ready = self._state.made_ready, 0
        if ready:
            for work_listener in list(self._work_listeners):
                work_listener(ready)
        last = self._state.max_transition_id
        if last > self._last_notified_transition:
            self._last_notified_transition = last
            for transition_listener in list(self._transition_listeners):
                transition_listener(last)

    def add_work_listener(self, listener: WorkListener) -> None:
        self._work_listeners.append(listener)

    def add_transition_listener(self, listener: TransitionListener) -> None:
        self._transition_listeners.append(listener)

    # -- outbound -----------------------------------------------------------------------------

    async def enqueue(self, message: NewMessage) -> Enqueued:
        now_ms = self._now_ms()
        return await self._write(
            lambda c: outbound.enqueue(c, self._state, self.options, message, now_ms)
        )

    async def enqueue_many(self, messages: Sequence[NewMessage]) -> list[Enqueued | Exception]:
        now_ms = self._now_ms()
        batch = list(messages)
        return await self._write(
            lambda c: outbound.enqueue_many(c, self._state, self.options, batch, now_ms)
        )

    async def get_message(self, message_id: str) -> MessageDetail | None:
        return await self._read(lambda c: queries.message_detail(c, message_id))

    async def list_messages(self, query: MessageQuery) -> MessagePage:
        return await self._read(lambda c: queries.list_messages(c, query))

    async def cancel(self, message_id: str) -> Message:
        now_ms = self._now_ms()
        return await self._write(lambda c: outbound.cancel(c, self._state, message_id, now_ms))

    async def claim(self, request: ClaimRequest) -> Job | None:
        now_ms = to_ms(request.now)
        return await self._write(lambda c: outbound.claim(c, self._state, request, now_ms))

    async def part_sent(
        self,
        job: Job,
        part: int,
        mr: int,
        *,
        pdu: str | None = None,
        tpdu_length: int | None = None,
    ) -> OutcomeResult:
        now_ms = self._now_ms()
        return await self._write(
            lambda c: outbound.part_sent(
                c,
                self._state,
                self.options,
                job,
                part=part,
                mr=mr,
                pdu=pdu,
                tpdu_length=tpdu_length,
                now_ms=now_ms,
            )
        )

    async def fail_attempt(self, job: Job, record: FailureRecord) -> OutcomeResult:
        now_ms = self._now_ms()
        return await self._write(lambda c: outbound.failure(c, self._state, job, record, now_ms))

    async def mark_uncertain(
        self, job: Job, detail: str, *, policy: UncertainPolicy, max_attempts: int
    ) -> OutcomeResult:
        now_ms = self._now_ms()
        return await self._write(
            lambda c: outbound.uncertain(
                c,
                self._state,
                job,
                policy=policy,
                detail=detail,
                max_attempts=max_attempts,
                now_ms=now_ms,
            )
        )

    async def release(self, job: Job, *, day: str = "") -> OutcomeResult:
        now_ms = self._now_ms()
        return await self._write(lambda c: outbound.release(c, self._state, job, day, now_ms))

    async def status_report(self, report: StatusReportIn) -> StatusReportMatch | None:
        now_ms = self._now_ms()
        return await self._write(
            lambda c: reports.match_report(c, self._state, self.options, report, now_ms)
        )

    async def promote_due(self) -> Housekeeping:
        now_ms = self._now_ms()
        return await self._write(lambda c: outbound.promote_due(c, self._state, now_ms))

    async def ready_pools(self) -> set[str]:
        return await self._read(queries.ready_pools)

    async def queue_depth(self) -> dict[Lane, int]:
        return await self._read(queries.queue_depth)

    async def counts_by_status(self) -> dict[str, int]:
        return await self._read(queries.counts_by_status)

    async def sim_usage(self, modem_id: str, day: str, month: str) -> SimUsage:
        return await self._read(lambda c: queries.sim_usage(c, modem_id, day, month))

    async def transitions_since(self, after_id: int, limit: int = 500) -> list[Transition]:
        return await self._read(lambda c: queries.transitions_since(c, after_id, limit))

    # -- inbound ------------------------------------------------------------------------------

    async def store_inbound(self, part: InboundPart) -> InboundResult:
        return await self._write(lambda c: inbound.store_part(c, self._state, part))

    async def expire_reassembly(self, older_than: datetime) -> list[InboundMessage]:
        cutoff = to_ms(older_than)
        return await self._write(lambda c: inbound.expire_reassembly(c, self._state, cutoff))

    async def get_inbound(self, message_id: str) -> InboundMessage | None:
        return await self._read(lambda c: inbound.get_inbound(c, message_id))

    async def list_inbound(self, query: InboundQuery) -> list[InboundMessage]:
        return await self._read(lambda c: inbound.list_inbound(c, query))

    # -- numbers and upkeep -------------------------------------------------------------------

    async def reachability(self, number: str) -> LearnedReachability | None:
        now_ms = self._now_ms()
        return await self._read(lambda c: queries.reachability(c, number, now_ms))

    async def learn_reachability(self, number: str, state: Reachability, reason: str) -> None:
        now_ms = self._now_ms()
        await self._write(
            lambda c: reports.learn(
                c, self.options, number=number, state=state, reason=reason, now_ms=now_ms
            )
        )

    async def prune(self) -> dict[str, int]:
        """Drop bookkeeping that has aged out (dedupe keys, orphan reports, old counters)."""
        now = self._now()
        options = self.options
        months_before = (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        sticky = options.sticky_ttl

        def unit(c: sqlite3.Connection) -> dict[str, int]:
            counts = queries.prune(
                c,
                orphans_before=to_ms(now - options.orphan_report_ttl),
                months_before=months_before,
                conversations_before=None if sticky is None else to_ms(now - sticky),
                reachability_before=to_ms(now),
            )
            counts["inbound_parts"] = inbound.prune_dedupe(
                c, to_ms(now - options.inbound_dedupe_ttl)
            )
            return counts

        return await self._write(unit)

    async def run_in_writer(self, fn: UnitOfWork[T]) -> T:
        """Escape hatch for gateway modules with tables of their own (keys, webhooks outbox):
        run a unit of work inside the next group commit."""
        return await self._write(fn)

    async def run_in_reader(self, fn: UnitOfWork[T]) -> T:
        return await self._read(fn)
