"""u-blox SARA/LARA/TOBY cellular modules. See firmware-notes/ublox.md."""

from __future__ import annotations

from typing import ClassVar

from drivers.at.urc import UrcPattern, ignored
from drivers.dialects.base import Dialect, UsbId


class UbloxDialect(Dialect):
    name: ClassVar[str] = "ublox"
    manufacturer_markers: ClassVar[tuple[str, ...]] = ("u-blox", "ublox")
    model_markers: ClassVar[tuple[str, ...]] = ("sara-", "lara-", "toby-")
    usb_ids: ClassVar[tuple[UsbId, ...]] = (
        UsbId(0x1546, 0x1141, 0, "TOBY-L2/LARA-R2 (ACM)"),
        UsbId(0x1546, 0x1102, 0, "LISA-U2/SARA-U2"),
    )
    at_port_hints: ClassVar[tuple[str, ...]] = ("if00",)
    announces_boot: ClassVar[bool] = False

    def vendor_patterns(self) -> list[UrcPattern]:
        return [
            UrcPattern("+UUPSDD:", ignored),
            UrcPattern("+UUPSDA:", ignored),
            UrcPattern("+UUSIMSTAT:", ignored),
            UrcPattern("+UMWI:", ignored),
        ]
