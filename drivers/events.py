"""What a modem tells us without being asked, as plain frozen data for subscribers.

The URC router turns unsolicited lines into these; the gateway never sees AT text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class SimState(StrEnum):
    """`+CPIN` answers (and `+CME ERROR: 10/13/14`), normalised."""

    READY = "ready"
    PIN_REQUIRED = "pin_required"
    PUK_REQUIRED = "puk_required"
    NOT_INSERTED = "not_inserted"
    BUSY = "busy"
    FAILURE = "failure"
    UNKNOWN = "unknown"


class UssdStatus(IntEnum):
    """`+CUSD: <m>` (TS 27.007 7.15)."""

    DONE = 0  # no further user action required
    ACTION_REQUIRED = 1  # the network asks for a reply (the driver closes the session)
    TERMINATED = 2  # terminated by the network
    OTHER_CLIENT = 3
    NOT_SUPPORTED = 4
    TIMEOUT = 5  # network time out


@dataclass(frozen=True, slots=True)
class MessageStored:
    """`+CMTI: <mem>,<index>`: a message waits in storage (read it, commit, then delete)."""

    storage: str
    index: int


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """`+CMT: ,<len>` + PDU line: routed directly (acked with `+CNMA` when the modem needs it)."""

    pdu_hex: str


@dataclass(frozen=True, slots=True)
class StatusReportReceived:
    """`+CDS: <len>` + PDU line (status reports routed, `+CNMI ... ds=1`)."""

    pdu_hex: str


@dataclass(frozen=True, slots=True)
class StatusReportStored:
    """`+CDSI: <mem>,<index>` (status reports stored, `ds=2`)."""

    storage: str
    index: int


@dataclass(frozen=True, slots=True)
class RegistrationChanged:
    """Unsolicited `+CREG`/`+CGREG`/`+CEREG: <stat>`; `domain` names which one."""

    stat: int
    domain: str = "CREG"

    @property
    def registered(self) -> bool:
        return self.stat in (1, 5, 6, 7)


@dataclass(frozen=True, slots=True)
class ModemRebooted:
    """A boot banner (`RDY`, `^BOOT`...): the modem lost its settings; the driver re-inits."""

    banner: str = "RDY"


@dataclass(frozen=True, slots=True)
class ConnectionLostEvent:
    reason: str


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """`RING` (number None) or `+CLIP: "<number>"`: a voice call during our work; ignored."""

    number: str | None


@dataclass(frozen=True, slots=True)
class UssdReceived:
    """`+CUSD: <m>[,<str>,<dcs>]`; `text` decoded by the dialect, `raw` as the modem sent it."""

    status: UssdStatus | int
    text: str | None
    dcs: int | None
    raw: str | None = None


@dataclass(frozen=True, slots=True)
class SimStateChanged:
    """Unsolicited `+CPIN: ...` (or a vendor SIM URC): SIM inserted, removed, locked."""

    state: SimState


@dataclass(frozen=True, slots=True)
class ServiceReady:
    """Boot progress banners (`SMS Ready`, `+QIND: SMS DONE`, `PB DONE`...)."""

    service: str


@dataclass(frozen=True, slots=True)
class StorageFull:
    """`^SMMEMFULL` / `+SMS FULL`: the SIM stopped accepting messages until it is drained."""

    storage: str | None


ModemEvent = (
    MessageStored
    | MessageReceived
    | StatusReportReceived
    | StatusReportStored
    | RegistrationChanged
    | ModemRebooted
    | ConnectionLostEvent
    | IncomingCall
    | UssdReceived
    | SimStateChanged
    | ServiceReady
    | StorageFull
)

__all__ = [
    "ConnectionLostEvent",
    "IncomingCall",
    "MessageReceived",
    "MessageStored",
    "ModemEvent",
    "ModemRebooted",
    "RegistrationChanged",
    "ServiceReady",
    "SimState",
    "SimStateChanged",
    "StatusReportReceived",
    "StatusReportStored",
    "StorageFull",
    "UssdReceived",
    "UssdStatus",
]
