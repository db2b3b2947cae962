"""The generic (TS 27.005/27.007) dialect, and the hooks a vendor subclass may override.

Everything vendor-specific is a class attribute or method here, so the core (`Modem`, the
channel) never asks which vendor it talks to: it asks its dialect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from drivers.at import commands as at
from drivers.at.commands import Command
from drivers.at.fields import is_hex, payload, split_fields, to_int
from drivers.at.urc import UrcPattern, standard_patterns
from drivers.errors import InvalidRequest
from drivers.events import ModemEvent, UssdReceived, UssdStatus
from drivers.pdu import gsm7


@dataclass(frozen=True, slots=True)
class UsbId:
    """USB vendor/product and the interface number that carries the AT port (None: any)."""

    vendor: int
    product: int
    at_interface: int | None
    model: str


_USSD_CODE_CHARS = frozenset("0123456789*#+")


def check_ussd_code(code: str) -> str:
    """USSD requests are service codes, never free text: this keeps text out of the AT line."""
    if not code or len(code) > 160 or not set(code) <= _USSD_CODE_CHARS:
        raise InvalidRequest("USSD code must be digits, * # and + only")
    return code


def ussd_alphabet(dcs: int | None) -> str:
    """CBS data coding scheme (TS 23.038 5) -> "gsm7" | "8bit" | "ucs2"."""
    if dcs is None:
        return "gsm7"
    group = dcs >> 4
    if group in (0x0, 0x2, 0x3):
        return "gsm7"
    if group == 0x1:
        return "ucs2" if dcs & 0x0F == 0x01 else "gsm7"
    if group in (0x4, 0x5, 0x6, 0x7, 0x9):
        return {0: "gsm7", 1: "8bit", 2: "ucs2"}.get((dcs >> 2) & 0x03, "gsm7")
    if group == 0xF:
        return "8bit" if dcs & 0x04 else "gsm7"
    return "gsm7"


def unpack_gsm7_hex(text: str) -> str:
    """Packed GSM-7 septets as hex (Huawei's USSD form) -> text; a trailing CR pad is dropped."""
    octets = bytes.fromhex(text)
    count = len(octets) * 8 // 7
    septets = gsm7.unpack_septets(octets, count)
    if len(octets) * 8 % 7 == 0 and septets[-1:] in (b"\r", b"\x00"):
        septets = septets[:-1]
    return gsm7.decode_septets(septets)


def pack_gsm7_hex(text: str) -> str:
    septets = gsm7.encode_septets(text)
    if len(septets) % 8 == 7:  # 7 spare bits would read as '@': pad with CR (TS 23.038 6.1.2.3.1)
        septets += b"\r"
    return gsm7.pack_septets(septets).hex().upper()


def decode_ucs2_hex(text: str) -> str | None:
    if not is_hex(text) or len(text) % 4:
        return None
    return bytes.fromhex(text).decode("utf-16-be", "replace")


class Dialect:
    """Generic modem. Subclasses change attributes and override the few hooks they need."""

    name: ClassVar[str] = "generic"
    # Lower-case substrings looked for in +CGMI / +CGMM / ATI to pick this dialect.
    manufacturer_markers: ClassVar[tuple[str, ...]] = ()
    model_markers: ClassVar[tuple[str, ...]] = ()
    usb_ids: ClassVar[tuple[UsbId, ...]] = ()
    # by-id name fragments of the AT interface (e.g. "if02"), to choose among a modem's ports
    at_port_hints: ClassVar[tuple[str, ...]] = ()
    # +CNMI settings tried in order: status reports routed (+CDS), stored (+CDSI), none.
    cnmi_order: ClassVar[tuple[str, ...]] = ("2,1,2,1,0", "2,1,2,2,0", "2,1,2,0,0")
    storage: ClassVar[str | None] = None  # None: ModemConfig.storage
    status_report_storage: ClassVar[str] = "SR"
    iccid_commands: ClassVar[tuple[Command[str | None], ...]] = (at.ICCID,)
    # Vendor settings sent after the standard init; a failure is logged, never fatal.
    setup_commands: ClassVar[tuple[str, ...]] = ()
    # Unknown lines with these prefixes are vendor chatter: consumed and ignored.
    ignored_prefixes: ClassVar[tuple[str, ...]] = ("^",)
    ussd_packed_gsm7: ClassVar[bool] = False  # Huawei: request and answer as packed hex
    # Sends a boot banner (RDY, ^BOOT...) after a reset; if not, reset() probes until it answers.
    announces_boot: ClassVar[bool] = True

    @classmethod
    def matches(cls, manufacturer: str, model: str, ati: Sequence[str]) -> bool:
        text = " ".join((manufacturer, model, *ati)).lower()
        if cls.manufacturer_markers and any(m in text for m in cls.manufacturer_markers):
            return True
        return bool(cls.model_markers) and any(m in text for m in cls.model_markers)

    def urc_patterns(self) -> list[UrcPattern]:
        patterns = [
            p if p.prefix != "+CUSD:" else UrcPattern("+CUSD:", self.parse_cusd, glued=True)
            for p in standard_patterns()
        ]
        return patterns + self.vendor_patterns()

    def vendor_patterns(self) -> list[UrcPattern]:
        return []

    # --- USSD ---------------------------------------------------------------------------------

    def encode_ussd(self, code: str) -> tuple[str, int]:
        """The `<str>,<dcs>` of `AT+CUSD=1,"<str>",<dcs>` for a service code like `*100#`."""
        check_ussd_code(code)
        if self.ussd_packed_gsm7:
            return pack_gsm7_hex(code), 15
        return code, 15

    def decode_ussd(self, text: str, dcs: int | None) -> str | None:
        alphabet = ussd_alphabet(dcs)
        if alphabet == "ucs2":
            decoded = decode_ucs2_hex(text)
            return decoded if decoded is not None else text
        if alphabet == "gsm7" and self.ussd_packed_gsm7 and is_hex(text):
            try:
                return unpack_gsm7_hex(text)
            except (ValueError, UnicodeDecodeError):
                return None
        if alphabet == "8bit" and is_hex(text):
            return bytes.fromhex(text).decode("latin-1")
        return text

    def parse_cusd(self, line: str, pdu: str | None) -> ModemEvent:
        fields = split_fields(payload(line))
        status = to_int(fields[0]) if fields else None
        if status is None:
            raise ValueError(line)
        dcs = to_int(fields[2]) if len(fields) > 2 else None
        raw = fields[1] if len(fields) > 1 else None
        text = self.decode_ussd(raw, dcs) if raw is not None else None
        try:
            return UssdReceived(UssdStatus(status), text, dcs, raw)
        except ValueError:
            return UssdReceived(status, text, dcs, raw)


class GenericDialect(Dialect):
    """Any TS 27.005/27.007 modem not recognised as one of the known families."""


__all__ = ["Dialect", "GenericDialect", "UsbId", "check_ussd_code", "ussd_alphabet"]
