"""Unsolicited result codes: recognised first, wherever they appear, and removed from the stream.

ModemManager's rule: URC handlers run before response parsing and strip what they match, so only
the remainder can complete the pending command. A URC may arrive between lines, between a
response's info line and its `OK`, or glued to the echo of our own command
(`AT+CM+CMTI: "SM",2`); two of them (`+CMT`, `+CDS`) carry their PDU on the next line, and a
text `+CUSD` may span lines. The router keeps that small amount of state and nothing else.

Patterns are data (prefix, parser, flags); the dialect supplies the table, so vendor URCs live
with their vendor.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from drivers.at.fields import is_hex, payload, split_fields, split_raw, to_int
from drivers.events import (
    IncomingCall,
    MessageReceived,
    MessageStored,
    ModemEvent,
    ModemRebooted,
    RegistrationChanged,
    ServiceReady,
    SimState,
    SimStateChanged,
    StatusReportReceived,
    StatusReportStored,
    StorageFull,
    UssdReceived,
)
from drivers.redact import redact_line

_LOG = logging.getLogger(__name__)

UrcParser = Callable[[str, str | None], ModemEvent | None]


@dataclass(frozen=True, slots=True)
class UrcPattern:
    """One kind of unsolicited line.

    `prefix` is `+XXX:`/`^XXX:` (matched on the token up to the colon) or, with `exact`, a whole
    line such as `RING`. `claimable`: the line is also a command's answer (`+CPIN: READY` to
    `AT+CPIN?`) and yields to a command that claims the prefix. `accept` tells the unsolicited
    form from the solicited one when both share a prefix (`+CREG: 1` vs `+CREG: 0,1`).
    `pdu_line`: the PDU follows on the next line. `glued`: may be found inside another line.
    """

    prefix: str
    parse: UrcParser
    exact: bool = False
    claimable: bool = False
    pdu_line: bool = False
    glued: bool = False
    accept: Callable[[str], bool] | None = None


@dataclass(frozen=True, slots=True)
class Urc:
    """A recognised unsolicited line (with its PDU line) and the event it means, if any."""

    prefix: str
    line: str
    pdu: str | None
    event: ModemEvent | None


_NO_CLAIMS: frozenset[str] = frozenset()
_MAX_PDU_WAIT_LINES = 3  # other URCs tolerated between a +CMT header and its PDU line
_MAX_CONTINUATION_LINES = 16
_MAX_CONTINUATION_CHARS = 4096


def line_prefix(line: str) -> str | None:
    """`+CMTI:` for `+CMTI: "SM",1`; None for a line with no `+`/`^` style prefix."""
    if line[:1] in ("+", "^", "*", "$", "#", "!"):
        colon = line.find(":")
        if colon > 1:
            return line[: colon + 1]
        return line.split(" ", 1)[0]
    return None


class UrcRouter:
    """Feed it each line; get back the URCs it found and what is left for the command."""

    def __init__(
        self,
        patterns: Iterable[UrcPattern] = (),
        *,
        ignored_prefixes: tuple[str, ...] = ("^",),
    ) -> None:
        self._by_prefix: dict[str, UrcPattern] = {}
        self._exact: dict[str, UrcPattern] = {}
        self._glued: re.Pattern[str] | None = None
        self._ignored = ignored_prefixes
        self._awaiting_pdu: tuple[UrcPattern, str] | None = None
        self._pdu_wait_lines = 0
        self._continuation: tuple[UrcPattern, list[str]] | None = None
        self.unknown_lines = 0
        self.set_patterns(patterns)

    def set_patterns(
        self, patterns: Iterable[UrcPattern], *, ignored: tuple[str, ...] = ()
    ) -> None:
        """Replace the table (after dialect detection); later patterns override earlier ones."""
        self._by_prefix.clear()
        self._exact.clear()
        for pattern in patterns:
            (self._exact if pattern.exact else self._by_prefix)[pattern.prefix] = pattern
        glued = [re.escape(p) for p, pat in self._by_prefix.items() if pat.glued]
        self._glued = re.compile("|".join(glued)) if glued else None
        if ignored:
            self._ignored = ignored

    def reset(self) -> None:
        self._awaiting_pdu = None
        self._continuation = None

    def feed(self, line: str, claimed: frozenset[str] = _NO_CLAIMS) -> tuple[list[Urc], str | None]:
        """Strip URCs from one framed line. Returns (urcs, remainder or None if all consumed)."""
        if self._continuation is not None:
            return self._continue(line)
        if self._awaiting_pdu is not None:
            waiting, header = self._awaiting_pdu
            if is_hex(line):
                self._awaiting_pdu = None
                return [self._make(waiting, header, line)], None
            self._pdu_wait_lines += 1
            if self._pdu_wait_lines > _MAX_PDU_WAIT_LINES or self._match(line, claimed) is None:
                _LOG.warning("URC %s without its PDU line; kept raw", redact_line(header))
                self._awaiting_pdu = None
            # fall through: this line is processed on its own
        pattern = self._match(line, claimed)
        if pattern is not None:
            return self._take(pattern, line)
        if self._glued is not None and len(line) > 4 and line.find("+", 1) > 0:
            found = self._glued.search(line, 1)
            if found is not None:
                inner = self._by_prefix[found.group(0)]
                head, tail = line[: found.start()].rstrip(), line[found.start() :]
                if inner.claimable and inner.prefix in claimed:
                    return [], line
                urcs, rest = self._take(inner, tail)
                if rest is not None:  # not the URC it looked like: leave the line whole
                    return [], line
                return urcs, head or None
        if self._ignored and line.startswith(self._ignored):
            prefix = line_prefix(line) or line
            if prefix not in claimed:
                self.unknown_lines += 1
                return [Urc(prefix, line, None, None)], None
        return [], line

    def _match(self, line: str, claimed: frozenset[str]) -> UrcPattern | None:
        pattern: UrcPattern | None = self._exact.get(line)
        if pattern is None:
            prefix = line_prefix(line)
            if prefix is None:  # vendor URCs without a sign (`DST: 0`)
                colon = line.find(":")
                prefix = line[: colon + 1] if colon > 0 else None
            pattern = self._by_prefix.get(prefix) if prefix is not None else None
        if pattern is None:
            return None
        if pattern.claimable and pattern.prefix in claimed:
            return None
        if pattern.accept is not None and not pattern.accept(line):
            return None
        return pattern

    def _take(self, pattern: UrcPattern, line: str) -> tuple[list[Urc], str | None]:
        if pattern.accept is not None and not pattern.accept(line):
            return [], line
        if pattern.pdu_line:
            self._awaiting_pdu = (pattern, line)
            self._pdu_wait_lines = 0
            return [], None
        if line.count('"') % 2 == 1:  # a quoted text that continues on the next line
            self._continuation = (pattern, [line])
            return [], None
        return [self._make(pattern, line, None)], None

    def _continue(self, line: str) -> tuple[list[Urc], str | None]:
        assert self._continuation is not None
        pattern, parts = self._continuation
        parts.append(line)
        joined = "\n".join(parts)
        if joined.count('"') % 2 == 0:
            self._continuation = None
            return [self._make(pattern, joined, None)], None
        if len(parts) > _MAX_CONTINUATION_LINES or len(joined) > _MAX_CONTINUATION_CHARS:
            self._continuation = None
            _LOG.warning("unterminated %s dropped after %d lines", pattern.prefix, len(parts))
            return [self._make(pattern, joined + '"', None)], None
        return [], None

    def _make(self, pattern: UrcPattern, line: str, pdu: str | None) -> Urc:
        try:
            event = pattern.parse(line, pdu)
        except (ValueError, IndexError):
            _LOG.warning("unparseable URC %s", redact_line(line))
            event = None
        return Urc(pattern.prefix, line, pdu, event)


# --- the standard (TS 27.005 / 27.007) table -------------------------------------------------


def _storage_index(line: str) -> tuple[str, int]:
    fields = split_fields(payload(line))
    index = to_int(fields[1]) if len(fields) > 1 else None
    if index is None:
        raise ValueError(line)
    return fields[0], index


def parse_cmti(line: str, pdu: str | None) -> ModemEvent:
    return MessageStored(*_storage_index(line))


def parse_cdsi(line: str, pdu: str | None) -> ModemEvent:
    return StatusReportStored(*_storage_index(line))


def parse_cmt(line: str, pdu: str | None) -> ModemEvent | None:
    return MessageReceived(pdu.upper()) if pdu else None


def parse_cds(line: str, pdu: str | None) -> ModemEvent | None:
    return StatusReportReceived(pdu.upper()) if pdu else None


def is_unsolicited_registration(line: str) -> bool:
    """`+CREG: <stat>[,"lac",...]` (URC) vs `+CREG: <n>,<stat>[,...]` (answer to `+CREG?`)."""
    fields = split_raw(payload(line))
    return len(fields) == 1 or (len(fields) > 1 and not fields[1].strip().isdigit())


def parse_registration(line: str, pdu: str | None) -> ModemEvent:
    stat = to_int(split_raw(payload(line))[0])
    if stat is None:
        raise ValueError(line)
    return RegistrationChanged(stat, line[1 : line.index(":")])


def parse_cusd(line: str, pdu: str | None) -> ModemEvent:
    """Raw `+CUSD`; the dialect's parser decodes the text by DCS (see Dialect.parse_cusd)."""
    fields = split_fields(payload(line))
    status = to_int(fields[0]) if fields else None
    if status is None:
        raise ValueError(line)
    text = fields[1] if len(fields) > 1 else None
    dcs = to_int(fields[2]) if len(fields) > 2 else None
    return UssdReceived(status, text, dcs)


def parse_clip(line: str, pdu: str | None) -> ModemEvent:
    fields = split_fields(payload(line))
    return IncomingCall(fields[0] or None if fields else None)


def parse_ring(line: str, pdu: str | None) -> ModemEvent:
    return IncomingCall(None)


_CPIN_STATES = {
    "READY": SimState.READY,
    "SIM PIN": SimState.PIN_REQUIRED,
    "SIM PUK": SimState.PUK_REQUIRED,
    "PH-SIM PIN": SimState.PIN_REQUIRED,
    "SIM PIN2": SimState.READY,  # PIN2 guards only some phonebooks; SMS works
    "SIM PUK2": SimState.READY,
    "NOT INSERTED": SimState.NOT_INSERTED,
    "SIM REMOVED": SimState.NOT_INSERTED,
    "NOT READY": SimState.BUSY,
}


def sim_state_from_cpin(text: str) -> SimState:
    return _CPIN_STATES.get(text.strip().strip('"').upper(), SimState.UNKNOWN)


def parse_cpin(line: str, pdu: str | None) -> ModemEvent:
    return SimStateChanged(sim_state_from_cpin(payload(line)))


def rebooted(line: str, pdu: str | None) -> ModemEvent:
    return ModemRebooted(line)


def service(name: str) -> UrcParser:
    def parse(line: str, pdu: str | None) -> ModemEvent:
        return ServiceReady(name)

    return parse


def storage_full(line: str, pdu: str | None) -> ModemEvent:
    fields = split_fields(payload(line)) if ":" in line else []
    return StorageFull(fields[0] if fields and fields[0] else None)


def ignored(line: str, pdu: str | None) -> None:
    return None


def standard_patterns() -> list[UrcPattern]:
    """TS 27.005/27.007 URCs plus the boot banners nearly every vendor sends."""
    return [
        UrcPattern("+CMTI:", parse_cmti, glued=True),
        UrcPattern("+CDSI:", parse_cdsi, glued=True),
        UrcPattern("+CMT:", parse_cmt, pdu_line=True, glued=True),
        UrcPattern("+CDS:", parse_cds, pdu_line=True, glued=True),
        UrcPattern("+CUSD:", parse_cusd, glued=True),
        UrcPattern("+CREG:", parse_registration, accept=is_unsolicited_registration, glued=True),
        UrcPattern("+CGREG:", parse_registration, accept=is_unsolicited_registration, glued=True),
        UrcPattern("+CEREG:", parse_registration, accept=is_unsolicited_registration, glued=True),
        UrcPattern("+C5GREG:", parse_registration, accept=is_unsolicited_registration),
        UrcPattern("+CLIP:", parse_clip, glued=True),
        UrcPattern("+CRING:", parse_ring),
        UrcPattern("RING", parse_ring, exact=True),
        UrcPattern("NO CARRIER", ignored, exact=True),  # a call ended; we never dial
        UrcPattern("RDY", rebooted, exact=True),
        UrcPattern("+CPIN:", parse_cpin, claimable=True),
        UrcPattern("+CFUN:", ignored, claimable=True),
        UrcPattern("Call Ready", service("call"), exact=True),
        UrcPattern("SMS Ready", service("sms"), exact=True),
        UrcPattern("PB DONE", service("phonebook"), exact=True),
        UrcPattern("SMS DONE", service("sms"), exact=True),
        UrcPattern("+SMS FULL", storage_full, exact=True),
        UrcPattern("+CIEV:", ignored),
        UrcPattern("+CGEV:", ignored),
        UrcPattern("+CTZV:", ignored),
        UrcPattern("+CTZE:", ignored),
        UrcPattern("+CTZEU:", ignored),
        UrcPattern("+NITZ:", ignored),
        UrcPattern("+CSSI:", ignored),
        UrcPattern("+CSSU:", ignored),
    ]


__all__ = [
    "Urc",
    "UrcParser",
    "UrcPattern",
    "UrcRouter",
    "ignored",
    "line_prefix",
    "parse_cpin",
    "rebooted",
    "service",
    "sim_state_from_cpin",
    "standard_patterns",
    "storage_full",
]
