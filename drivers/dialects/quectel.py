"""Quectel EC25/EG25 (and EC21/EG91/BG96 relatives). See firmware-notes/quectel.md."""

from __future__ import annotations

from typing import ClassVar

from drivers.at import commands as at
from drivers.at.commands import Command
from drivers.at.fields import payload, split_fields
from drivers.at.urc import UrcPattern, ignored
from drivers.dialects.base import Dialect, UsbId
from drivers.events import ModemEvent, ServiceReady, SimState, SimStateChanged, StorageFull


def parse_qind(line: str, pdu: str | None) -> ModemEvent | None:
    """`+QIND: SMS DONE`, `+QIND: PB DONE`, `+QIND: "smsfull","SM"`; the rest is chatter."""
    body = payload(line)
    upper = body.upper()
    if upper == "SMS DONE":
        return ServiceReady("sms")
    if upper == "PB DONE":
        return ServiceReady("phonebook")
    fields = split_fields(body)
    if fields and fields[0].lower() == "smsfull":
        return StorageFull(fields[1] if len(fields) > 1 else None)
    return None


def parse_qusim(line: str, pdu: str | None) -> ModemEvent:
    return SimStateChanged(SimState.READY if payload(line) == "1" else SimState.NOT_INSERTED)


class QuectelDialect(Dialect):
    name: ClassVar[str] = "quectel"
    manufacturer_markers: ClassVar[tuple[str, ...]] = ("quectel",)
    model_markers: ClassVar[tuple[str, ...]] = ("ec25", "eg25", "ec21", "eg91", "bg96")
    usb_ids: ClassVar[tuple[UsbId, ...]] = (
        UsbId(0x2C7C, 0x0125, 2, "EC25/EG25"),
        UsbId(0x2C7C, 0x0121, 2, "EC21"),
        UsbId(0x2C7C, 0x0296, 2, "BG96"),
    )
    at_port_hints: ClassVar[tuple[str, ...]] = ("if02",)
    iccid_commands: ClassVar[tuple[Command[str | None], ...]] = (at.ICCID_QUECTEL, at.ICCID)
    # URCs go to the AT port we use, not to the modem/NMEA port (the default on some builds).
    setup_commands: ClassVar[tuple[str, ...]] = ('AT+QURCCFG="urcport","usbat"',)

    def vendor_patterns(self) -> list[UrcPattern]:
        return [
            UrcPattern("+QIND:", parse_qind),
            UrcPattern("+QUSIM:", parse_qusim),
            UrcPattern("+QSTK:", ignored),
            UrcPattern("POWERED DOWN", ignored, exact=True),
        ]
