"""TP-UDL + TP-UD in both directions: header, fill bits, and the three alphabets.

TP-UDL counts septets for GSM-7 (header included, fill bits rounded into it) and octets for
8-bit and UCS-2 data. Every length is checked against the data before it is used, so a lying
length octet becomes a `PduError`, never an IndexError or a silently short text.
"""

from __future__ import annotations

from codecs import charmap_decode

from . import gsm7
from .dcs import DCS_TABLE
from .errors import (
    HeaderOverrunError,
    LengthBeyondDataError,
    OddUcs2LengthError,
    TruncatedError,
    UnsupportedError,
)
from .model import Encoding, UserData, UserDataHeader
from .udh import parse_udh


def decode_user_data(data: bytes, offset: int, dcs: int, udhi: bool) -> tuple[UserData, int]:
    """TP-UDL at `offset` and the TP-UD after it -> (UserData, offset after the user data)."""
    if offset >= len(data):
        raise TruncatedError("TP-UDL missing", offset=offset)
    udl = data[offset]
    start = offset + 1
    coding = DCS_TABLE[dcs]
    if coding.compressed:
        raise UnsupportedError(f"DCS {dcs:#04x} signals compressed user data", offset=offset - 1)
    encoding = coding.encoding
    gsm = encoding is Encoding.GSM7
    end = start + ((udl * 7 + 7) >> 3 if gsm else udl)
    if end > len(data):
        raise LengthBeyondDataError(
            f"TP-UDL {udl} needs {end - start} octets of user data, {len(data) - start} present",
            offset=offset,
        )
    ud = data[start:end]
    udh: UserDataHeader | None = None
    header_octets = 0
    if udhi:
        if not ud:
            raise HeaderOverrunError("TP-UDHI is set but there is no user data", offset=offset)
        header_octets = ud[0] + 1
        if header_octets > len(ud):
            raise HeaderOverrunError(
                f"UDH of {header_octets} octets is longer than the user data", offset=start
            )
        udh = parse_udh(ud[:header_octets], start)
        payload = ud[header_octets:]
    else:
        payload = ud
    text: str | None
    if gsm:
        if udh is None:
            septets = gsm7.unpack_septets(ud, udl)
            text = charmap_decode(septets, "strict", gsm7.DECODING_TABLE)[0]
            if "\x1b" in text:  # escapes: the full decoder resolves them
                text = gsm7.decode_septets(septets)
        else:
            header_septets = (header_octets * 8 + 6) // 7
            if header_septets > udl:
                raise HeaderOverrunError(
                    f"UDH of {header_octets} octets is longer than TP-UDL {udl} septets",
                    offset=start,
                )
            septets = gsm7.unpack_septets(ud, udl - header_septets, skip_bits=header_septets * 7)
            text = gsm7.decode_septets(septets, locking=udh.locking_shift, single=udh.single_shift)
    elif encoding is Encoding.UCS2:
        if len(payload) & 1:
            raise OddUcs2LengthError(
                f"UCS-2 user data of {len(payload)} octets is not whole code units", offset=start
            )
        try:
            text = payload.decode("utf-16-be")
        except UnicodeDecodeError:
            text = None  # a lone surrogate: keep the octets in `payload`
    else:
        text = None
    return UserData(dcs, encoding, coding.message_class, udl, udh, text, payload), end


def encode_user_data(encoding: Encoding, body: bytes, header: bytes) -> bytes:
    """TP-UDL + TP-UD. `body` is septets (one per byte) for GSM-7, else the octets to carry.

    `header` is the UDH including its UDHL octet, or empty.
    """
    if encoding is Encoding.GSM7:
        header_septets = (len(header) * 8 + 6) // 7
        udl = header_septets + len(body)
        packed = gsm7.pack_int(body) << (header_septets * 7)
        if header:
            packed |= int.from_bytes(header, "little")
        return bytes((udl,)) + packed.to_bytes((udl * 7 + 7) // 8, "little")
    return bytes((len(header) + len(body),)) + header + body
