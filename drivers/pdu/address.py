"""TP addresses and the SMSC address (TS 23.040 9.1.2.5, TS 24.008 10.5.4.9).

Digits are BCD, low nibble first, padded with 0xF; an alphanumeric address (type of number 5) is
packed GSM-7 whose length octet counts semi-octets. Modems also print the SMSC prefix `0181` (a
type of address and no digits), which means "no SMSC" just like `00`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from . import gsm7
from .errors import BadAddressError, EncodeArgumentError, LengthBeyondDataError
from .model import Address

TOA_INTERNATIONAL: Final = 0x91
TOA_UNKNOWN: Final = 0x81
TOA_ALPHANUMERIC: Final = 0xD0

# Semi-octets 0xA-0xE are the extended BCD symbols of TS 24.008 ("*", "#", "a", "b", "c"); 0xF
# pads an odd count. Digits are converted through hex text with the nibbles of each octet swapped,
# which keeps the work in C: see _digits_to_bcd and _decode_digits.
_SYMBOLS_TO_HEX: Final = str.maketrans("*#abcABC", "abcdecde")
_HEX_TO_SYMBOLS: Final = str.maketrans("abcde", "*#abc")
_NUMBER_CHARS: Final = frozenset("0123456789*#")
# Octet -> the same octet with its two semi-octets exchanged, so .hex() reads digits in order.
_NIBBLE_SWAP: Final = bytes(((o & 0x0F) << 4) | (o >> 4) for o in range(256))
_MAX_DIGITS: Final = 20


def parse_address(number: str) -> Address:
    """A user-supplied number -> Address: `+digits` international, digits unknown, else text.

    Digits are 0-9, `*` and `#`; spaces, dashes, dots and brackets are ignored inside numbers so
    "+44 7700-900 123" works. Anything else is an alphanumeric sender (at most 11 GSM-7
    characters), which only an SMS-DELIVER can carry in practice.
    """
    if not number:
        raise EncodeArgumentError("empty address")
    cleaned = number.translate(_SEPARATORS)
    if cleaned.startswith("+") and len(cleaned) > 1 and _is_bcd(cleaned[1:]):
        digits = cleaned[1:]
        if len(digits) > _MAX_DIGITS:
            raise EncodeArgumentError(f"number has {len(digits)} digits, at most 20 fit")
        return Address("+" + digits, TOA_INTERNATIONAL)
    if _is_bcd(cleaned):
        if len(cleaned) > _MAX_DIGITS:
            raise EncodeArgumentError(f"number has {len(cleaned)} digits, at most 20 fit")
        return Address(cleaned, TOA_UNKNOWN)
    septets = gsm7.septet_length(number)
    if septets is None:
        raise EncodeArgumentError("alphanumeric address outside the GSM 7-bit alphabet")
    if septets > 11:
        raise EncodeArgumentError("alphanumeric address longer than 11 characters")
    return Address(number, TOA_ALPHANUMERIC)


_SEPARATORS: Final = str.maketrans("", "", " -.()\t")


def _is_bcd(text: str) -> bool:
    if text.isdigit():
        return text.isascii()
    return bool(text) and _NUMBER_CHARS.issuperset(text)


def _digits_to_bcd(digits: str) -> bytes:
    """Digits (0-9, "*", "#", and "a"-"c" as decoded from 0xC-0xE) -> swapped BCD octets."""
    if not digits.isdigit():
        digits = digits.translate(_SYMBOLS_TO_HEX)
    if len(digits) % 2:
        digits += "f"
    return bytes.fromhex(digits).translate(_NIBBLE_SWAP)


def encode_address(address: Address) -> bytes:
    """TP address field: length in semi-octets, type of address, value."""
    if address.is_alphanumeric:
        septets = gsm7.encode_septets(address.number)
        packed = gsm7.pack_septets(septets)
        semi_octets = (len(septets) * 7 + 3) // 4
        return bytes((semi_octets, address.toa)) + packed
    digits = address.number.removeprefix("+")
    return bytes((len(digits), address.toa)) + _digits_to_bcd(digits)


def encode_smsc(smsc: str | None) -> bytes:
    """SMSC prefix: length in octets (type of address included), or `00` for the modem default."""
    if smsc is None:
        return b"\x00"
    address = parse_address(smsc)
    if address.is_alphanumeric:
        raise EncodeArgumentError("an SMSC address must be a number")
    digits = address.number.removeprefix("+")
    body = bytes((address.toa,)) + _digits_to_bcd(digits)
    return bytes((len(body),)) + body


def _decode_digits(value: bytes, count: int, offset: int) -> str:
    """BCD semi-octets -> digits; a 0xF filler may only trail the digits, never sit among them."""
    digits = value.translate(_NIBBLE_SWAP).hex()
    if count < len(digits):
        digits = digits[:count]
    if digits.isdigit():
        return digits
    if "f" in digits:
        stripped = digits.rstrip("f")
        if "f" in stripped:
            raise BadAddressError(
                "filler semi-octet inside address digits",
                offset=offset + stripped.index("f") // 2,
            )
        digits = stripped
    return digits.translate(_HEX_TO_SYMBOLS)


def decode_address(data: bytes, offset: int) -> tuple[Address, int]:
    """TP address at `offset` -> (Address, offset after it)."""
    start = offset + 2
    if start > len(data):
        raise LengthBeyondDataError("address field truncated", offset=offset)
    semi_octets = data[offset]
    toa = data[offset + 1]
    end = start + ((semi_octets + 1) >> 1)
    if end > len(data):
        raise LengthBeyondDataError(
            f"address length {semi_octets} semi-octets runs past the data", offset=offset
        )
    ton = toa & 0x70
    if ton == 0x50:  # alphanumeric: packed GSM-7, the length counts semi-octets
        text = gsm7.decode_septets(gsm7.unpack_septets(data[start:end], semi_octets * 4 // 7))
        return Address(text, toa), end
    digits = _decode_digits(data[start:end], semi_octets, start)
    return Address("+" + digits if ton == 0x10 and digits else digits, toa), end


def decode_smsc(data: bytes) -> tuple[Address | None, int]:
    """SMSC prefix at the start of `data` -> (Address or None, offset of the TPDU)."""
    if not data:
        raise LengthBeyondDataError("empty PDU", offset=0)
    end = 1 + data[0]
    if end > len(data):
        raise LengthBeyondDataError(f"SMSC length {data[0]} runs past the data", offset=0)
    return _smsc_field(data[:end]), end


@lru_cache(maxsize=64)
def _smsc_field(field: bytes) -> Address | None:
    # A gateway sees a handful of SMSCs over and over: decode each prefix once.
    length = field[0]
    if length == 0:
        return None
    if length > 12:
        raise BadAddressError(f"SMSC length {length} octets is more than 12", offset=0)
    toa = field[1]
    value = field[2:]
    if not value:
        return None  # "0181": a type of address and no digits
    if toa & 0x70 == 0x50:
        return Address(gsm7.decode_septets(gsm7.unpack_septets(value, len(value) * 8 // 7)), toa)
    digits = _decode_digits(value, 2 * len(value), 2)
    return Address("+" + digits if toa & 0x70 == 0x10 and digits else digits, toa)
