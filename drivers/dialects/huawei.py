"""Huawei E3372 / E3131 / E173 HiLink-less (stick) firmwares. See firmware-notes/huawei.md."""

from __future__ import annotations

import time
from typing import ClassVar

from drivers.at import commands as at
from drivers.at.commands import Command
from drivers.at.fields import payload, split_fields, to_int
from drivers.at.urc import UrcPattern, rebooted
from drivers.dialects.base import Dialect, UsbId
from drivers.events import ModemEvent, SimState, SimStateChanged, StorageFull

_SIMST = {0: SimState.FAILURE, 1: SimState.READY, 240: SimState.FAILURE, 255: SimState.NOT_INSERTED}


def parse_simst(line: str, pdu: str | None) -> ModemEvent:
    """`^SIMST: <sim_state>[,<lock_state>]`: lock_state 1 means the SIM wants its PIN/PUK."""
    fields = split_fields(payload(line))
    code = to_int(fields[0]) if fields else None
    if len(fields) > 1 and to_int(fields[1]) == 1:
        return SimStateChanged(SimState.PIN_REQUIRED)
    return SimStateChanged(_SIMST.get(code if code is not None else -1, SimState.UNKNOWN))


def parse_smmemfull(line: str, pdu: str | None) -> ModemEvent:
    fields = split_fields(payload(line))
    return StorageFull(fields[0] if fields and fields[0] else None)


class HuaweiDialect(Dialect):
    name: ClassVar[str] = "huawei"
    manufacturer_markers: ClassVar[tuple[str, ...]] = ("huawei",)
    model_markers: ClassVar[tuple[str, ...]] = ("e3372", "e3131", "e173", "e1750", "ms2131")
    usb_ids: ClassVar[tuple[UsbId, ...]] = (
        UsbId(0x12D1, 0x1506, None, "E3372 (stick mode)"),
        UsbId(0x12D1, 0x1001, None, "E173/E1750"),
        UsbId(0x12D1, 0x1436, None, "E1750/E3131"),
    )
    iccid_commands: ClassVar[tuple[Command[str | None], ...]] = (at.ICCID_HUAWEI, at.ICCID)
    # ^RSSI/^MODE/^DSFLOWRPT/^HCSQ floods stop with ^CURC=0.
    setup_commands: ClassVar[tuple[str, ...]] = ("AT^CURC=0",)
    ussd_packed_gsm7: ClassVar[bool] = True

    # Huawei sends no RDY: `^BOOT:` is its boot banner. Older firmwares also repeat ^BOOT as a
    # heartbeat every few seconds until `^CURC=0`, so only a ^BOOT after a quiet spell counts.
    boot_quiet_seconds: ClassVar[float] = 30.0

    def __init__(self) -> None:
        self._last_boot: float | None = None

    def parse_boot(self, line: str, pdu: str | None) -> ModemEvent | None:
        now = time.monotonic()
        last, self._last_boot = self._last_boot, now
        if last is not None and now - last < self.boot_quiet_seconds:
            return None
        return rebooted(line, pdu)

    def vendor_patterns(self) -> list[UrcPattern]:
        return [
            UrcPattern("^SYSSTART", rebooted, exact=True),
            UrcPattern("^BOOT:", self.parse_boot),
            UrcPattern("^SIMST:", parse_simst),
            UrcPattern("^SMMEMFULL:", parse_smmemfull),
            UrcPattern("^SMMEMFULL", parse_smmemfull, exact=True),
        ]
