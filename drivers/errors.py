"""The driver's exception tree, and the one table that turns `+CMS`/`+CME` codes into policy.

Callers never parse error text: they catch a class and read `error_class`, which says what to do
with the message and the modem (retry, fail the message, stop using the SIM, repair the modem, or
fail loudly because we built a bad request). The table below is the only place that decision is
made; it follows `modem-behaviour.md` row for row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class ErrorClass(StrEnum):
    TEMPORARY = "temporary"  # retry with backoff
    PERMANENT = "permanent"  # this message will never go through
    SIM = "sim"  # SIM/account problem: stop using this SIM, alert
    MODEM = "modem"  # the modem needs repair (reset), then retry
    BUG = "bug"  # we built a bad request: fail loudly
    IGNORE = "ignore"  # harmless (e.g. deleting an index that is already empty)


ErrorKind = Literal["CMS", "CME"]


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """What one error code means. `max_attempts` bounds retries of a TEMPORARY error whose
    table row says "limited attempts" or "T once, then P" (None: the caller's own policy)."""

    error_class: ErrorClass
    meaning: str
    max_attempts: int | None = None


T, P, S, M, B, I = (  # noqa: E741 - one letter per class, as in modem-behaviour.md
    ErrorClass.TEMPORARY,
    ErrorClass.PERMANENT,
    ErrorClass.SIM,
    ErrorClass.MODEM,
    ErrorClass.BUG,
    ErrorClass.IGNORE,
)


def _rows(codes: tuple[int, ...], rule: ErrorRule) -> dict[int, ErrorRule]:
    return dict.fromkeys(codes, rule)


# TS 27.005 section 3.2.5 (+CMS) with the classes of modem-behaviour.md.
CMS_RULES: dict[int, ErrorRule] = {
    1: ErrorRule(P, "unassigned number"),
    **_rows((8, 10, 21, 29, 50, 69), ErrorRule(S, "barred / rejected / not subscribed")),
    **_rows((27, 28, 30), ErrorRule(P, "destination out of service / unknown subscriber")),
    38: ErrorRule(T, "network out of order (long backoff)"),
    **_rows((41, 42, 47), ErrorRule(T, "temporary failure / congestion / no resources")),
    **_rows((95, 96, 97, 98, 99, 111, 127), ErrorRule(T, "protocol error", max_attempts=2)),
    **_rows((192, 194), ErrorRule(T, "SC busy / SC system failure")),
    193: ErrorRule(S, "no SC subscription"),
    195: ErrorRule(P, "invalid SME address"),
    196: ErrorRule(P, "destination SME barred"),
    **_rows((208, 211), ErrorRule(M, "SIM SMS storage full (drain storage)")),
    300: ErrorRule(M, "ME failure"),
    301: ErrorRule(T, "SMS service of ME reserved"),
    # "B or M": most often the modem's state (SMS not ready, wrong mode), so repair first; a
    # request that still fails after a reset is our bug, which max_attempts lets the caller see.
    **_rows((302, 303), ErrorRule(M, "operation not allowed / not supported", max_attempts=1)),
    **_rows((304, 305), ErrorRule(B, "invalid PDU mode / text mode parameter")),
    **_rows((310, 311, 312, 316, 317, 318), ErrorRule(S, "SIM missing / PIN / PH-SIM / PUK")),
    313: ErrorRule(M, "SIM failure"),
    314: ErrorRule(T, "SIM busy"),
    315: ErrorRule(S, "SIM wrong"),
    320: ErrorRule(M, "memory failure"),
    321: ErrorRule(I, "invalid memory index"),
    322: ErrorRule(M, "memory full"),
    330: ErrorRule(S, "SMSC address unknown (configure AT+CSCA)"),
    331: ErrorRule(T, "no network service"),
    332: ErrorRule(T, "network timeout (outcome may be unknown)"),
    340: ErrorRule(I, "no +CNMA acknowledgement expected"),
    500: ErrorRule(T, "unknown error", max_attempts=3),
}
CMS_VENDOR = ErrorRule(T, "vendor specific (512: send/receive collision)", max_attempts=3)
CMS_UNLISTED = ErrorRule(T, "unlisted +CMS code", max_attempts=3)

# TS 27.007 section 9.2 (+CME) with the classes of modem-behaviour.md.
CME_RULES: dict[int, ErrorRule] = {
    **_rows((3, 4), ErrorRule(M, "operation not allowed / not supported", max_attempts=1)),
    **_rows((10, 11, 12, 13, 15, 16), ErrorRule(S, "SIM missing / PIN / PUK / failure / wrong")),
    14: ErrorRule(T, "SIM busy"),
    20: ErrorRule(M, "memory full"),
    **_rows((21, 22), ErrorRule(I, "invalid index / not found")),
    **_rows((30, 31), ErrorRule(T, "no network service / network timeout")),
    100: ErrorRule(T, "unknown error", max_attempts=3),
}
CME_UNLISTED = ErrorRule(T, "unlisted +CME code", max_attempts=3)
# A bare `ERROR` (CMEE off, or a firmware that never says more): SMS commands answer it until the
# modem is SMS-ready, so it is treated like "unknown".
BARE_ERROR = ErrorRule(T, "ERROR without a code", max_attempts=3)

# Verbose forms (`AT+CMEE=2`, or firmwares that ignore CMEE=1) mapped back to their codes.
CMS_TEXT: dict[str, int] = {
    "unassigned (unallocated) number": 1,
    "operator determined barring": 8,
    "call barred": 10,
    "short message transfer rejected": 21,
    "destination out of service": 27,
    "unidentified subscriber": 28,
    "facility rejected": 29,
    "unknown subscriber": 30,
    "network out of order": 38,
    "temporary failure": 41,
    "congestion": 42,
    "resources unavailable, unspecified": 47,
    "requested facility not subscribed": 50,
    "requested facility not implemented": 69,
    "invalid short message transfer reference value": 81,
    "invalid message, unspecified": 95,
    "invalid mandatory information": 96,
    "message type non-existent or not implemented": 97,
    "message not compatible with short message protocol state": 98,
    "information element non-existent or not implemented": 99,
    "protocol error, unspecified": 111,
    "interworking, unspecified": 127,
    "sc busy": 192,
    "no sc subscription": 193,
    "sc system failure": 194,
    "invalid sme address": 195,
    "destination sme barred": 196,
    "(u)sim sms storage full": 208,
    "sim sms storage full": 208,
    "memory capacity exceeded": 211,
    "me failure": 300,
    "sms service of me reserved": 301,
    "operation not allowed": 302,
    "operation not supported": 303,
    "invalid pdu mode parameter": 304,
    "invalid text mode parameter": 305,
    "sim not inserted": 310,
    "(u)sim not inserted": 310,
    "sim pin required": 311,
    "ph-sim pin required": 312,
    "sim failure": 313,
    "sim busy": 314,
    "sim wrong": 315,
    "sim puk required": 316,
    "sim pin2 required": 317,
    "sim puk2 required": 318,
    "memory failure": 320,
    "invalid memory index": 321,
    "memory full": 322,
    "smsc address unknown": 330,
    "no network service": 331,
    "network timeout": 332,
    "no +cnma acknowledgement expected": 340,
    "unknown error": 500,
}
CME_TEXT: dict[str, int] = {
    "phone failure": 0,
    "no connection to phone": 1,
    "operation not allowed": 3,
    "operation not supported": 4,
    "ph-sim pin required": 5,
    "sim not inserted": 10,
    "sim pin required": 11,
    "sim puk required": 12,
    "sim failure": 13,
    "sim busy": 14,
    "sim wrong": 15,
    "incorrect password": 16,
    "sim pin2 required": 17,
    "sim puk2 required": 18,
    "memory full": 20,
    "invalid index": 21,
    "not found": 22,
    "memory failure": 23,
    "no network service": 30,
    "network timeout": 31,
    "network not allowed - emergency calls only": 32,
    "unknown": 100,
    "unknown error": 100,
}


def rule_for(kind: str | None, code: int | None) -> ErrorRule:
    """The table row for an error; unlisted codes fall back to a bounded TEMPORARY."""
    if kind == "CMS":
        if code is None:
            return CMS_UNLISTED
        if code >= 512:
            return CMS_VENDOR
        return CMS_RULES.get(code, CMS_UNLISTED)
    if kind == "CME":
        if code is None:
            return CME_UNLISTED
        return CME_RULES.get(code, CME_UNLISTED)
    return BARE_ERROR


def classify(kind: str | None, code: int | None) -> ErrorClass:
    return rule_for(kind, code).error_class


_FINAL_ERROR = re.compile(r"^\+(CMS|CME) ERROR:\s*(.*)$", re.IGNORECASE)


def parse_error_line(line: str) -> tuple[ErrorKind | None, int | None, str]:
    """Split a final error line into (kind, code, text); verbose text is mapped to its code."""
    match = _FINAL_ERROR.match(line.strip())
    if match is None:
        return None, None, line.strip()
    kind: ErrorKind = "CMS" if match.group(1).upper() == "CMS" else "CME"
    detail = match.group(2).strip().strip('"')
    if detail.lstrip("-").isdigit():
        return kind, int(detail), detail
    table = CMS_TEXT if kind == "CMS" else CME_TEXT
    return kind, table.get(detail.lower()), detail


class ModemError(Exception):
    """Base of everything the driver raises about a modem; `error_class` is the policy hint."""

    error_class: ErrorClass = ErrorClass.MODEM


class ConnectionLost(ModemError):
    """The port is gone (EOF, EIO, unplug, closed): every waiter fails with this, once."""


class PortOpenError(ConnectionLost):
    """The port could not be opened (missing, busy: another program holds it exclusively)."""


class ModemNotReady(ModemError):
    """Initialisation has not completed (or failed); `__cause__` says why when known."""


class CommandTimeout(ModemError, TimeoutError):
    """A command's deadline passed without a final result."""


class PromptTimeout(CommandTimeout):
    """`AT+CMGS` never showed its `> ` prompt: ESC was sent and nothing was submitted."""


class ModemRebootedError(ModemError):
    """The modem announced a boot while a command was in flight; that command's answer is lost."""


class ProtocolError(ModemError):
    """The modem answered, but not in a shape the command's parser accepts."""


class InvalidRequest(ModemError, ValueError):
    """A request the driver refuses to put on the wire (bad hex, user text in an AT line)."""

    error_class = ErrorClass.BUG


class SimNotReady(ModemError):
    """The SIM needs a PIN/PUK or is absent; the driver never enters a PIN on its own."""

    error_class = ErrorClass.SIM

    def __init__(self, state: str, detail: str = "") -> None:
        super().__init__(f"SIM not ready: {state}{': ' + detail if detail else ''}")
        self.state = state


class SubmitOutcomeUnknown(ModemError):
    """Ctrl-Z went out but no `+CMGS: <mr>` came back: the SMS may have been sent.

    Not a failure: a blind resend may duplicate the message, so the caller's policy decides.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"submit outcome unknown: {reason}")
        self.reason = reason


class AtError(ModemError):
    """A final `ERROR`, `+CMS ERROR` or `+CME ERROR`, with its code and class from the table."""

    def __init__(
        self,
        kind: ErrorKind | None,
        code: int | None,
        text: str,
        *,
        command: str = "",
    ) -> None:
        rule = rule_for(kind, code)
        label = f"+{kind} ERROR: {code if code is not None else text}" if kind else "ERROR"
        where = f" ({command})" if command else ""
        super().__init__(f"{label}{where}: {rule.meaning} [{rule.error_class}]")
        self.kind = kind
        self.code = code
        self.text = text
        self.command = command
        self.error_class = rule.error_class
        self.meaning = rule.meaning
        self.max_attempts = rule.max_attempts

    @classmethod
    def from_line(cls, line: str, *, command: str = "") -> AtError:
        kind, code, text = parse_error_line(line)
        return cls(kind, code, text, command=command)
