"""Number look-ups of big batches in child processes, so a 10,000-message batch does not hold
the event loop (and the GIL the store writer shares) for the regex work libphonenumber does.

Measured on a 2-core box: a look-up is ~12 us of the event loop's ~35 us per batch message, and
the loop and the store writer together used one core while the other idled. With the look-ups
in a child, the loop spends ~2 us per number (marshal and building the answer).

Only batches of `min_batch` numbers or more go to a child: for a few numbers the round trip
costs more than the look-up, and single posts are answered from `gateway.numbers`' cache
anyway. A child that is slow, dies, or answers nonsense never costs an answer: its request gets
`None` and the caller looks the numbers up itself; the child is killed and replaced a little
later. Each request has a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import marshal
import os
import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import Final

from gateway.lookup_worker import HEADER, HELLO, MAX_FRAME, frame, policy_row, row_lookup
from gateway.numbers import NumberLookup, NumberPolicy
from gateway.tasks import cancel_and_wait

_LOG = logging.getLogger(__name__)

MIN_BATCH: Final = 200  # numbers in one turn before a child is worth the round trip
READY_WITHIN: Final = 60.0  # s for a child to import libphonenumber and say hello
DEADLINE_BASE: Final = 2.0  # s per request, plus
DEADLINE_PER_NUMBER: Final = 0.002  # s per number (a look-up takes ~0.015 ms; this is slack)
RESPAWN_AFTER: Final = 5.0  # s between a child's failure and its replacement
MAX_AUTO: Final = 2


def auto_count(cpus: int | None = None) -> int:
    """One child per CPU beyond the gateway's own, at most `MAX_AUTO`; none on one CPU, where a
    child would only add the round trip."""
    available = cpus if cpus is not None else len(os.sched_getaffinity(0))
    return max(0, min(MAX_AUTO, available - 1))


class WorkerGoneError(Exception):
    """A child that cannot answer (exited, hung, garbled); the caller looks up inline."""


class _Worker:
    """One child and the requests it has in hand, answered in the order they were sent."""

    def __init__(self, process: asyncio.subprocess.Process, name: str, deadline_base: float
                 ) -> None:
        self.process = process
        self.name = name
        self.deadline_base = deadline_base
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.gone = False
        self.failed_at = 0.0  # time.monotonic() of the failure, once gone
        self._closing = False
        self._waiting: deque[asyncio.Future[list[NumberLookup]]] = deque()
        self._reader = asyncio.get_running_loop().create_task(self._read(), name=f"{name}-read")

    @property
    def usable(self) -> bool:
        return not self.gone and self.ready.done()  # a failure before hello marks it gone

    async def request(self, numbers: Sequence[str], policy: NumberPolicy) -> list[NumberLookup]:
        if not self.usable:
            raise WorkerGoneError(f"{self.name} is not ready")
        stdin = self.process.stdin
        assert stdin is not None
        future: asyncio.Future[list[NumberLookup]] = asyncio.get_running_loop().create_future()
        deadline = self.deadline_base + DEADLINE_PER_NUMBER * len(numbers)
        try:
            async with asyncio.timeout(deadline):
                stdin.write(frame((list(numbers), policy_row(policy))))
                self._waiting.append(future)
                await stdin.drain()
                return await asyncio.shield(future)
        except TimeoutError:
            self.fail(f"no answer within {deadline:.1f} s")
            raise WorkerGoneError(f"{self.name}: no answer within {deadline:.1f} s") from None
        except (ConnectionError, BrokenPipeError, RuntimeError) as exc:
            self.fail(f"pipe: {exc}")
            raise WorkerGoneError(f"{self.name}: {exc}") from None

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        why = "exited"
        try:
            hello = await self._frame(stdout)
            if not (isinstance(hello, tuple) and hello[:1] == (HELLO,)):
                raise ValueError("no hello")
            self.ready.set_result(None)
            while True:
                rows = await self._frame(stdout)
                if not isinstance(rows, list):
                    raise ValueError("an answer that is not a list")
                answer = [row_lookup(row) for row in rows]
                if not self._waiting:
                    raise ValueError("an answer nobody asked for")
                future = self._waiting.popleft()
                if not future.done():  # its caller may have gone (cancelled)
                    future.set_result(answer)
        except asyncio.IncompleteReadError:
            why = "exited"
        except (ValueError, TypeError, EOFError, KeyError) as exc:
            why = f"garbled answer ({exc})"
        finally:
            self.fail(why)

    @staticmethod
    async def _frame(stream: asyncio.StreamReader) -> object:
        (size,) = HEADER.unpack(await stream.readexactly(HEADER.size))
        if size > MAX_FRAME:
            raise ValueError(f"frame of {size} bytes")
        return marshal.loads(await stream.readexactly(size))

    def fail(self, why: str) -> None:
        """Stop using this child: its waiting callers look up inline; it is killed."""
        if self.gone:
            return
        self.gone = True
        self.failed_at = time.monotonic()
        if not self._closing:
            _LOG.warning("number look-up child %s failed: %s; looking up inline meanwhile",
                         self.name, why)
        if not self.ready.done():
            self.ready.set_exception(WorkerGoneError(why))
            self.ready.exception()  # retrieved: nobody need wait on it
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(WorkerGoneError(why))
                future.exception()  # its caller may have gone: no "never retrieved" noise
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def close(self) -> None:
        self._closing = True
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()  # the child's cue to exit
        try:
            async with asyncio.timeout(5):
                await self.process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        await cancel_and_wait(self._reader)
        self.gone = True


class LookupPool:
    """`count` children, started with `start`; `lookup` answers a big batch or returns None."""

    def __init__(self, count: int, *, min_batch: int = MIN_BATCH,
                 respawn_after: float = RESPAWN_AFTER, deadline_base: float = DEADLINE_BASE
                 ) -> None:
        self.count = count
        self.min_batch = min_batch
        self.respawn_after = respawn_after
        self.deadline_base = deadline_base
        self._workers: list[_Worker | None] = [None] * count
        self._spawning: set[asyncio.Task[None]] = set()
        self._started = False
        self._closed = False

    async def start(self) -> None:
        """Spawn the children now; they become usable once they have said hello (until then
        batches are looked up inline). Without `start`, the first batch big enough to use them
        spawns them: a gateway that never sees one never pays for them."""
        self._started = True
        await self._start_all()

    async def wait_ready(self, within: float = READY_WITHIN) -> bool:
        """Whether every child said hello within `within` s (tests and benchmarks)."""
        workers = [w for w in self._workers if w is not None]
        try:
            async with asyncio.timeout(within):
                await asyncio.gather(*(w.ready for w in workers))
        except (TimeoutError, WorkerGoneError):
            return False
        return len(workers) == self.count

    async def _spawn(self, slot: int) -> None:
        if self._closed:
            return
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.lookup_worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        self._workers[slot] = _Worker(process, f"lookup-{slot}", self.deadline_base)

    def _replace_failed(self) -> None:
        now = time.monotonic()
        for slot, worker in enumerate(self._workers):
            if worker is None or not worker.gone or self._spawning:
                continue
            if now - worker.failed_at < self.respawn_after:
                continue
            task = asyncio.get_running_loop().create_task(self._respawn(slot, worker),
                                                          name=f"lookup-{slot}-respawn")
            self._spawning.add(task)
            task.add_done_callback(self._spawning.discard)

    async def _start_all(self) -> None:
        try:
            for slot in range(self.count):
                await self._spawn(slot)
        except OSError as exc:
            _LOG.warning("number look-up children could not start: %s", exc)

    async def _respawn(self, slot: int, old: _Worker) -> None:
        await old.close()
        try:
            await self._spawn(slot)
        except OSError as exc:
            _LOG.warning("number look-up child %d could not start: %s", slot, exc)

    async def lookup(self, numbers: Sequence[str], policy: NumberPolicy
                     ) -> list[NumberLookup] | None:
        """`gateway.numbers.lookup(n, policy)` for each number, from the children; None when
        the batch is small, no child is ready, or a child failed (look up inline then)."""
        if len(numbers) < self.min_batch or self._closed or not self.count:
            return None
        if not self._started:
            self._started = True
            task = asyncio.get_running_loop().create_task(self._start_all(), name="lookup-start")
            self._spawning.add(task)
            task.add_done_callback(self._spawning.discard)
            return None
        self._replace_failed()
        ready = [w for w in self._workers if w is not None and w.usable]
        if not ready:
            return None
        share = -(-len(numbers) // len(ready))
        parts = [numbers[i:i + share] for i in range(0, len(numbers), share)]
        try:
            answers = await asyncio.gather(*(
                worker.request(part, policy)
                for worker, part in zip(ready, parts, strict=False)))  # parts may be fewer
        except WorkerGoneError:
            return None
        found = [one for answer in answers for one in answer]
        if len(found) != len(numbers):
            _LOG.warning("number look-up children answered %d of %d; looking up inline",
                         len(found), len(numbers))
            return None
        return found

    async def close(self) -> None:
        self._closed = True
        for task in list(self._spawning):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for worker in self._workers:
            if worker is not None:
                await worker.close()

    def pids(self) -> list[int]:
        """The live children's process ids (tests; `smsgw status` may show them)."""
        return [w.process.pid for w in self._workers if w is not None and not w.gone]


__all__ = ["MIN_BATCH", "LookupPool", "WorkerGoneError", "auto_count"]
