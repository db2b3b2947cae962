"""The simulated mobile network: an SMSC that routes submits to SIMs or handsets.

A submit is routed by its destination: to another simulated SIM (it arrives there as a real
SMS-DELIVER, stored or shown per that modem's `+CNMI`), or to a handset, which records what it got.
Handsets behave by number pattern (deliverable, unknown subscriber, absent, barred), can auto-reply,
and can send to any SIM. Status reports follow TP-SRR with the submit's TP-MR, recipient and TP-ST.
Everything that takes time is a loop timer the network owns and cancels in `close()`.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import random
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Any

from drivers.pdu import decode_pdu, encode_deliver, encode_status_report
from drivers.pdu.model import Concat, Deliver, Encoding
from sim.identity import DEFAULT_OPERATORS, Operator, normalize_number, operator_for
from sim.latency import Latency
from sim.tpdu import deliver_from_submit

if TYPE_CHECKING:
    from sim.modem import SimModem

log = logging.getLogger(__name__)

MAX_HANDSET_MESSAGES = 10_000
MAX_EVENTS = 1000


class Behaviour(StrEnum):
    """How a handset number answers; the TP-ST values are those of TS 23.040 9.2.3.15."""

    DELIVERABLE = "deliverable"  # delivered; report 0x00
    UNKNOWN = "unknown"  # accepted by the SMSC, never delivered; report 0x43 (permanent)
    UNKNOWN_REJECT = "unknown_reject"  # rejected at submit: +CMS ERROR: 1
    ABSENT = "absent"  # phone off: report 0x22 (SC still trying), delivered late, then 0x00
    BARRED = "barred"  # rejected at submit: +CMS ERROR: 196
    EXPIRES = "expires"  # never reachable: report 0x46 (validity period expired)


ST_DELIVERED = 0x00
ST_NO_RESPONSE_TRYING = 0x22
ST_NOT_OBTAINABLE = 0x43
ST_EXPIRED = 0x46


@dataclass(frozen=True, slots=True)
class BehaviourRule:
    pattern: str  # fnmatch glob on the E.164 number, e.g. "+49151*" or "*0991"
    behaviour: Behaviour
    delay: float | None = None  # absent/expires: how long until the late outcome

    def matches(self, number: str) -> bool:
        return fnmatch.fnmatchcase(number, self.pattern)

    def as_json(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "behaviour": self.behaviour.value, "delay": self.delay}


DEFAULT_RULES: tuple[BehaviourRule, ...] = (
    BehaviourRule("*0991", Behaviour.UNKNOWN),
    BehaviourRule("*0992", Behaviour.ABSENT),
    BehaviourRule("*0993", Behaviour.BARRED),
    BehaviourRule("*0994", Behaviour.UNKNOWN_REJECT),
    BehaviourRule("*0995", Behaviour.EXPIRES),
)


@dataclass(frozen=True, slots=True)
class AutoReply:
    """When a handset matching `handset` receives text matching `match`, it answers `reply`."""

    handset: str  # glob
    match: str  # regular expression, searched case-insensitively
    reply: str
    delay: float = 1.0

    def applies(self, number: str, text: str) -> bool:
        return fnmatch.fnmatchcase(number, self.handset) and bool(
            re.search(self.match, text, re.IGNORECASE)
        )

    def as_json(self) -> dict[str, Any]:
        return {"handset": self.handset, "match": self.match, "reply": self.reply,
                "delay": self.delay}


@dataclass(frozen=True, slots=True)
class OutboundPart:
    """One submitted part as the SMSC sees it."""

    destination: str  # TP-DA as dialled
    text: str | None
    encoding: Encoding
    concat: Concat | None
    request_status_report: bool
    submit_tpdu: bytes | None  # PDU mode: the TPDU, to forward its user data untouched
    message_class: int | None = None


@dataclass(slots=True)
class HandsetMessage:
    """What a handset shows: one message, reassembled from its parts as they arrive."""

    id: int
    sender: str
    recipient: str
    total: int
    parts: dict[int, str]
    received_at: datetime
    encoding: Encoding
    ref: int | None
    updated_at: datetime

    @property
    def complete(self) -> bool:
        return len(self.parts) >= self.total

    @property
    def text(self) -> str:
        return "".join(self.parts[i] for i in sorted(self.parts))

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.sender,
            "to": self.recipient,
            "text": self.text,
            "parts": self.total,
            "parts_received": len(self.parts),
            "complete": self.complete,
            "encoding": self.encoding.value,
            "received_at": self.received_at.isoformat(),
        }


@dataclass(slots=True)
class SentMessage:
    id: int
    sender: str
    recipient: str
    text: str
    parts: int
    sent_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "from": self.sender, "to": self.recipient, "text": self.text,
                "parts": self.parts, "sent_at": self.sent_at.isoformat()}


@dataclass(slots=True)
class Handset:
    number: str
    operator: str | None
    received: list[HandsetMessage] = field(default_factory=list)
    sent: list[SentMessage] = field(default_factory=list)

    def conversation(self) -> list[dict[str, Any]]:
        items = [{"direction": "in", **m.as_json()} for m in self.received]
        items += [{"direction": "out", **m.as_json(), "received_at": m.sent_at.isoformat()}
                  for m in self.sent]
        items.sort(key=lambda m: str(m["received_at"]))
        return items


@dataclass(slots=True)
class _PendingMt:
    kind: str  # "sms" | "sr"
    pdu: str
    tpdu_length: int
    message_class: int | None = None


class InboundError(ValueError):
    """A handset-originated message that cannot be sent (unknown SIM, bad encoding...)."""


def _local_tz() -> timezone:
    minutes = round(time.localtime().tm_gmtoff / 60 / 15) * 15
    return timezone(timedelta(minutes=minutes))


def tpdu_length_of(pdu_hex: str) -> int:
    raw = bytes.fromhex(pdu_hex)
    return len(raw) - 1 - raw[0]


class Network:
    """SMSC, subscribers and handsets. Modems register their SIM with `add_modem`."""

    def __init__(
        self,
        *,
        operators: tuple[Operator, ...] = DEFAULT_OPERATORS,
        latency: Latency | None = None,
        seed: int = 0,
        delivery_delay: float = 0.0,
        report_delay: float = 1.0,
        absent_delay: float = 30.0,
        redelivery_delay: float = 5.0,
        tz: timezone | None = None,
    ) -> None:
        self.operators = operators
        self.latency = latency or Latency.parse(0)
        self.rng = random.Random(f"network:{seed}")
        self.delivery_delay = delivery_delay
        self.report_delay = report_delay
        self.absent_delay = absent_delay
        self.redelivery_delay = redelivery_delay
        self.tz = tz or _local_tz()
        self.loop = asyncio.get_running_loop()
        self.modems: list[SimModem] = []
        self._by_msisdn: dict[str, SimModem] = {}
        self.handsets: dict[str, Handset] = {}
        self._rules: list[BehaviourRule] = list(DEFAULT_RULES)
        self._rule_cache: dict[str, BehaviourRule] = {}
        self.autoreplies: list[AutoReply] = []
        self.events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self._pending: dict[str, deque[_PendingMt]] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._next_id = 1
        self._concat_ref = self.rng.randrange(256)
        self.closed = False

    # ---- bookkeeping --------------------------------------------------------------------------

    def add_modem(self, modem: SimModem) -> None:
        self.modems.append(modem)
        self._by_msisdn[modem.sim.msisdn] = modem

    def modem_for(self, target: str) -> SimModem | None:
        """A SIM by MSISDN (any dialling form) or a modem by id (`modem3` or `3`)."""
        t = target.strip()
        for m in self.modems:
            if t in (m.name, str(m.index)):
                return m
        return self._by_msisdn.get(normalize_number(t))

    def handset(self, number: str) -> Handset:
        number = normalize_number(number)
        h = self.handsets.get(number)
        if h is None:
            op = operator_for(number, self.operators)
            h = Handset(number, op.name if op else None)
            self.handsets[number] = h
        return h

    @property
    def rules(self) -> list[BehaviourRule]:
        return self._rules

    @rules.setter
    def rules(self, rules: list[BehaviourRule]) -> None:
        self._rules = rules
        self._rule_cache.clear()

    def add_rule(self, rule: BehaviourRule) -> None:
        self._rules.append(rule)
        self._rule_cache.clear()

    def behaviour_of(self, number: str) -> BehaviourRule:
        cached = self._rule_cache.get(number)
        if cached is not None:
            return cached
        found = BehaviourRule("*", Behaviour.DELIVERABLE)
        for rule in reversed(self._rules):  # later rules win
            if rule.matches(number):
                found = rule
                break
        if len(self._rule_cache) > 100_000:
            self._rule_cache.clear()
        self._rule_cache[number] = found
        return found

    def now(self) -> datetime:
        return datetime.now(self.tz).replace(microsecond=0)

    def later(self, delay: float, callback: Callable[[], None]) -> None:
        handle: asyncio.TimerHandle

        def run() -> None:
            self._timers.discard(handle)
            if not self.closed:
                callback()

        handle = self.loop.call_later(max(0.0, delay), run)
        self._timers.add(handle)

    def soon_or_now(self, delay: float, callback: Callable[[], None]) -> None:
        if delay <= 0:
            callback()
        else:
            self.later(delay, callback)

    def close(self) -> None:
        self.closed = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    def reset(self) -> None:
        """Forget handsets, pending deliveries, custom rules and auto-replies."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        self.handsets.clear()
        self._pending.clear()
        self.rules = list(DEFAULT_RULES)
        self.autoreplies.clear()
        self.events.clear()

    def event(self, event_type: str, /, **data: Any) -> None:
        item = {"at": time.time(), "type": event_type, **data}
        self.events.append(item)
        for listener in tuple(self.listeners):
            listener(item)

    def submit_latency(self) -> float:
        return self.latency.sample(self.rng)

    # ---- mobile-originated: a SIM submits -----------------------------------------------------

    def submit(self, modem: SimModem, part: OutboundPart, mr: int) -> int | None:
        """Accept a part from `modem`'s SIM (None) or reject it with a +CMS code."""
        sim = modem.sim
        destination = normalize_number(part.destination)
        if not destination or not destination.lstrip("+").isdigit():
            return 195  # invalid SME address
        rule = self.behaviour_of(destination)
        target = self._by_msisdn.get(destination)
        if target is None:
            if rule.behaviour is Behaviour.BARRED:
                return 196
            if rule.behaviour is Behaviour.UNKNOWN_REJECT:
                return 1
        scts = self.now()
        refused = sim.charge(scts.date())
        if refused is not None:
            self.event("submit_refused", modem=modem.name, code=refused)
            return refused
        self.event("submitted", modem=modem.name, sender=sim.msisdn, to=destination, mr=mr,
                   srr=part.request_status_report)
        if target is not None:
            self.soon_or_now(self.delivery_delay,
                             lambda: self._to_sim(modem, target, part, mr, scts))
        else:
            self._to_handset(modem, destination, part, mr, scts=scts, rule=rule)
        return None

    def _to_sim(self, sender: SimModem, target: SimModem, part: OutboundPart, mr: int,
                scts: datetime) -> None:
        smsc = target.sim.operator.smsc
        if part.submit_tpdu is not None:
            pdu, length = deliver_from_submit(part.submit_tpdu, sender.sim.msisdn, scts, smsc=smsc)
        else:
            pdu = encode_deliver(sender.sim.msisdn, part.text or "", timestamp=scts, smsc=smsc,
                                 encoding=part.encoding)[0]
            length = tpdu_length_of(pdu)
        self.offer_sms(target, pdu, length, part.message_class)
        if part.request_status_report:
            self.soon_or_now(self.report_delay, lambda: self._report(
                sender, mr, part.destination, scts, ST_DELIVERED))

    def _to_handset(self, sender: SimModem, number: str, part: OutboundPart, mr: int, *,
                    scts: datetime, rule: BehaviourRule) -> None:
        behaviour = rule.behaviour
        srr = part.request_status_report
        if behaviour is Behaviour.DELIVERABLE:
            self.soon_or_now(self.delivery_delay,
                             lambda: self._handset_receives(sender, number, part))
            if srr:
                self.soon_or_now(self.delivery_delay + self.report_delay, lambda: self._report(
                    sender, mr, part.destination, scts, ST_DELIVERED))
        elif behaviour is Behaviour.ABSENT:
            late = rule.delay if rule.delay is not None else self.absent_delay
            if srr:
                self.soon_or_now(self.report_delay, lambda: self._report(
                    sender, mr, part.destination, scts, ST_NO_RESPONSE_TRYING))
                self.later(late + self.report_delay, lambda: self._report(
                    sender, mr, part.destination, scts, ST_DELIVERED))
            self.later(late, lambda: self._handset_receives(sender, number, part))
        elif behaviour is Behaviour.UNKNOWN:
            if srr:
                self.soon_or_now(self.report_delay, lambda: self._report(
                    sender, mr, part.destination, scts, ST_NOT_OBTAINABLE))
        elif behaviour is Behaviour.EXPIRES:
            late = rule.delay if rule.delay is not None else self.absent_delay
            if srr:
                self.soon_or_now(self.report_delay, lambda: self._report(
                    sender, mr, part.destination, scts, ST_NO_RESPONSE_TRYING))
                self.later(late, lambda: self._report(
                    sender, mr, part.destination, scts, ST_EXPIRED))
        else:  # barred / unknown_reject only reach here for a SIM destination; deliver
            self._handset_receives(sender, number, part)

    def _handset_receives(self, sender: SimModem, number: str, part: OutboundPart) -> None:
        handset = self.handset(number)
        text = part.text if part.text is not None else ""
        now = self.now()
        message: HandsetMessage | None = None
        concat = part.concat
        if concat is not None and concat.total > 1:
            for m in reversed(handset.received[-50:]):
                if (m.sender == sender.sim.msisdn and m.ref == concat.ref
                        and m.total == concat.total and concat.seq not in m.parts):
                    message = m
                    break
        if message is None:
            message = HandsetMessage(
                id=self._take_id(),
                sender=sender.sim.msisdn,
                recipient=number,
                total=concat.total if concat is not None and concat.total > 1 else 1,
                parts={},
                received_at=now,
                encoding=part.encoding,
                ref=concat.ref if concat is not None else None,
                updated_at=now,
            )
            handset.received.append(message)
            if len(handset.received) > MAX_HANDSET_MESSAGES:
                del handset.received[0]
        seq = concat.seq if concat is not None and concat.total > 1 else 1
        message.parts[seq] = text
        message.updated_at = now
        self.event("handset_received", handset=number, sender=sender.sim.msisdn,
                   message_id=message.id, part=seq, total=message.total,
                   complete=message.complete)
        if message.complete:
            for auto in self.autoreplies:
                if auto.applies(number, message.text):
                    self.later(auto.delay, partial(self._autoreply, number, sender, auto.reply))
                    break

    def _autoreply(self, number: str, sim_modem: SimModem, text: str) -> None:
        try:
            self.send_from_handset(number, sim_modem.sim.msisdn, text)
        except InboundError as exc:
            log.warning("auto-reply not sent: %s", exc)

    def _report(self, modem: SimModem, mr: int, recipient: str, scts: datetime,
                status: int) -> None:
        pdu = encode_status_report(
            message_reference=mr,
            recipient=recipient,
            scts=scts,
            discharge_time=self.now(),
            status=status,
            smsc=modem.sim.operator.smsc,
        )
        self.event("status_report", modem=modem.name, mr=mr, status=status)
        self._offer(modem, _PendingMt("sr", pdu, tpdu_length_of(pdu)))

    def _take_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    # ---- mobile-terminated delivery -----------------------------------------------------------

    def offer_sms(self, modem: SimModem, pdu: str, length: int, message_class: int | None) -> None:
        self._offer(modem, _PendingMt("sms", pdu, length, message_class))

    def _offer(self, modem: SimModem, item: _PendingMt) -> None:
        queue = self._pending.setdefault(modem.sim.msisdn, deque())
        queue.append(item)
        self._flush(modem)

    def _flush(self, modem: SimModem) -> None:
        queue = self._pending.get(modem.sim.msisdn)
        while queue:
            item = queue[0]
            if item.kind == "sms":
                ok = modem.deliver_sms(item.pdu, item.tpdu_length, item.message_class)
            else:
                ok = modem.deliver_status_report(item.pdu, item.tpdu_length)
            if not ok:
                return
            queue.popleft()
            self.event("delivered_to_sim", modem=modem.name, kind=item.kind)

    def pending_for(self, modem: SimModem) -> int:
        return len(self._pending.get(modem.sim.msisdn, ()))

    def modem_available(self, modem: SimModem) -> None:
        if self._pending.get(modem.sim.msisdn):
            self.soon_or_now(0.0, lambda: self._flush(modem))

    def memory_available(self, modem: SimModem) -> None:
        self.modem_available(modem)

    def redeliver_later(self, modem: SimModem, pdu: str, length: int, status_report: bool) -> None:
        item = _PendingMt("sr" if status_report else "sms", pdu, length)
        self.event("redelivery", modem=modem.name, kind=item.kind)
        self.later(self.redelivery_delay, lambda: self._offer(modem, item))

    # ---- handset-originated -------------------------------------------------------------------

    def send_raw_pdu(self, target: str, pdu: str,
                     message_class: int | None = None) -> dict[str, Any]:
        """Deliver a hand-made PDU (hex, SMSC prefix included) as-is: the hostile-network case."""
        modem = self.modem_for(target)
        if modem is None:
            raise InboundError(f"no simulated SIM with number or id {target!r}")
        try:
            raw = bytes.fromhex(pdu)
        except ValueError:
            raise InboundError("pdu must be hex") from None
        if not raw or len(raw) > 200:
            raise InboundError("pdu must be 1-200 octets")
        length = max(0, len(raw) - 1 - raw[0])
        self.event("raw_pdu", to=modem.sim.msisdn, octets=len(raw))
        self.offer_sms(modem, pdu.upper(), length, message_class)
        return {"to": modem.sim.msisdn, "modem": modem.name, "parts": 1, "tpdu_length": length}

    def send_from_handset(
        self,
        sender: str,
        target: str,
        text: str,
        *,
        encoding: Encoding | None = None,
        order: str | list[int] = "in_order",
        drop: list[int] | None = None,
        concat_ref: int | None = None,
        concat_ref_bits: int = 8,
        message_class: int | None = None,
        part_delay: float = 0.0,
    ) -> dict[str, Any]:
        """A handset sends `text` to a SIM; parts can be reordered or dropped on purpose."""
        modem = self.modem_for(target)
        if modem is None:
            raise InboundError(f"no simulated SIM with number or id {target!r}")
        sender_n = normalize_number(sender)
        if concat_ref is None:
            self._concat_ref = (self._concat_ref + 1) % (256 if concat_ref_bits == 8 else 65536)
            concat_ref = self._concat_ref
        if concat_ref_bits not in (8, 16):
            raise InboundError("concat_ref_bits must be 8 or 16")
        scts = self.now()
        try:
            pdus = encode_deliver(
                sender_n, text, timestamp=scts, smsc=modem.sim.operator.smsc, encoding=encoding,
                concat_ref=concat_ref, concat_ref_bits=8 if concat_ref_bits == 8 else 16,
                message_class=message_class,
            )
        except ValueError as exc:
            raise InboundError(str(exc)) from None
        total = len(pdus)
        seqs = list(range(1, total + 1))
        if isinstance(order, list):
            if sorted(order) != sorted(set(order)) or any(s not in seqs for s in order):
                raise InboundError(f"order must list part numbers 1..{total}")
            sequence = list(order)
        elif order == "reverse":
            sequence = list(reversed(seqs))
        elif order == "shuffle":
            sequence = seqs[:]
            self.rng.shuffle(sequence)
        elif order == "in_order":
            sequence = seqs
        else:
            raise InboundError("order is in_order, reverse, shuffle or a list of part numbers")
        dropped = set(drop or [])
        sequence = [s for s in sequence if s not in dropped]
        handset = self.handset(sender_n)
        handset.sent.append(SentMessage(self._take_id(), sender_n, modem.sim.msisdn, text, total,
                                        scts))
        self.event("handset_sent", handset=sender_n, to=modem.sim.msisdn, parts=total,
                   delivered_parts=sequence)
        for i, seq in enumerate(sequence):
            pdu = pdus[seq - 1]
            length = tpdu_length_of(pdu)
            delay = part_delay * i
            self.soon_or_now(delay, partial(self.offer_sms, modem, pdu, length, message_class))
        return {"to": modem.sim.msisdn, "modem": modem.name, "parts": total,
                "sent_parts": sequence, "concat_ref": concat_ref if total > 1 else None}

    # ---- views --------------------------------------------------------------------------------

    def describe_pdu(self, pdu: str) -> dict[str, Any]:
        decoded = decode_pdu(pdu)
        if isinstance(decoded, Deliver):
            return {"from": decoded.sender.number, "text": decoded.user_data.text}
        return {"kind": decoded.kind.value}
