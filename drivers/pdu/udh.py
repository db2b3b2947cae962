"""The user data header (TS 23.040 9.2.3.24): a length octet and a run of IEI/length/data triples.

Every element is kept, known or not, so a part relayed or stored loses nothing; the model's
properties interpret the ones the gateway acts on (concatenation, ports, language shifts).
"""

from __future__ import annotations

from typing import Final, Literal

from .errors import EncodeArgumentError, HeaderOverrunError
from .model import InformationElement, UserDataHeader

IEI_CONCAT_8: Final = 0x00
IEI_PORTS_8: Final = 0x04
IEI_PORTS_16: Final = 0x05
IEI_CONCAT_16: Final = 0x08
IEI_SINGLE_SHIFT: Final = 0x24
IEI_LOCKING_SHIFT: Final = 0x25


def parse_udh(header: bytes, offset: int = 0) -> UserDataHeader:
    """`header` starts with UDHL and is exactly UDHL + 1 octets long (the caller checked)."""
    if len(header) == 6 and header[1] == IEI_CONCAT_8 and header[2] == 3:  # the usual header
        return UserDataHeader((InformationElement(IEI_CONCAT_8, header[3:6]),), header)
    elements: list[InformationElement] = []
    end = len(header)
    position = 1
    while position < end:
        if position + 2 > end:
            raise HeaderOverrunError(
                "information element header runs past the UDH", offset=offset + position
            )
        iei = header[position]
        length = header[position + 1]
        data_end = position + 2 + length
        if data_end > end:
            raise HeaderOverrunError(
                f"information element {iei:#04x} of {length} octets runs past the UDH",
                offset=offset + position,
            )
        elements.append(InformationElement(iei, header[position + 2 : data_end]))
        position = data_end
    return UserDataHeader(tuple(elements), header)


def concat_element(ref: int, total: int, seq: int, bits: Literal[8, 16]) -> InformationElement:
    if bits == 8:
        if not 0 <= ref <= 0xFF:
            raise EncodeArgumentError(f"8-bit concatenation reference {ref} is not 0-255")
        return InformationElement(IEI_CONCAT_8, bytes((ref, total, seq)))
    if not 0 <= ref <= 0xFFFF:
        raise EncodeArgumentError(f"16-bit concatenation reference {ref} is not 0-65535")
    return InformationElement(IEI_CONCAT_16, bytes((ref >> 8, ref & 0xFF, total, seq)))


def build_udh(elements: tuple[InformationElement, ...]) -> bytes:
    """Elements -> UDH octets including the UDHL octet."""
    body = b"".join(bytes((ie.iei, len(ie.data))) + ie.data for ie in elements)
    if len(body) > 139:
        raise EncodeArgumentError("user data header longer than the user data")
    return bytes((len(body),)) + body


def concat_header_length(bits: Literal[8, 16]) -> int:
    """Octets a concatenation-only UDH takes, UDHL included."""
    return 6 if bits == 8 else 7
