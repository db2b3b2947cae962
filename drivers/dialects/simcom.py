"""SIMCom: SIM800/SIM900 (2G) and SIM7600 (LTE). See firmware-notes/simcom.md."""

from __future__ import annotations

from typing import ClassVar

from drivers.at import commands as at
from drivers.at.commands import Command
from drivers.at.urc import UrcPattern, ignored, rebooted, service, storage_full
from drivers.dialects.base import Dialect, UsbId
from drivers.events import ModemEvent, SimState, SimStateChanged


class SimcomDialect(Dialect):
    name: ClassVar[str] = "simcom"
    manufacturer_markers: ClassVar[tuple[str, ...]] = ("simcom",)
    model_markers: ClassVar[tuple[str, ...]] = ("sim800", "sim900", "sim7600", "sim7000")
    usb_ids: ClassVar[tuple[UsbId, ...]] = (
        UsbId(0x1E0E, 0x9001, 2, "SIM7600"),
        UsbId(0x1E0E, 0x9011, 4, "SIM7600 (RNDIS)"),
    )
    at_port_hints: ClassVar[tuple[str, ...]] = ("if02", "if04")
    # SIM800 answers AT+CCID; the SIM7600 family uses AT+CICCID.
    iccid_commands: ClassVar[tuple[Command[str | None], ...]] = (at.ICCID, at.ICCID_SIMCOM_LTE)

    def vendor_patterns(self) -> list[UrcPattern]:
        return [
            UrcPattern("START", rebooted, exact=True),  # SIM7600 after power-up
            UrcPattern("*PSUTTZ:", ignored),
            UrcPattern("DST:", ignored),
            UrcPattern("+CPMS FULL", storage_full, exact=True),
            UrcPattern("UNDER-VOLTAGE WARNNING", ignored, exact=True),
            UrcPattern("OVER-VOLTAGE WARNNING", ignored, exact=True),
            UrcPattern("NORMAL POWER DOWN", ignored, exact=True),
            UrcPattern("+CGEV:", ignored),
            UrcPattern("SMS DONE", service("sms"), exact=True),
            UrcPattern("+SIMCARD:", parse_simcard),  # SIM7600: "+SIMCARD: NOT AVAILABLE"
        ]


def parse_simcard(line: str, pdu: str | None) -> ModemEvent:
    available = "NOT AVAILABLE" not in line.upper()
    return SimStateChanged(SimState.READY if available else SimState.NOT_INSERTED)
