"""Group commit: one writer connection, many callers, one durable transaction per batch.

Callers hand in a unit of work and await their own commit. The writer task takes everything
queued since the last commit (up to `max_batch`), runs it in one `BEGIN IMMEDIATE ... COMMIT` on
the writer thread with a SAVEPOINT around each unit, and resolves each caller's future with its
own result or exception. One failing unit rolls back only itself; a failed COMMIT fails the whole
batch (nothing in it was acknowledged). With `synchronous=FULL` the fsync is paid once per batch,
so durability costs latency, not throughput: the more callers wait, the bigger the batch.

A caller that is cancelled while waiting does not un-run its unit: it may still commit.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import StoreClosedError
from .thread import SqliteThread, UnitOfWork

T = TypeVar("T")
_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    fn: UnitOfWork[Any]
    future: asyncio.Future[Any]


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    value: Any


def apply_batch(conn: sqlite3.Connection, fns: list[UnitOfWork[Any]]) -> list[_Outcome]:
    """Runs on the writer thread: one transaction, one savepoint per unit."""
    outcomes: list[_Outcome] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for fn in fns:
            conn.execute("SAVEPOINT unit")
            try:
                value = fn(conn)
            except Exception as exc:  # the unit's own failure: undo it, keep the batch
                conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
                outcomes.append(_Outcome(False, exc))
            else:
                conn.execute("RELEASE unit")
                outcomes.append(_Outcome(True, value))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _apply_to(fns: list[UnitOfWork[Any]], conn: sqlite3.Connection) -> list[_Outcome]:
    return apply_batch(conn, fns)


class GroupCommitWriter:
    """Serialises every write of the store through one connection, batching commits."""

    def __init__(
        self,
        thread: SqliteThread,
        *,
        max_batch: int = 512,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._thread = thread
        self._max_batch = max_batch
        self._after_commit = after_commit
        self._queue: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.batches = 0  # commits so far (for benchmarks and metrics)
        self.units = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"store-writer[{self._thread.name}]")

    async def submit(self, fn: UnitOfWork[T]) -> T:
        """Queue a unit of work and wait until the transaction holding it has committed."""
        if self._closing or self._task is None:
            raise StoreClosedError("the store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(fn, future))
        self._wake.set()
        return await future

    async def close(self) -> None:
        """Refuse new work, commit what is queued, stop the task."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))]
            fns = [p.fn for p in batch]
            try:
                outcomes = await self._thread.run(functools.partial(_apply_to, fns))
            except Exception as exc:
                _LOGGER.error("store batch of %d units failed to commit: %s", len(batch), exc)
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                continue
            except asyncio.CancelledError:
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(StoreClosedError("store writer cancelled"))
                raise
            self.batches += 1
            self.units += len(batch)
            if self._after_commit is not None:
                try:
                    self._after_commit()
                except Exception:  # a listener's bug must not stall every writer
                    _LOGGER.exception("store after-commit listener failed")
            for pending, outcome in zip(batch, outcomes, strict=True):
                if pending.future.done():
                    continue
                if outcome.ok:
                    pending.future.set_result(outcome.value)
                else:
                    pending.future.set_exception(outcome.value)
