"""Sierra Wireless MC7455 / MC7430 / EM7455 (Qualcomm MDM9x30). See firmware-notes/sierra.md."""

from __future__ import annotations

from typing import ClassVar

from drivers.at import commands as at
from drivers.at.commands import Command
from drivers.at.urc import UrcPattern, ignored
from drivers.dialects.base import Dialect, UsbId


class SierraDialect(Dialect):
    name: ClassVar[str] = "sierra"
    manufacturer_markers: ClassVar[tuple[str, ...]] = ("sierra",)
    model_markers: ClassVar[tuple[str, ...]] = ("mc7455", "mc7430", "em7455", "mc7304")
    usb_ids: ClassVar[tuple[UsbId, ...]] = (
        UsbId(0x1199, 0x9071, 3, "MC7455/MC7430 (QMI)"),
        UsbId(0x1199, 0x9079, 3, "EM7455"),
    )
    at_port_hints: ClassVar[tuple[str, ...]] = ("if03",)
    announces_boot: ClassVar[bool] = False  # and the USB port re-enumerates on reset
    # Qualcomm SMS stacks reject routed status reports (ds=1): start with stored ones.
    cnmi_order: ClassVar[tuple[str, ...]] = ("2,1,2,2,0", "2,1,2,1,0", "2,1,2,0,0", "2,1,0,0,0")
    iccid_commands: ClassVar[tuple[Command[str | None], ...]] = (at.ICCID_SIERRA, at.ICCID)
    ignored_prefixes: ClassVar[tuple[str, ...]] = ("^", "!")

    def vendor_patterns(self) -> list[UrcPattern]:
        return [UrcPattern("!GSTATUS:", ignored), UrcPattern("+PACSP:", ignored)]
