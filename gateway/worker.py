"""The send loop of one ready modem: ask the scheduler for a job, send its parts, file the outcome.

Pull, never push: a worker asks for its next message only when it is idle and its supervisor
says the modem is ready, so a slow or broken modem holds at most the one message in its hands.
Every part of a message goes out through this one SIM; consecutive submits run under
`AT+CMMS=2` so the radio link stays up through a long message or a burst of short ones.

How an error is filed depends on what may have reached the network:

| what happened                                   | filed as                   | the modem       |
|-------------------------------------------------|----------------------------|-----------------|
| `+CMS`/`+CME ERROR` (the modem said no)         | `failed`, by its class     | SIM/modem: out  |
| no `> ` prompt, a command timeout               | `failed`, modem class      | probed (hang)   |
| Ctrl-Z sent, no `+CMGS` (or the port died then) | `uncertain` (store policy) | probed (hang)   |
| modem rebooting / port gone before the submit   | `released` (no attempt)    | supervisor's    |
| we could not encode it / the driver refused it  | `failed`, bug class (loud) | kept            |
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol

from drivers.errors import (
    AtError,
    CommandTimeout,
    ConnectionLost,
    ErrorClass,
    InvalidRequest,
    ModemError,
    ModemNotReady,
    ModemRebootedError,
    SubmitOutcomeUnknown,
)
from drivers.modem import Modem
from gateway.encoding import encode_job
from gateway.logging import log_event
from gateway.retry import RetryDecision, SendFailure
from gateway.store.errors import StoreClosedError
from gateway.store.models import Job

if TYPE_CHECKING:
    from gateway.scheduler import Scheduler
    from gateway.supervisor import ModemSupervisor

_LOG = logging.getLogger(__name__)

FAST_SUBMIT = 0.05  # seconds: a modem this quick may claim one job ahead (see `_loop`)


class SubmitObserver(Protocol):
    """Where submit times go (`GatewayMetrics`)."""

    def observe_modem_submit(self, modem_id: str, seconds: float) -> None: ...


class Worker:
    def __init__(
        self,
        host: ModemSupervisor,
        modem: Modem,
        scheduler: Scheduler,
        *,
        metrics: SubmitObserver | None = None,
    ) -> None:
        self.host = host
        self.metrics = metrics
        self.modem = modem
        self.scheduler = scheduler
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._burst = False  # AT+CMMS=2 is on
        self._streak = 0  # jobs in a row without the queue running dry
        self._writes: set[asyncio.Task[None]] = set()
        self._prefetch: asyncio.Task[Job | None] | None = None
        self._fast = False  # the last submit took less than FAST_SUBMIT

    def stop(self) -> None:
        """Take no new job; the one in hand is finished (or filed when cancelled)."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    async def wait_finished(self, within: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._idle.wait()
                await self._drain_writes()
        return self._idle.is_set() and not self._writes

    def _write_behind(self, outcome: Awaitable[object]) -> None:
        task = asyncio.get_running_loop().create_task(self._file(outcome), name="part-sent")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _drain_writes(self) -> None:
        """Wait for the background writes (outcomes of one job are filed in order)."""
        if self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    async def run(self) -> None:
        try:
            await self._loop()
        finally:
            # the session is ending: outcomes already on their way must still be committed
            await asyncio.shield(self._drain_writes())

    async def _loop(self) -> None:
        host = self.host
        wait = host.options.idle_wait
        try:
            while not self._stopping:
                await host.claimable.wait()
                if self.stopping:
                    return
                try:
                    job = await self._next(wait)
                except StoreClosedError:
                    return
                if job is None:
                    self._streak = 0
                    await self._burst_mode(False)
                    continue
                self._streak += 1
                self._idle.clear()
                try:
                    if self.stopping or not host.claimable.is_set():
                        await self._release(job)
                        continue
                    if self._fast:
                        # a modem that answers in milliseconds claims its next job while it
                        # sends this one; a slow one never holds more than the job in hand
                        self._prefetch = asyncio.get_running_loop().create_task(
                            self.scheduler.next_job(host.modem_info()), name="prefetch"
                        )
                    started = time.monotonic()
                    async with host.port_lock:
                        await self._send(job)
                    self._fast = time.monotonic() - started < FAST_SUBMIT
                    if self.stopping or not host.claimable.is_set():
                        await self._drop_prefetch()
                finally:
                    self._idle.set()
        finally:
            await asyncio.shield(self._drop_prefetch())

    async def _next(self, wait: float) -> Job | None:
        prefetch, self._prefetch = self._prefetch, None
        if prefetch is not None:
            job = await prefetch
            if job is not None:
                return job
        return await self.scheduler.next_job(self.host.modem_info(), wait=wait)

    async def _drop_prefetch(self) -> None:
        """Give back a job claimed ahead (the modem stopped being ready meanwhile)."""
        prefetch, self._prefetch = self._prefetch, None
        if prefetch is None:
            return
        if not prefetch.done():
            prefetch.cancel()  # the scheduler releases a claim that lands after this
        with contextlib.suppress(asyncio.CancelledError, StoreClosedError):
            job = await prefetch
            if job is not None:
                await self._release(job)

    async def _release(self, job: Job) -> None:
        await self._file(self.scheduler.release(job))
        self.host.counters.released += 1

    async def _burst_mode(self, on: bool) -> None:
        if self._burst == on:
            return
        self._burst = on
        try:
            async with self.host.port_lock:
                await self.modem.set_burst(on)
        except ModemError as exc:
            _LOG.debug("%s: AT+CMMS=%d failed: %s", self.host.label, 2 if on else 0, exc)

    async def _send(self, job: Job) -> None:
        host = self.host
        try:
            pdus = encode_job(job, smsc=host.spec.smsc)
        except ValueError as exc:
            await self._failed(job, SendFailure(ErrorClass.BUG, str(exc), code="ENCODE"))
            return
        if not self._burst and (len(pdus) > 1 or self._streak > 1):
            # a long message or a queue with more behind this one: keep the link up
            self._burst = True
            with contextlib.suppress(ModemError):
                await self.modem.set_burst(True)
        sent_now = 0
        on_wire = False
        started = time.monotonic()
        try:
            for pdu in pdus:
                if self.modem.channel.lost is not None:
                    raise self.modem.channel.lost
                on_wire = True
                mr = await self.modem.send_pdu(pdu.hex, pdu.tpdu_length)
                on_wire = False
                sent_now += 1
                host.counters.parts_sent += 1
                # committed in the background: the next claim's transaction usually carries it,
                # so a message costs one commit wait, not two (a crash before that commit
                # leaves it `sending`, which recovery flags uncertain: never lost)
                self._write_behind(self.scheduler.part_sent(
                    job, pdu.seq, mr, pdu=pdu.hex, tpdu_length=pdu.tpdu_length
                ))
            host.counters.messages_sent += 1
            if self.metrics is not None and host.modem_id is not None:
                self.metrics.observe_modem_submit(host.modem_id, time.monotonic() - started)
            log_event(_LOG, "sent", level=logging.DEBUG, modem=host.label,
                      message=job.message_id, parts=len(pdus))
        except asyncio.CancelledError:
            # shutdown or the session ended under us: file what we know, then go
            await asyncio.shield(self._interrupted(job, on_wire, sent_now, "worker stopped"))
            raise
        except SubmitOutcomeUnknown as exc:
            await self._uncertain(job, str(exc))
            host.report_hang(str(exc))
        except ConnectionLost as exc:
            await self._interrupted(job, on_wire, sent_now, f"port lost: {exc}")
        except (ModemRebootedError, ModemNotReady) as exc:
            await self._interrupted(job, False, sent_now, str(exc))
        except AtError as exc:
            decision = await self._failed(job, SendFailure.from_exception(exc))
            if decision is not None and decision.take_sim_out:
                host.report_trouble(exc.error_class, str(exc))
        except CommandTimeout as exc:  # includes PromptTimeout: nothing was submitted
            await self._failed(job, SendFailure.from_exception(exc))
            host.report_hang(str(exc))
        except InvalidRequest as exc:
            await self._failed(job, SendFailure.from_exception(exc))
        except ModemError as exc:
            decision = await self._failed(job, SendFailure.from_exception(exc))
            if decision is not None and decision.take_sim_out:
                host.report_trouble(exc.error_class, str(exc))

    async def _interrupted(self, job: Job, on_wire: bool, sent_now: int, why: str) -> None:
        """The job stopped for a reason that is not the message's fault."""
        await self._drain_writes()
        if on_wire:
            await self._uncertain(job, f"{why} during AT+CMGS")
            return
        partial = sent_now > 0 or len(job.parts) < job.segments
        if partial:
            # some parts went out through this SIM: keep the message pinned to it
            await self._failed(job, SendFailure(ErrorClass.TEMPORARY, why, code="INTERRUPTED"))
            return
        await self._release(job)

    async def _uncertain(self, job: Job, detail: str) -> None:
        await self._drain_writes()
        self.host.counters.uncertain += 1
        log_event(_LOG, "submit_uncertain", level=logging.WARNING, modem=self.host.label,
                  message=job.message_id, detail=detail)
        await self._file(self.scheduler.uncertain(job, detail))

    async def _failed(self, job: Job, failure: SendFailure) -> RetryDecision | None:
        await self._drain_writes()
        self.host.counters.send_failures += 1
        log_event(_LOG, "send_failed", level=logging.INFO, modem=self.host.label,
                  message=job.message_id, error_class=failure.error_class.value,
                  code=failure.code, detail=failure.detail)
        try:
            return await self.scheduler.failed(job, failure)
        except StoreClosedError:
            return None

    async def _file(self, outcome: Awaitable[object]) -> None:
        """Await a store write; a store closing under a shutdown is not our error."""
        with contextlib.suppress(StoreClosedError):
            await outcome


__all__ = ["SubmitObserver", "Worker"]
