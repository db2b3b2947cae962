"""TP-DCS, the data coding scheme octet (TS 23.038 section 4).

The octet packs alphabet, message class, compression and message-waiting indication into coding
groups. Reserved combinations are read the way the spec tells receivers to read them (as GSM-7),
and the reserved bit 3 of group 0xF0-0xFF is ignored: modems have been seen sending 0xF9 over
UCS-2 text and 0xFB over GSM-7 text, so that bit cannot signal anything reliably.
"""

from __future__ import annotations

from typing import Final

from .errors import EncodeArgumentError
from .model import DataCoding, Encoding

_ALPHABETS = (Encoding.GSM7, Encoding.EIGHT_BIT, Encoding.UCS2, Encoding.GSM7)


def describe_dcs(dcs: int) -> DataCoding:
    """The meaning of one DCS octet."""
    return DCS_TABLE[dcs]


def _describe(dcs: int) -> DataCoding:
    group = dcs >> 4
    if group <= 0x7:  # general data coding (0x00-0x3F) and automatic deletion (0x40-0x7F)
        return DataCoding(
            dcs=dcs,
            encoding=_ALPHABETS[(dcs >> 2) & 0x03],
            message_class=dcs & 0x03 if dcs & 0x10 else None,
            compressed=bool(dcs & 0x20),
            auto_delete=bool(dcs & 0x40),
        )
    if group <= 0xB:  # reserved coding groups: assume the default alphabet
        return DataCoding(dcs=dcs, encoding=Encoding.GSM7)
    if group <= 0xE:  # message waiting indication: discard / store (GSM-7) / store (UCS-2)
        return DataCoding(
            dcs=dcs,
            encoding=Encoding.UCS2 if group == 0xE else Encoding.GSM7,
            waiting_active=bool(dcs & 0x08),
            waiting_kind=dcs & 0x03,
            waiting_store=group != 0xC,
        )
    return DataCoding(
        dcs=dcs,
        encoding=Encoding.EIGHT_BIT if dcs & 0x04 else Encoding.GSM7,
        message_class=dcs & 0x03,
    )


#: All 256 DCS octets, described once.
DCS_TABLE: Final = tuple(_describe(dcs) for dcs in range(256))

_ALPHABET_BITS = {Encoding.GSM7: 0x00, Encoding.EIGHT_BIT: 0x04, Encoding.UCS2: 0x08}


def build_dcs(encoding: Encoding, message_class: int | None = None) -> int:
    """General-group DCS for an alphabet and a class (0 flash, 1 ME, 2 SIM, 3 TE) or none."""
    if message_class is None:
        return _ALPHABET_BITS[encoding]
    if not 0 <= message_class <= 3:
        raise EncodeArgumentError(f"message class {message_class} is not 0-3")
    return 0x10 | _ALPHABET_BITS[encoding] | message_class
