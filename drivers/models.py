"""Plain results of the typed modem API (frozen, slotted): what `Modem` hands the gateway."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.events import SimState, UssdStatus


@dataclass(frozen=True, slots=True)
class ModemIdentity:
    """Who this modem is; `imei` is how a re-enumerated port is recognised as the same modem."""

    imei: str
    imsi: str | None
    iccid: str | None
    msisdn: str | None
    manufacturer: str
    model: str
    revision: str
    dialect: str


@dataclass(frozen=True, slots=True)
class ModemHealth:
    """One poll of the modem's state. `registration` is the TS 27.007 stat (0-7)."""

    sim_state: str
    registration: int | None
    registered: bool
    roaming: bool
    operator_numeric: str | None
    operator_name: str | None
    signal_dbm: int | None
    rssi: int | None
    storage_used: int | None
    storage_total: int | None

    @property
    def sim_ready(self) -> bool:
        return self.sim_state == SimState.READY


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One `+CMGL`/`+CMGR` entry in PDU mode. `stat`: 0 unread, 1 read, 2 unsent, 3 sent."""

    index: int
    storage: str
    stat: int
    pdu_hex: str


@dataclass(frozen=True, slots=True)
class UssdResult:
    """A USSD answer. `text` is None when the network sent none (or it could not be decoded;
    then `raw` keeps what the modem said)."""

    status: UssdStatus | int
    text: str | None
    dcs: int | None
    raw: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (UssdStatus.DONE, UssdStatus.ACTION_REQUIRED)


@dataclass(frozen=True, slots=True)
class SmsStorage:
    """`+CPMS`: which memory reads come from, and how full it is."""

    storage: str
    used: int
    total: int


__all__ = ["ModemHealth", "ModemIdentity", "SmsStorage", "StoredMessage", "UssdResult"]
