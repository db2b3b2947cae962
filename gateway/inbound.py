"""Inbound SMS and status reports of one modem: read, decode, commit, and only then delete.

Everything a modem announces (`+CMTI`/`+CDSI`: stored; `+CMT`/`+CDS`: routed) is queued and
handled in order by one task per modem session, so reads and deletes never race each other.
Storage is drained (`AT+CMGL`) when a session starts, when the modem says its memory is full and
when a health poll finds messages left in it: a `+CMTI` lost in line noise costs a delay, never
a message. The store deduplicates re-reads and network redeliveries and reassembles
concatenated messages; `ReassemblyJanitor` closes groups whose missing parts never came.

A PDU that does not decode is still stored (raw, marked `undecodable`) and then deleted from the
SIM, so a crafted message can neither crash the gateway nor fill the SIM.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from drivers.errors import AtError, ConnectionLost, ErrorClass, ModemError
from drivers.events import (
    MessageReceived,
    MessageStored,
    ModemEvent,
    StatusReportReceived,
    StatusReportStored,
)
from drivers.models import StoredMessage
from drivers.modem import Modem
from drivers.pdu import Deliver, PduError, StatusReport, decode_pdu
from gateway.logging import log_event
from gateway.store.errors import StoreClosedError
from gateway.store.models import InboundMessage, InboundPart
from gateway.tasks import cancel_and_wait

if TYPE_CHECKING:
    from gateway.modem_status import ModemCounters
    from gateway.scheduler import Scheduler
    from gateway.store.protocol import Store

_LOG = logging.getLogger(__name__)

MessageListener = Callable[[InboundMessage], None]
"""Told (on the event loop) about each inbound message once it is committed: complete, or
closed incomplete by a ref reuse or the reassembly timeout."""

MAX_QUEUED = 4096  # announcements waiting; beyond this, a drain picks up what is stored
UNDECODABLE = "undecodable"


@dataclass(frozen=True, slots=True)
class _Drain:
    pass


_Work = MessageStored | MessageReceived | StatusReportReceived | StatusReportStored | _Drain


def _now() -> datetime:
    return datetime.now(UTC)


class InboundHandler:
    def __init__(
        self,
        modem_id: str,
        modem: Modem,
        *,
        store: Store,
        scheduler: Scheduler,
        counters: ModemCounters,
        on_message: MessageListener | None = None,
    ) -> None:
        self.modem_id = modem_id
        self.modem = modem
        self.store = store
        self.scheduler = scheduler
        self.counters = counters
        self._on_message = on_message
        self._queue: deque[_Work] = deque()
        self._pending = asyncio.Event()
        self._drain_queued = False
        self._busy = False
        self._report_storage = True  # until the modem says it has no "SR" memory

    @property
    def busy(self) -> bool:
        return self._busy or bool(self._queue)

    # --- intake (event-loop callbacks: never block) -------------------------------------------

    def on_event(self, event: ModemEvent) -> None:
        if not isinstance(
            event, MessageStored | MessageReceived | StatusReportReceived | StatusReportStored
        ):
            return
        if len(self._queue) >= MAX_QUEUED and isinstance(event, MessageStored):
            self.request_drain()  # it is on the SIM: the drain will find it
            return
        self._queue.append(event)
        self._pending.set()

    def request_drain(self) -> None:
        if not self._drain_queued:
            self._drain_queued = True
            self._queue.append(_Drain())
            self._pending.set()

    # --- the task ------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            await self._pending.wait()
            self._pending.clear()
            while self._queue:
                work = self._queue.popleft()
                self._busy = True
                try:
                    await self._handle(work)
                except ConnectionLost:
                    return  # the supervisor ends the session
                except StoreClosedError:
                    return
                except ModemError as exc:
                    # the SIM copy stays where it is; the next drain tries again
                    _LOG.warning("%s: inbound %s failed: %s", self.modem_id,
                                 type(work).__name__, exc)
                finally:
                    self._busy = False

    async def _handle(self, work: _Work) -> None:
        if isinstance(work, _Drain):
            self._drain_queued = False
            await self.drain()
        elif isinstance(work, MessageStored | StatusReportStored):
            message = await self.modem.read_message(work.index, storage=work.storage)
            if message is not None:
                await self._stored(message)
        else:  # routed directly (+CMT / +CDS): the driver acknowledged it if the modem needs it
            await self._pdu(work.pdu_hex)

    async def drain(self) -> int:
        """Handle everything in the modem's storage; returns how many entries were handled.

        Besides the read memory, the status-report memory ("SR") is listed: modems that
        announce reports with `+CDSI` keep them there, and a report that arrived while the
        gateway was stopped (its `+CDSI` unheard) would otherwise stay there for good and its
        message never leave `sent`."""
        handled = 0
        for message in await self.modem.list_messages():
            if await self._stored(message):
                handled += 1
        for message in await self._stored_reports():
            if await self._stored(message):
                handled += 1
        if handled:
            log_event(_LOG, "inbound_drained", modem=self.modem_id, handled=handled)
        return handled

    async def _stored_reports(self) -> list[StoredMessage]:
        if not self._report_storage:
            return []
        try:
            return await self.modem.list_messages(storage="SR")
        except AtError as exc:
            if exc.kind is not None and exc.error_class is ErrorClass.TEMPORARY:
                return []  # busy (SIM busy, memory failure): the next drain asks again
            # a bare ERROR to AT+CPMS="SR": no such memory on this modem (reports are routed
            # or kept with the messages): stop asking
            self._report_storage = False
            log_event(_LOG, "no_report_storage", level=logging.DEBUG, modem=self.modem_id,
                      error=str(exc))
            return []

    async def _stored(self, message: StoredMessage) -> bool:
        """One entry of SIM/ME storage: commit it, then delete it. False if left in place."""
        if message.stat in (2, 3):
            return False  # a stored outgoing message (not ours to take)
        if not await self._pdu(message.pdu_hex):
            return False
        await self.modem.delete_message(message.index, storage=message.storage)
        return True

    async def _pdu(self, pdu_hex: str) -> bool:
        """Decode and commit one PDU; True once it is durable (or is something we ignore)."""
        received_at = _now()
        try:
            pdu = decode_pdu(pdu_hex)
        except (PduError, ValueError) as exc:
            await self._undecodable(pdu_hex, received_at, str(exc))
            return True
        if isinstance(pdu, Deliver):
            await self._deliver(pdu, pdu_hex, received_at)
            return True
        if isinstance(pdu, StatusReport):
            await self._report(pdu, received_at)
            return True
        return False  # an SMS-SUBMIT in storage: leave it

    async def _deliver(self, pdu: Deliver, pdu_hex: str, received_at: datetime) -> None:
        data = pdu.user_data
        text = data.text if data.text is not None else data.payload.hex()
        concat = data.udh.concat if data.udh is not None else None
        part = InboundPart(
            modem_id=self.modem_id,
            sender=pdu.sender.number,
            text=text,
            encoding=data.encoding.value,
            smsc_timestamp=pdu.timestamp,
            received_at=received_at,
            pdu=pdu_hex,
            concat=(concat.ref, concat.total, concat.seq) if concat is not None else None,
        )
        result = await self.store.store_inbound(part)
        if result.duplicate:
            log_event(_LOG, "inbound_duplicate", level=logging.DEBUG, modem=self.modem_id,
                      sender=part.sender)
            return
        self.counters.received += 1
        log_event(
            _LOG, "inbound_part", level=logging.DEBUG, modem=self.modem_id, sender=part.sender,
            part=f"{concat.seq}/{concat.total}" if concat else "1/1",
        )
        for message in (*result.flushed, *((result.message,) if result.message else ())):
            _log_message(message)
            _notify(self._on_message, message)

    async def _report(self, pdu: StatusReport, received_at: datetime) -> None:
        self.counters.status_reports += 1
        match = await self.scheduler.status_report(
            self.modem_id,
            pdu.message_reference,
            pdu.recipient.number,
            pdu.status,
            received_at=received_at,
            discharge_time=pdu.discharge_time,
        )
        log_event(
            _LOG, "status_report", level=logging.DEBUG, modem=self.modem_id,
            mr=pdu.message_reference, tp_st=pdu.status,
            message=match.message_id if match else None,
            status=match.message_status.value if match else "unmatched",
        )

    async def _undecodable(self, pdu_hex: str, received_at: datetime, why: str) -> None:
        log_event(_LOG, "inbound_undecodable", level=logging.WARNING, modem=self.modem_id,
                  error=why, octets=len(pdu_hex) // 2)
        part = InboundPart(
            modem_id=self.modem_id,
            sender="",
            text="",
            encoding=UNDECODABLE,
            smsc_timestamp=received_at,
            received_at=received_at,
            pdu=pdu_hex[:4096],
        )
        await self.store.store_inbound(part)


def _notify(listener: MessageListener | None, message: InboundMessage) -> None:
    if listener is not None:
        try:
            listener(message)
        except Exception:
            _LOG.exception("inbound listener failed on %s", message.id)


def _log_message(message: InboundMessage) -> None:
    log_event(
        _LOG, "inbound_message", modem=message.modem_id, message=message.id,
        sender=message.sender, parts=f"{message.parts_received}/{message.parts_expected}",
        complete=message.complete,
    )


class ReassemblyJanitor:
    """Closes concatenated messages whose missing parts never arrived (delivered incomplete)."""

    def __init__(
        self, store: Store, timeout_s: float, *, on_message: MessageListener | None = None
    ) -> None:
        self.store = store
        self.on_message = on_message
        self.timeout = timedelta(seconds=timeout_s)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="reassembly-janitor"
            )

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def sweep(self) -> list[InboundMessage]:
        expired = await self.store.expire_reassembly(_now() - self.timeout)
        for message in expired:
            _log_message(message)
            _notify(self.on_message, message)
        return expired

    async def _run(self) -> None:
        interval = min(max(self.timeout.total_seconds() / 4, 0.05), 30.0)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except StoreClosedError:
                return
            except Exception:
                _LOG.exception("reassembly sweep failed; retrying")


__all__ = ["InboundHandler", "MessageListener", "ReassemblyJanitor"]
