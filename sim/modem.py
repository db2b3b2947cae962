"""One simulated modem: a byte-in/byte-out AT interpreter with timers on the event loop.

The modem knows nothing about ptys or sockets: a link calls `feed()` with what the host wrote and
receives output through the sinks it attached. Everything that takes time (submit latency, boot
banners, fault windows) is a loop timer owned by the modem and cancelled by `close()`, so the same
object runs behind a pseudo-terminal, a TCP socket or an in-process transport.

Command handlers live in `sim.commands` (one table per area, dialects extend them); this module
keeps the wire discipline: echo, the `> ` prompt, result codes per `+CMEE`/`ATV`, URC buffering
per `+CNMI`, and the places where faults show.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from drivers.pdu import PduError, Submit, decode_pdu
from sim.atline import AtCommand, Form, parse_line
from sim.errors import (
    CMS_BAD_PDU,
    CMS_BAD_TEXT,
    CMS_NO_NETWORK,
    CMS_NO_SMSC,
    AtError,
)
from sim.faults import ActiveFault, ActiveFaults, FaultKind, FaultSpec, garbage_bytes
from sim.identity import SimCard, make_imei
from sim.storage import MessageStore, Stat, StoredMessage
from sim.textmode import decode_te_text
from sim.tpdu import split_smsc

if TYPE_CHECKING:
    from sim.dialects import Dialect
    from sim.network import Network, OutboundPart

log = logging.getLogger(__name__)

Sink = Callable[[bytes], None]
MAX_LINE = 4096
MAX_BODY = 2048
MAX_HELD = 65536
CTRL_Z = 0x1A
ESC = 0x1B


class Mode(Enum):
    OFFLINE = "offline"  # powered off or before RDY: input is lost
    COMMAND = "command"
    PROMPT = "prompt"  # after `> `: collecting a PDU or text until Ctrl-Z / ESC
    BUSY = "busy"  # waiting for the network to accept a submit; input is held


class ModemState(StrEnum):
    """What `GET /modems` reports, most severe condition first."""

    UNPLUGGED = "unplugged"
    HUNG = "hung"
    BOOTING = "booting"
    SIM_REMOVED = "sim_removed"
    PIN_REQUIRED = "pin_required"
    RADIO_OFF = "radio_off"
    NO_NETWORK = "no_network"
    READY = "ready"


@dataclass(frozen=True, slots=True)
class Prompt:
    """A handler's request for the `> ` prompt; the body goes to `sms.finish_prompt`."""

    kind: str  # "cmgs" | "cmgw"
    length: int = 0  # PDU mode: TPDU octets announced
    destination: str = ""  # text mode
    toda: int = 129
    stat: Stat = Stat.STO_UNSENT


class Deferred:
    """A handler that answers later by itself (`+CMSS` waits for the network like `+CMGS`)."""


DEFERRED = Deferred()
Reply = list[str] | Prompt | Deferred
Handler = Callable[["SimModem", AtCommand], Reply]


@dataclass(slots=True)
class Counters:
    submitted: int = 0
    submit_errors: int = 0
    received: int = 0
    status_reports: int = 0
    commands: int = 0
    errors: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    reboots: int = 0
    faults: int = 0

    def as_json(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class PortHooks(Protocol):
    """A link that can be unplugged (a pty path or TCP listener disappears and comes back)."""

    def unplugged(self) -> None: ...

    def replugged(self) -> None: ...


@dataclass(slots=True)
class PendingAck:
    """A `+CMT`/`+CDS` shown with `+CSMS=1`: the network redelivers unless `+CNMA` comes."""

    pdu: str
    tpdu_length: int
    status_report: bool
    timer: asyncio.TimerHandle | None = None


class SimModem:
    """The AT interpreter of one modem with its SIM, storage, registration and faults."""

    def __init__(
        self,
        index: int,
        *,
        dialect: Dialect,
        sim: SimCard,
        network: Network,
        seed: int = 0,
        boot_time: float = 1.0,
        vendor_urc_interval: float = 0.0,
    ) -> None:
        self.index = index
        self.name = f"modem{index}"
        self.dialect = dialect
        self.sim = sim
        self.network = network
        self.rng = random.Random(f"modem:{seed}:{index}")
        self.loop = asyncio.get_running_loop()
        self.imei = make_imei(dialect.tac, index, seed)
        self.boot_time = boot_time
        self.vendor_urc_interval = vendor_urc_interval
        self.settings = dialect.default_settings()
        self.counters = Counters()
        self.faults = ActiveFaults()
        self.stores: dict[str, MessageStore] = {
            name: MessageStore(name, capacity, dialect.first_index)
            for name, capacity in dialect.storages.items()
        }
        self.mode = Mode.COMMAND
        self.cfun = 1
        self.sim_present = True
        self.sms_ready = True
        self.sim_ready = True
        self.network_lost = False
        self.hung = False
        self.unplugged = False
        self.closed = False
        self.rssi = self.rng.randrange(14, 27)
        self.pending_acks: deque[PendingAck] = deque()
        self.prompt: Prompt | None = None
        self.ussd_session: str | None = None
        self._sinks: list[Sink] = []
        self._ports: list[PortHooks] = []
        self._line = bytearray()
        self._body = bytearray()
        self._held = bytearray()
        self._urc_queue: list[bytes] = []  # URCs waiting for the end of a command
        self._cnmi_buffer: deque[bytes] = deque(maxlen=64)  # +CNMI mode 0: kept in the TA
        self._out_chunks: deque[bytes] = deque()
        self._drain_timer: asyncio.Handle | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._fault_timers: dict[FaultKind, asyncio.TimerHandle] = {}
        self._storm_timer: asyncio.TimerHandle | None = None
        self._vendor_timer: asyncio.TimerHandle | None = None
        self._rdy_timer: asyncio.TimerHandle | None = None
        self._boot_timers: list[asyncio.TimerHandle] = []
        self._busy_timer: asyncio.TimerHandle | None = None
        self._after_response: list[Callable[[], None]] = []
        self._executing = False
        self._last_reg = self.reg_stat
        self._storage_full_signalled = False
        self._pin_fault_forced = False
        self._pin_before_fault: str | None = None
        self._rings_left = 0
        self._start_vendor_urcs()

    # ---- wiring -------------------------------------------------------------------------------

    def attach(self, sink: Sink) -> Callable[[], None]:
        """Route output to `sink` (a link); returns the function that detaches it."""
        self._sinks.append(sink)

        def detach() -> None:
            if sink in self._sinks:
                self._sinks.remove(sink)

        return detach

    def add_port(self, port: PortHooks) -> None:
        self._ports.append(port)

    def remove_port(self, port: PortHooks) -> None:
        if port in self._ports:
            self._ports.remove(port)

    def close(self) -> None:
        """Cancel every timer; the modem is dead afterwards."""
        self.closed = True
        for handle in (
            *self._timers,
            *self._fault_timers.values(),
            *self._boot_timers,
            self._storm_timer,
            self._vendor_timer,
            self._rdy_timer,
            self._drain_timer,
            self._busy_timer,
        ):
            if handle is not None:
                handle.cancel()
        for ack in self.pending_acks:
            if ack.timer is not None:
                ack.timer.cancel()
        self._timers.clear()
        self._fault_timers.clear()
        self._boot_timers.clear()
        self._sinks.clear()

    def later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        """A timer owned by this modem (cancelled by `close`)."""
        handle: asyncio.TimerHandle

        def run() -> None:
            self._timers.discard(handle)
            if not self.closed:
                callback()

        handle = self.loop.call_later(max(0.0, delay), run)
        self._timers.add(handle)
        return handle

    # ---- derived state ------------------------------------------------------------------------

    @property
    def sim_locked(self) -> bool:
        return self.sim_present and (self.sim.locked or self.sim.puk_blocked)

    @property
    def reg_stat(self) -> int:
        """+CREG <stat>: 1 home, 2 searching, 0 not searching (radio off / no SIM)."""
        if self.unplugged or self.cfun != 1 or not self.sim_present:
            return 0
        if self.sim_locked or not self.sim_ready or self.network_lost:
            return 2
        return 1

    @property
    def registered(self) -> bool:
        return self.reg_stat in (1, 5)

    @property
    def state(self) -> ModemState:
        if self.unplugged:
            return ModemState.UNPLUGGED
        if self.hung:
            return ModemState.HUNG
        if self.mode is Mode.OFFLINE:
            return ModemState.BOOTING
        if not self.sim_present:
            return ModemState.SIM_REMOVED
        if self.sim_locked:
            return ModemState.PIN_REQUIRED
        if not self.sms_ready:
            return ModemState.BOOTING
        if self.cfun != 1:
            return ModemState.RADIO_OFF
        if not self.registered:
            return ModemState.NO_NETWORK
        return ModemState.READY

    @property
    def reachable(self) -> bool:
        """Can the network deliver an MT message to this SIM now?"""
        return self.registered and self.sms_ready and not self.unplugged

    def store(self, name: str) -> MessageStore:
        return self.stores[name]

    # ---- input --------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes the host wrote. Lost while hung, unplugged or booting (as on a real UART)."""
        if self.closed or self.unplugged or self.hung or self.mode is Mode.OFFLINE:
            return
        self.counters.bytes_in += len(data)
        if self.mode is Mode.BUSY:
            self._hold(data)
            return
        self._consume(bytes(data))

    def _hold(self, data: bytes) -> None:
        room = MAX_HELD - len(self._held)
        if room > 0:
            self._held += data[:room]

    def _consume(self, data: bytes) -> None:
        i = 0
        n = len(data)
        while i < n:
            if self.mode is Mode.COMMAND:
                j = data.find(b"\r", i)
                if j < 0:
                    chunk = data[i:]
                    self._echo(chunk)
                    self._line += chunk
                    if len(self._line) > MAX_LINE:
                        self._line.clear()
                    return
                self._echo(data[i : j + 1])
                self._line += data[i:j]
                line = bytes(self._line)
                self._line.clear()
                i = j + 1
                self._run_line(line)
            elif self.mode is Mode.PROMPT:
                i = self._consume_body(data, i)
            else:
                # BUSY (a submit waits for the network) or OFFLINE (a reboot began): keep the rest
                if self.mode is Mode.BUSY:
                    self._hold(data[i:])
                return

    def _consume_body(self, data: bytes, i: int) -> int:
        n = len(data)
        end = data.find(b"\x1a", i)
        esc = data.find(b"\x1b", i, end if end >= 0 else n)
        if esc >= 0:
            end = esc
        elif end < 0:
            end = n
        chunk = data[i:end]
        if chunk:
            self._echo(chunk)
            if self.settings.cmgf == 1 and b"\r" in chunk:
                # text mode: each CR starts a new line of the message, with a fresh prompt
                chunk = chunk.replace(b"\n", b"")
                for piece in chunk.split(b"\r")[:-1]:
                    self._body += piece + b"\n"
                    self.write(self.dialect.prompt)
                self._body += chunk.split(b"\r")[-1]
            else:
                self._body += chunk
            if len(self._body) > MAX_BODY:
                del self._body[MAX_BODY:]
        if end >= n:
            return n
        body = bytes(self._body)
        self._body.clear()
        prompt = self.prompt
        self.prompt = None
        self.mode = Mode.COMMAND
        if data[end] == ESC:
            self._final(None)  # submit cancelled
        elif prompt is not None:
            from sim.commands import sms

            try:
                sms.finish_prompt(self, prompt, body)
            except AtError as exc:
                self._final(exc)
        return end + 1

    def _echo(self, data: bytes) -> None:
        if not self.settings.echo or not data:
            return
        if FaultKind.URC_IN_RESPONSE in self.faults and len(data) > 4:
            cut = self.rng.randrange(2, len(data) - 1)
            self.write(data[:cut] + self._noise_urc_bytes() + data[cut:])
            return
        self.write(data)

    # ---- command execution --------------------------------------------------------------------

    def _run_line(self, raw: bytes) -> None:
        if b"\x08" in raw:
            out = bytearray()
            for b in raw:
                if b == 0x08:
                    if out:
                        out.pop()
                else:
                    out.append(b)
            raw = bytes(out)
        text = raw.decode("latin-1").replace("\n", "").strip()
        if not text:
            return
        try:
            commands = parse_line(text)
        except AtError as exc:
            self.counters.commands += 1
            self.respond([], exc)
            return
        if commands is None:
            return  # not an AT line: real modems ignore it
        self.counters.commands += 1
        self._executing = True
        try:
            self._execute(commands)
        finally:
            self._executing = False

    def _execute(self, commands: list[AtCommand]) -> None:
        info: list[str] = []
        for cmd in commands:
            try:
                self._command_faults(cmd)
                handler = self.dialect.commands.get(cmd.name)
                if handler is None:
                    raise AtError.plain()
                result = handler(self, cmd)
            except AtError as exc:
                self.respond(info, exc)
                return
            if isinstance(result, Deferred):
                if info:
                    self.write(self._info_bytes(info))
                return
            if isinstance(result, Prompt):
                if info:
                    self.write(self._info_bytes(info))
                self.prompt = result
                self.mode = Mode.PROMPT
                self._body.clear()
                self.write(self.dialect.prompt)
                return
            info.extend(result)
        self.respond(info, None)

    def _command_faults(self, cmd: AtCommand) -> None:
        if FaultKind.CME_ERROR in self.faults:
            fault = self.faults.use(FaultKind.CME_ERROR)
            if fault is not None:
                raise AtError.cme(fault.spec.code or 100)
        if FaultKind.CMS_ERROR in self.faults and cmd.name in self.dialect.sms_commands:
            if cmd.name in ("+CMGS", "+CMSS") and cmd.form is not Form.TEST:
                return  # a submit fails after the network saw it: see send_part
            fault = self.faults.use(FaultKind.CMS_ERROR)
            if fault is not None:
                raise AtError.cms(fault.spec.code or 500)

    def _info_bytes(self, info: list[str]) -> bytes:
        if self.settings.verbose:
            return ("\r\n" + "\r\n".join(info) + "\r\n").encode("latin-1", "replace")
        return "".join(line + "\r\n" for line in info).encode("latin-1", "replace")

    def _final_bytes(self, error: AtError | None) -> bytes:
        if self.settings.quiet:
            return b""
        if error is None:
            return b"\r\nOK\r\n" if self.settings.verbose else b"0\r"
        text = error.render(self.settings.cmee)
        if not self.settings.verbose and text == "ERROR":
            return b"4\r"
        return ("\r\n" + text + "\r\n").encode()

    def respond(self, info: list[str], error: AtError | None) -> None:
        """Info lines then the final result code, then any URCs that waited for it."""
        if error is not None:
            self.counters.errors += 1
        out = self._info_bytes(info) if info else b""
        final = self._final_bytes(error)
        if FaultKind.URC_IN_RESPONSE in self.faults:
            urc = self._noise_urc_bytes()
            out = out + urc + final if self.rng.random() < 0.5 or not info else urc + out + final
        else:
            out += final
        self.write(out)
        self._flush_urcs()
        if self._after_response:
            actions, self._after_response = self._after_response, []
            for action in actions:
                action()
            self._flush_urcs()

    def _final(self, error: AtError | None) -> None:
        self.respond([], error)

    def after_response(self, action: Callable[[], None]) -> None:
        """Run `action` once the current command's final result code is out (e.g. a reboot)."""
        self._after_response.append(action)

    # ---- output -------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send bytes to the host, through whatever output faults are active."""
        if self.closed or self.unplugged or self.hung or not data:
            return
        if FaultKind.GARBAGE in self.faults and self.rng.random() < 0.3:
            data = garbage_bytes(self.rng, self.rng.randrange(1, 8)) + data
        if FaultKind.SPLIT in self.faults or self._out_chunks:
            pos = 0
            while pos < len(data):
                size = self.rng.randrange(1, 9)
                self._out_chunks.append(data[pos : pos + size])
                pos += size
            if self._drain_timer is None:
                self._drain_timer = self.loop.call_soon(self._drain)
            return
        self._emit(data)

    def _emit(self, data: bytes) -> None:
        self.counters.bytes_out += len(data)
        for sink in tuple(self._sinks):
            sink(data)

    def _drain(self) -> None:
        self._drain_timer = None
        if not self._out_chunks:
            return
        chunk = self._out_chunks.popleft()
        if not (self.closed or self.unplugged or self.hung):
            self._emit(chunk)
        if self._out_chunks:
            self._drain_timer = self.loop.call_later(self.rng.uniform(0.0005, 0.01), self._drain)

    def urc(self, *lines: str) -> None:
        """An unsolicited result: now when idle, else after the current command's final code."""
        data = ("\r\n" + "\r\n".join(lines) + "\r\n").encode("latin-1", "replace")
        if self._idle or FaultKind.URC_IN_RESPONSE in self.faults:
            self.write(data)
        else:
            self._urc_queue.append(data)

    def sms_urc(self, *lines: str) -> None:
        """A `+CMTI`/`+CMT`/`+CDS`/`+CDSI` indication, routed per `+CNMI` <mode>."""
        mode = self.settings.cnmi[0]
        data = ("\r\n" + "\r\n".join(lines) + "\r\n").encode("latin-1", "replace")
        if mode == 0:
            self._cnmi_buffer.append(data)  # kept in the TA until +CNMI flushes it
            return
        if self._idle or FaultKind.URC_IN_RESPONSE in self.faults:
            self.write(data)
        elif mode == 1 and not self._executing:
            return  # TA-TE link reserved: mode 1 discards the indication (the SMS stays stored)
        else:
            self._urc_queue.append(data)

    @property
    def _idle(self) -> bool:
        return self.mode is Mode.COMMAND and not self._executing

    def flush_cnmi_buffer(self, discard: bool) -> None:
        if not discard:
            for data in self._cnmi_buffer:
                self._urc_queue.append(data)
        self._cnmi_buffer.clear()

    def _flush_urcs(self) -> None:
        if self._urc_queue and self.mode is Mode.COMMAND:
            queued, self._urc_queue = self._urc_queue, []
            for data in queued:
                self.write(data)

    def _noise_urc_bytes(self) -> bytes:
        if self._urc_queue:
            return self._urc_queue.pop(0)
        return ("\r\n" + self.dialect.noise_urc(self) + "\r\n").encode()

    # ---- submit -------------------------------------------------------------------------------

    def decode_submit_body(self, prompt: Prompt, body: bytes) -> tuple[Submit, bytes]:
        """The PDU typed after `> `: hex, SMSC prefix, TPDU length as announced, an SMS-SUBMIT."""
        text = body.decode("latin-1").replace("\r", "").replace("\n", "").strip()
        try:
            raw = bytes.fromhex(text)
            _smsc, tpdu = split_smsc(raw)
        except (ValueError, PduError):
            raise AtError.cms(CMS_BAD_PDU) from None
        if len(tpdu) != prompt.length:
            raise AtError.cms(CMS_BAD_PDU)
        try:
            pdu = decode_pdu(text, has_smsc=True)
        except PduError:
            raise AtError.cms(CMS_BAD_PDU) from None
        if not isinstance(pdu, Submit):
            raise AtError.cms(CMS_BAD_PDU)
        if pdu.smsc is None and not self.sim.smsc:
            raise AtError.cms(CMS_NO_SMSC)
        return pdu, tpdu

    def decode_text_body(self, body: bytes) -> str:
        try:
            return decode_te_text(body, self.settings.cscs)
        except ValueError:
            raise AtError.cms(CMS_BAD_TEXT) from None

    def send_part(self, part: OutboundPart, prefix: str) -> None:
        """Hand a part to the network after the submit latency; answer `+CMGS: <mr>` or an error.

        The order of checks follows a real modem: the radio first (no network: 331), then what
        the network says (latency, account, destination), and faults in between.
        """
        cms_fault = self.faults.use(FaultKind.CMS_ERROR)
        lost = self.faults.use(FaultKind.LOST_SUBMIT_ANSWER)
        slow = self.faults.use(FaultKind.SLOW_SUBMIT)
        if slow is not None:
            delay = slow.spec.seconds if slow.spec.seconds is not None else 30.0
        else:
            delay = self.network.submit_latency()
        if not self.registered:
            self._finish_submit(part, prefix, AtError.cms(CMS_NO_NETWORK), lost=None, delay=delay)
            return
        error = AtError.cms(cms_fault.spec.code or 500) if cms_fault is not None else None
        self._finish_submit(part, prefix, error, lost=lost, delay=delay)

    def _finish_submit(
        self,
        part: OutboundPart,
        prefix: str,
        error: AtError | None,
        *,
        lost: ActiveFault | None,
        delay: float,
    ) -> None:
        def done() -> None:
            self._busy_timer = None
            self.mode = Mode.BUSY  # indications the submit causes wait for its answer
            final_error = error
            mr = -1
            if final_error is None:
                mr = self.sim.next_mr()
                code = self.network.submit(self, part, mr)
                if code is not None:
                    final_error = AtError.cms(code)
            self.mode = Mode.COMMAND
            if final_error is None:
                self.counters.submitted += 1
            else:
                self.counters.submit_errors += 1
            if lost is not None and final_error is None:
                self._flush_urcs()  # the answer is lost; the modem carries on
            elif final_error is None:
                self.respond([f"{prefix}: {mr}"], None)
            else:
                self.respond([], final_error)
            self._resume_held()

        if delay <= 0:
            done()
            return
        self.mode = Mode.BUSY
        self._busy_timer = self.loop.call_later(delay, done)

    def _resume_held(self) -> None:
        if self._held and self.mode is Mode.COMMAND:
            held = bytes(self._held)
            self._held.clear()
            self._consume(held)

    # ---- mobile-terminated delivery -----------------------------------------------------------

    def deliver_sms(self, pdu: str, tpdu_length: int, message_class: int | None) -> bool:
        """The network offers an SMS-DELIVER; False when it must keep it and retry later."""
        if not self.reachable:
            return False
        _mode, mt, _bm, _ds, _bfr = self.settings.cnmi
        direct = (mt == 2 and message_class != 2) or (mt == 3 and message_class == 3)
        if direct:
            from sim.commands import sms

            self.counters.received += 1
            self.sms_urc(*sms.cmt_lines(self, pdu, tpdu_length))
            if self.settings.csms == 1:
                self._expect_ack(PendingAck(pdu, tpdu_length, status_report=False))
            return True
        mem = self.settings.mems[2]
        store = self.stores.get(mem) or self.stores[self.dialect.default_mem]
        index = store.add(StoredMessage(Stat.REC_UNREAD, pdu, tpdu_length))
        if index is None:
            if not self._storage_full_signalled:
                self._storage_full_signalled = True
                for line in self.dialect.storage_full_urcs(store.name):
                    self.urc(line)
            return False
        self.counters.received += 1
        if mt in (1, 2, 3):
            self.sms_urc(f'+CMTI: "{store.name}",{index}')
        return True

    def deliver_status_report(self, pdu: str, tpdu_length: int) -> bool:
        """The network offers an SMS-STATUS-REPORT; routed per +CNMI <ds>."""
        if not self.reachable:
            return False
        ds = self.settings.cnmi[3]
        if ds == 1:
            from sim.commands import sms

            self.counters.status_reports += 1
            self.sms_urc(*sms.cds_lines(self, pdu, tpdu_length))
            if self.settings.csms == 1:
                self._expect_ack(PendingAck(pdu, tpdu_length, status_report=True))
            return True
        if ds == 2:
            store = self.stores.get("SR") or self.stores[self.settings.mems[2]]
            index = store.add(StoredMessage(Stat.REC_UNREAD, pdu, tpdu_length))
            if index is None:
                return False
            self.counters.status_reports += 1
            self.sms_urc(f'+CDSI: "{store.name}",{index}')
            return True
        self.counters.status_reports += 1  # ds=0: the report is not routed to the TE
        return True

    def _expect_ack(self, pending: PendingAck) -> None:
        def timeout() -> None:
            if pending in self.pending_acks:
                self.pending_acks.remove(pending)
                # no +CNMA: the network did not get RP-ACK and will deliver again
                self.network.redeliver_later(self, pending.pdu, pending.tpdu_length,
                                             pending.status_report)

        pending.timer = self.later(self.dialect.cnma_timeout, timeout)
        self.pending_acks.append(pending)

    def acknowledge(self) -> bool:
        if not self.pending_acks:
            return False
        pending = self.pending_acks.popleft()
        if pending.timer is not None:
            pending.timer.cancel()
            self._timers.discard(pending.timer)
        return True

    def storage_freed(self) -> None:
        """After a delete: the ME tells the network it has memory again (SMMA)."""
        self._storage_full_signalled = False
        self.network.memory_available(self)

    # ---- registration and power ---------------------------------------------------------------

    def registration_changed(self) -> None:
        stat = self.reg_stat
        if stat == self._last_reg:
            if self.reachable:
                self.network.modem_available(self)
            return
        self._last_reg = stat
        s = self.settings
        for name, n in (("+CREG", s.creg), ("+CGREG", s.cgreg), ("+CEREG", s.cereg)):
            if name == "+CEREG" and not self.dialect.lte:
                continue
            if n == 1:
                self.urc(f"{name}: {stat}")
            elif n >= 2:
                self.urc(f'{name}: {stat},"{self.dialect.lac}","{self.dialect.cell_id}"')
        for line in self.dialect.registration_urcs(self, stat):
            self.urc(line)
        if self.reachable:
            self.network.modem_available(self)

    def reboot(self) -> None:
        """Power cycle: input lost until RDY, banners, settings back to power-on defaults."""
        self.counters.reboots += 1
        for handle in self._boot_timers:
            handle.cancel()
        self._boot_timers.clear()
        if self._busy_timer is not None:
            self._busy_timer.cancel()
            self._busy_timer = None
        for ack in self.pending_acks:
            if ack.timer is not None:
                ack.timer.cancel()
        self.pending_acks.clear()
        self._out_chunks.clear()
        self._line.clear()
        self._body.clear()
        self._held.clear()
        self._urc_queue.clear()
        self._cnmi_buffer.clear()
        self.prompt = None
        self.ussd_session = None
        self.settings = self.dialect.default_settings()
        self.mode = Mode.OFFLINE
        self.sms_ready = False
        self.sim_ready = False
        self.cfun = 1
        if self.sim.pin is not None or self._pin_fault_forced:
            self.sim.locked = True
        self.registration_changed()
        for step in self.dialect.boot_steps:
            self._boot_timers.append(
                self.loop.call_later(step.at * self.boot_time, self._boot_step, step.event,
                                     step.lines)
            )

    def _boot_step(self, event: str, lines: tuple[str, ...]) -> None:
        if self.closed or self.unplugged:
            return
        if event == "rdy":
            self.mode = Mode.COMMAND
        elif event == "sim":
            if not self.sim_present:
                lines = self.dialect.sim_removed_urcs()
            elif self.sim_locked:
                lines = self.dialect.pin_required_urcs()
            else:
                self.sim_ready = True
                self.registration_changed()
        elif event == "sms":
            if self.sim_present and not self.sim_locked:
                self.sms_ready = True
                self.sim_ready = True
                self.registration_changed()
            else:
                lines = ()
        if self.mode is Mode.OFFLINE:
            return
        for line in lines:
            self.urc(line)

    def sim_unlocked(self) -> None:
        """PIN accepted: the SIM initialises and SMS becomes ready a moment later."""
        self.sim.locked = False
        if self._pin_fault_forced:  # the injected PIN request is satisfied: back to normal
            self._pin_fault_forced = False
            self.sim.pin = self._pin_before_fault
            self.faults.by_kind.pop(FaultKind.PIN_REQUIRED, None)
        for line in self.dialect.sim_ready_urcs():
            self.urc(line)
        self.sim_ready = True
        self.sms_ready = True
        self.registration_changed()

    def set_cfun(self, fun: int) -> None:
        self.cfun = fun
        self.registration_changed()

    # ---- faults -------------------------------------------------------------------------------

    def inject(self, spec: FaultSpec) -> None:
        """Start a fault now; a duration ends it by itself, otherwise `clear_faults` does."""
        kind = spec.kind
        self.counters.faults += 1
        old = self._fault_timers.pop(kind, None)
        if old is not None:
            old.cancel()
        now = self.loop.time()
        remaining = spec.count if spec.count is not None else None
        if kind in (FaultKind.SLOW_SUBMIT, FaultKind.LOST_SUBMIT_ANSWER) and remaining is None \
                and spec.duration is None:
            remaining = 1
        if kind in (FaultKind.CMS_ERROR, FaultKind.CME_ERROR) and remaining is None \
                and spec.duration is None:
            remaining = 1
        ends = now + spec.duration if spec.duration is not None else None
        if kind is FaultKind.REBOOT:
            self.reboot()
            return
        if kind is FaultKind.INCOMING_CALL:
            self._incoming_call(spec.number or "+4917012345678")
            return
        self.faults.by_kind[kind] = ActiveFault(spec, remaining, now, ends)
        if spec.duration is not None and kind is not FaultKind.UNPLUG:
            self._fault_timers[kind] = self.loop.call_later(
                spec.duration, self.clear_fault, kind
            )
        if kind is FaultKind.HANG:
            self.hung = True
            self._out_chunks.clear()
            if spec.mode == "rdy_loop":
                self._rdy_loop()
        elif kind is FaultKind.UNPLUG:
            self._unplug(spec.seconds if spec.seconds is not None else spec.duration or 2.0)
        elif kind is FaultKind.GARBAGE:
            noise = garbage_bytes(self.rng, spec.size or 24)
            if spec.duration is None:
                del self.faults.by_kind[kind]  # a single burst
            self._emit_raw(noise)
        elif kind is FaultKind.URC_STORM:
            self._storm(spec.rate or 50.0)
        elif kind is FaultKind.SIM_REMOVED:
            self.sim_present = False
            self.sms_ready = False
            for line in self.dialect.sim_removed_urcs():
                self.urc(line)
            self.registration_changed()
        elif kind is FaultKind.PIN_REQUIRED:
            # the SIM asks for its PIN from the next boot on, until the PIN is entered
            if not self._pin_fault_forced:
                self._pin_before_fault = self.sim.pin
            self._pin_fault_forced = True
            if self.sim.pin is None:
                self.sim.pin = "1234"
            self.reboot()
        elif kind is FaultKind.NETWORK_LOST:
            self.network_lost = True
            self.rssi = 99
            self.registration_changed()
        elif kind is FaultKind.STORAGE_FULL:
            self._fill_storage()

    def clear_fault(self, kind: FaultKind) -> None:
        fault = self.faults.by_kind.pop(kind, None)
        timer = self._fault_timers.pop(kind, None)
        if timer is not None:
            timer.cancel()
        if fault is None:
            return
        if kind is FaultKind.HANG:
            self.hung = False
            if self._rdy_timer is not None:
                self._rdy_timer.cancel()
                self._rdy_timer = None
        elif kind is FaultKind.UNPLUG:
            if self.unplugged:
                self._replug()  # cleared from outside: back at once, not never
        elif kind is FaultKind.URC_STORM:
            if self._storm_timer is not None:
                self._storm_timer.cancel()
                self._storm_timer = None
        elif kind is FaultKind.SIM_REMOVED:
            self.sim_present = True
            self.reboot()  # a SIM swap re-initialises the modem's SIM stack
        elif kind is FaultKind.NETWORK_LOST:
            self.network_lost = False
            self.rssi = self.rng.randrange(14, 27)
            self.registration_changed()
        elif kind is FaultKind.PIN_REQUIRED:
            # cleared from outside: the PIN request is lifted as if PIN checking were disabled
            if self._pin_fault_forced:
                self._pin_fault_forced = False
                self.sim.pin = self._pin_before_fault
                if self.sim.locked and self.sim.pin is None and self.mode is not Mode.OFFLINE:
                    self.sim_unlocked()
                elif self.sim.pin is None:
                    self.sim.locked = False
        elif kind is FaultKind.STORAGE_FULL:
            for store in self.stores.values():
                for index in [i for i, m in store.messages.items() if m.filler]:
                    store.delete(index)
            self.storage_freed()

    def clear_faults(self) -> None:
        for kind in list(self.faults.by_kind):
            self.clear_fault(kind)

    def _emit_raw(self, data: bytes) -> None:
        if not (self.closed or self.unplugged):
            self._emit(data)

    def _rdy_loop(self) -> None:
        self._rdy_timer = None
        if FaultKind.HANG not in self.faults or self.closed:
            return
        self._emit_raw(b"\r\nRDY\r\n")
        self._rdy_timer = self.loop.call_later(max(0.2, self.boot_time), self._rdy_loop)

    def _storm(self, rate: float) -> None:
        self._storm_timer = None
        if FaultKind.URC_STORM not in self.faults or self.closed:
            return
        lines = self.dialect.storm_urcs(self)
        self.urc(lines[self.rng.randrange(len(lines))])
        self._storm_timer = self.loop.call_later(1.0 / rate, self._storm, rate)

    def _unplug(self, away: float) -> None:
        self.unplugged = True
        self.mode = Mode.OFFLINE
        for port in tuple(self._ports):
            port.unplugged()
        self.registration_changed()
        self._fault_timers[FaultKind.UNPLUG] = self.loop.call_later(away, self._replug)

    def _replug(self) -> None:
        self._fault_timers.pop(FaultKind.UNPLUG, None)
        self.faults.by_kind.pop(FaultKind.UNPLUG, None)
        self.unplugged = False
        self.hung = False
        self.faults.by_kind.pop(FaultKind.HANG, None)
        for port in tuple(self._ports):
            port.replugged()
        self.reboot()

    def unplug(self, away: float) -> None:
        self.inject(FaultSpec(FaultKind.UNPLUG, seconds=away))

    def _fill_storage(self) -> None:
        from sim.commands import sms

        mem = self.settings.mems[2]
        store = self.stores.get(mem) or self.stores[self.dialect.default_mem]
        while not store.full:
            pdu, length = sms.filler_pdu(self)
            store.add(StoredMessage(Stat.REC_READ, pdu, length, filler=True))
        if not self._storage_full_signalled:
            self._storage_full_signalled = True
            for line in self.dialect.storage_full_urcs(store.name):
                self.urc(line)

    def _incoming_call(self, number: str) -> None:
        self._rings_left = 3

        def ring() -> None:
            if self._rings_left <= 0:
                return
            self._rings_left -= 1
            self.urc("+CRING: VOICE" if self.settings.crc else "RING")
            if self.settings.clip:
                self.urc(f'+CLIP: "{number}",145,"",0,"",0')
            self.later(min(1.0, self.boot_time * 2), ring)

        ring()

    def hang_up_call(self) -> None:
        """ATH / +CHUP: the ringing stops."""
        self._rings_left = 0

    # ---- periodic vendor URCs -----------------------------------------------------------------

    def _start_vendor_urcs(self) -> None:
        if self.vendor_urc_interval > 0 and self.dialect.has_periodic_urcs:
            self._vendor_timer = self.loop.call_later(
                self.vendor_urc_interval * self.rng.uniform(0.5, 1.5), self._vendor_tick
            )

    def _vendor_tick(self) -> None:
        self._vendor_timer = None
        if self.closed:
            return
        if self.mode is not Mode.OFFLINE and self.settings.curc:
            for line in self.dialect.periodic_urcs(self):
                self.urc(line)
        self._vendor_timer = self.loop.call_later(self.vendor_urc_interval, self._vendor_tick)

    # ---- state for the control API ------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return {
            "id": self.name,
            "index": self.index,
            "profile": self.dialect.name,
            "imei": self.imei,
            "imsi": self.sim.imsi,
            "iccid": self.sim.iccid,
            "msisdn": self.sim.msisdn,
            "operator": self.sim.operator.name,
            "mcc_mnc": self.sim.operator.numeric,
            "state": self.state.value,
            "registration": self.reg_stat,
            "rssi": self.rssi,
            "balance": None if self.sim.balance is None else str(self.sim.balance),
            "daily_cap": self.sim.daily_cap,
            "sent_today": self.sim.sent_today,
            "pin": self.sim.pin,
            "storage": {n: {"used": s.used, "total": s.capacity} for n, s in self.stores.items()},
            "faults": self.faults.as_json(),
            "counters": self.counters.as_json(),
        }


